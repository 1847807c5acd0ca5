"""The diff preview (modal): what a fix will write, before anything is written.

`y` applies, `n`/`esc` cancels. A fix that changes behaviour needs a second, explicit
`y` after a warning that says so. `v` (offered with an engine, for compose files and
Dockerfiles) first runs the stack unfixed and fixed in throwaway copies in a worker
thread (`lockdock.fixing.verify`), then dismisses with the verified subset to apply. The diff text is already masked by the fixers'
preview; it is still shown as plain `Text` with +/- markers kept, so colour is a bonus.
"""

from __future__ import annotations

from collections.abc import Callable
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
    items: list[str] = field(default_factory=list)  # one title per fix (F applies several)
    outside: list[str] = field(default_factory=list)  # files outside the project (daemon.json)
    verify_why: str | None = "not offered here"  # None: `v` is offered; else why it is not

    @property
    def asks_twice(self) -> bool:
        """A behaviour change or a write outside the project needs a second `y`."""
        return self.changes_behaviour or bool(self.outside)


def diff_text(diff: str, width: int | None = None) -> Text:
    """Colour a unified diff line by line; the +/- markers stay for colourless terminals.

    With `width` (cells), a long line is folded and every continuation starts with the
    line's marker and `…`, so a wrapped added line still reads as added."""
    out = Text(no_wrap=True)
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
        for piece in _fold(clean, width):
            out.append(piece + "\n", style=style)
    if not diff.strip():
        out.append("(no text changes)\n", style="dim")
    return out


def _fold(line: str, width: int | None) -> list[str]:
    if not width or width < 8 or len(line) <= width:
        return [line]
    marker = line[0] if line[:1] in ("+", "-", " ") and not line.startswith(("+++", "---")) else " "
    pieces = [line[:width]]
    rest = line[width:]
    step = width - 2
    while rest:
        pieces.append(marker + "…" + rest[:step])
        rest = rest[step:]
    return pieces


def summary_text(p: Preview, confirming: bool, verifying: bool = False) -> Text:
    out = Text()
    out.append(display(p.title), style="bold")
    out.append("\n")
    if len(p.items) > 1:
        out.append(f"{len(p.items)} fixes:\n")
        for item in p.items:
            out.append("  • ")
            out.append(display(item))
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
    for path in p.outside:
        out.append("OUTSIDE THE PROJECT: writes ", style="bold magenta")
        out.append(display(path), style="bold")
        out.append(" (the Docker daemon's configuration). dockerd must be reloaded for it to take effect: "
                   "systemctl reload docker (or a daemon restart).\n", style="magenta")
    if verifying:
        out.append("Verifying: running the stack unfixed, then fixed, in a throwaway copy "
                   "(nothing is written yet; this can take a minute)…", style="bold reverse")
    elif confirming:
        out.append("Press y AGAIN to apply anyway, n or esc to cancel.", style="bold reverse")
    else:
        out.append("y apply   ", style="bold")
        if p.verify_why is None:
            out.append("v verify (run it), apply what works   ", style="bold")
        out.append("n / esc cancel", style="bold")
        if p.verify_why is not None:
            out.append("\n")
            out.append("(v verify not offered: " + display(p.verify_why) + ")", style="dim")
    return out


class DiffScreen(ModalScreen[Any]):
    """Dismisses with True when the user confirmed the change, False when cancelled, or
    with what `verifier()` returned (the verified fixes) after `v`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Apply", id="diff-apply"),
        Binding("v", "verify", "Verify", id="diff-verify"),
        Binding("n", "cancel", "Cancel", id="diff-cancel"),
        Binding("escape", "cancel", "Cancel", show=False, id="diff-escape"),
    ]

    def __init__(self, preview: Preview, verifier: Callable[[], Any] | None = None) -> None:
        super().__init__(id="diff-screen")
        self.preview = preview
        self.confirming = False
        self.verifier = verifier
        self.verifying = False

    def compose(self) -> ComposeResult:
        with Vertical(id="diff-box"):
            yield Static(summary_text(self.preview, False), id="diff-summary", markup=False)
            with VerticalScroll(id="diff-scroll"):
                yield Static(diff_text(self.preview.diff, self._diff_width()), id="diff-body", markup=False)

    def _diff_width(self) -> int | None:
        width = self.app.size.width if self.is_attached else 0
        return max(20, min(120, int(width * 0.96)) - 5) if width else None

    def on_resize(self) -> None:
        self.query_one("#diff-body", Static).update(diff_text(self.preview.diff, self._diff_width()))

    def on_mount(self) -> None:
        box = self.query_one("#diff-box")
        box.border_title = "Preview: nothing is written until you press y"
        self.query_one("#diff-scroll").focus()

    def action_confirm(self) -> None:
        if self.verifying:
            return
        if self.preview.asks_twice and not self.confirming:
            self.confirming = True
            self.query_one("#diff-summary", Static).update(summary_text(self.preview, True))
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        if self.verifying:
            self.notify("Verification is running; it removes what it started, then this closes.",
                        markup=False)
            return
        self.dismiss(False)

    def action_verify(self) -> None:
        if self.verifying:
            return
        if self.preview.verify_why is not None or self.verifier is None:
            why = self.preview.verify_why or "not offered here"
            self.notify("v verify is not offered: " + display(why), markup=False)
            return
        self.verifying = True
        self.query_one("#diff-summary", Static).update(summary_text(self.preview, False, True))
        self.run_worker(self._verify, thread=True, group="verify", exit_on_error=False)

    def _verify(self) -> None:
        """Worker thread: run the stacks (slow), then dismiss on the UI thread."""
        assert self.verifier is not None
        try:
            result = self.verifier()
        except Exception as exc:  # noqa: BLE001 - said in a toast, nothing written
            self.app.call_from_thread(self._verify_failed, exc)
            return
        self.app.call_from_thread(self._verify_done, result)

    def _verify_done(self, result: Any) -> None:
        self.verifying = False
        self.dismiss(result)

    def _verify_failed(self, exc: Exception) -> None:
        self.verifying = False
        self.notify("verify failed, nothing written: " + display(exc), severity="error", markup=False)
        self.query_one("#diff-summary", Static).update(summary_text(self.preview, self.confirming))
