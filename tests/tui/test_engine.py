"""The app against the real engine: image layers with a planted secret, engine down, engine lost."""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from lockdock.model import TargetKind
from lockdock.tui import create_app
from lockdock.tui.inventory import Inventory
from lockdock.tui.layers import LayersView
from lockdock.tui.render import finding_text

from ..conftest import SESSION, SESSION_LABEL, TEST_LABEL, image_tarball
from .conftest import drive, screen_text, select, wait_scan, wait_screen

FAKE_KEY = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB\n"
    b"-----END OPENSSH PRIVATE KEY-----\n"
)


@pytest.fixture
def secret_image(docker_api: Any, load_image_tar: Any) -> str:
    """Layer 0 adds /root/.ssh/id_rsa, layer 1 deletes it again (whiteout), layer 2 adds an app."""
    tag = f"lockdock-test-tui-secret:{uuid.uuid4().hex[:8]}"
    data = image_tarball(
        [
            {"root/": None, "root/.ssh/": None, "root/.ssh/id_rsa": (FAKE_KEY, 0o600)},
            {"root/.ssh/.wh.id_rsa": b""},
            {"app/": None, "app/run.sh": (b"#!/bin/sh\necho hi\n", 0o755)},
        ],
        tag=tag,
        config={"Cmd": ["/app/run.sh"]},
        history=[
            {"created": "2026-01-01T00:00:00Z", "created_by": "COPY id_rsa /root/.ssh/id_rsa # buildkit"},
            {"created": "2026-01-01T00:00:00Z", "created_by": "RUN rm /root/.ssh/id_rsa # buildkit"},
            {"created": "2026-01-01T00:00:00Z", "created_by": "COPY run.sh /app/ # buildkit"},
        ],
    )
    load_image_tar(data)
    yield tag
    with contextlib.suppress(Exception):  # session cleanup removes labelled leftovers too
        docker_api.remove_image(tag, force=True)


@pytest.mark.engine
def test_image_layer_view_shows_deleted_secret_on_its_layer(tmp_path: Path, secret_image: str) -> None:
    app = create_app([tmp_path], use_engine=True)
    app.ctx.images = [secret_image]
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot, timeout=90)
        key = next((k for k, tr in app.state.targets.items()
                    if tr.target.kind is TargetKind.IMAGE and secret_image in tr.target.name), None)
        assert key is not None, (sorted(app.state.targets), [e.message for e in app.state.errors])
        await select(pilot, key)
        await pilot.press("4")
        await pilot.pause(0.3)
        view = app.query_one(LayersView)
        seen["rows"] = [(r.index, r.created_by) for r in view.rows]
        seen["text"] = screen_text(app)
        seen["findings"] = [(f.check, f.location.image_layer.index if f.location.image_layer else None)
                            for f in app.state.targets[key].findings]

    drive(app, body, size=(120, 36))
    assert [i for i, _ in seen["rows"]] == [0, 1, 2]
    assert "COPY id_rsa" in seen["rows"][0][1]
    assert ("secrets.no-secrets-in-image", 0) in seen["findings"]
    text = seen["text"]
    assert "4 Image layers" in text or "Layers" in text
    assert "Layer 0" in text and "secrets.no-secrets-in-image" in text
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in text


def test_engine_down_at_start_is_said_plainly(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    app = create_app([project], use_engine=True)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        seen["text"] = screen_text(app)
        seen["kinds"] = {tr.target.kind for tr in app.state.targets.values()}

    drive(app, body)
    assert "no engine: file-only mode" in seen["text"]
    assert "nonexistent" in seen["text"]
    assert TargetKind.DOCKERFILE in seen["kinds"]  # file checks still ran


class _DyingAPI:
    """Wraps the real API client; after `die()` every call raises like a stopped daemon."""

    def __init__(self, api: Any) -> None:
        self._api = api
        self.dead = False

    def die(self) -> None:
        self.dead = True

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._api, name)
        if not callable(real):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.dead:
                import requests

                raise requests.exceptions.ConnectionError("Connection refused (engine stopped)")
            return real(*args, **kwargs)

        return call


@pytest.mark.engine
def test_engine_stopped_mid_session_keeps_the_ui(
    project: Path, docker_api: Any, busybox_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app([project], use_engine=True)
    app.ctx.images = [busybox_image]  # only what the tests made, not the whole shared engine
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot, timeout=120)
        assert app.ctx.engine is not None
        for _ in range(100):  # the events worker has opened its stream
            if app._event_stream is not None:
                break
            await pilot.pause(0.05)
        # The daemon goes away: its event stream breaks and every API call fails.
        wrapper = _DyingAPI(app.ctx.engine.api)
        app.ctx.engine.api = wrapper
        wrapper.die()
        app._event_stream.close()
        for _ in range(200):  # the events worker notices the broken stream
            if app.state.engine.lost and "ENGINE LOST" in screen_text(app):
                break
            await pilot.pause(0.05)
        seen["lost_text"] = screen_text(app)
        # A partial rescan of engine objects against the dead API: errors, no crash.
        app._rescan_worker(set(), {"0123456789ab"})
        await wait_scan(pilot)
        # A full rescan cannot reconnect either.
        monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        await pilot.press("r")
        await wait_scan(pilot, timeout=60)
        seen["text"] = screen_text(app)
        seen["running"] = app.is_running
        seen["kinds"] = {tr.target.kind for tr in app.state.targets.values()}

    drive(app, body)
    assert seen["running"]
    assert "ENGINE LOST" in seen["lost_text"]
    assert "no engine: file-only mode" in seen["text"]
    assert TargetKind.DOCKERFILE in seen["kinds"]


@pytest.mark.engine
def test_docker_events_update_the_inventory_live(tmp_path: Path, docker_api: Any, busybox_image: str) -> None:
    app = create_app([tmp_path], use_engine=True)
    app.ctx.images = [busybox_image]
    name = f"lockdock-test-tui-live-{uuid.uuid4().hex[:8]}"
    seen: dict[str, Any] = {}

    def names() -> set[str]:
        return {tr.target.name for tr in app.state.targets.values() if tr.target.kind is TargetKind.CONTAINER}

    async def body(pilot):
        await wait_scan(pilot, timeout=120)
        for _ in range(100):
            if app._event_stream is not None:
                break
            await pilot.pause(0.05)
        seen["before"] = name in names()
        cid = docker_api.create_container(busybox_image, command=["true"], name=name,
                                          labels={TEST_LABEL: "1", SESSION_LABEL: SESSION})["Id"]
        for _ in range(200):
            await pilot.pause(0.05)
            if name in names():
                break
        seen["after_create"] = name in names()
        await pilot.pause(0.5)  # the inventory is redrawn a few times a second
        # In the inventory (a busy host scrolls it off screen: the tree, not the screenshot).
        seen["screen"] = " ".join(str(n.label) for n in app.query_one(Inventory)._target_nodes.values())
        docker_api.remove_container(cid, force=True)
        for _ in range(200):
            await pilot.pause(0.05)
            if name not in names():
                break
        seen["after_remove"] = name in names()

    drive(app, body, size=(140, 40))
    assert seen["before"] is False
    assert seen["after_create"] is True
    assert name[-8:] in seen["screen"]  # long names are cut in the middle, the unique tail stays
    assert seen["after_remove"] is False


@pytest.mark.engine
def test_lazy_engine_fix_is_measured_then_previewed_and_applied(
    tmp_path: Path, docker_api: Any, busybox_image: str
) -> None:
    """container.resource-limits: docker stats in a worker, a 'docker update' preview, y y applies."""
    name = f"lockdock-test-tui-lazy-{uuid.uuid4().hex[:8]}"
    cid = docker_api.create_container(busybox_image, command=["sleep", "300"], name=name,
                                      labels={TEST_LABEL: "1", SESSION_LABEL: SESSION})["Id"]
    docker_api.start(cid)
    try:
        app = create_app([tmp_path], use_engine=True)
        app.ctx.images = [busybox_image]
        seen: dict[str, Any] = {}

        async def body(pilot):
            from lockdock.tui.diff_screen import DiffScreen

            await wait_scan(pilot, timeout=120)
            key = next(k for k, tr in app.state.targets.items()
                       if tr.target.kind is TargetKind.CONTAINER and tr.target.name == name)
            await select(pilot, key, "container.resource-limits")
            await pilot.press("f")
            for _ in range(400):
                await pilot.pause(0.05)
                if isinstance(app.screen, DiffScreen):
                    break
            assert isinstance(app.screen, DiffScreen), [n.message for n in app._notifications]
            seen["preview"] = app.screen.preview
            await pilot.press("y", "y")
            for _ in range(400):
                await pilot.pause(0.05)
                if not any(w.group in ("apply", "rescan") and not w.is_finished for w in app.workers):
                    break
            await wait_scan(pilot)
            seen["after"] = [f.check for f in app.state.targets[key].active]

        drive(app, body)
        preview = seen["preview"]
        assert preview.changes_behaviour and preview.engine_actions
        assert "docker update" in preview.engine_actions[0]
        host = docker_api.inspect_container(cid)["HostConfig"]
        assert host["Memory"] > 0 and host["PidsLimit"]
        assert "container.resource-limits" not in seen["after"]
    finally:
        docker_api.remove_container(cid, force=True)


@pytest.mark.engine
def test_layer_file_tree_marks_the_secret_and_where_its_bytes_live(tmp_path: Path, secret_image: str) -> None:
    app = create_app([tmp_path], use_engine=True)
    app.ctx.images = [secret_image]
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot, timeout=90)
        key = next(k for k, tr in app.state.targets.items()
                   if tr.target.kind is TargetKind.IMAGE and secret_image in tr.target.name)
        await select(pilot, key)
        await pilot.press("4")
        view = app.query_one(LayersView)
        for _ in range(200):
            if view.files is not None or view.files_error:
                break
            await pilot.pause(0.05)
        seen["error"] = view.files_error
        table = app.query_one("#layer-table")

        async def on_row(row: int, expect: str) -> str:
            table.move_cursor(row=row)
            text = ""
            for _ in range(60):  # the tree is redrawn after the highlight message
                await pilot.pause(0.05)
                text = screen_text(app)
                if expect in text:
                    break
            return text

        seen["layer0"] = await on_row(0, "its bytes still live here")
        seen["layer1"] = await on_row(1, "deleted here")
        tree = app.query_one("#layer-files")
        tree.focus()
        await pilot.press("down", "down")
        seen["tree_cursor"] = tree.cursor_line

    drive(app, body, size=(160, 50))
    assert seen["error"] is None
    layer0 = seen["layer0"]
    assert "+ id_rsa" in layer0 and "secrets.no-secrets-in-image" in layer0
    assert "deleted in layer 1, its bytes still live here" in layer0
    assert "- id_rsa" in seen["layer1"] and "deleted here, still in layer 0" in seen["layer1"]
    assert seen["tree_cursor"] >= 1  # the tree is navigable by keyboard
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in layer0


@pytest.fixture
def chatty_container(docker_api: Any, busybox_image: str) -> Any:
    """A running container that logs a line and a secret, with a secret in its env."""
    mark = uuid.uuid4().hex[:8]
    secret_env = "Tr1age-EnvSecret-" + mark
    secret_log = "Tr1age-LogSecret-" + mark
    cid = docker_api.create_container(
        busybox_image, name=f"lockdock-test-triage-{mark}",
        command=["/bin/sh", "-c", f"echo hello-from-{mark}; echo DB_PASSWORD={secret_log}; sleep 600"],
        environment={"API_TOKEN": secret_env},
        labels={TEST_LABEL: "1", SESSION_LABEL: SESSION, "lockdock-test-triage": mark},
    )["Id"]
    docker_api.start(cid)
    for _ in range(100):
        if b"DB_PASSWORD" in docker_api.logs(cid):
            break
        time.sleep(0.05)
    yield mark, secret_env, secret_log
    with contextlib.suppress(Exception):
        docker_api.remove_container(cid, force=True)


@pytest.mark.engine
def test_container_inspect_and_logs_are_masked_modals(tmp_path: Path, chatty_container: Any,
                                                      busybox_image: str) -> None:
    from lockdock.config import Config
    from lockdock.tui.modals import TextScreen

    mark, secret_env, secret_log = chatty_container
    config = Config(container_labels=[f"lockdock-test-triage={mark}"])
    app = create_app([tmp_path], use_engine=True, config=config, scope="engine")
    app.ctx.images = [busybox_image]
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot, timeout=90)
        key = next(k for k, tr in app.state.targets.items() if tr.target.kind is TargetKind.CONTAINER)
        await select(pilot, key)
        await pilot.press("2")
        for k, name in (("I", "inspect"), ("L", "logs")):
            await pilot.press(k)
            screen = await wait_screen(pilot, TextScreen)
            await pilot.pause(0.2)
            seen[name] = (screen_text(app), str(screen.body))
            await pilot.press("escape")
            await pilot.pause(0.1)
        host = next((tr for tr in app.state.targets.values() if tr.target.kind is TargetKind.HOST), None)
        seen["userland"] = [f for f in host.findings if "userland" in f.message] if host else []
        seen["inventory_kinds"] = {app.state.targets[k].target.kind for k in app.query_one(Inventory)._target_nodes}

    drive(app, body, size=(160, 50))
    inspect_screen, inspect_body = seen["inspect"]
    assert '"Env"' in inspect_body and "API_TOKEN=" in inspect_body
    assert secret_env not in inspect_body and secret_env not in inspect_screen
    logs_screen, logs_body = seen["logs"]
    assert f"hello-from-{mark}" in logs_body and "DB_PASSWORD=" in logs_body
    assert secret_log not in logs_body and secret_log not in logs_screen
    assert "docker logs --tail" in logs_screen and "read-only" in logs_screen
    for f in seen["userland"]:  # the finding names its check and offers no fix of another setting
        assert "network.icc" in f.message and f.fix is None
        assert "fix" not in finding_text(f).plain.split("\n")[0]
    assert seen["inventory_kinds"] <= {TargetKind.IMAGE, TargetKind.CONTAINER, TargetKind.HOST}


@pytest.mark.engine
def test_a_lazy_fix_the_engine_cannot_give_is_not_promised(tmp_path: Path, docker_api: Any,
                                                           busybox_image: str) -> None:
    """container.resource-limits on a stopped container: sized from docker stats, so no fix."""
    from lockdock.config import Config

    mark = uuid.uuid4().hex[:8]
    cid = docker_api.create_container(
        busybox_image, name=f"lockdock-test-lazy-{mark}",
        labels={TEST_LABEL: "1", SESSION_LABEL: SESSION, "lockdock-test-lazy": mark},
    )["Id"]
    app = create_app([tmp_path], use_engine=True, config=Config(container_labels=[f"lockdock-test-lazy={mark}"]))
    app.ctx.images = [busybox_image]
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot, timeout=90)
        key = next(k for k, tr in app.state.targets.items() if tr.target.kind is TargetKind.CONTAINER)
        lazy = next(f for f in app.state.targets[key].findings if f.check == "container.resource-limits")
        seen["before"] = lazy.fix is not None and (lazy.fix.pending or app.current_key == key)
        finding = await select(pilot, key, "container.resource-limits")
        assert finding is lazy
        for _ in range(100):
            if finding.fix is None or not finding.fix.pending:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        seen["after"] = finding.fix
        seen["text"] = screen_text(app)

    try:
        drive(app, body, size=(160, 50))
    finally:
        with contextlib.suppress(Exception):
            docker_api.remove_container(cid, force=True)
    assert seen["before"]  # listed as "fix?" until measured
    assert seen["after"] is None
    assert "risky fix] container.resource-limits" not in seen["text"]
    assert "fix?] container.resource-limits" not in seen["text"]


_QUIT_EARLY = r'''
import asyncio, sys, time
from pathlib import Path
from lockdock.engine import rawapi
from lockdock.tui import create_app

opened = []
real_events = rawapi.LocalAPI.events

def slow_events(self, *args, **kwargs):
    time.sleep(1.0)  # the app has quit by the time the stream is open
    stream = real_events(self, *args, **kwargs)
    opened.append(stream)
    return stream

rawapi.LocalAPI.events = slow_events
app = create_app([Path(sys.argv[1])], use_engine=True)
app.ctx.images = []

async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(600):
            await pilot.pause(0.05)
            if app.state.engine.endpoint:
                break
        assert app.state.engine.endpoint, "the app never connected"
    # leaving run_test unmounted the app while the events worker was still opening its stream

asyncio.run(main())
time.sleep(1.5)
print("opened", len(opened), "closed", sum(1 for s in opened if s._conn.sock is None))
'''


@pytest.mark.engine
def test_quitting_while_the_event_stream_opens_ends_the_process(project: Path) -> None:
    """A stream that opens after the app began to quit is closed at once: its blocked read
    once kept the worker thread, and so the process, alive after the app had exited."""
    import subprocess
    import sys

    try:
        done = subprocess.run([sys.executable, "-c", _QUIT_EARLY, str(project)], capture_output=True,
                              text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("the process did not end after the app quit (an event stream was left open)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "opened 1 closed 1" in done.stdout, done.stdout + done.stderr[-2000:]
