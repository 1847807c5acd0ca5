"""Modal screens besides the diff and help: read-only text (container inspect and logs),
the undo list, and the ignore-scope picker.

Every string shown comes from the engine, the journal or a finding and goes through the
masking path (`render.plain` / `text.display`); nothing here runs a command in a container.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from lockdock.secrets import check_assignment, mask, secret_name
from lockdock.tui.render import plain

MAX_TEXT_CHARS = 200_000  # a modal never holds more than this (logs can be huge)
LOG_LINES = 200


# ---------------------------------------------------------------------- inspect and logs


def _mask_value(key: str, value: Any) -> Any:
    """Structural masking of inspect JSON: `NAME=value` strings (Env) and `key: value`
    pairs (Labels) whose name says credential; the text mask runs on top of it."""
    if isinstance(value, dict):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_value(key, v) for v in value]
    if isinstance(value, str):
        name, eq, rest = value.partition("=")
        if eq and name and check_assignment(name, rest) is not None:
            return f"{name}={mask(rest)}"
        if key and secret_name(key) and value:
            return mask(value)
    return value


def inspect_text(data: Any) -> Text:
    """`docker inspect` output as indented JSON, secrets masked, escapes visible."""
    dumped = json.dumps(_mask_value("", data), indent=2, sort_keys=True, default=str)
    return plain(dumped[:MAX_TEXT_CHARS], keep_newlines=True)


def logs_text(raw: bytes | str, lines: int = LOG_LINES) -> Text:
    """The last `lines` log lines, masked line by line, escapes visible."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    tail = text.splitlines()[-lines:]
    if not tail:
        return Text("(the container has written no log lines)", style="dim")
    out = Text()
    for line in tail:
        out.append_text(plain(line[:2000]))
        out.append("\n")
    return out


class TextScreen(ModalScreen[None]):
    """A read-only, scrollable text (inspect JSON, logs). esc or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="text-close"),
        Binding("q", "close", "Close", show=False, id="text-close-q"),
    ]

    def __init__(self, title: str, body: Text, hint: str = "") -> None:
        super().__init__(id="text-screen")
        self.title_text = title
        self.body = body
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="text-box"):
            with VerticalScroll(id="text-scroll"):
                yield Static(self.body, id="text-body", markup=False)
            yield Static(Text(self.hint + "   esc / q close", style="dim"), id="text-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#text-box").border_title = plain(self.title_text)
        self.query_one("#text-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)


# ---------------------------------------------------------------------- undo list


@dataclass
class UndoItem:
    """One journal entry of this project, as the list shows it."""

    entry: Any  # lockdock.fixing.journal.Entry
    when: float
    titles: list[str]
    files: list[str] = field(default_factory=list)
    engine: list[str] = field(default_factory=list)


def project_entries(root: Path) -> list[UndoItem]:
    """Journal entries made from `root` (the scan root), newest first.

    An entry belongs to the project when it was applied with `root` as its root, or when
    every file it wrote lies inside `root`."""
    from lockdock.fixing import journal

    base = root.resolve()
    # The journal's own notion of this project (the git repository holding the scan root,
    # else the root): the same runs `lockdock undo --list` shows.
    runs = {summary.run for summary in journal.entries_for(base)}
    out: list[UndoItem] = []
    for path in reversed(journal.entries()):
        try:
            entry = journal.load(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        files = [f.path for f in entry.files] + [m.path for m in entry.modes]
        if getattr(entry, "run", None):
            mine = entry.run in runs
        else:  # an entry written before runs had a project
            mine = _same_dir(entry.root, base) or (files and all(_inside(p, base) for p in files))
        if not mine:
            continue
        shown = [_rel(p, base) for p in files]
        engine = [f"container {e.object_name}: {', '.join(sorted(e.previous))}" for e in entry.engine]
        out.append(UndoItem(entry, entry.created_at, list(entry.titles), shown, engine))
    return out


def _same_dir(a: str, base: Path) -> bool:
    try:
        return Path(a).resolve() == base
    except (OSError, ValueError):
        return False


def _inside(p: str, base: Path) -> bool:
    try:
        full = Path(p).resolve()
    except (OSError, ValueError):
        return False
    return full == base or base in full.parents


def _rel(p: str, base: Path) -> str:
    return str(Path(p).relative_to(base)) if _inside(p, base) else p


def undo_list_text(items: list[UndoItem], root: Path) -> Text:
    """Newest first: when, the fixes, the files (and containers) each entry would revert."""
    out = Text()
    if not items:
        out.append("Nothing to undo in this project ", style="bold")
        out.append_text(plain(f"({root})"))
        out.append(".\nFixes applied from other directories are not listed here.", style="dim")
        return out
    out.append_text(plain(f"Applied fixes of {root}, newest first:", "bold"))
    out.append("\n")
    for n, item in enumerate(items):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(item.when))
        out.append(f"\n{'→ ' if n == 0 else '  '}{when}  ", style="bold" if n == 0 else "")
        out.append_text(plain("; ".join(item.titles)[:300]))
        for f in item.files:
            out.append("\n      file: ")
            out.append_text(plain(f))
        for e in item.engine:
            out.append("\n      ")
            out.append_text(plain(e))
    return out


class UndoScreen(ModalScreen[bool]):
    """Lists this project's journal entries; `y` reverts the newest (marked →)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Undo newest", id="undo-apply"),
        Binding("n", "cancel", "Cancel", id="undo-cancel"),
        Binding("escape", "cancel", "Cancel", show=False, id="undo-escape"),
    ]

    def __init__(self, items: list[UndoItem], root: Path) -> None:
        super().__init__(id="undo-screen")
        self.items = items
        self.root = root

    def compose(self) -> ComposeResult:
        with Vertical(id="undo-box"):
            with VerticalScroll(id="undo-scroll"):
                yield Static(undo_list_text(self.items, self.root), id="undo-body", markup=False)
            hint = "y undo the newest (→)   n / esc cancel" if self.items else "esc close"
            yield Static(Text(hint, style="bold"), id="undo-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#undo-box").border_title = "Undo: nothing is reverted until you press y"
        self.query_one("#undo-scroll").focus()

    def action_confirm(self) -> None:
        self.dismiss(bool(self.items))

    def action_cancel(self) -> None:
        self.dismiss(False)


# ---------------------------------------------------------------------- ignore scopes


@dataclass(frozen=True)
class IgnoreScope:
    """One way to ignore a finding: `kind` is "pragma", "project" (written to
    .lockdock.toml after a preview), "image-name" (a `[per-image-ignores]` entry for the
    image name in `detail`, written after a preview) or "label" (a label line to add where
    the object is built or run: an existing image's or container's labels cannot be changed)."""

    kind: str
    title: str
    detail: str = ""


@dataclass
class IgnoreChoice:
    scope: IgnoreScope
    reason: str


def ignore_scopes(finding: Any, image_name: str | None = None) -> list[IgnoreScope]:
    """The scopes offered for `finding`, narrowest first; `image_name` (the image's, or the
    container's image's, `[per-image-ignores]` key) adds the "this image name" scope."""
    from lockdock.model import TargetKind
    from lockdock.suppress import IGNORE_LABEL

    kind = finding.target.kind
    check = finding.check
    scopes: list[IgnoreScope] = []
    if kind is TargetKind.IMAGE:
        scopes.append(IgnoreScope(
            "label", f"this image, by label (add to its Dockerfile): LABEL {IGNORE_LABEL}=\"{check} <reason>\"",
            f'LABEL {IGNORE_LABEL}="{check} {{reason}}"'))
    elif kind is TargetKind.CONTAINER:
        scopes.append(IgnoreScope(
            "label", f"this container, by label (add where it is run): --label {IGNORE_LABEL}=\"{check} <reason>\"",
            f'--label {IGNORE_LABEL}="{check} {{reason}}"  (compose: labels: [{IGNORE_LABEL}={check} {{reason}}])'))
    else:
        scopes.append(IgnoreScope("pragma", f"this finding: a pragma in {finding.location.path or 'its file'}"))
    if image_name and kind in (TargetKind.IMAGE, TargetKind.CONTAINER):
        scopes.append(IgnoreScope(
            "image-name", f"this image name, every tag: [per-image-ignores] \"{image_name}\" in "
            ".lockdock.toml (images of that name and containers created from them)", image_name))
    scopes.append(IgnoreScope("project", f"the whole project: ignore {check} in .lockdock.toml"))
    return scopes


class IgnoreScreen(ModalScreen["IgnoreChoice | None"]):
    """Pick a scope, type the reason, enter. Esc cancels; nothing is written here."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="ignore-cancel"),
    ]

    def __init__(self, finding: Any, scopes: list[IgnoreScope]) -> None:
        super().__init__(id="ignore-screen")
        self.finding = finding
        self.scopes = scopes

    def compose(self) -> ComposeResult:
        with Vertical(id="ignore-box"):
            head = Text("Ignore ", style="bold")
            head.append(self.finding.check, style="bold")
            head.append(" on ")
            head.append_text(plain(self.finding.target.name))
            yield Static(head, id="ignore-head", markup=False)
            yield OptionList(*[Option(plain(s.title), id=f"s{i}") for i, s in enumerate(self.scopes)],
                             id="ignore-scopes", markup=False)
            yield Input(placeholder="reason (required): why this risk is accepted", id="ignore-reason")
            yield Static(Text("up/down scope · type the reason · enter continue (a write is previewed first)"
                              " · esc cancel", style="dim"), id="ignore-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#ignore-box").border_title = "Ignore: pick a scope and give a reason"
        self.query_one("#ignore-scopes", OptionList).highlighted = 0
        self.query_one("#ignore-reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        reason = event.value.strip()
        if not reason:
            self.notify("Type a reason first: it is written next to the ignore.", severity="warning")
            return
        idx = self.query_one("#ignore-scopes", OptionList).highlighted or 0
        self.dismiss(IgnoreChoice(self.scopes[idx], reason))

    def on_key(self, event: Any) -> None:
        """up/down move the scope while the reason box keeps the focus."""
        scopes = self.query_one("#ignore-scopes", OptionList)
        if event.key in ("up", "down"):
            cur = scopes.highlighted or 0
            scopes.highlighted = max(0, min(len(self.scopes) - 1, cur + (1 if event.key == "down" else -1)))
            event.stop()

    def action_cancel(self) -> None:
        self.dismiss(None)
