"""Fix, undo and read-only, end to end through the keys a user presses."""

from __future__ import annotations

from pathlib import Path

from lockdock.tui import create_app
from lockdock.tui.diff_screen import DiffScreen

from .conftest import drive, screen_text, select, target_key, wait_scan


def test_fix_shows_diff_then_writes_and_undo_restores(project: Path) -> None:
    app = create_app([project], use_engine=False)
    before = (project / ".gitignore").read_text()
    seen: dict[str, object] = {}

    async def body(pilot):
        await wait_scan(pilot)
        key = target_key(app, "repo")
        await select(pilot, key, "secrets.gitignore")
        await pilot.press("f")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DiffScreen)
        seen["diff"] = screen_text(app)
        seen["unchanged_while_preview"] = (project / ".gitignore").read_text() == before
        await pilot.press("y")
        await wait_scan(pilot)
        for _ in range(40):
            if app.workers and all(w.is_finished for w in app.workers if w.group == "apply"):
                break
            await pilot.pause(0.05)
        await wait_scan(pilot)
        seen["after_fix"] = (project / ".gitignore").read_text()
        seen["checks_after_fix"] = [f.check for f in app.state.targets[key].active]
        await pilot.press("u")
        await wait_scan(pilot)
        seen["after_undo"] = (project / ".gitignore").read_text()
        seen["checks_after_undo"] = [f.check for f in app.state.targets[key].active]

    drive(app, body)
    diff = str(seen["diff"])
    assert "+" in diff and ".gitignore" in diff and "y apply" in diff
    assert seen["unchanged_while_preview"]
    assert seen["after_fix"] != before and ".env" in str(seen["after_fix"])
    assert "secrets.gitignore" not in seen["checks_after_fix"]  # type: ignore[operator]
    assert seen["after_undo"] == before
    assert "secrets.gitignore" in seen["checks_after_undo"]  # type: ignore[operator]


def test_cancel_writes_nothing(project: Path) -> None:
    app = create_app([project], use_engine=False)
    before = (project / ".gitignore").read_text()

    async def body(pilot):
        await wait_scan(pilot)
        await select(pilot, target_key(app, "repo"), "secrets.gitignore")
        await pilot.press("f")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DiffScreen)
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, DiffScreen)

    drive(app, body)
    assert (project / ".gitignore").read_text() == before


def test_read_only_blocks_fix_ignore_and_undo(project: Path) -> None:
    app = create_app([project], use_engine=False, read_only=True)
    before = (project / ".gitignore").read_text()
    seen: dict[str, object] = {}

    async def body(pilot):
        await wait_scan(pilot)
        seen["badge"] = "READ-ONLY" in screen_text(app)
        await select(pilot, target_key(app, "repo"), "secrets.gitignore")
        for key in ("f", "F", "i", "u"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert not isinstance(app.screen, DiffScreen)
        seen["notes"] = [n.message for n in app._notifications]

    drive(app, body)
    assert seen["badge"]
    assert (project / ".gitignore").read_text() == before
    notes = seen["notes"]
    said = {n for n in notes if "read-only mode" in n}  # type: ignore[union-attr]
    assert any("fixing" in n for n in said)
    assert any("ignore pragma" in n for n in said)
    assert any("undo" in n for n in said)
