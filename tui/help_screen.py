"""The help screen (`?`): every key, generated from the live bindings and keymap."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from lockdock.tui.bindings import BINDINGS
from lockdock.tui.state import LEVEL_HELP


def help_text(keymap: dict[str, str], display: dict[str, str] | None = None) -> Text:
    """One line per binding: the key actually in effect (after remapping) and what it does."""
    display = display or {}
    out = Text()
    out.append("Keys", style="bold underline")
    out.append("  (remap in the config: [keys] <id> = \"<key>\")\n\n", style="dim")
    for b in BINDINGS:
        key = keymap.get(b.id or "") or b.key
        shown = display.get(key) or (b.key_display if key == b.key and b.key_display else key)
        out.append(f"{shown:>6}  ", style="bold")
        out.append(f"{b.tooltip or b.description}")
        out.append(f"  [{b.id}]\n", style="dim")
    out.append("\n")
    out.append("In lists: up/down move, enter selects, tab moves between panels.\n", style="dim")
    out.append("Inventory: worst target first; / searches names, kinds and labels (label:KEY=VALUE\n"
               "narrows to a label), s changes the order, S the scope; esc clears a search.\n", style="dim")
    out.append("Severity and fixability are written out as words: [safe fix] keeps\n", style="dim")
    out.append("behaviour, [risky fix] changes it and asks twice. A fix that writes outside the\n", style="dim")
    out.append("project (the daemon's daemon.json) asks twice too and says dockerd must be reloaded.\n",
               style="dim")
    out.append("\nLevels", style="bold underline")
    out.append("  (inventory column L0-L4; the header shows the weakest target)\n\n", style="dim")
    for level, words in LEVEL_HELP:
        out.append(f"{level:>6}  ", style="bold")
        out.append(words + "\n")
    out.append("A compose file shows the worst of its services. The findings title says what the\n"
               "next level needs, e.g. \"2 checks to L2\": the distinct failing checks of that level\n"
               "or below (fix them or ignore them with a reason).\n", style="dim")
    out.append("\nPress esc, q or ? to close.", style="bold")
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help-close"),
        Binding("q", "close", "Close", show=False, id="help-close-q"),
        Binding("question_mark", "close", "Close", show=False, id="help-close-help"),
    ]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__(id="help-screen")
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(self.keymap), id="help-body", markup=False)

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = "Help"

    def action_close(self) -> None:
        self.dismiss(None)
