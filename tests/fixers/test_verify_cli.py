"""`lockdock fix --apply --verify` end to end: the real CLI, engine and docker-compose."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixers.verifykit import PREFIX, PROJECT, STACK, leftovers

pytestmark = pytest.mark.engine
FAST = ["--verify-seconds", "2"]


def _stack(tmp_path: Path, image: str, extra: str = "") -> Path:
    app = tmp_path / "app"
    app.mkdir()
    compose = app / "compose.yml"
    compose.write_text(STACK.format(image=image) + extra)
    return compose


def test_breaking_fix_held_back_others_applied_and_a_second_run_changes_nothing(
    run_lockdock: Callable[..., subprocess.CompletedProcess[str]], busybox_image: str, tmp_path: Path,
    docker_api: Any,
) -> None:
    compose = _stack(tmp_path, busybox_image)
    args = ["fix", "--apply", "--unsafe", "--verify", "--check", "container.read-only-rootfs", *FAST]
    proc = run_lockdock(*args, cwd=compose.parent)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "held back" in proc.stdout and "service web exited" in proc.stdout
    text = compose.read_text()
    worker = text[text.index("  worker:"):]
    web = text[: text.index("  worker:")]
    assert "read_only: true" in worker and "read_only" not in web
    assert "applied (verified by running)" in proc.stdout and "undo with: lockdock undo" in proc.stdout
    snapshot = compose.read_bytes()
    again = run_lockdock(*args, "--format", "json", cwd=compose.parent)
    assert again.returncode == 1, again.stderr
    doc = json.loads(again.stdout)
    assert doc["applied"] == [] and [h["verdict"] for h in doc["held_back"]] == ["held back"]
    assert compose.read_bytes() == snapshot  # the second run changes nothing
    (row,) = [r for r in doc["passes"][0]["services"] if r["service"] == "web"]
    assert row["before"]["ports"] == {"8080/tcp": True} and row["after"]["state"] == "exited"
    assert row["verdict"] == "held back" and "read_only" in row["reason"]
    assert not leftovers(docker_api)


def test_all_fixes_fine_all_applied_exit_0(
    run_lockdock: Callable[..., subprocess.CompletedProcess[str]], busybox_image: str, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    compose = app / "compose.yml"
    compose.write_text(f"services:\n  worker:\n    image: {busybox_image}\n    command: [\"sleep\", \"3600\"]\n")
    proc = run_lockdock("fix", "--apply", "--unsafe", "--verify", "--check", "container.capabilities", *FAST,
                        cwd=app)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cap_drop" in compose.read_text()
    assert "1 applied (verified by running), 0 held back" in proc.stdout


def test_no_compose_cli_on_path_is_said_plainly_and_nothing_is_applied(
    run_lockdock: Callable[..., subprocess.CompletedProcess[str]], busybox_image: str, tmp_path: Path
) -> None:
    compose = _stack(tmp_path, busybox_image)
    before = compose.read_bytes()
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    proc = run_lockdock("fix", "--apply", "--unsafe", "--verify", "--check", "container.read-only-rootfs", *FAST,
                        cwd=compose.parent, env={"PATH": str(empty)})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "no compose CLI (neither `docker compose` nor `docker-compose` is on PATH)" in proc.stdout
    assert "0 applied" in proc.stdout and compose.read_bytes() == before


def test_verify_needs_apply(run_lockdock: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    proc = run_lockdock("fix", "--verify", "--no-engine", cwd=tmp_path)
    assert proc.returncode == 2 and "--verify needs --apply" in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_removes_every_container_network_and_volume(
    sig: signal.Signals, busybox_image: str, tmp_path: Path, docker_api: Any
) -> None:
    # The worker's health stays "starting", so each run is observed for the whole window.
    compose = _stack(tmp_path, busybox_image,
                     "    volumes:\n      - data:/data\n    healthcheck:\n      test: [\"CMD\", \"false\"]\n"
                     "      interval: 60s\n      start_period: 120s\nvolumes:\n  data: {}\n")
    before = compose.read_bytes()
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lockdock", "fix", "--apply", "--unsafe", "--verify", "--check",
         "container.read-only-rootfs", "--verify-seconds", "60"],
        cwd=compose.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    projects: set[str] = set()
    mine = PREFIX + os.environ["LOCKDOCK_VERIFY_TAG"]  # this test's runs only, not a parallel session's
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            running = [c for c in docker_api.containers(filters={"label": PROJECT})
                       if c["Labels"][PROJECT].startswith(mine)]
            if len(running) >= 2:
                projects = {c["Labels"][PROJECT] for c in running}
                break
            time.sleep(0.3)
        assert projects, "the verification never started the stack"
        assert docker_api.volumes(filters={"label": f"{PROJECT}={next(iter(projects))}"})["Volumes"]
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and "interrupted" in out
    assert not leftovers(docker_api, projects) and not leftovers(docker_api)
    assert compose.read_bytes() == before


def test_verify_without_an_engine_applies_nothing(
    run_lockdock: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    compose = app / "compose.yml"
    compose.write_text("services:\n  worker:\n    image: busybox:1.36\n    command: [\"sleep\", \"3600\"]\n")
    before = compose.read_bytes()
    proc = run_lockdock("fix", "--apply", "--unsafe", "--verify", "--no-engine", "--check", "container.capabilities",
                        cwd=app)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "--verify: needs the Docker engine" in proc.stderr and compose.read_bytes() == before
