"""The detail pane (panel 3): everything about the highlighted finding.

Message, masked evidence, where (file:line or image layer and its instruction), why it
matters / how to fix / references from `lockdock.checkdocs` (or the catalogue title and
references when a check has no docs), and the fix's title and safety.
"""

from __future__ import annotations

import importlib
from typing import Any

from lockdock.tui.render import fix_words, plain, severity_text, where_long
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from lockdock import catalogue
from lockdock.model import Applicability, Finding
from lockdock.scan import severity_of


def _checkdocs() -> Any:
    try:
        return importlib.import_module("lockdock.checkdocs")
    except ModuleNotFoundError:
        return None


def doc_sections(check_id: str) -> list[tuple[str, str]]:
    """(heading, body) pairs for a check: checkdocs when it has them, else the catalogue."""
    check = catalogue.get(check_id)
    sections: list[tuple[str, str]] = []
    mod = _checkdocs()
    doc = None
    if mod is not None:
        getter = getattr(mod, "get", None) or getattr(mod, "doc_for", None)
        docs = getattr(mod, "DOCS", None)
        try:
            doc = getter(check_id) if callable(getter) else (docs or {}).get(check_id)
        except KeyError:
            doc = None
    if doc is not None:
        for heading, attr in (("What", "what"), ("Why it matters", "why"), ("How to fix", "how")):
            body = doc.get(attr) if isinstance(doc, dict) else getattr(doc, attr, None)
            if body:
                sections.append((heading, str(body).strip()))
    else:
        sections.append(("What", check.title))
    refs = list(check.references)
    extra = (doc.get("references") if isinstance(doc, dict) else getattr(doc, "references", None)) if doc else None
    for r in extra or ():
        if r not in refs:
            refs.append(str(r))
    if refs:
        sections.append(("References", ", ".join(refs)))
    return sections


def detail_text(finding: Finding | None) -> Text:
    if finding is None:
        return Text("Select a finding to see what it means and how to fix it.", style="dim")
    check = catalogue.get(finding.check)
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
    else:
        out.append_text(plain(finding.fix.title))
        words = fix_words(finding.fix)
        if finding.fix.applicability is Applicability.UNSAFE:
            out.append(f"\n{words}: changes behaviour, asks twice. ", style="magenta")
        else:
            out.append(f"\n{words}: behaviour unchanged. ", style="green")
        out.append("Press f to preview the diff.\n")
        if finding.fix.note and finding.fix.note != "lazy":
            out.append_text(plain(finding.fix.note, "dim"))
            out.append("\n")
    for heading, body in doc_sections(finding.check):
        out.append(f"\n{heading}\n", style="bold underline")
        out.append_text(plain(body) if "\n" not in body else Text("\n".join(plain(x).plain for x in body.splitlines())))
        out.append("\n")
    return out


class Detail(VerticalScroll):
    """A focusable scroll area (so 3 focuses it and arrows scroll long docs)."""

    BORDER_TITLE = "3 Detail"
    can_focus = True

    def compose(self):  # noqa: ANN201 - textual's ComposeResult
        yield Static(detail_text(None), id="detail-body", markup=False)

    def show(self, finding: Finding | None) -> None:
        self.query_one("#detail-body", Static).update(detail_text(finding))
        self.scroll_home(animate=False)
