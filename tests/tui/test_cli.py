"""`lockdock tui` / `lockdock demo` from the command line, and odd terminals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lockdock.tui import create_app
from lockdock.tui.cli import copy_demo_project

from .conftest import drive, screen_text, wait_scan


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lockdock", *args],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def test_tui_without_a_terminal_says_so_plainly(project: Path) -> None:
    proc = _run("tui", str(project), "--no-engine")
    assert proc.returncode == 2
    assert "needs a terminal" in proc.stderr and "lockdock scan" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_tui_with_term_dumb_says_so(project: Path) -> None:
    proc = _run("demo", "--no-engine", env={"TERM": "dumb"})
    assert proc.returncode == 2 and "TERM=dumb" in proc.stderr


def test_tui_help_lists_the_options() -> None:
    proc = _run("tui", "--help")
    assert proc.returncode == 0
    for opt in ("--no-engine", "--read-only", "PATH".lower()):
        assert opt in proc.stdout.lower()


def test_demo_copy_is_a_fresh_directory_with_the_project(tmp_path: Path) -> None:
    a, b = copy_demo_project(), copy_demo_project()
    try:
        assert a != b
        assert (a / "Dockerfile").is_file() and (a / "compose.yaml").is_file()
        assert (a / ".env").stat().st_mode & 0o044  # readable by others, on purpose
    finally:
        import shutil

        shutil.rmtree(a)
        shutil.rmtree(b)


def test_tiny_terminal_40x10_does_not_crash(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, object] = {}

    async def body(pilot):
        await wait_scan(pilot)
        for key in ("2", "down", "3", "1", "right_square_bracket", "question_mark", "escape"):
            await pilot.press(key)
            await pilot.pause(0.05)
        seen["text"] = screen_text(app)
        seen["running"] = app.is_running

    drive(app, body, size=(40, 10))
    assert seen["running"]
    assert "lockdock" in str(seen["text"])


def test_panel_keys_and_tabs(project: Path) -> None:
    from lockdock.tui.detail import Detail
    from lockdock.tui.findings import FindingsList
    from lockdock.tui.inventory import Inventory

    app = create_app([project], use_engine=False)
    seen: dict[str, object] = {}

    async def body(pilot):
        await wait_scan(pilot)
        await pilot.press("2")
        seen["2"] = isinstance(app.focused, FindingsList)
        await pilot.press("3")
        seen["3"] = isinstance(app.focused, Detail)
        await pilot.press("1")
        seen["1"] = isinstance(app.focused, Inventory)
        tabs = app.query_one("#tabs")
        await pilot.press("right_square_bracket")
        await pilot.pause(0.1)
        seen["next"] = tabs.active
        await pilot.press("left_square_bracket")
        await pilot.pause(0.1)
        seen["prev"] = tabs.active

    drive(app, body)
    assert seen["1"] and seen["2"] and seen["3"]
    # no image selected: the layers tab is skipped
    assert seen["next"] == "tab-problems" and seen["prev"] == "tab-findings"
