"""`lockdock scan` run in-process: the collector settings it uses during the scan are undone."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import lockdock.scan
from lockdock.cli import main
from lockdock.cli.entry import build_parser
from lockdock.cli.scan import SCAN_GC_THRESHOLD, run_scan


def test_scan_collects_less_often_and_restores_the_collector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx:1.25\n    privileged: true\n")
    seen: list[tuple[tuple[int, int, int], int]] = []
    real = lockdock.scan.scan

    def watching(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return real(*args, **kwargs)

    monkeypatch.setattr(lockdock.scan, "scan", watching)
    before = (gc.get_threshold(), gc.get_freeze_count())
    assert main(["scan", "--no-engine", "--format", "json", str(tmp_path)]) == 1
    assert '"check": "container.not-privileged"' in capsys.readouterr().out.replace('":"', '": "')
    ((during, frozen),) = seen
    assert during == SCAN_GC_THRESHOLD and frozen > 0
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_collector_restored_when_the_scan_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(lockdock.scan, "scan", broken)
    before = (gc.get_threshold(), gc.get_freeze_count())
    with pytest.raises(RuntimeError):
        run_scan(build_parser().parse_args(["scan", "--no-engine", str(tmp_path)]))
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
