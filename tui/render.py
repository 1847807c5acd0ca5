"""Turning findings, targets and layers into `rich.text.Text`.

Every string that came from a file or the engine goes through `plain()`: control
characters become visible escapes and the result is a `Text`, never a markup string, so
`[bold]`, `[@click=...]` or an OSC sequence in a container name is shown as typed.
Severity and fixability are always spelled out in words; colour only repeats them.
"""

from __future__ import annotations

from rich.text import Text

from lockdock import checks
from lockdock.model import Applicability, Finding, Fix, Severity
from lockdock.scan import TargetResult, severity_of
from lockdock.text import display

SEVERITY_STYLE: dict[Severity, str] = {
    Severity.CRITICAL: "white on red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
SEVERITY_SHORT: dict[Severity, str] = {
    Severity.CRITICAL: "CRIT",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MED ",
    Severity.LOW: "LOW ",
    Severity.INFO: "INFO",
}


def plain(value: object, style: str = "", *, keep_newlines: bool = False) -> Text:
    """Untrusted text as a literal `Text`: secrets masked, escapes visible (`text.display`).

    Every widget, tab, modal, toast, title and palette entry of the TUI shows text from an
    image, container, file or finding through this function (or `plain_str` where Textual
    wants a `str`)."""
    return Text(display(value, keep_newlines=keep_newlines), style=style)


def plain_str(value: object) -> str:
    """`plain` for Textual APIs that take a `str` (toasts, palette entries)."""
    return display(value)


def severity_text(sev: Severity | None, *, short: bool = True) -> Text:
    if sev is None:
        return Text("ok  " if short else "ok", style="green")
    word = SEVERITY_SHORT[sev] if short else sev.label.upper()
    return Text(word, style=SEVERITY_STYLE[sev])


def fix_words(fix: Fix | None) -> str:
    """How a fix is marked in lists: 'safe fix', 'risky fix' (changes behaviour), 'fix?'
    (it needs an engine measurement first: checked when the finding is highlighted) or ''."""
    if fix is None:
        return ""
    if fix.pending:
        return "fix?"
    return "safe fix" if fix.applicability is Applicability.SAFE else "risky fix"


def fix_text(fix: Fix | None) -> Text:
    words = fix_words(fix)
    if not words:
        return Text("")
    style = "green" if fix is not None and fix.applicability is Applicability.SAFE else "magenta"
    if fix is not None and fix.pending:
        style = "dim"
    return Text(f"[{words}]", style=style)


def target_label(tr: TargetResult, name: str, roll: object = None, width: int | None = None) -> Text:
    """Inventory row: level reached, worst severity, active finding count, name.

    `roll` (a `state.Rollup`) replaces the target's own numbers: a compose file shows the
    worst of its services. `width` (cells for the name) cuts a long name in the middle
    with an ellipsis, keeping its end (an image's tag)."""
    if roll is None:  # (not getattr's default: that would walk the findings three times anyway)
        active = tr.active
        level, worst, count = tr.level, tr.worst, len(active)
    else:
        level, worst, count = roll.level, roll.worst, roll.active  # type: ignore[attr-defined]
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"L{level} ")
    text.append_text(severity_text(worst))
    text.append(f"{count:>3} ")
    text.append_text(plain(ellipsize(display(name), width) if width else name))
    return text


def ellipsize(text: str, width: int) -> str:
    """`text` cut to `width` cells in the middle ('registry.exa…/app:latest'); the tail is
    kept longer because tags and file names end there."""
    if width <= 0 or len(text) <= width:
        return text
    if width < 6:
        return text[: max(0, width - 1)] + "…"
    tail = (width - 1) * 3 // 5
    head = width - 1 - tail
    return text[:head] + "…" + text[len(text) - tail:]


def finding_text(finding: Finding) -> Text:
    """Two lines: severity, fix marker and check id; then the message."""
    sev = severity_of(finding)
    text = Text()
    text.append_text(severity_text(sev))
    text.append(" ")
    if finding.suppressed is not None:
        text.append("[ignored] ", style="dim")
    fx = fix_text(finding.fix)
    if fx.plain:
        text.append_text(fx)
        text.append(" ")
    text.append(finding.check, style="bold")
    text.append("\n  ")
    text.append_text(plain(finding.message))
    where = where_short(finding)
    if where:
        text.append_text(plain(f" ({where})", "dim"))
    return text


def where_short(finding: Finding) -> str:
    loc = finding.location
    if loc.image_layer is not None:
        return f"layer {loc.image_layer.index}"
    if loc.line:
        return f"line {loc.line}"
    return ""


def where_long(finding: Finding) -> str:
    """file:line, or the image layer with the instruction that made it."""
    loc = finding.location
    parts: list[str] = []
    if loc.path:
        spot = loc.path
        if loc.line:
            spot += f":{loc.line}"
            if loc.end_line and loc.end_line != loc.line:
                spot += f"-{loc.end_line}"
        parts.append(spot)
    if loc.image_layer is not None:
        layer = f"image layer {loc.image_layer.index}"
        if loc.image_layer.created_by:
            layer += f": {loc.image_layer.created_by}"
        parts.append(layer)
    if not parts:
        parts.append(finding.target.name)
    return "\n".join(parts)


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1000
    return f"{value:.1f}GB"


def check_title(check_id: str) -> str:
    try:
        return checks.get(check_id).title
    except KeyError:
        return check_id
