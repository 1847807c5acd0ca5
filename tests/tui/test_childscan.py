"""The engine's images and containers analysed in a forked child (`lockdock.tui.childscan`):
the same results as in the app's process, the in-process path when the child cannot be
used or fails, and fixes previewed from a fresh analysis of the object."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lockdock.config import load_config
from lockdock.model import ScanError, TargetKind
from lockdock.scan import TargetResult
from lockdock.tui import childscan, create_app, scanflow
from lockdock.tui.diff_screen import DiffScreen

from ..conftest import SESSION, SESSION_LABEL, TEST_LABEL
from .conftest import drive, select, wait_scan, wait_screen


class _Sink:
    """A `scanflow.Sink` that keeps what it is told."""

    def __init__(self) -> None:
        self.results: dict[str, TargetResult] = {}
        self.errors: list[ScanError] | None = None
        self.counted: tuple[int | None, int | None] = (None, None)
        self.told: list[str] = []  # images said to be under analysis
        self.lock = threading.Lock()

    def connected(self, endpoint: str | None, version: str | None, error: str | None) -> None:
        pass

    def totals(self, images: int | None, containers: int | None) -> None:
        self.counted = (images, containers)

    def analysing(self, name: str) -> None:
        self.told.append(name)

    def scanned(self, result: TargetResult) -> None:
        with self.lock:
            assert result.target.key not in self.results, "a target told twice"
            self.results[result.target.key] = result

    def finished(self, errors: list[ScanError], elapsed: float, keys: set[str]) -> None:
        self.errors = list(errors)
        assert keys == set(self.results)


def _scan(folder: Path) -> tuple[_Sink, childscan.ChildScan | None]:
    head = scanflow.HeadStart([folder], load_config(folder), True)
    sink = _Sink()
    scanflow.full_scan(head.paths, head.ctx, sink, lambda: False)
    assert sink.errors is not None
    return sink, head.child


def _said(tr: TargetResult) -> list[tuple[Any, ...]]:
    """What a screen shows of a target's findings (a child's carry no payload or fix edits)."""
    return sorted(
        (f.check, f.message, repr(f.location), f.evidence, str(f.severity), str(f.suppressed),
         None if f.fix is None else (f.fix.title, str(f.fix.applicability), f.fix.pending, f.fix.note))
        for f in tr.findings)


@pytest.fixture
def labelled(tmp_path: Path, docker_api: Any, busybox_image: str) -> Iterator[tuple[Path, list[str]]]:
    """Three containers the folder's config limits the scan to (one privileged, one with a
    secret-looking environment value, one plain), removed afterwards."""
    mark = uuid.uuid4().hex[:10]
    labels = {TEST_LABEL: "1", SESSION_LABEL: SESSION, "lockdock-test-child": mark}
    ids = []
    try:
        for i, (env, privileged) in enumerate(((None, True), (["API_TOKEN=s3cr3t-Zq9xWv"], False), (None, False))):
            ids.append(docker_api.create_container(
                busybox_image, command=["sleep", "30"], labels=labels, environment=env,
                name=f"lockdock-test-child-{mark}-{i}",
                host_config=docker_api.create_host_config(privileged=privileged))["Id"])
        (tmp_path / ".lockdock.toml").write_text(f'[scan]\ncontainer-labels = ["lockdock-test-child={mark}"]\n')
        yield tmp_path, ids
    finally:
        for c in docker_api.containers(all=True, filters={"label": f"lockdock-test-child={mark}"}):
            docker_api.remove_container(c["Id"], force=True)


def _compare(child: _Sink, alone: _Sink, ids: list[str]) -> None:
    containers = {k for k, tr in child.results.items() if tr.target.kind is TargetKind.CONTAINER}
    assert containers == {f"container:{i}" for i in ids}
    assert containers == {k for k, tr in alone.results.items() if tr.target.kind is TargetKind.CONTAINER}
    # Other sessions load and remove images meanwhile: compare the images both scans saw.
    shared = set(child.results) & set(alone.results)
    assert containers <= shared and any(k.startswith("image:") for k in shared)
    for key in shared:
        assert _said(child.results[key]) == _said(alone.results[key]), key
        assert child.results[key].target == alone.results[key].target


@pytest.mark.engine
def test_the_child_finds_what_the_app_finds_alone(labelled: tuple[Path, list[str]],
                                                   monkeypatch: pytest.MonkeyPatch, fork_ready: None) -> None:
    folder, ids = labelled
    child, used = _scan(folder)
    assert used is not None and used.failure is None and used.status == 0  # it ran, finished, was reaped
    assert used.pid != os.getpid() and used.cpu_s is not None
    sketch = child.results[f"container:{ids[1]}"].subject
    assert isinstance(sketch, childscan.Sketch) and sketch.id == ids[1]
    monkeypatch.setenv("LOCKDOCK_JOBS", "1")  # no child: the app's own threads read and analyse
    alone, none = _scan(folder)
    assert none is None
    assert not isinstance(alone.results[f"container:{ids[1]}"].subject, childscan.Sketch)
    _compare(child, alone, ids)
    secret = [f for f in child.results[f"container:{ids[1]}"].findings if "s3cr3t" in (f.evidence or "") + f.message]
    assert secret == []  # masked in the child as in the app
    assert sorted(e.message for e in child.errors or []) == sorted(e.message for e in alone.errors or [])
    # The progress totals come from the child's own listings (containers: the config's labels).
    assert child.counted[1] == 3 and (child.counted[0] or 0) >= 1
    images = {tr.target.name for tr in child.results.values() if tr.target.kind is TargetKind.IMAGE}
    assert child.told and set(child.told) <= images  # the status line's "analysing <image>"


@pytest.mark.engine
def test_a_child_that_dies_midway_leaves_the_rest_to_the_app(labelled: tuple[Path, list[str]],
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             fork_ready: None) -> None:
    folder, ids = labelled
    real_send = childscan._send
    sent = []

    def send_once_then_die(fd: int, message: Any) -> None:  # runs in the child (forked after the patch)
        if message[0] == "batch":
            if sent:
                os._exit(7)
            sent.append(1)
        real_send(fd, message)

    monkeypatch.setattr(childscan, "_send", send_once_then_die)
    monkeypatch.setattr(childscan, "BATCH_ROWS", 1)
    child, used = _scan(folder)
    assert used is not None and used.failure is not None and os.WEXITSTATUS(used.status or 0) == 7
    assert 1 <= len(used.delivered) < len(child.results)  # one batch came from the child, the rest from here
    monkeypatch.setattr(childscan, "_send", real_send)
    monkeypatch.setenv("LOCKDOCK_JOBS", "1")
    alone, _ = _scan(folder)
    _compare(child, alone, ids)


@pytest.mark.engine
def test_a_child_that_cannot_connect_is_replaced_by_the_app(labelled: tuple[Path, list[str]],
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            fork_ready: None) -> None:
    folder, ids = labelled

    def broken(ctx: Any, fd: int) -> None:
        raise RuntimeError("no socket here")

    monkeypatch.setattr(childscan, "_child_main", broken)
    child, used = _scan(folder)
    assert used is not None and "no socket here" in (used.failure or "") and not used.delivered
    assert {f"container:{i}" for i in ids} <= set(child.results)
    assert not any(isinstance(tr.subject, childscan.Sketch) for tr in child.results.values())


def test_no_child_without_fork_or_with_threads_running(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCKDOCK_JOBS", raising=False)
    assert childscan.wanted() is (threading.active_count() == 1)
    monkeypatch.setenv("LOCKDOCK_JOBS", "1")
    assert not childscan.wanted()
    monkeypatch.delenv("LOCKDOCK_JOBS")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not childscan.wanted()  # a lock another thread holds would stay held in the child
    finally:
        stop.set()
        other.join()
    monkeypatch.delattr(os, "fork")
    assert not childscan.wanted()


@pytest.mark.engine
def test_quitting_before_the_first_scan_stops_the_child(tmp_path: Path, fork_ready: None) -> None:
    head = scanflow.HeadStart([tmp_path], load_config(tmp_path), True)
    assert head.child is not None
    head.close()
    assert head.child.status is not None  # reaped: no process left behind
    with pytest.raises(ChildProcessError):
        os.waitpid(head.child.pid, os.WNOHANG)


@pytest.mark.engine
def test_a_fix_of_a_child_finding_is_previewed_from_a_fresh_analysis(labelled: tuple[Path, list[str]],
                                                                     fork_ready: None) -> None:
    folder, ids = labelled
    app = create_app([folder], use_engine=True, config=load_config(folder), head_start=True)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot, timeout=120)
        key = f"container:{ids[2]}"
        seen["sketch"] = isinstance(app.state.targets[key].subject, childscan.Sketch)
        finding = await select(pilot, key, "runtime.restart-policy")
        seen["edits_before"] = list(finding.fix.changes)
        await pilot.press("f")
        screen = await wait_screen(pilot, DiffScreen, timeout=60)
        seen["actions"] = list(screen.preview.engine_actions)
        seen["after"] = app.state.targets[key]
        await pilot.press("escape")

    drive(app, body)
    assert seen["sketch"] and seen["edits_before"] == []  # the child's finding: no edits
    after = seen["after"]
    assert not isinstance(after.subject, childscan.Sketch) and after.subject.id == ids[2]
    fix = next(f.fix for f in after.findings if f.check == "runtime.restart-policy")
    assert fix is not None and fix.changes  # the fresh analysis has the edits the preview showed
    assert any("docker update" in a and "restart" in a.lower() for a in seen["actions"]), seen["actions"]


@pytest.mark.engine
def test_the_layers_view_of_a_child_image_gets_the_fresh_analysis(tmp_path: Path, busybox_image: str,
                                                                  docker_api: Any, fork_ready: None) -> None:
    """The file tree marks the paths a finding's payload names: opening an image the child
    analysed reads its files and analyses it again here, in place of the child's result."""
    from lockdock.tui.layers import LayersView

    (tmp_path / ".lockdock.toml").write_text('[scan]\ncontainer-labels = ["lockdock-test-none=1"]\n')
    key = f"image:{docker_api.inspect_image(busybox_image)['Id']}"
    app = create_app([tmp_path], use_engine=True, config=load_config(tmp_path), head_start=True)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot, timeout=120)
        old = app.state.targets[key]
        seen["sketch"] = isinstance(old.subject, childscan.Sketch)
        await select(pilot, key)
        app.action_focus_panel("layers")
        view = app.query_one(LayersView)
        for _ in range(400):
            await pilot.pause(0.05)
            if view.files is not None and app.state.targets[key] is not old:
                break
        fresh = app.state.targets[key]
        seen["fresh"] = fresh
        seen["view_findings"] = view.findings is fresh.findings
        seen["said"] = (_said(old), _said(fresh))

    drive(app, body)
    assert seen["sketch"]
    assert not isinstance(seen["fresh"].subject, childscan.Sketch)
    assert seen["view_findings"]
    assert seen["said"][0] == seen["said"][1]  # the same findings, now with their payloads


@pytest.mark.engine
def test_without_an_engine_here_the_child_is_stopped_and_the_files_are_scanned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fork_ready: None) -> None:
    """The child connected but this process could not: the app says it has no engine (as
    without a child), stops the child, and still scans its files."""
    (tmp_path / "Dockerfile").write_text("FROM busybox:1.36\nUSER root\n")

    def no_engine(ctx: Any) -> None:  # this process only: the child was forked before
        ctx.engine_error = "cannot connect (test)"

    head = scanflow.HeadStart([tmp_path], load_config(tmp_path), True)
    assert head.child is not None
    monkeypatch.setattr(scanflow, "connect_engine", no_engine)
    sink = _Sink()
    scanflow.full_scan(head.paths, head.ctx, sink, lambda: False)
    assert head.child.status is not None  # stopped and reaped
    kinds = {tr.target.kind for tr in sink.results.values()}
    assert TargetKind.DOCKERFILE in kinds and not kinds & {TargetKind.IMAGE, TargetKind.CONTAINER}


@pytest.mark.engine
def test_child_results_are_taken_in_while_the_app_connects_and_told_after(
        labelled: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch, fork_ready: None) -> None:
    """The app's own connection is slow here: the child's results are read meanwhile, and
    the sink still hears `connected` before any total or result."""
    folder, ids = labelled
    calls: list[str] = []
    real_connect = scanflow.connect_engine

    def slow_connect(ctx: Any) -> None:
        threading.Event().wait(1.0)  # long enough for the child to be done and its results read
        calls.append(f"delivered before connected: {len(head.child.delivered)}")
        real_connect(ctx)

    monkeypatch.setattr(scanflow, "connect_engine", slow_connect)

    class Ordered(_Sink):
        def connected(self, endpoint: str | None, version: str | None, error: str | None) -> None:
            calls.append("connected")

        def totals(self, images: int | None, containers: int | None) -> None:
            calls.append("totals")
            super().totals(images, containers)

        def scanned(self, result: TargetResult) -> None:
            calls.append("scanned")
            super().scanned(result)

    head = scanflow.HeadStart([folder], load_config(folder), True)
    assert head.child is not None
    sink = Ordered()
    scanflow.full_scan(head.paths, head.ctx, sink, lambda: False)
    taken = int(calls[0].rsplit(" ", 1)[1])
    assert taken >= len(ids), calls[:3]  # read while this process was still connecting
    assert calls[1] == "connected" and set(calls[2:]) <= {"totals", "scanned"}
    assert calls.count("totals") >= 1 and calls.count("scanned") == len(sink.results)
    assert {f"container:{i}" for i in ids} <= set(sink.results)


@pytest.mark.engine
def test_a_child_done_before_this_process_fails_to_connect_tells_nothing(
        labelled: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch, fork_ready: None) -> None:
    """The child delivered its results while this process was still trying to connect, and
    then this process could not: as without a child, no engine object is told, and
    `connected` (with the error) is still the first thing the sink hears."""
    folder, ids = labelled
    calls: list[str] = []

    def late_failure(ctx: Any) -> None:  # this process only: the child was forked before
        threading.Event().wait(1.0)  # long enough for the child's results to be read
        calls.append(f"delivered: {len(head.child.delivered)}")
        ctx.engine_error = "cannot connect (test)"

    class Ordered(_Sink):
        def connected(self, endpoint: str | None, version: str | None, error: str | None) -> None:
            calls.append(f"connected {error}")

        def scanned(self, result: TargetResult) -> None:
            calls.append("scanned")
            super().scanned(result)

    head = scanflow.HeadStart([folder], load_config(folder), True)
    assert head.child is not None
    monkeypatch.setattr(scanflow, "connect_engine", late_failure)
    sink = Ordered()
    scanflow.full_scan(head.paths, head.ctx, sink, lambda: False)
    assert int(calls[0].rsplit(" ", 1)[1]) >= len(ids), calls[:3]  # the child had delivered
    assert calls[1] == "connected cannot connect (test)", calls[:3]
    assert head.child.status is not None  # stopped and reaped
    kinds = {tr.target.kind for tr in sink.results.values()}
    assert not kinds & {TargetKind.IMAGE, TargetKind.CONTAINER}, sorted(sink.results)


class _StallingChild:
    """A `ChildScan` stand-in: sends `first` results and its totals, then stalls until
    `go` is set (a child waiting on a wedged container), then ends."""

    def __init__(self, first: list[TargetResult]) -> None:
        self.first = first
        self.sent = threading.Event()
        self.go = threading.Event()
        self.failure: str | None = None
        self.delivered: set[str] = set()
        self.errors: list[ScanError] = []

    def results(self, cancelled: Any, totals: Any, analysing: Any) -> Iterator[TargetResult]:
        totals(None, len(self.first))
        for tr in self.first:
            self.delivered.add(tr.target.key)
            yield tr
        self.sent.set()
        self.go.wait(10)


def test_results_taken_in_before_connected_are_told_at_connected_not_at_the_child_s_next_message() -> None:
    """The child stalls after its first results, read while this process connected: they
    reach the sink once `connected` was said, without waiting for the child to go on."""
    from lockdock.model import Target

    first = [TargetResult(Target(TargetKind.CONTAINER, f"c{i}", key=f"container:{i}"), None) for i in range(2)]
    child = _StallingChild(first)
    sink = _Sink()
    hold = scanflow.ChildHold(sink)
    out: list[Any] = []
    drain = threading.Thread(target=scanflow._from_child, args=(child, hold, out, lambda: False), daemon=True)
    drain.start()
    try:
        assert child.sent.wait(5)
        assert sink.results == {} and sink.counted == (None, None)  # held until connected
        hold.open()  # what full_scan does once `sink.connected` was called
        deadline = time.monotonic() + 2
        while len(sink.results) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert set(sink.results) == {"container:0", "container:1"}
        assert sink.counted == (None, 2)
    finally:
        child.go.set()
        drain.join(5)
    assert out == [({"container:0", "container:1"}, [])]
