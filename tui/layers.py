"""The image layers tab (panel 4): a dive-like list of an image's layers and their findings.

Layer rows come from `docker history` (oldest first, so index 0 is the base, the same
numbering `ImageLayerRef.index` uses). Findings are attributed by `location.image_layer`,
so a secret file that a later layer deleted still shows on the layer that added it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from lockdock.model import Finding, TargetKind
from lockdock.scan import TargetResult, severity_of
from lockdock.tui.findings import FindingsList
from lockdock.tui.render import finding_text, human_size, plain


@dataclass(frozen=True)
class LayerRow:
    index: int
    size: int | None
    created_by: str
    empty: bool  # metadata-only history entry (ENV, CMD...)


def layers_from_history(history: list[dict[str, Any]]) -> list[LayerRow]:
    """`docker history` (newest first) -> rows oldest first."""
    rows = []
    for i, entry in enumerate(reversed(history)):
        size = entry.get("Size")
        created_by = str(entry.get("CreatedBy") or "")
        created_by = created_by.replace("/bin/sh -c #(nop) ", "").replace("|1 ", "", 1).strip()
        rows.append(LayerRow(i, size if isinstance(size, int) else None, created_by, not size))
    return rows


def layers_from_subject(subject: Any) -> list[LayerRow] | None:
    """Rows from an image subject's paired history (`HistoryEntry`, oldest first)."""
    history = getattr(subject, "history", None)
    if not history:
        return None
    rows = []
    for h in history:
        created_by = str(getattr(h, "created_by", "") or "")
        created_by = created_by.replace("/bin/sh -c #(nop) ", "").strip()
        size = getattr(h, "size", None)
        rows.append(LayerRow(int(h.index), size, created_by, bool(getattr(h, "empty", False))))
    return rows


def layers_from_findings(findings: list[Finding]) -> list[LayerRow]:
    """Rows known from the findings alone (no engine history available)."""
    seen: dict[int, LayerRow] = {}
    for f in findings:
        ref = f.location.image_layer
        if ref is not None and ref.index not in seen:
            seen[ref.index] = LayerRow(ref.index, ref.size, ref.created_by, False)
    return [seen[i] for i in sorted(seen)]


def findings_of_layer(findings: list[Finding], index: int) -> list[Finding]:
    return [f for f in findings if f.location.image_layer is not None and f.location.image_layer.index == index]


def worst_layer(rows: list[LayerRow], findings: list[Finding]) -> int:
    """Row to open on: the layer with the most severe finding (secrets first), else 0."""
    best, best_sev = 0, -1
    for i, row in enumerate(rows):
        for f in findings_of_layer(findings, row.index):
            sev = int(severity_of(f))
            if sev > best_sev:
                best, best_sev = i, sev
    return best


class LayersView(Vertical):
    """Top: the layer table. Bottom: findings of the highlighted layer."""

    BORDER_TITLE = "4 Image layers"

    def __init__(self) -> None:
        super().__init__(id="layers")
        self.rows: list[LayerRow] = []
        self.findings: list[Finding] = []
        self.image_key: str | None = None

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="layer-table", cursor_type="row", zebra_stripes=False)
        table.add_column(Text("#"), key="index", width=3)
        table.add_column(Text("size"), key="size", width=8)
        table.add_column(Text("finds"), key="count", width=5)
        table.add_column(Text("instruction"), key="instruction")
        yield table
        yield Static(Text(""), id="layer-findings", markup=False)

    def show_target(self, tr: TargetResult | None, history: list[dict[str, Any]] | None) -> None:
        """Fill the table for an image (history may be None when the engine cannot give it)."""
        table = self.query_one("#layer-table", DataTable)
        table.clear()
        self.rows = []
        self.findings = []
        if tr is None or tr.target.kind is not TargetKind.IMAGE:
            self.image_key = None
            self.border_subtitle = Text("pick an image in the Images section")
            self.query_one("#layer-findings", Static).update(Text(""))
            return
        self.image_key = tr.target.key
        self.findings = tr.findings
        rows = layers_from_subject(tr.subject)
        if rows is None and history:
            rows = layers_from_history(history)
        self.rows = rows if rows is not None else layers_from_findings(tr.findings)
        msg = plain(f"{tr.target.name}: {len(self.rows)} layers, oldest first")
        if rows is None:
            msg.append(" (no history: layers with findings only)")
        self.border_subtitle = msg
        for row in self.rows:
            count = len(findings_of_layer(self.findings, row.index))
            instr = plain(row.created_by[:300] or "(no instruction recorded)", "dim" if row.empty else "")
            table.add_row(
                Text(str(row.index)),
                Text(human_size(row.size) if not row.empty else "0B", justify="right"),
                Text(str(count) if count else "-", style="bold red" if count else "dim", justify="right"),
                instr,
                key=str(row.index),
            )
        start = worst_layer(self.rows, self.findings)
        if self.rows:
            table.move_cursor(row=start)
        self._show_layer(start)

    def announce(self) -> None:
        """Tell the detail pane about the highlighted layer's first finding."""
        table = self.query_one("#layer-table", DataTable)
        row = table.cursor_row
        if 0 <= row < len(self.rows):
            found = findings_of_layer(self.findings, self.rows[row].index)
            if found:
                self.post_message(FindingsList.FindingHighlighted(found[0]))

    def _show_layer(self, row_index: int) -> None:
        body = self.query_one("#layer-findings", Static)
        if not self.rows or row_index >= len(self.rows):
            body.update(Text(""))
            return
        row = self.rows[row_index]
        text = Text()
        text.append(f"Layer {row.index}", style="bold")
        text.append(f" ({human_size(row.size)}): ")
        text.append_text(plain(row.created_by[:500] or "(no instruction recorded)"))
        found = findings_of_layer(self.findings, row.index)
        if found:
            self.post_message(FindingsList.FindingHighlighted(found[0]))
        if not found:
            text.append("\nNo findings in this layer.", style="dim")
        for f in found:
            text.append("\n")
            text.append_text(finding_text(f))
        body.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_layer(event.cursor_row)
