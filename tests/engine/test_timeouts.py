"""Issue 14.6: every engine wait is bounded, and so is the scan as a whole.

Case ../shared/cases/engine/02: an engine that lists and inspects images normally but
accepts `docker save` and never answers. Behaviour asserted (no wall-clock goals; those
live in bench/): one save is tried per scan, every image says its layers were not read,
the report still comes out, and what the scan timeout skipped is an error, never a pass.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lockdock.config import ConfigError, load_config
from lockdock.context import DEFAULT_SCAN_TIMEOUT, ScanContext
from lockdock.scan import scan

from .fakeengine import HANG, FakeEngine, Reply, ok

N_IMAGES = 3
IDS = ["sha256:" + f"{i:02x}" * 32 for i in range(1, N_IMAGES + 1)]


def _inspect(i: int) -> dict[str, Any]:
    return {
        "Id": IDS[i], "RepoTags": [f"hang/img{i}:1.0"], "RepoDigests": [], "Created": "2099-01-01T00:00:00Z",
        "Config": {"User": "app", "Env": ["PATH=/bin"], "Labels": {}, "Healthcheck": {"Test": ["CMD", "true"]}},
        "Os": "linux", "Architecture": "amd64",
        "RootFS": {"Type": "layers", "Layers": ["sha256:" + "ab" * 32]}, "Size": 1000,
        "GraphDriver": {"Name": "vfs", "Data": {}},
    }


class HangingSaveEngine(FakeEngine):
    """Lists and inspects N images; `GET /images/{id}/get` is accepted and never answered.
    Counts the save requests, and can delay each image inspect (a slow engine)."""

    def __init__(self, path: Path, inspect_delay: float = 0.0) -> None:
        routes = {
            "/images/json": ok([{"Id": i, "RepoTags": _inspect(n)["RepoTags"]} for n, i in enumerate(IDS)]),
            "/images/[^/]+/history": ok([{"Id": IDS[0], "Created": 1704067200,
                                          "CreatedBy": "/bin/sh -c #(nop) ADD file:x in / ", "Size": 1000}]),
            "/images/[^/]+/get": Reply(mode=HANG),
        }
        super().__init__(path, routes)
        self.saves = 0
        self._count = threading.Lock()
        base = self.reply_for

        def reply_for(p: str) -> Reply:
            if p.endswith("/get"):
                with self._count:
                    self.saves += 1
            if p.startswith("/images/") and p.endswith("/json") and p != "/images/json":
                time.sleep(inspect_delay)
                ref = p[len("/images/"):-len("/json")]
                for n, i in enumerate(IDS):
                    if ref in (i, _inspect(n)["RepoTags"][0]):
                        return ok(_inspect(n))
                return Reply(404, b'{"message": "no such image"}')
            return base(p)

        self.reply_for = reply_for  # type: ignore[method-assign]


def _ctx(sock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> ScanContext:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    monkeypatch.setenv("LOCKDOCK_ENGINE_TIMEOUT", "5")
    return ScanContext(cwd=tmp_path, daemon_json=tmp_path / "none.json", **kw)


def test_a_silent_docker_save_is_tried_once_per_scan(sock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKDOCK_SAVE_TIMEOUT", "2")
    (tmp_path / "p").mkdir()
    with HangingSaveEngine(sock) as engine:
        ctx = _ctx(sock, tmp_path, monkeypatch)
        result = scan([tmp_path / "p"], ctx)
        saves = engine.saves
    assert saves == 1  # not N x the save timeout
    images = [t for t in result.targets.values() if t.target.kind.value == "image"]
    assert len(images) == N_IMAGES  # config checks still ran for every image
    skipped = [e.message for e in result.errors if "layers not read" in e.message]
    assert len(skipped) == N_IMAGES, [e.message for e in result.errors]
    assert all("docker save did not answer within 2 s" in m for m in skipped), skipped


def test_the_save_wait_never_exceeds_what_is_left_of_the_scan(sock: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKDOCK_SAVE_TIMEOUT", "3600")
    with HangingSaveEngine(sock) as engine:
        ctx = _ctx(sock, tmp_path, monkeypatch, timeout=4)
        done = threading.Event()
        box: dict[str, Any] = {}

        def run() -> None:
            box["result"] = scan([tmp_path], ctx)
            done.set()

        threading.Thread(target=run, daemon=True).start()
        # Generous bound against a loaded machine; without the fix this waits 3600 s.
        assert done.wait(120), "the scan did not end although its timeout is 4 s"
        saves = engine.saves
    result = box["result"]
    assert saves == 1
    text = " ".join(e.message for e in result.errors)
    assert "docker save did not answer" in text or "scan timeout (4 s) was reached" in text


def test_engine_objects_left_after_the_scan_timeout_are_errors(sock: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow engine (each inspect 0.6 s, one at a time) and a 1 s budget: nothing is
    silently dropped."""
    from lockdock.engine import images

    monkeypatch.setattr(images, "INSPECT_WORKERS", 1)  # side by side, all 3 fit in the budget
    monkeypatch.setattr(images, "LOCAL_WORKERS", 1)  # the same for the SDK-free local socket client
    monkeypatch.setenv("LOCKDOCK_SAVE_TIMEOUT", "1")
    monkeypatch.setenv("LOCKDOCK_TIMEOUT", "1")
    with HangingSaveEngine(sock, inspect_delay=0.6):
        ctx = _ctx(sock, tmp_path, monkeypatch)
        assert ctx.timeout == 1
        result = scan([tmp_path], ctx)
    scanned = {t.target.name for t in result.targets.values() if t.target.kind.value == "image"}
    skipped = [e for e in result.errors if "not scanned: the scan timeout (1 s) was reached" in e.message]
    assert skipped, [e.message for e in result.errors]
    named = {n for n in (f"hang/img{i}:1.0" for i in range(N_IMAGES))
             if any(n in s for s in scanned) or any(n in e.message for e in skipped)}
    assert len(named) == N_IMAGES  # every image is either in the report or named as skipped


def test_cli_reports_the_unanswered_saves_and_still_writes_the_report(sock: Path, tmp_path: Path,
                                                                      run_lockdock: Any) -> None:
    """Case 02 through `lockdock scan`: the report comes out, with a warning per image."""
    work = tmp_path / "empty"
    work.mkdir()
    with HangingSaveEngine(sock) as engine:
        proc = run_lockdock("scan", "--format", "json", cwd=work,
                            env={"DOCKER_HOST": f"unix://{sock}", "LOCKDOCK_SAVE_TIMEOUT": "2"})
        saves = engine.saves
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    msgs = [e["message"] for e in report["errors"]]
    assert sum("docker save did not answer" in m for m in msgs) == N_IMAGES, msgs
    assert saves == 1


def test_scan_timeout_from_config_env_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCKDOCK_TIMEOUT", raising=False)
    assert ScanContext(cwd=tmp_path).timeout == DEFAULT_SCAN_TIMEOUT
    (tmp_path / ".lockdock.toml").write_text("[scan]\ntimeout = 45\n")
    config = load_config(tmp_path)
    assert config.scan_timeout == 45
    assert ScanContext(cwd=tmp_path, config=config).timeout == 45
    monkeypatch.setenv("LOCKDOCK_TIMEOUT", "7.5")
    assert ScanContext(cwd=tmp_path, config=config).timeout == 7.5  # env wins over the file
    assert ScanContext(cwd=tmp_path, config=config, timeout=3).timeout == 3  # --timeout wins over both
    monkeypatch.setenv("LOCKDOCK_TIMEOUT", "soon")
    ctx = ScanContext(cwd=tmp_path, config=config)
    assert ctx.timeout == 45
    assert any("LOCKDOCK_TIMEOUT=soon is not a positive number" in e.message for e in ctx.errors)


@pytest.mark.parametrize("body", ["[scan]\ntimeout = 0\n", "[scan]\ntimeout = \"1m\"\n", "[scan]\nwait = 3\n",
                                  "scan = 5\n"])
def test_bad_scan_timeout_in_config_names_the_key(tmp_path: Path, body: str) -> None:
    (tmp_path / ".lockdock.toml").write_text(body)
    with pytest.raises(ConfigError, match=r"\.lockdock\.toml: .*scan"):
        load_config(tmp_path)


def test_a_tui_rescan_gets_its_own_time_budget(tmp_path: Path) -> None:
    """The TUI keeps one context for a session; each rescan's budget starts afresh."""
    from lockdock.tui.scanner import fresh_context

    old = ScanContext(cwd=tmp_path, timeout=5)
    old.started -= 3600  # the session has been open for an hour
    old.save_unanswered = "docker save did not answer within 2 s"
    assert old.out_of_time()
    new = fresh_context(old)
    assert not new.out_of_time() and new.timeout == 5
    assert new.save_unanswered is None
