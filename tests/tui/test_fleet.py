"""The app over several real engines: a second dockerd, the main one over ssh://, a third
one killed mid-session (`lockdock tui --context/--host`)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from lockdock.engine.contexts import host_endpoint, resolve
from lockdock.model import TargetKind
from lockdock.tui import create_app
from lockdock.tui.inventory import Inventory

from ..conftest import SESSION, SESSION_LABEL, TEST_LABEL
from ..fleet.dockerd import DockerdUnavailable, start_dockerd
from ..fleet.engines import BB_TAG, OLD_TAG
from .conftest import drive, screen_text, select, wait_scan, wait_screen

pytestmark = pytest.mark.engine
MAIN = "unix:///var/run/docker.sock"


def make_context(name: str, host: str) -> None:
    """A real docker context, made by the docker CLI (DOCKER_CONFIG is per test)."""
    subprocess.run(["docker", "context", "create", name, "--docker", f"host={host}"], check=True,
                   capture_output=True, timeout=30)


def engine_of_node(inv: Inventory, key: str) -> str | None:
    """The engine row (top-level node) that holds target `key` in the tree, by walking up."""
    node = inv._target_nodes[key]
    while node.parent is not None and not node.parent.is_root:
        node = node.parent
    data = str(node.data or "")
    return data.split(":", 1)[1] if data.startswith("engine:") else None


def keys_named(app: Any, name: str, kind: TargetKind = TargetKind.CONTAINER) -> dict[str | None, str]:
    """engine -> key of the targets called `name`."""
    return {tr.target.engine: k for k, tr in app.state.targets.items()
            if tr.target.kind is kind and tr.target.name == name}


async def wait_for(pilot: Any, cond: Any, timeout: float = 30.0) -> bool:
    for _ in range(int(timeout / 0.1)):
        if cond():
            return True
        await pilot.pause(0.1)
    return bool(cond())


def run_busybox(engine_docker: Any, image: str, name: str) -> str:
    """A running container without a restart policy (the fix sets one)."""
    done = engine_docker("run", "-d", "--name", name, "--label", f"{TEST_LABEL}=1", "--label",
                         f"{SESSION_LABEL}={SESSION}", image, "sleep", "600")
    return done.stdout.strip()


def main_docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "-H", MAIN, *args], capture_output=True, text=True, timeout=60, check=check)


def test_two_engines_one_over_ssh_each_under_its_row_and_live(
        tmp_path: Path, second_engine: Any, ssh_local: Any, busybox_image: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A context for the second dockerd and the main engine over ssh:// in one session: each
    engine's containers sit under its row, and a container created on engine 2 while the
    app runs appears there (its event stream), not under the other engine."""
    monkeypatch.setenv("PATH", f"{ssh_local.bin_dir}:{os.environ['PATH']}")
    make_context("second", second_engine.host)
    endpoints, problems = resolve(["second"], [ssh_local.url], False)
    assert not problems and [e.name for e in endpoints] == ["second", ssh_local.url]
    mine = f"lockdock-test-tui-fleet-{uuid.uuid4().hex[:8]}"
    main_cid = main_docker("create", "--name", mine, "--label", f"{TEST_LABEL}=1", "--label",
                           f"{SESSION_LABEL}={SESSION}", busybox_image).stdout.strip()
    live = f"tui-live-{uuid.uuid4().hex[:6]}"
    app = create_app([tmp_path], endpoints=endpoints, engine_timeout=240)
    # Only these images and their containers: the main engine is shared with other test
    # sessions, and every object costs a round trip over ssh.
    app.ctx.images = [busybox_image, BB_TAG]
    seen: dict[str, Any] = {}

    async def body(pilot: Any) -> None:
        await wait_scan(pilot, timeout=240)
        inv = app.query_one(Inventory)
        seen["rows"] = {n: (r.state, r.scheme) for n, r in app.state.engines.items()}
        assert await wait_for(pilot, lambda: all(r.live for r in app.state.engines.values())), seen["rows"]
        priv = keys_named(app, "fleet-priv")
        seen["priv"] = {e: engine_of_node(inv, k) for e, k in priv.items()}
        ours = keys_named(app, mine)
        seen["ours"] = {e: engine_of_node(inv, k) for e, k in ours.items()}
        second_engine.docker("create", "--name", live, "--label", f"{TEST_LABEL}=1", BB_TAG)
        seen["live"] = await wait_for(pilot, lambda: bool(keys_named(app, live)))
        await pilot.pause(0.6)  # the next redraw
        seen["live_rows"] = {e: engine_of_node(inv, k) for e, k in keys_named(app, live).items()}
        inv.move_cursor(inv.get_node_at_line(0))
        seen["text"] = screen_text(app)

    try:
        drive(app, body, size=(200, 60))
    finally:
        main_docker("rm", "-f", main_cid, check=False)
        second_engine.docker("rm", "-f", live, check=False)
    assert seen["rows"] == {"second": ("up", "unix"), ssh_local.url: ("up", "ssh")}
    assert seen["priv"] == {"second": "second"}  # only on engine 2, and shown under it
    assert seen["ours"] == {ssh_local.url: ssh_local.url}
    assert seen["live"] and seen["live_rows"] == {"second": "second"}
    text = " ".join(seen["text"].split())
    assert "2 engines: 2 up" in text
    assert "up second unix" in text and f"up {ssh_local.url}" in text


def test_same_image_on_two_engines_is_two_targets_with_one_analysis(
        tmp_path: Path, second_engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same engine named twice (a context and its URL) holds the same image ids: each
    image is a target under both rows, and its layers are analysed once."""
    import lockdock.fleet as fleet

    analysed: list[str] = []
    real = fleet.analyze_subject

    def counting(subject: Any, ctx: Any) -> Any:
        if subject.target.kind is TargetKind.IMAGE:
            analysed.append(subject.target.name)
        return real(subject, ctx)

    monkeypatch.setattr(fleet, "analyze_subject", counting)
    make_context("second", second_engine.host)
    endpoints, _ = resolve(["second"], [second_engine.host], False)
    app = create_app([tmp_path], endpoints=endpoints)
    seen: dict[str, Any] = {}

    async def body(pilot: Any) -> None:
        await wait_scan(pilot, timeout=120)
        inv = app.query_one(Inventory)
        seen["targets"] = {e: engine_of_node(inv, k) for e, k in keys_named(app, OLD_TAG, TargetKind.IMAGE).items()}

    drive(app, body)
    assert seen["targets"] == {"second": "second", second_engine.host: second_engine.host}
    assert analysed.count(OLD_TAG) == 1


def test_docker_update_fix_goes_to_the_engine_that_owns_the_container(
        tmp_path: Path, second_engine: Any, busybox_image: str) -> None:
    """The same container name on both engines; the restart-policy fix of engine 2's is
    previewed naming engine 2, changes that container only, and undo goes there too."""
    name = f"lockdock-test-tui-upd-{uuid.uuid4().hex[:8]}"
    on_main = run_busybox(main_docker, busybox_image, name)
    on_second = run_busybox(second_engine.docker, BB_TAG, name)
    app = create_app([tmp_path], endpoints=[host_endpoint(MAIN), host_endpoint(second_engine.host)])
    app.ctx.images = [busybox_image, BB_TAG]
    seen: dict[str, Any] = {}

    def policy(docker: Any, cid: str) -> str:
        return docker("inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", cid).stdout.strip()

    async def body(pilot: Any) -> None:
        from lockdock.tui.diff_screen import DiffScreen
        from lockdock.tui.modals import UndoScreen

        await wait_scan(pilot, timeout=120)
        keys = keys_named(app, name)
        assert set(keys) == {MAIN, second_engine.host}
        await select(pilot, keys[second_engine.host], "runtime.restart-policy")
        await pilot.press("f")
        screen = await wait_screen(pilot, DiffScreen)
        seen["actions"] = list(screen.preview.engine_actions)
        await pilot.press("y")
        assert await wait_for(pilot, lambda: app.undo_depth == 1), [n.message for n in app._notifications]
        await wait_scan(pilot)
        seen["after"] = (policy(second_engine.docker, on_second), policy(main_docker, on_main))
        seen["rescanned"] = [f.check for f in app.state.targets[keys[second_engine.host]].active]
        await pilot.press("u")
        await wait_screen(pilot, UndoScreen)
        await pilot.press("y")
        assert await wait_for(pilot, lambda: app.undo_depth == 0), [n.message for n in app._notifications]
        await wait_scan(pilot)
        seen["undone"] = (policy(second_engine.docker, on_second), policy(main_docker, on_main))

    try:
        drive(app, body)
    finally:
        main_docker("rm", "-f", on_main, check=False)
        second_engine.docker("rm", "-f", on_second, check=False)
    assert seen["actions"] == [f"docker update {name} on engine {second_engine.host}: RestartPolicy"]
    assert seen["after"] == ("unless-stopped", "no")
    assert "runtime.restart-policy" not in seen["rescanned"]
    assert seen["undone"] == ("no", "no")


@pytest.fixture
def third_engine(tmp_path_factory: pytest.TempPathFactory, docker_api: Any) -> Any:
    """A throwaway dockerd of its own (this test kills it)."""
    try:
        engine = start_dockerd(tmp_path_factory.mktemp("dockerd3"))
    except DockerdUnavailable as exc:
        pytest.skip(f"no third dockerd: {exc}")
    try:
        yield engine
    finally:
        engine.stop()


def test_engine_killed_mid_session_marks_its_row_down_the_other_keeps_working(
        tmp_path: Path, second_engine: Any, third_engine: Any) -> None:
    app = create_app([tmp_path], endpoints=[host_endpoint(second_engine.host), host_endpoint(third_engine.host)])
    app.ctx.images = [BB_TAG]
    later = f"tui-after-kill-{uuid.uuid4().hex[:6]}"
    seen: dict[str, Any] = {}

    async def body(pilot: Any) -> None:
        await wait_scan(pilot, timeout=120)
        rows = app.state.engines
        assert await wait_for(pilot, lambda: all(r.live for r in rows.values()))
        third_engine.kill()
        seen["down"] = await wait_for(pilot, lambda: rows[third_engine.host].state == "down")
        seen["third"] = (rows[third_engine.host].state, rows[third_engine.host].reason)
        second_engine.docker("create", "--name", later, "--label", f"{TEST_LABEL}=1", BB_TAG)
        seen["later"] = await wait_for(pilot, lambda: bool(keys_named(app, later)))
        seen["second"] = rows[second_engine.host].state
        await pilot.pause(0.6)
        inv = app.query_one(Inventory)
        inv.move_cursor(inv.get_node_at_line(0))
        seen["text"] = screen_text(app)

    try:
        drive(app, body, size=(120, 40))
    finally:
        second_engine.docker("rm", "-f", later, check=False)
    assert seen["down"], seen["third"]
    assert seen["third"][1]  # the reason is kept for the row
    assert seen["later"] and seen["second"] == "up"
    text = " ".join(seen["text"].split())
    assert "DOWN unix:///" in text and "2 engines: 1 up, 1 down" in text  # the long path is cut in the middle
    assert " ".join(seen["third"][1].split()[:3]) in text  # and the reason is on screen, under the row


def test_tui_engine_options_are_checked_before_the_terminal(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lockdock", "tui", *args, str(tmp_path)], capture_output=True,
                              text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)

    clash = run("--no-engine", "--host", MAIN)
    assert clash.returncode == 2 and "--no-engine cannot be combined" in clash.stderr
    unknown = run("--context", "no-such-context")
    assert unknown.returncode == 2 and "no-such-context" in unknown.stderr and "not found" in unknown.stderr
    bad = run("--host", "ftp://x")
    assert bad.returncode == 2 and "expected unix://PATH" in bad.stderr
    assert "Traceback" not in clash.stderr + unknown.stderr + bad.stderr


def test_an_engine_down_at_start_is_tried_again_and_scanned_when_it_answers(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, second_engine: Any, docker_api: Any) -> None:
    """The row of an engine that is not there yet says DOWN; once a dockerd answers on its
    socket, the retry connects, scans it, and its targets appear under its row."""
    base = tmp_path_factory.mktemp("dockerd-late")
    late = f"unix://{base / 'docker.sock'}"  # the socket start_dockerd will serve
    app = create_app([tmp_path], endpoints=[host_endpoint(second_engine.host), host_endpoint(late)])
    seen: dict[str, Any] = {}
    started: list[Any] = []

    async def body(pilot: Any) -> None:
        await wait_scan(pilot, timeout=120)
        rows = app.state.engines
        seen["before"] = rows[late].state
        try:
            started.append(start_dockerd(base))
        except DockerdUnavailable as exc:
            pytest.skip(f"no extra dockerd: {exc}")
        seen["after"] = await wait_for(pilot, lambda: rows[late].state == "up" and rows[late].live, timeout=90)
        await wait_scan(pilot, timeout=60)
        await pilot.pause(0.6)
        inv = app.query_one(Inventory)
        seen["host"] = [engine_of_node(inv, k) for k, tr in app.state.targets.items()
                        if tr.target.kind is TargetKind.HOST and tr.target.engine == late]
        seen["second"] = rows[second_engine.host].state

    try:
        drive(app, body)
    finally:
        for engine in started:
            engine.stop()
    assert seen["before"] == "down"
    assert seen["after"], app.state.engines[late]
    assert seen["host"] == [late]  # its daemon settings, scanned after it came back, under its row
    assert seen["second"] == "up"
