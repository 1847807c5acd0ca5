"""Helpers for driving the real app headless with Textual's pilot."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

DOCKERFILE = "FROM nginx:latest\nADD app.py /app/\nCMD python /app/app.py\n"
COMPOSE = "services:\n  web:\n    image: nginx:latest\n    privileged: true\n"


@pytest.fixture(autouse=True)
def _short_engine_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOME, XDG_* and DOCKER_CONFIG are isolated by tests/conftest.py `_isolated`."""
    monkeypatch.setenv("LOCKDOCK_ENGINE_TIMEOUT", "3")


@pytest.fixture
def fork_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lockdock tui` forks its engine child (`lockdock.tui.childscan`) here: LOCKDOCK_JOBS
    unset, and threads earlier tests left behind (idle ssh transports, pool workers) given
    a second to end. Those still alive then are idle leftovers of other tests, so
    `childscan.wanted` is told to overlook them (LOCKDOCK_JOBS=1 still says no); in
    `lockdock tui` the app forks before it starts any thread, and `wanted`'s own test
    covers the refusal."""
    import os
    import threading
    import time

    from lockdock.tui import childscan

    monkeypatch.delenv("LOCKDOCK_JOBS", raising=False)
    deadline = time.monotonic() + 1.0
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    if threading.active_count() > 1:
        monkeypatch.setattr(childscan, "wanted",
                            lambda: hasattr(os, "fork") and os.environ.get("LOCKDOCK_JOBS", "").strip() != "1")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small insecure project: a Dockerfile with a moving tag and ADD, a privileged service."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "compose.yaml").write_text(COMPOSE)
    (root / "app.py").write_text("print('hi')\n")
    (root / ".gitignore").write_text("*.pyc\n")
    (root / ".env").write_text("GREETING=hello\n")
    return root


def target_key(app: Any, kind: str) -> str:
    return next(k for k, tr in app.state.targets.items() if tr.target.kind.value == kind)


async def select(pilot: Any, key: str, check: str | None = None) -> Any:
    """Put the inventory cursor on target `key` and the findings highlight on `check`."""
    from lockdock.tui.findings import FindingsList
    from lockdock.tui.inventory import Inventory

    app = pilot.app
    inv = app.query_one(Inventory)
    inv.focus()
    inv.select_key(key)
    await pilot.pause(0.1)
    assert app.current_key == key
    fl = app.query_one(FindingsList)
    if check is None:
        await pilot.pause(0.1)
        return None
    finding = next(f for f in fl.shown if f.check == check)
    fl.focus()
    fl.select_finding(finding)
    await pilot.pause(0.2)
    assert fl.selected is finding
    return finding


def drive(app: Any, body: Callable[[Any], Awaitable[None]], size: tuple[int, int] = (120, 36)) -> None:
    """Run `body(pilot)` against `app` headless (no pytest-asyncio needed)."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await body(pilot)

    asyncio.run(main())


async def wait_scan(pilot: Any, timeout: float = 30.0) -> None:
    """Wait until the full scan and any rescan have finished and the UI has caught up."""
    app = pilot.app
    loops = int(timeout / 0.05)
    for _ in range(loops):
        await pilot.pause(0.05)
        busy = [w for w in app.workers
                if w.group in ("scan", "rescan", "lazy-fix", "apply") and not w.is_finished]
        if not app.state.progress.running and not busy:
            break
    else:
        raise AssertionError("scan did not finish in time")
    await pilot.pause(0.3)


def screen_text(app: Any) -> str:
    """Everything on screen as plain text (what a user reads), via an SVG screenshot."""
    import html
    import re

    svg = app.export_screenshot()
    texts = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", "", t) for t in texts)).replace("\xa0", " ")


async def settled_text(pilot: Any, must: str = "Quit", timeout: float = 3.0) -> str:
    """Screen text once the footer (recomposed after focus changes) is drawn again."""
    text = screen_text(pilot.app)
    for _ in range(int(timeout / 0.05)):
        if must in text:
            break
        await pilot.pause(0.05)
        text = screen_text(pilot.app)
    return text


async def wait_crash(pilot: Any, timeout: float = 60.0) -> bool:
    """Wait until the app has crashed (its crash output is queued, or it stopped running).
    Returns True when it did; the caller asserts it, so the test never passes by timing out."""
    app = pilot.app
    for _ in range(int(timeout / 0.05)):
        if app._exit_renderables or not app.is_running:
            return True
        try:
            await pilot.pause(0.05)
        except Exception:  # noqa: BLE001 - the app is shutting down under us
            return True
    return False


async def wait_screen(pilot: Any, screen_type: type, timeout: float = 10.0) -> Any:
    """Wait until the active screen is a `screen_type` (a modal pushed by a key or worker)."""
    for _ in range(int(timeout / 0.05)):
        if isinstance(pilot.app.screen, screen_type):
            break
        await pilot.pause(0.05)
    assert isinstance(pilot.app.screen, screen_type), type(pilot.app.screen).__name__
    return pilot.app.screen
