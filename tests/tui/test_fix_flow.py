"""Fix, undo and read-only, end to end through the keys a user presses."""

from __future__ import annotations

from pathlib import Path

from lockdock.tui import create_app
from lockdock.tui.diff_screen import DiffScreen
from lockdock.tui.modals import IgnoreScreen, UndoScreen

from .conftest import drive, screen_text, select, target_key, wait_scan, wait_screen


def test_fix_shows_diff_then_writes_and_undo_restores(project: Path) -> None:
    app = create_app([project], use_engine=False)
    before = (project / ".gitignore").read_text()
    seen: dict[str, object] = {}

    async def body(pilot):
        await wait_scan(pilot)
        key = target_key(app, "repo")
        untouched = {k: tr for k, tr in app.state.targets.items() if tr.target.kind.value == "dockerfile"}
        await select(pilot, key, "secrets.gitignore")
        await pilot.press("f")
        await wait_screen(pilot, DiffScreen)
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
        seen["kept"] = all(app.state.targets.get(k) is tr for k, tr in untouched.items()) and bool(untouched)
        await pilot.press("u")
        await wait_screen(pilot, UndoScreen)
        seen["undo_list"] = screen_text(app)
        seen["still_fixed"] = (project / ".gitignore").read_text() != before
        await pilot.press("y")
        await wait_scan(pilot)
        seen["after_undo"] = (project / ".gitignore").read_text()
        seen["checks_after_undo"] = [f.check for f in app.state.targets[key].active]

    drive(app, body)
    diff = str(seen["diff"])
    assert "+" in diff and ".gitignore" in diff and "y apply" in diff
    assert seen["unchanged_while_preview"]
    assert seen["after_fix"] != before and ".env" in str(seen["after_fix"])
    assert "secrets.gitignore" not in seen["checks_after_fix"]  # type: ignore[operator]
    undo_list = str(seen["undo_list"])
    assert ".gitignore" in undo_list and "→" in undo_list and "y undo the newest" in undo_list
    assert seen["still_fixed"]  # the list reverts nothing by itself
    assert seen["after_undo"] == before
    assert seen["kept"]  # only the touched targets were rescanned
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


def test_ignore_adds_a_previewed_pragma_and_suppresses(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, object] = {}

    async def body(pilot):
        await wait_scan(pilot)
        key = target_key(app, "compose-service")
        await select(pilot, key, "container.not-privileged")
        await pilot.press("i")
        await wait_screen(pilot, IgnoreScreen)
        seen["scopes"] = screen_text(app)
        await pilot.press("enter")  # no reason yet: refused, the modal stays
        await pilot.pause(0.1)
        seen["needs_reason"] = isinstance(app.screen, IgnoreScreen)
        await pilot.press(*"lab only")
        await pilot.press("enter")
        await wait_screen(pilot, DiffScreen)
        seen["diff"] = screen_text(app)
        await pilot.press("y")
        await wait_scan(pilot)  # waits for the apply worker and the rescan it starts
        tr = app.state.targets[key]
        seen["suppressed"] = [f.check for f in tr.findings if f.suppressed is not None]
        seen["active"] = [f.check for f in tr.active]

    drive(app, body)
    assert "pragma in" in str(seen["scopes"]) and ".lockdock.toml" in str(seen["scopes"])
    assert seen["needs_reason"]
    assert "lockdock: ignore=container.not-privileged" in str(seen["diff"])
    assert "# lockdock: ignore=container.not-privileged lab only" in (project / "compose.yaml").read_text()
    assert "container.not-privileged" in seen["suppressed"]  # type: ignore[operator]
    assert "container.not-privileged" not in seen["active"]  # type: ignore[operator]


def test_fix_all_safe_is_one_diff_and_skips_risky_fixes(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, object] = {}

    async def body(pilot):
        await wait_scan(pilot)
        key = target_key(app, "compose-service")
        tr = app.state.targets[key]
        seen["safe"] = {f.check for f in tr.active if f.fix and f.fix.applicability.value == "safe"}
        seen["risky"] = {f.check for f in tr.active if f.fix and f.fix.applicability.value == "unsafe"}
        await select(pilot, key)
        await pilot.press("F")
        await wait_screen(pilot, DiffScreen)
        seen["changes_behaviour"] = app.screen.preview.changes_behaviour
        await pilot.press("y")  # safe only: one confirmation is enough
        await wait_scan(pilot)  # waits for the apply worker and the rescan it starts
        seen["after"] = {f.check for f in app.state.targets[key].active}

    drive(app, body)
    assert seen["safe"] and seen["risky"]
    assert seen["changes_behaviour"] is False
    assert not (seen["safe"] & seen["after"])  # type: ignore[operator]
    assert seen["risky"] <= seen["after"]  # type: ignore[operator]
    assert "privileged: true" in (project / "compose.yaml").read_text()


def test_unsafe_fix_needs_a_second_confirmation(project: Path) -> None:
    app = create_app([project], use_engine=False)

    async def body(pilot):
        await wait_scan(pilot)
        await select(pilot, target_key(app, "compose-service"), "container.not-privileged")
        await pilot.press("f")
        await wait_screen(pilot, DiffScreen)
        await pilot.press("y")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DiffScreen)  # still asking
        assert "Press y AGAIN" in screen_text(app)
        assert "privileged: true" in (project / "compose.yaml").read_text()
        await pilot.press("y")
        await wait_scan(pilot)  # waits for the apply worker and the rescan it starts

    drive(app, body)
    assert "privileged" not in (project / "compose.yaml").read_text()
