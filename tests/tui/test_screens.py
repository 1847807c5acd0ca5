"""Snapshot-style checks of the main screens at 80x24, filter, help, keymap, palette."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import pytest

from lockdock.config import Config
from lockdock.tui import create_app
from lockdock.tui.bindings import BINDINGS, KeymapError
from lockdock.tui.diff_screen import DiffScreen
from lockdock.tui.findings import FindingsList
from lockdock.tui.help_screen import HelpScreen

from .conftest import drive, screen_text, select, settled_text, target_key, wait_scan, wait_screen

SMALL = (80, 24)


def test_main_screen_at_80x24_keeps_the_essentials(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        await select(pilot, target_key(app, "compose-service"), "container.not-privileged")
        seen["text"] = await settled_text(pilot)
        seen["svg"] = app.export_screenshot()

    drive(app, body, size=SMALL)
    text = seen["text"]
    for must in ("no engine: file-only mode", "1 Inventory", "2 Findings", "3 Detail",
                 "Compose", "Dockerfiles", "CRIT", "container.not-privileged", "1 crit",
                 "f Fix", "q Quit"):
        assert must in text.replace("  ", " "), must
    assert 'viewBox="0 0' in seen["svg"]


def test_diff_preview_at_80x24_shows_markers_files_and_keys(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        await select(pilot, target_key(app, "repo"), "secrets.gitignore")
        await pilot.press("f")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DiffScreen)
        seen["text"] = screen_text(app)

    drive(app, body, size=SMALL)
    text = seen["text"]
    assert "Preview: nothing is written until you press y" in text
    assert "files: .gitignore" in text
    assert "+++ b/.gitignore" in text and "+.env" in text.replace(" ", "")
    assert "y apply" in text and "esc cancel" in text


def test_help_lists_every_binding_with_remapped_keys(project: Path) -> None:
    app = create_app([project], use_engine=False, config=Config(keys={"fix": "x", "rescan": "f5"}))
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
        seen["text"] = screen_text(app)
        await pilot.press("escape")
        await pilot.pause(0.1)
        # the remapped key works, the old one does not
        await select(pilot, target_key(app, "repo"), "secrets.gitignore")
        await pilot.press("f")
        await pilot.pause(0.2)
        seen["old_key_opened"] = isinstance(app.screen, DiffScreen)
        await pilot.press("x")
        await pilot.pause(0.2)
        seen["new_key_opened"] = isinstance(app.screen, DiffScreen)

    drive(app, body, size=(100, 40))
    text = seen["text"]
    for b in BINDINGS:
        assert f"[{b.id}]" in text, b.id
    assert re.search(r"\bx\s+Preview and apply", text)
    assert re.search(r"\bf5\s+Scan everything again", text)
    assert not seen["old_key_opened"] and seen["new_key_opened"]


def test_unknown_binding_id_in_config_is_refused(project: Path) -> None:
    with pytest.raises(KeymapError, match="nosuch"):
        create_app([project], use_engine=False, config=Config(keys={"nosuch": "x"}))


def test_filter_by_severity_layer_and_check_id(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        await select(pilot, target_key(app, "compose-service"))
        fl = app.query_one(FindingsList)
        seen["all"] = {f.check for f in fl.shown}
        await pilot.press("2")  # in the inventory, / searches targets instead
        await pilot.press("slash")
        await pilot.press(*"critical")
        await pilot.pause(0.1)
        seen["critical"] = {f.check for f in fl.shown}
        await pilot.press("enter")
        await pilot.press("slash")
        for _ in range(10):
            await pilot.press("backspace")
        await pilot.press(*"runtime")
        await pilot.pause(0.1)
        seen["runtime"] = {f.layer.value for f in fl.shown}
        fl_text = screen_text(app)
        seen["subtitle"] = "filter: runtime" in fl_text
        await pilot.press("escape")
        await pilot.pause(0.1)
        seen["cleared"] = {f.check for f in fl.shown}

    drive(app, body, size=SMALL)
    assert seen["critical"] == {"container.not-privileged"}
    assert seen["runtime"] == {"runtime"}
    assert seen["subtitle"]
    assert seen["cleared"] == seen["all"]


def test_palette_offers_fix_and_explain_for_the_target(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        await select(pilot, target_key(app, "repo"), "secrets.gitignore")
        seen["titles"] = [c.title for c in app.get_system_commands(app.screen)]

    drive(app, body)
    titles = seen["titles"]
    assert any(t.startswith("fix: secrets.gitignore") for t in titles)
    assert "explain: secrets.gitignore" in titles


def _grey(c: tuple[int, int, int]) -> bool:
    """No hue (the SVG window chrome uses a near-grey of its own)."""
    return max(c) - min(c) <= 4


def _fills(svg: str) -> set[tuple[int, int, int]]:
    return {
        (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
        for h in re.findall(r"fill: #([0-9a-f]{6})", svg)
    }


def test_no_color_is_honoured_and_words_carry_the_meaning(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        await select(pilot, target_key(app, "compose-service"), "container.not-privileged")
        seen["svg"] = app.export_screenshot()
        seen["text"] = await settled_text(pilot)

    drive(app, body, size=SMALL)
    fills = _fills(seen["svg"])
    assert fills and all(_grey(c) for c in fills), [c for c in fills if not _grey(c)]
    assert "CRIT" in seen["text"] and "[risky fix]" in seen["text"] and "1 crit" in seen["text"]


def test_colour_is_used_without_no_color(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        seen["svg"] = app.export_screenshot()

    drive(app, body, size=SMALL)
    assert any(not _grey(c) for c in _fills(seen["svg"]))


def test_palette_opens_with_ctrl_p_and_runs_a_fix_command(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        await select(pilot, target_key(app, "repo"), "secrets.gitignore")
        from textual.command import CommandPalette

        await pilot.press("ctrl+p")
        await wait_screen(pilot, CommandPalette)
        await pilot.press(*"fix: secrets.gitignore")
        palette = app.screen
        for _ in range(200):  # the palette's search runs in its own worker: wait for a hit
            if palette.query("CommandList").first().option_count:
                break
            await pilot.pause(0.05)
        seen["text"] = screen_text(app)
        await pilot.press("enter")
        with contextlib.suppress(AssertionError):
            await wait_screen(pilot, DiffScreen)
        seen["screen"] = type(app.screen).__name__

    drive(app, body)
    assert "fix: secrets.gitignore" in seen["text"]
    assert seen["screen"] == "DiffScreen"


def test_edit_opens_editor_at_the_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    import lockdock.tui.app as app_mod

    calls: list[list[str]] = []
    monkeypatch.setenv("EDITOR", "myeditor --wait")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setattr(app_mod.subprocess, "run", lambda cmd, check=False: calls.append(cmd))
    app = create_app([project], use_engine=False)
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)

    async def body(pilot):
        await wait_scan(pilot)
        await select(pilot, target_key(app, "compose-service"), "container.not-privileged")
        await pilot.press("e")
        await wait_scan(pilot)  # the edit starts a rescan worker of the file

    drive(app, body)
    assert calls == [["myeditor", "--wait", "+4", str(project / "compose.yaml")]]
