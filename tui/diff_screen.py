"""The diff preview (modal): what a fix will write, before anything is written.

`y` applies, `n`/`esc` cancels. A fix that changes behaviour needs a second, explicit
`y` after a warning that says so. The diff text is already masked by the fixers'
preview; it is still shown as plain `Text` with +/- markers kept, so colour is a bonus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from lockdock.text import display as display


@dataclass
class Preview:
    """Everything the modal shows about one pending change."""

    title: str
    diff: str  # unified diff, secrets masked
    files: list[str] = field(default_factory=list)
    engine_actions: list[str] = field(default_factory=list)
    changes_behaviour: bool = False
    notes: list[str] = field(default_factory=list)
    stamps: dict[str, Any] = field(default_factory=dict)  # file versions shown (apply checks them)


def diff_text(diff: str) -> Text:
    """Colour a unified diff line by line; the +/- markers stay for colourless terminals."""
    out = Text()
    for line in diff.splitlines():
        clean = display(line)
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        out.append(clean + "\n", style=style)
    if not diff.strip():
        out.append("(no text changes)\n", style="dim")
    return out


def summary_text(p: Preview, confirming: bool) -> Text:
    out = Text()
    out.append(display(p.title), style="bold")
    out.append("\n")
    if p.files:
        out.append("files: ")
        out.append(display(", ".join(p.files)))
        out.append("\n")
    for action in p.engine_actions:
        out.append("engine: ")
        out.append(display(action))
        out.append("\n")
    for note in p.notes:
        out.append(display(note) + "\n", style="dim")
    if p.changes_behaviour:
        out.append("WARNING: this fix CHANGES BEHAVIOUR of the app or host.\n", style="bold magenta")
    if confirming:
        out.append("Press y AGAIN to apply anyway, n or esc to cancel.", style="bold reverse")
    else:
        out.append("y apply   n / esc cancel", style="bold")
    return out


class DiffScreen(ModalScreen[bool]):
    """Dismisses with True when the user confirmed the change."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Apply", id="diff-apply"),
        Binding("n", "cancel", "Cancel", id="diff-cancel"),
        Binding("escape", "cancel", "Cancel", show=False, id="diff-escape"),
    ]

    def __init__(self, preview: Preview) -> None:
        super().__init__(id="diff-screen")
        self.preview = preview
        self.confirming = False

    def compose(self) -> ComposeResult:
        with Vertical(id="diff-box"):
            yield Static(summary_text(self.preview, False), id="diff-summary", markup=False)
            with VerticalScroll(id="diff-scroll"):
                yield Static(diff_text(self.preview.diff), id="diff-body", markup=False)

    def on_mount(self) -> None:
        box = self.query_one("#diff-box")
        box.border_title = "Preview: nothing is written until you press y"
        self.query_one("#diff-scroll").focus()

    def action_confirm(self) -> None:
        if self.preview.changes_behaviour and not self.confirming:
            self.confirming = True
            self.query_one("#diff-summary", Static).update(summary_text(self.preview, True))
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
