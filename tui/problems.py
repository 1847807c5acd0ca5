"""The Problems tab: what could not be read or checked (scan errors and warnings)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from lockdock.model import ScanError
from lockdock.tui.render import plain


def problems_text(errors: list[ScanError]) -> Text:
    if not errors:
        return Text("No problems: everything found could be read and checked.", style="dim")
    out = Text()
    for e in errors:
        out.append("error   " if e.kind == "error" else "warning ", style="bold red" if e.kind == "error" else "yellow")
        if e.path:
            out.append_text(plain(e.path, "bold"))
            out.append(": ")
        out.append_text(plain(e.message))
        out.append("\n")
    return out


class ProblemsView(VerticalScroll):
    can_focus = True

    def compose(self) -> ComposeResult:
        yield Static(problems_text([]), id="problems-body", markup=False)

    def show(self, errors: list[ScanError]) -> None:
        self.query_one("#problems-body", Static).update(problems_text(errors))
