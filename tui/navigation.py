"""Moving around the app: panels and tabs, the inventory search and the findings filter,
sort and scope, and what escape clears.

A mixin of `LockdockApp` (its keyboard and input handling, apart from scanning and
drawing); `closing_safe` guards handlers that may run while the app shuts down.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from textual.css.query import NoMatches
from textual.widgets import Input, TabbedContent, TabPane

from lockdock.tui.detail import Detail
from lockdock.tui.findings import FindingsList
from lockdock.tui.help_screen import HelpScreen
from lockdock.tui.inventory import Inventory

TABS = ("tab-findings", "tab-layers", "tab-problems")

F = TypeVar("F", bound=Callable[..., Any])


def closing_safe(handler: F) -> F:
    """A message that arrives while the app shuts down finds no widgets: ignore it then
    (and only then; a missing widget while running is a bug and still raises)."""

    @functools.wraps(handler)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return handler(self, *args, **kwargs)
        except NoMatches:
            if self.screen_stack and self.is_running:
                raise
            return None

    return wrapper  # type: ignore[return-value]


class Navigation:
    """Mixed into `LockdockApp` (which provides `_main`, `state`, `notify`, ...)."""

    state: Any
    current_key: str | None
    _keymap: Any

    def action_focus_panel(self, name: str) -> None:
        tabs = self._main(TabbedContent)
        if name == "inventory":
            self._main(Inventory).focus()
        elif name == "findings":
            tabs.active = "tab-findings"
            self._main(FindingsList).focus()
        elif name == "detail":
            self._main(Detail).focus()
        elif name == "layers":
            if self._main("#tab-layers", TabPane).disabled:
                self.notify("Layers are shown for images: pick one in the Images section.")
                return
            tabs.active = "tab-layers"
            self._main("#layer-table").focus()

    def action_tab(self, delta: int) -> None:
        tabs = self._main(TabbedContent)
        enabled = [t for t in TABS if not self._main(f"#{t}", TabPane).disabled]
        current = tabs.active if tabs.active in enabled else enabled[0]
        tabs.active = enabled[(enabled.index(current) + delta) % len(enabled)]

    def action_help(self) -> None:
        self.push_screen(HelpScreen(dict(self._keymap)))

    def action_filter(self) -> None:
        """`/` searches the inventory when it has the focus (as in k9s), else filters findings."""
        inv = self._main(Inventory)
        if inv.has_focus:
            box = self._main("#inv-search", Input)
            box.display = True
            box.value = inv.query
            box.focus()
            return
        self._main(TabbedContent).active = "tab-findings"
        box = self._main("#filter", Input)
        box.display = True
        box.value = self._main(FindingsList).query_text
        box.focus()

    @closing_safe
    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._main(FindingsList).show(self._current(), event.value.strip())
        elif event.input.id == "inv-search":
            self._main(Inventory).user_moved = True
            self._main(Inventory).set_view(query=event.value)
            self._select_first_shown()

    @closing_safe
    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.input.display = bool(event.value.strip())
            self._main(FindingsList).focus()
        elif event.input.id == "inv-search":
            event.input.display = bool(event.value.strip())
            self._main(Inventory).focus()

    def _select_first_shown(self) -> None:
        inv = self._main(Inventory)
        if self.current_key in inv._target_nodes:
            return
        first = inv.first_target_key(self.state)
        if first is not None:
            self.call_after_refresh(inv.select_key, first)

    NAV_KEYS = frozenset({"up", "down", "pageup", "pagedown", "home", "end", "enter", "left", "right",
                          "space", "shift+left", "shift+right"})

    @closing_safe
    def on_key(self, event: Any) -> None:
        if event.key in self.NAV_KEYS and self._main(Inventory).has_focus:
            self._main(Inventory).user_moved = True  # from now on the cursor is the user's
        if event.key != "escape":
            return
        box = self._main("#filter", Input)
        search = self._main("#inv-search", Input)
        inv = self._main(Inventory)
        if box.has_focus:
            box.value = ""
            box.display = False
            self._main(FindingsList).show(self._current(), "")
            self._main(FindingsList).focus()
            event.stop()
        elif search.has_focus or (inv.has_focus and inv.query):
            search.value = ""
            search.display = False
            inv.set_view(query="")
            inv.focus()
            event.stop()

    def action_sort(self) -> None:
        """Cycle the inventory order: severity, name, kind."""
        from lockdock.tui.state import SORTS

        inv = self._main(Inventory)
        inv.set_view(sort=SORTS[(SORTS.index(inv.sort) + 1) % len(SORTS)])
        self.notify(f"Inventory sorted by {inv.sort}.", timeout=2)

    def action_scope(self) -> None:
        """Cycle the inventory scope: all, project, engine, then each compose project."""
        from lockdock.tui.state import compose_projects

        inv = self._main(Inventory)
        scopes = ["all", "project", "engine"] + [f"compose:{p}" for p in compose_projects(self.state.targets.values())]
        if inv.query.startswith("label:"):
            scopes.append(inv.query)
        nxt = scopes[(scopes.index(inv.scope) + 1) % len(scopes)] if inv.scope in scopes else "all"
        inv.user_moved = True
        inv.set_view(scope=nxt)
        self._select_first_shown()
        self.notify(f"Scope: {nxt}.", timeout=2)

