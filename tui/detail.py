"""The detail pane (panel 3): everything about the highlighted finding.

Message, masked evidence, where (file:line or image layer and its instruction), why it
matters / how to fix / references from the check records in `lockdock.checks` (or the catalogue title and
references when a check has no docs), and the fix's title and safety.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from lockdock import checks
from lockdock.model import Applicability, Finding
from lockdock.scan import severity_of
from lockdock.tui.render import fix_words, plain, severity_text, where_long


def doc_sections(check_id: str) -> list[tuple[str, str]]:
    """(heading, body) pairs for a check: its doc when it has one, else the catalogue."""
    check = checks.get(check_id)
    try:
        doc = checks.doc_for(check_id)
    except KeyError:
        doc = None
    sections: list[tuple[str, str]] = []
    if doc is not None:
        sections += [
            ("What", doc.what),
            ("Why it matters", doc.why),
            ("How to fix", doc.fix),
            ("Example (bad)", doc.example_bad),
            ("Example (good)", doc.example_good),
            ("Automatic fix", doc.fix_safety),
        ]
    else:
        sections.append(("What", check.title))
    if check.references:
        sections.append(("References", ", ".join(check.references)))
    return [(h, b.strip()) for h, b in sections if b and b.strip()]


def detail_text(finding: Finding | None) -> Text:
    if finding is None:
        return Text("Select a finding to see what it means and how to fix it.", style="dim")
    check = checks.get(finding.check)
    out = Text()
    out.append_text(severity_text(severity_of(finding), short=False))
    out.append(f"  {finding.check}", style="bold")
    out.append(f"  (level {check.level}, {finding.layer.value} layer)\n", style="dim")
    out.append_text(plain(finding.message))
    out.append("\n")
    if finding.suppressed is not None:
        out.append("\nIgnored: ", style="bold")
        out.append_text(plain(f"{finding.suppressed.reason} ({finding.suppressed.source})"))
        out.append("\n")
    if finding.evidence:
        out.append("\nEvidence (masked)\n", style="bold underline")
        out.append_text(plain(finding.evidence))
        out.append("\n")
    out.append("\nWhere\n", style="bold underline")
    out.append_text(plain(where_long(finding)))
    out.append("\n")
    out.append("\nFix\n", style="bold underline")
    if finding.fix is None:
        out.append("No automatic fix: see How to fix.\n")
    elif finding.fix.pending:
        out.append("A fix may be possible: it needs a measurement from the engine, being checked now.\n",
                   style="dim")
    else:
        out.append_text(plain(finding.fix.title))
        words = fix_words(finding.fix)
        if finding.fix.applicability is Applicability.UNSAFE:
            out.append(f"\n{words}: changes behaviour, asks twice. ", style="magenta")
        else:
            out.append(f"\n{words}: behaviour unchanged. ", style="green")
        out.append("Press f to preview the diff.\n")
        if finding.fix.note:
            out.append_text(plain(finding.fix.note, "dim"))
            out.append("\n")
    for heading, body in doc_sections(finding.check):
        out.append(f"\n{heading}\n", style="bold underline")
        out.append_text(plain(body, keep_newlines=True))
        out.append("\n")
    return out


class Detail(VerticalScroll):
    """A focusable scroll area (so 3 focuses it and arrows scroll long docs)."""

    BORDER_TITLE = "3 Detail"
    can_focus = True

    def compose(self) -> ComposeResult:
        yield Static(detail_text(None), id="detail-body", markup=False)

    def show(self, finding: Finding | None) -> None:
        self.query_one("#detail-body", Static).update(detail_text(finding))
        self.scroll_home(animate=False)
