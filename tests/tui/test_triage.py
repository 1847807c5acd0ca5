"""Issue 15 (TUI): worst first, find and scope, levels, cramped or misleading bits, through the real app."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lockdock.model import Applicability, Fix, NewFile, TargetKind
from lockdock.scan import severity_of
from lockdock.tui import create_app
from lockdock.tui.detail import Detail
from lockdock.tui.diff_screen import DiffScreen, Preview, diff_text
from lockdock.tui.findings import FindingsList
from lockdock.tui.header import StatusBar
from lockdock.tui.inventory import Inventory
from lockdock.tui.render import ellipsize
from lockdock.tui.state import display_name, group_by_layer, levels_to_next, next_level_words

from .conftest import drive, screen_text, select, settled_text, target_key, wait_scan, wait_screen

SMALL = (80, 24)
# A second service at HIGH at most, so the privileged one (CRITICAL) must win.
COMPOSE_TWO = (
    "services:\n"
    "  calm:\n    image: nginx:latest\n"
    "  wild:\n    image: nginx:latest\n    privileged: true\n"
)


def _worst(app: Any) -> int:
    return max(int(tr.worst) for tr in app.state.targets.values() if tr.worst is not None)


def test_opens_on_the_worst_target_with_layer_groups_worst_first(project: Path) -> None:
    (project / "compose.yaml").write_text(COMPOSE_TWO)
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        await pilot.pause(0.3)
        seen["current"] = app.current_key
        seen["headers"] = [str(o.prompt) for o in app.query_one(FindingsList)._options if o.disabled]
        seen["groups"] = group_by_layer(app.state.targets[app.current_key].findings)

    drive(app, body)
    tr = app.state.targets[seen["current"]]
    assert tr.target.name == "wild" and int(tr.worst) == _worst(app)
    worsts = [max(int(severity_of(f)) for f in items) for _layer, items in seen["groups"]]
    assert worsts == sorted(worsts, reverse=True)  # a LOW layer never sits above a CRIT one
    first_layer = seen["groups"][0][0].value
    assert seen["headers"][0].startswith(f"── {first_layer} (") and "crit" in seen["headers"][0]


def test_compose_file_shows_the_worst_of_its_services(project: Path) -> None:
    (project / "compose.yaml").write_text(COMPOSE_TWO)
    app = create_app([project], use_engine=False)

    async def body(pilot):
        await wait_scan(pilot)

    drive(app, body)
    rolls = app.state.rollups()
    cf = target_key(app, "compose-file")
    services = [tr for tr in app.state.targets.values() if tr.target.parent == cf]
    assert services
    assert rolls[cf].level == min(t.level for t in [app.state.targets[cf], *services])
    assert rolls[cf].worst == max(t.worst for t in services if t.worst is not None)
    assert app.state.targets[cf].worst is None or app.state.targets[cf].worst <= rolls[cf].worst


def test_next_level_says_how_many_checks_stand_in_the_way(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        key = target_key(app, "compose-service")
        await select(pilot, key)
        seen["title"] = str(app.query_one(FindingsList).border_title)
        seen["findings"] = app.state.targets[key].findings

    drive(app, body)
    nxt, n = levels_to_next(seen["findings"])
    assert f"{n} check{'s' if n != 1 else ''} to L{nxt}" in seen["title"]
    assert next_level_words([]) == "L4: every check passes"


def test_inventory_search_sort_and_scope(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        inv = app.query_one(Inventory)
        await pilot.press("1")
        await pilot.press("slash")
        await pilot.press(*"docker")
        await pilot.pause(0.3)
        seen["search"] = {app.state.targets[k].target.kind for k in inv._target_nodes}
        await pilot.press("enter")  # back to the list, the search stays
        await pilot.pause(0.1)
        seen["kept"] = inv.query
        await pilot.press("escape")  # esc in the inventory clears the search
        await pilot.pause(0.3)
        seen["cleared"] = (inv.query, len(inv._target_nodes))
        await pilot.press("s")
        await pilot.pause(0.2)
        seen["sort"] = inv.sort
        await pilot.press("S")  # project files only: all of them here (no engine)
        await pilot.pause(0.2)
        seen["project"] = (inv.scope, len(inv._target_nodes))
        await pilot.press("S")  # engine objects only: none without an engine
        await pilot.pause(0.3)
        seen["engine"] = (inv.scope, len(inv._target_nodes), screen_text(app))

    drive(app, body)
    assert seen["search"] == {TargetKind.DOCKERFILE}
    assert seen["kept"] == "docker"
    assert seen["cleared"] == ("", len(app.state.targets))
    assert seen["sort"] == "name"
    assert seen["project"] == ("project", len(app.state.targets))
    scope, shown, text = seen["engine"]
    assert scope == "engine" and shown == 0 and "No target matches" in text


def test_repository_target_is_named_after_its_folder(project: Path) -> None:
    app = create_app([project], use_engine=False)

    async def body(pilot):
        await wait_scan(pilot)

    drive(app, body)
    repo = app.state.targets[target_key(app, "repo")]
    assert display_name(repo) == "proj (repository)"


def test_header_fits_80_columns_and_the_inventory_grows_at_200(project: Path) -> None:
    seen: dict[str, Any] = {}

    async def small(pilot):
        await wait_scan(pilot)
        bar = pilot.app.query_one(StatusBar)
        seen["status_height"] = bar.size.height
        seen["status_lines"] = [line for line in str(bar.content).splitlines()]
        seen["inv80"] = pilot.app.query_one("#inv-col").size.width
        seen["tooltip"] = str(bar.tooltip)
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        seen["help"] = str(pilot.app.screen.query_one("#help-body").content)

    async def big(pilot):
        await wait_scan(pilot)
        seen["inv200"] = pilot.app.query_one("#inv-col").size.width

    drive(create_app([project], use_engine=False), small, size=SMALL)
    drive(create_app([project], use_engine=False), big, size=(200, 50))
    assert seen["status_height"] == 2 and all(len(line) <= 78 for line in seen["status_lines"])
    for level in ("L0", "L1", "L2", "L3", "L4"):  # levels explained in the tooltip and in ?
        assert level in seen["tooltip"] and level in seen["help"]
    assert "checks to L2" in seen["help"] and "worst of its services" in seen["tooltip"]
    for key in ("Search", "Inventory order", "Inventory scope", "inspect JSON", "log lines"):
        assert key in seen["help"]
    assert 34 <= seen["inv80"] <= 40
    assert seen["inv200"] >= 60


def test_long_names_are_cut_with_an_ellipsis_keeping_the_tag(project: Path) -> None:
    assert ellipsize("registry.example.com/team/very-long-image-name:latest", 24).endswith(":latest")
    assert "…" in ellipsize("registry.example.com/team/very-long-image-name:latest", 24)
    assert len(ellipsize("x" * 100, 24)) == 24
    deep = project / "services" / "a-very-long-directory-name-for-the-backend-service"
    deep.mkdir(parents=True)
    (deep / "Dockerfile").write_text("FROM nginx:latest\n")
    app = create_app([project], use_engine=False)
    seen: dict[str, str] = {}

    async def body(pilot):
        await wait_scan(pilot)
        await pilot.pause(0.3)
        seen["text"] = screen_text(app)

    drive(app, body, size=SMALL)
    assert "…" in seen["text"] and "Dockerfile" in seen["text"]


def test_diff_lines_fold_with_their_marker() -> None:
    text = diff_text("--- a\n+++ b\n@@ -1 +1 @@\n-" + "o" * 50 + "\n+" + "n" * 50 + "\n", width=20)
    lines = text.plain.splitlines()
    added = [line for line in lines if "n" * 5 in line]
    removed = [line for line in lines if "o" * 5 in line]
    assert len(added) == 3 and all(line.startswith("+") for line in added)
    assert len(removed) == 3 and all(line.startswith("-") for line in removed)


def test_fix_all_lists_its_fixes_and_modals_offer_no_fix_keys(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        key = target_key(app, "compose-service")
        await select(pilot, key)
        seen["safe"] = [f.fix.title for f in app.state.targets[key].active
                        if f.fix and f.fix.applicability is Applicability.SAFE]
        await pilot.press("F")
        screen = await wait_screen(pilot, DiffScreen)
        seen["text"] = screen_text(app)
        seen["keys"] = {b.binding.key for b in screen.active_bindings.values()
                        if b.enabled and b.binding.show}
        await pilot.press("f")  # the app's fix key does nothing inside the preview
        await pilot.pause(0.2)
        seen["still_one_modal"] = len(app.screen_stack) == 2

    drive(app, body)
    assert len(seen["safe"]) >= 2
    assert f"{len(seen['safe'])} fixes:" in seen["text"]
    for title in seen["safe"]:
        assert title[:40] in seen["text"]
    assert "f" not in seen["keys"] and "F" not in seen["keys"] and {"y", "n"} <= seen["keys"]
    assert seen["still_one_modal"]


def test_read_only_footer_offers_no_write_key(project: Path) -> None:
    app = create_app([project], use_engine=False, read_only=True)
    seen: dict[str, str] = {}

    async def body(pilot):
        await wait_scan(pilot)
        seen["footer"] = (await settled_text(pilot)).rsplit("\n", 1)[-1]

    drive(app, body)
    footer = seen["footer"]
    assert "Quit" in footer
    for word in ("Fix", "All safe", "Ignore", "Undo"):
        assert word not in footer


def test_cursor_stays_in_place_after_a_fix_and_detail_follows_the_highlight(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        key = target_key(app, "compose-service")
        await select(pilot, key)
        fl = app.query_one(FindingsList)
        fixable = [f for f in fl.shown if f.fix is not None and f.fix.applicability is Applicability.SAFE]
        target = fixable[-1]
        fl.focus()
        fl.select_finding(target)
        await pilot.pause(0.2)
        seen["before"] = fl.highlighted
        await pilot.press("f")
        await wait_screen(pilot, DiffScreen)
        await pilot.press("y")
        await wait_scan(pilot)
        seen["after"] = fl.highlighted
        seen["gone"] = all(f.check != target.check for f in app.state.targets[key].active)
        fl.highlighted = None  # e.g. the highlight left every finding
        await pilot.pause(0.2)
        seen["detail"] = str(app.query_one("#detail-body").content)

    drive(app, body)
    assert seen["gone"]
    assert seen["after"] is not None and seen["after"] >= seen["before"] - 1 and seen["after"] > 1
    assert seen["detail"].startswith("Select a finding")


def test_a_write_outside_the_project_asks_twice_and_says_to_reload(project: Path, tmp_path: Path) -> None:
    from lockdock.tui import fixflow

    outside = tmp_path / "etc-docker" / "daemon.json"
    fix = Fix('daemon.json: "live-restore": true', Applicability.SAFE,
              [NewFile(str(outside), '{"live-restore": true}\n', 0o644)])
    app = create_app([project], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        preview = fixflow.build_preview([fix], app.ctx, title=fix.title)
        seen["outside"] = list(preview.outside)
        answers: list[bool | None] = []
        app.push_screen(DiffScreen(preview), answers.append)
        await wait_screen(pilot, DiffScreen)
        await pilot.pause(0.3)
        seen["text"] = screen_text(app)
        await pilot.press("y")
        await pilot.pause(0.2)
        seen["after_one_y"] = (isinstance(app.screen, DiffScreen), screen_text(app))
        await pilot.press("y")
        await pilot.pause(0.2)
        seen["answers"] = answers

    drive(app, body)
    assert seen["outside"] == [str(outside.resolve())]
    assert "OUTSIDE THE PROJECT" in seen["text"] and "daemon.json" in seen["text"]
    assert "dockerd must be reloaded" in seen["text"]
    still, text = seen["after_one_y"]
    assert still and "AGAIN" in text
    assert seen["answers"] == [True]
    assert not outside.exists()  # the modal only answers; nothing was applied here


def test_inside_project_safe_fix_asks_once(project: Path) -> None:
    assert not Preview("t", "").asks_twice
    assert Preview("t", "", outside=["/etc/docker/daemon.json"]).asks_twice


def test_demo_opens_on_the_project_scope(monkeypatch, tmp_path: Path) -> None:
    from lockdock.tui import cli as tui_cli

    calls: dict[str, Any] = {}
    demo = tmp_path / "demo"
    demo.mkdir()
    monkeypatch.setattr(tui_cli, "terminal_problem", lambda: None)
    monkeypatch.setattr(tui_cli, "copy_demo_project", lambda: demo)

    def fake_run(paths, **kwargs):
        calls.update(kwargs, paths=paths)
        return 0

    monkeypatch.setattr("lockdock.tui.run_tui", fake_run)
    args = argparse.Namespace(command="demo", no_engine=False, read_only=False, config=None)
    assert tui_cli.run_tui_command(args) == 0
    assert calls["scope"] == "project" and calls["paths"] == [demo]
    app = create_app([demo], use_engine=False, scope="project")
    assert app.initial_scope == "project"


def test_detail_is_cleared_when_nothing_is_selected(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, str] = {}

    async def body(pilot):
        await wait_scan(pilot)
        await select(pilot, target_key(app, "compose-service"))
        await pilot.press("2")
        await pilot.press("slash")
        await pilot.press(*"no-such-words-here")
        await pilot.pause(0.3)
        seen["detail"] = str(app.query_one(Detail).query_one("#detail-body").content)

    drive(app, body)
    assert seen["detail"].startswith("Select a finding")
