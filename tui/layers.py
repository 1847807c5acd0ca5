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
from textual.message import Message
from textual.widgets import DataTable, Static, Tree

from lockdock.model import Finding, TargetKind
from lockdock.payloads import SystemPath
from lockdock.payloads.engine import AccountEntries
from lockdock.scan import TargetResult, severity_of
from lockdock.tui.filetree import LayerFiles, deleted_in, still_lives
from lockdock.tui.findings import FindingsList
from lockdock.tui.render import finding_text, human_size, plain


@dataclass(frozen=True)
class LayerRow:
    index: int
    size: int | None
    created_by: str
    empty: bool  # metadata-only history entry (ENV, CMD...)
    diff: int | None = None  # index into RootFS.Layers (the file tree of this layer)


def layers_from_history(history: list[dict[str, Any]]) -> list[LayerRow]:
    """`docker history` (newest first) -> rows oldest first."""
    rows = []
    diff = 0
    for i, entry in enumerate(reversed(history)):
        size = entry.get("Size")
        created_by = str(entry.get("CreatedBy") or "")
        created_by = created_by.replace("/bin/sh -c #(nop) ", "").replace("|1 ", "", 1).strip()
        rows.append(LayerRow(i, size if isinstance(size, int) else None, created_by, not size,
                             None if not size else diff))
        diff += 1 if size else 0
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
        diff = getattr(h, "layer", None)
        rows.append(LayerRow(int(h.index), size, created_by, bool(getattr(h, "empty", False)),
                             diff if isinstance(diff, int) else None))
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
        self.files: list[LayerFiles] | None = None
        self.files_error: str | None = None

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="layer-table", cursor_type="row", zebra_stripes=False)
        table.add_column(Text("#"), key="index", width=3)
        table.add_column(Text("size"), key="size", width=8)
        table.add_column(Text("finds"), key="count", width=5)
        table.add_column(Text("instruction"), key="instruction")
        yield table
        yield Static(Text(""), id="layer-findings", markup=False)
        files: Tree[str] = Tree(Text("files"), id="layer-files")
        files.show_root = False
        files.guide_depth = 2
        yield files

    class FilesWanted(Message):
        """The file tree of image `key` is needed (the app reads it in a worker)."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def set_files(self, key: str, files: list[LayerFiles] | None, error: str | None) -> None:
        """The file lists of image `key` arrived (None with `error` when unreadable)."""
        if key != self.image_key:
            return
        self.files = files
        self.files_error = error
        self._show_files(self.query_one("#layer-table", DataTable).cursor_row)

    def show_target(self, tr: TargetResult | None, history: list[dict[str, Any]] | None) -> None:
        """Fill the table for an image (history may be None when the engine cannot give it)."""
        table = self.query_one("#layer-table", DataTable)
        same = tr is not None and tr.target.key == self.image_key and bool(self.rows)
        keep_row = table.cursor_row if same else None  # a rescan of this image keeps the row
        table.clear()
        self.rows = []
        self.findings = []
        if tr is None or tr.target.key != self.image_key:
            self.files, self.files_error = None, None
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
        if keep_row is not None and 0 <= keep_row < len(self.rows):
            start = keep_row
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
        self._show_files(row_index)

    def want_files(self) -> None:
        """Ask the app for this image's file tree (once per image)."""
        if self.image_key is not None and self.files is None and self.files_error is None:
            self.files_error = None
            self.post_message(self.FilesWanted(self.image_key))

    def _show_files(self, row_index: int) -> None:
        tree = self.query_one("#layer-files", Tree)
        tree.clear()
        if not self.rows or not 0 <= row_index < len(self.rows):
            return
        row = self.rows[row_index]
        if self.files is None:
            note = self.files_error or "file tree: open the Layers tab to read it (docker save)…"
            tree.root.add_leaf(plain(note, "dim"))
            return
        if row.diff is None or row.diff >= len(self.files):
            tree.root.add_leaf(Text("no files: this step only changed the image's settings", style="dim"))
            return
        fill_tree(tree, self.files, row.diff, findings_of_layer(self.findings, row.index), self.rows)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_layer(event.cursor_row)


STATUS_MARK = {"added": ("+", "green"), "changed": ("~", "yellow"), "deleted": ("-", "red")}


def fill_tree(tree: Tree[str], files: list[LayerFiles], diff: int, found: list[Finding],
              rows: list[LayerRow]) -> None:
    """The files of layer `diff` as a directory tree; directories holding a finding or a
    deleted file open, the rest closed. Findings are marked on the file they name; a
    deleted file says which lower layer still carries its bytes."""
    layer = files[diff]
    history_of = {r.diff: r.index for r in rows if r.diff is not None}
    by_path: dict[str, list[Finding]] = {}
    for f in found:
        for path in named_paths(f):
            by_path.setdefault(path, []).append(f)
    head = Text(f"{len(layer.entries)} entries, {human_size(layer.size)} added or changed", style="dim")
    if layer.capped:
        head = Text(f"showing {len(layer.entries)} of {layer.total} entries (capped to bound memory)",
                    style="yellow")
    tree.root.add_leaf(head)
    if layer.stopped:
        tree.root.add_leaf(plain(layer.stopped, "yellow"))
    dirs: dict[str, Any] = {"": tree.root}

    def folder(path: str) -> Any:
        if path in dirs:
            return dirs[path]
        parent_path, _, name = path.rpartition("/")
        node = folder(parent_path).add(plain(name + "/"), data=path, expand=False)
        dirs[path] = node
        return node

    for entry in sorted(layer.entries, key=lambda e: e.path):
        parent_path, _, name = entry.path.rpartition("/")
        parent = folder(parent_path)
        mark, style = STATUS_MARK[entry.status]
        label = Text(f"{mark} ", style=style)
        label.append_text(plain(name + ("/" if entry.is_dir else "")))
        if entry.status != "deleted" and not entry.is_dir:
            label.append(f"  {human_size(entry.size)}", style="dim")
        notes: list[str] = []
        if entry.status == "deleted":
            lives = still_lives(entry.path, diff, files)
            if lives:
                notes.append("deleted here, still in layer " + ", ".join(str(history_of.get(i, i)) for i in lives))
        else:
            gone = deleted_in(entry.path, diff, files)
            if gone is not None:
                notes.append(f"deleted in layer {history_of.get(gone, gone)}, its bytes still live here")
        hits = by_path.get(entry.path, [])
        if hits:
            notes.append("⚑ " + ", ".join(sorted({f.check for f in hits})))
        if notes:
            label.append("  " + "; ".join(notes), style="bold red" if hits else "magenta")
        if entry.is_dir:
            node = dirs.get(entry.path)
            if node is None:
                node = parent.add(label, data=entry.path, expand=False)
                dirs[entry.path] = node
            else:
                node.set_label(label)
        else:
            parent.add_leaf(label, data=entry.path)
        if hits or notes:
            node = parent
            while node is not None and node is not tree.root:
                node.expand()
                node = node.parent


def named_paths(finding: Finding) -> set[str]:
    """In-image paths a finding names (its location, the `path` of its payload, absolute paths in its
    evidence and message), without the leading slash, to mark them in the file tree."""
    out: set[str] = set()
    if finding.location.path:
        out.add(finding.location.path.lstrip("/"))
    if isinstance(finding.payload, (SystemPath, AccountEntries)):
        out.add(finding.payload.path.lstrip("/"))
    for text in (finding.evidence or "", finding.message):
        for raw in text.split():
            word = raw.strip("()[],;:'\"")
            if word.startswith("/") and len(word) > 1:
                out.add(word.lstrip("/"))
    return out
