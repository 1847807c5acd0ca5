"""The detection cases of ../shared/cases/detection that issue 13 gives this branch: each
MUST of their expect.txt, run as the case says (the inputs are read in place, not copied)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import scan_json


def _case(shared_dir: Path, name: str, tmp_path: Path) -> Path:
    src = shared_dir / "cases" / "detection" / name
    if not src.is_dir():
        pytest.skip(f"case {name} is not present")
    dst = tmp_path / "case"
    shutil.copytree(src, dst)  # a scratch copy: no repository around it, nothing written beside the case
    (dst / "expect.txt").unlink()
    return dst


def _lines(report: dict[str, Any], check: str, path: str | None = None) -> set[int]:
    return {f["location"]["line"] for f in report["findings"]
            if f["check"] == check and (path is None or f["location"]["path"] == path)}


def test_01_compose_custom_name(shared_dir, tmp_path, run_lockdock):
    d = _case(shared_dir, "01-compose-custom-name-skipped", tmp_path)
    report = scan_json(run_lockdock, "--no-engine", "agent-compose.yml", cwd=d)
    assert 6 in _lines(report, "container.docker-socket")
    assert 4 in _lines(report, "container.non-root")
    assert not [e for e in report["errors"] if "skipped" in e["message"]]
    # Found by a directory walk too.
    walked = scan_json(run_lockdock, "--no-engine", ".", cwd=d)
    assert 6 in _lines(walked, "container.docker-socket")


def test_03_sensitive_mount_subtrees(shared_dir, tmp_path, run_lockdock):
    d = _case(shared_dir, "03-sensitive-mount-subtrees", tmp_path)
    report = scan_json(run_lockdock, "--no-engine", "--select", "container.sensitive-mounts", "compose.yaml", cwd=d)
    assert _lines(report, "container.sensitive-mounts") == {5, 6, 7}


def test_04_pass_suffix_names(shared_dir, tmp_path, run_lockdock):
    d = _case(shared_dir, "04-pass-suffix-secret-names", tmp_path)
    compose = scan_json(run_lockdock, "--no-engine", "--select", "secrets", "compose.yaml", cwd=d)
    assert {5, 6} <= _lines(compose, "secrets.no-secrets-in-env")
    dockerfile = scan_json(run_lockdock, "--no-engine", "--select", "secrets", "Dockerfile", cwd=d)
    assert 2 in _lines(dockerfile, "secrets.no-secrets-in-image")
    raw = str(compose) + str(dockerfile)
    assert "plain-text-value" not in raw and "plainvalue2" not in raw


def test_07_template_not_a_dockerfile(shared_dir, tmp_path, run_lockdock):
    d = _case(shared_dir, "07-template-scanned-as-dockerfile", tmp_path)
    walked = scan_json(run_lockdock, "--no-engine", ".", cwd=d)
    assert [f for f in walked["findings"] if f["target"]["kind"] == "dockerfile"] == []
    explicit = scan_json(run_lockdock, "--no-engine", "Dockerfile.template", cwd=d)
    assert [f for f in explicit["findings"] if f["check"].startswith("image.")] == []
    assert all("debian:{{ " not in f["message"] or "not known" in f["message"] for f in explicit["findings"])
    assert [e["message"] for e in explicit["errors"] if "template" in e["message"]]


def test_11_ipv6_wildcard(shared_dir, tmp_path, run_lockdock):
    d = _case(shared_dir, "11-ipv6-wildcard-port-binding", tmp_path)
    report = scan_json(run_lockdock, "--no-engine", "--select", "network.bind-localhost", "compose.yaml", cwd=d)
    assert _lines(report, "network.bind-localhost") == {6, 8, 9}
