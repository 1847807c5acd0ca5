"""The status line: engine, scan progress, overall level, counts by severity, read-only."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.widgets import Static

from lockdock.model import Severity
from lockdock.tui.render import SEVERITY_STYLE, plain
from lockdock.tui.state import AppState


def status_text(state: AppState, *, read_only: bool, undo_depth: int = 0, width: int = 120) -> Text:
    """Two short lines that fit 80 columns: where we look, then what we found."""
    line1 = Text()
    line1.append("lockdock ", style="bold")
    if read_only:
        line1.append(" READ-ONLY ", style="bold reverse")
        line1.append(" ")
    eng = state.engine
    if state.engines:
        line1.append_text(engines_text(state))
    elif not eng.wanted:
        line1.append("no engine: file-only mode (--no-engine)")
    elif eng.lost:
        line1.append("ENGINE LOST: ", style="bold red")
        line1.append_text(plain(eng.error or "engine unreachable"))
    elif eng.endpoint:
        line1.append("engine ")
        line1.append_text(plain(eng.endpoint))
        if eng.version:
            line1.append_text(plain(f" (Docker {eng.version})", "dim"))
    elif eng.error:
        line1.append("no engine: file-only mode. ", style="bold")
        line1.append_text(plain(eng.error, "dim"))
    else:
        line1.append("connecting to the engine…", style="dim")

    narrow = width < 100
    line2 = Text()
    p = state.progress
    if p.running:
        line2.append("scanning ")
        parts = [f"{p.targets_done} done"]
        if p.images_total:
            parts.append(f"{'img' if narrow else 'images'} {min(p.images_done, p.images_total)}/{p.images_total}")
        if p.containers_total:
            word = "ctr" if narrow else "containers"
            parts.append(f"{word} {min(p.containers_done, p.containers_total)}/{p.containers_total}")
        line2.append(", ".join(parts))
        if p.current and not narrow:
            line2.append(" · ")
            line2.append_text(plain(p.current[:40], "dim"))
        line2.append(" | ")
    elif p.elapsed is not None:
        line2.append(f"{len(state.targets)} targets {p.elapsed:.1f}s | " if narrow
                     else f"{len(state.targets)} targets in {p.elapsed:.1f}s | ")
    level, counts = state.totals()
    if level is not None:
        line2.append(f"L{level}" if narrow else f"level {level} of 4 reached")
        line2.append(" | ")
    line2.append_text(counts_text(counts, short=width < 100))
    if state.errors:
        word = "prob" if narrow else "problem" + ("s" if len(state.errors) != 1 else "")
        line2.append(f" | {len(state.errors)} {word}", style="yellow")
    if undo_depth and width >= 100:
        line2.append(f" | {undo_depth} undoable", style="dim")
    for line in (line1, line2):
        line.no_wrap = True
        line.overflow = "ellipsis"
        line.truncate(max(20, width - 2), overflow="ellipsis")
    return Text("\n", no_wrap=True).join([line1, line2])


def engines_text(state: AppState) -> Text:
    """Several engines: how many are up, down, late; one engine: its name and version."""
    rows = list(state.engines.values())
    text = Text()
    if len(rows) == 1:
        row = rows[0]
        text.append("engine ")
        text.append_text(plain(row.name))
        if row.state in ("down", "timeout"):
            text.append(f" {row.state.upper()}: ", style="bold red")
            text.append_text(plain(row.reason or "", "dim"))
        elif row.version:
            text.append_text(plain(f" (Docker {row.version})", "dim"))
        return text
    counts = {s: sum(1 for r in rows if r.state == s) for s in ("up", "scanning", "connecting", "down", "timeout")}
    text.append(f"{len(rows)} engines: ")
    parts = [(f"{n} {s}", {"down": "bold red", "timeout": "bold yellow"}.get(s, "")) for s, n in counts.items() if n]
    for i, (words, style) in enumerate(parts):
        if i:
            text.append(", ")
        text.append(words, style=style)
    return text


SHORT_WORDS = {Severity.CRITICAL: "crit", Severity.HIGH: "high", Severity.MEDIUM: "med",
               Severity.LOW: "low", Severity.INFO: "info"}


def counts_text(counts: Counter[Severity], *, short: bool = False) -> Text:
    """'2 critical 5 high 1 medium' as words, coloured only as a second cue."""
    text = Text()
    shown = [s for s in sorted(Severity, reverse=True) if counts.get(s)]
    if not shown:
        text.append("no findings", style="green")
        return text
    for i, sev in enumerate(shown):
        if i:
            text.append(" ")
        word = SHORT_WORDS[sev] if short else sev.label
        text.append(f"{counts[sev]} {word}", style=SEVERITY_STYLE[sev])
    return text


class StatusBar(Static):
    """Rendered from `AppState`; `refresh_from` is called whenever the state changes."""

    def __init__(self) -> None:
        super().__init__(Text("lockdock: starting…"), id="status", markup=False)
        self.tooltip = level_tooltip()

    def refresh_from(self, state: AppState, *, read_only: bool, undo_depth: int = 0) -> None:
        width = self.size.width or self.app.size.width
        self.update(status_text(state, read_only=read_only, undo_depth=undo_depth, width=width))


def level_tooltip() -> str:
    """The header's tooltip: what L0-L4 mean (the same words as the help screen)."""
    from lockdock.tui.state import LEVEL_HELP

    lines = ["Levels (each target, and the whole setup as its weakest target):"]
    lines += [f"{lvl}  {words}" for lvl, words in LEVEL_HELP]
    lines.append("A compose file shows the worst of its services.")
    return "\n".join(lines)
