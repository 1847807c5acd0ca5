"""The TUI on a big engine: the engine is read before Textual is imported (`HeadStart`),
results reach the UI in batches, and the inventory's cached labels and the status line's
cached totals follow every change."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from lockdock.config import load_config
from lockdock.model import TargetKind
from lockdock.scan import TargetResult
from lockdock.tui import create_app
from lockdock.tui.header import status_text
from lockdock.tui.inventory import Inventory
from lockdock.tui.messages import ScanFinished, TargetsScanned
from lockdock.tui.scanner import BatchingSink

from ..conftest import SESSION, SESSION_LABEL, TEST_LABEL, scan_json
from .conftest import drive, target_key, wait_scan


def test_the_early_scan_module_does_not_import_textual() -> None:
    """`HeadStart` runs before Textual is imported: its module must not pull it in."""
    code = ("import sys\nimport lockdock.tui.scanflow\n"
            "assert 'textual' not in sys.modules, sorted(m for m in sys.modules if m.startswith('textual'))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.lock = threading.Lock()

    def __call__(self, msg: Any) -> None:
        with self.lock:
            self.messages.append(msg)


def _result(name: str) -> TargetResult:
    from lockdock.model import Target

    return TargetResult(Target(kind=TargetKind.CONTAINER, name=name, key=f"container:{name}"), None)


def test_batching_sink_posts_one_message_per_window_in_order_and_finished_last() -> None:
    post = _Recorder()
    sink = BatchingSink(post, window=0.2)
    results = [_result(f"c{i}") for i in range(5)]
    for r in results[:3]:
        sink.scanned(r)
    assert post.messages == []  # waiting for the window
    time.sleep(0.6)
    assert [type(m) for m in post.messages] == [TargetsScanned]
    assert post.messages[0].results == results[:3]
    for r in results[3:]:
        sink.scanned(r)
    sink.finished([], 1.0, {r.target.key for r in results})  # no wait: the batch goes first
    assert [type(m) for m in post.messages] == [TargetsScanned, TargetsScanned, ScanFinished]
    assert post.messages[1].results == results[3:]
    time.sleep(0.3)
    assert len(post.messages) == 3  # the cancelled timer posted nothing more


def test_batching_sink_says_nothing_once_cancelled() -> None:
    post = _Recorder()
    stop = threading.Event()
    sink = BatchingSink(post, stop.is_set, window=0.1)
    sink.scanned(_result("c1"))
    stop.set()
    time.sleep(0.4)
    assert post.messages == []


def test_inventory_label_and_status_follow_a_replaced_result(project: Path) -> None:
    """Labels are cached per (rollup, name, width) and the status totals per result
    object: a result replaced with one without findings is drawn as such."""
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        key = target_key(app, "dockerfile")
        inv = app.query_one(Inventory)
        seen["before"] = inv._target_nodes[key].label.plain
        seen["status_before"] = status_text(app.state, read_only=False).plain
        old = app.state.targets[key]
        app.state.targets[key] = TargetResult(old.target, old.subject, [])
        app._dirty = True
        app._redraw()
        await pilot.pause(0.1)
        seen["after"] = inv._target_nodes[key].label.plain
        seen["status_after"] = status_text(app.state, read_only=False).plain
        app.state.targets[key] = old
        app._dirty = True
        app._redraw()
        await pilot.pause(0.1)
        seen["back"] = inv._target_nodes[key].label.plain
        seen["status_back"] = status_text(app.state, read_only=False).plain

    drive(app, body)
    assert seen["before"].startswith("L0") and "ok" not in seen["before"]
    assert seen["after"].startswith("L4 ok") and "  0 " in seen["after"]
    assert seen["back"] == seen["before"]
    assert seen["status_before"] != seen["status_after"]
    assert seen["status_back"] == seen["status_before"]


@pytest.mark.engine
@pytest.mark.parametrize("child", [True, False], ids=["child-process", "in-process"])
def test_head_start_reads_the_engine_before_the_app_runs_and_finds_what_scan_finds(
    tmp_path: Path, docker_api: Any, busybox_image: str, run_lockdock: Any, child: bool,
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    """With a child (`tui.childscan`) the child has read and analysed the engine before the
    app runs; without one (`LOCKDOCK_JOBS=1`) the head start's threads have connected."""
    if child:
        request.getfixturevalue("fork_ready")
    else:
        monkeypatch.setenv("LOCKDOCK_JOBS", "1")
    mark = uuid.uuid4().hex[:10]
    labels = {TEST_LABEL: "1", SESSION_LABEL: SESSION, "lockdock-test-head": mark}
    cid = docker_api.create_container(busybox_image, command=["sleep", "30"], labels=labels,
                                      host_config=docker_api.create_host_config(privileged=True))["Id"]
    new_name = f"lockdock-test-head-{mark}"
    try:
        (tmp_path / ".lockdock.toml").write_text(f'[scan]\ncontainer-labels = ["lockdock-test-head={mark}"]\n')
        report = scan_json(run_lockdock, cwd=tmp_path)
        want = {f["check"] for f in report["findings"] if f["target"]["kind"] == "container"}
        assert "container.not-privileged" in want

        app = create_app([tmp_path], use_engine=True, config=load_config(tmp_path), head_start=True)
        forked = app._head_start.child
        assert (forked is not None) is child, [(t.name, t.daemon) for t in threading.enumerate()]

        def early() -> bool:  # the app is not running yet
            if forked is not None:  # results sent by the child, waiting in this process
                return forked._frames.qsize() > 0
            return app.ctx.engine is not None

        for _ in range(200):
            if early():
                break
            time.sleep(0.05)
        seen: dict[str, Any] = {"connected_early": early()}

        async def body(pilot):
            await wait_scan(pilot, timeout=120)
            containers = [tr for tr in app.state.targets.values() if tr.target.kind is TargetKind.CONTAINER]
            seen["ids"] = [getattr(tr.subject, "id", "") for tr in containers]
            seen["checks"] = {f.check for tr in containers for f in tr.findings}
            for _ in range(100):  # live events still follow the engine
                if app._event_stream is not None:
                    break
                await pilot.pause(0.05)
            docker_api.create_container(busybox_image, command=["true"], name=new_name, labels=labels)
            for _ in range(200):
                await pilot.pause(0.05)
                if any(tr.target.name == new_name for tr in app.state.targets.values()):
                    break
            seen["live"] = any(tr.target.name == new_name for tr in app.state.targets.values())

        drive(app, body)
    finally:
        for c in docker_api.containers(all=True, filters={"label": f"lockdock-test-head={mark}"}):
            docker_api.remove_container(c["Id"], force=True)
    assert seen["connected_early"]
    assert seen["ids"] == [cid]
    assert seen["checks"] == want
    assert seen["live"]
