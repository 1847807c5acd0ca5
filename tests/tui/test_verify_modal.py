"""`v` in the diff modal: verify a fix by running the stack, then apply only what works.

Against the real engine and Debian's docker-compose, with the busybox stack of the
`fix --verify` tests (tests/fixers/verifykit.py): read_only breaks the web service (held
back, file unchanged) and keeps the worker running (verified, applied)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from lockdock.tui import create_app
from lockdock.tui.diff_screen import DiffScreen
from lockdock.tui.modals import TextScreen
from tests.fixers.verifykit import STACK, leftovers

from .conftest import drive, screen_text, select, wait_scan, wait_screen

CHECK = "container.read-only-rootfs"


@pytest.fixture(autouse=True)
def _verify_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A private journal and a verify tag per test (leftover checks see only this test's runs)."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("LOCKDOCK_STATE_DIR", str(state))
    monkeypatch.setenv("LOCKDOCK_VERIFY_TAG", "t" + os.urandom(4).hex())
    monkeypatch.setenv("LOCKDOCK_VERIFY_SECONDS", "2")


def _stack(tmp_path: Path, image: str) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    compose = app / "compose.yml"
    compose.write_text(STACK.format(image=image))
    return compose


def _service_key(app: Any, service: str) -> str:
    return next(k for k, tr in app.state.targets.items()
                if tr.target.kind.value == "compose-service" and tr.target.name.endswith(service))


async def _verify_in_modal(pilot: Any, key: str, seen: dict[str, Any]) -> None:
    app = pilot.app
    await wait_scan(pilot, timeout=90)
    await select(pilot, app_key(app, key), CHECK)
    await pilot.press("f")
    modal = await wait_screen(pilot, DiffScreen, timeout=30)
    seen["modal"] = screen_text(app)
    await pilot.press("v")
    await pilot.pause(0.3)
    seen["progress"] = screen_text(app)
    await pilot.press("escape")  # ignored while running: the modal stays
    seen["stayed"] = app.screen is modal
    await wait_screen(pilot, TextScreen, timeout=180)
    # The result screen is pushed before its text is laid out: wait for the report itself.
    for _ in range(100):
        seen["result"] = screen_text(app)
        if "Applying" in seen["result"] or "Nothing written" in seen["result"]:
            break
        await pilot.pause(0.1)
    await wait_scan(pilot, timeout=90)


def app_key(app: Any, service: str) -> str:
    return _service_key(app, service)


@pytest.mark.engine
def test_v_verifies_then_applies_the_fix_that_keeps_the_stack_working(
    tmp_path: Path, busybox_image: str, docker_api: Any
) -> None:
    compose = _stack(tmp_path, busybox_image)
    app = create_app([compose.parent], use_engine=True)
    seen: dict[str, Any] = {}
    drive(app, lambda pilot: _verify_in_modal(pilot, "worker", seen))
    assert "v verify (run it), apply what works" in seen["modal"]
    assert "Verifying" in seen["progress"] and seen["stayed"]
    text = compose.read_text()
    worker, web = text[text.index("  worker:"):], text[: text.index("  worker:")]
    assert "read_only: true" in worker and "read_only" not in web
    assert "verified" in seen["result"] and "worker" in seen["result"]
    assert "Applying 1 verified fix(es); 0 held back" in seen["result"]
    assert not leftovers(docker_api)


@pytest.mark.engine
def test_v_holds_back_the_fix_that_breaks_the_stack_and_writes_nothing(
    tmp_path: Path, busybox_image: str, docker_api: Any
) -> None:
    compose = _stack(tmp_path, busybox_image)
    before = compose.read_bytes()
    app = create_app([compose.parent], use_engine=True)
    seen: dict[str, Any] = {}
    drive(app, lambda pilot: _verify_in_modal(pilot, "web", seen))
    assert compose.read_bytes() == before
    result = seen["result"]
    assert "held back" in result and "service web exited" in result
    assert "Nothing written: no fix was verified." in result and "\\n" not in result
    assert not leftovers(docker_api)


def test_v_not_offered_without_an_engine_says_why_and_writes_nothing(tmp_path: Path) -> None:
    compose = _stack(tmp_path, "busybox:1")
    compose.write_text(compose.read_text().replace("    command: [\"sleep\", \"3600\"]\n",
                                                   "    command: [\"sleep\", \"3600\"]\n    privileged: true\n"))
    before = compose.read_bytes()
    app = create_app([compose.parent], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot: Any) -> None:
        await wait_scan(pilot)
        await select(pilot, _service_key(app, "worker"), "container.not-privileged")
        await pilot.press("f")
        modal = await wait_screen(pilot, DiffScreen)
        seen["modal"] = screen_text(app)
        await pilot.press("v")
        await pilot.pause(0.3)
        seen["stayed"] = app.screen is modal
        seen["toasts"] = [n.message for n in app._notifications]
        await pilot.press("n")

    drive(app, body)
    assert "v verify (run it)" not in seen["modal"]
    assert "v verify not offered: needs a Docker engine connection" in seen["modal"]
    assert seen["stayed"]
    assert any(t.startswith("v verify is not offered: needs a Docker engine") for t in seen["toasts"])
    assert compose.read_bytes() == before
