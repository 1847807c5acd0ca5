"""The inventory (panel 1): every scanned target in sections, with level and worst severity.

Rebuilt from `AppState` in batches (the app throttles calls while a scan streams in) and
keeps the cursor on the same target across rebuilds.
"""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from lockdock.model import TargetKind
from lockdock.tui.render import target_label
from lockdock.tui.state import AppState, display_name, section_of


class Inventory(Tree[str]):
    """Sections are top-level nodes (data None); targets carry their key as data."""

    BORDER_TITLE = "1 Inventory"

    class TargetChosen(Message):
        """Enter on a target: the user wants to work on its findings."""

    class TargetHighlighted(Message):
        def __init__(self, key: str | None) -> None:
            super().__init__()
            self.key = key

    def __init__(self) -> None:
        super().__init__(Text("targets"), id="inventory")
        self.show_root = False
        self.guide_depth = 2
        self._collapsed: set[str] = set()
        self._target_nodes: dict[str, TreeNode[str]] = {}
        self._section_nodes: dict[str, TreeNode[str]] = {}
        self._sigs: dict[str, tuple[object, ...]] = {}
        self._restoring: str | None = None  # key the cursor returns to after a rebuild

    @property
    def selected_key(self) -> str | None:
        if self._restoring is not None:
            return self._restoring
        node = self.cursor_node
        return node.data if node is not None else None

    def update_from(self, state: AppState, *, full: bool = False) -> None:
        """Bring the tree up to date: new targets are appended while a scan streams in
        (cheap), everything is redrawn in order when `full` or when something vanished."""
        if full or not self._section_nodes or any(k not in state.targets for k in self._target_nodes):
            self.rebuild(state)
            return
        counts: dict[str, int] = {}
        for tr in state.targets.values():
            section = section_of(tr.target.kind)
            counts[section] = counts.get(section, 0) + 1
            key = tr.target.key
            sig = (tr.level, tr.worst, len(tr.active), display_name(tr))
            node = self._target_nodes.get(key)
            if node is not None:
                if self._sigs.get(key) != sig:
                    node.set_label(target_label(tr, sig[3]))
                    self._sigs[key] = sig
                continue
            parent = self._section_nodes.get(section)
            if tr.target.parent:
                parent = self._target_nodes.get(tr.target.parent, parent)
            if parent is None:
                self.rebuild(state)
                return
            label = target_label(tr, sig[3])
            if tr.target.kind is TargetKind.COMPOSE_FILE:
                node = parent.add(label, data=key, expand=True)
            else:
                node = parent.add_leaf(label, data=key)
            self._target_nodes[key] = node
            self._sigs[key] = sig
        for section, node in self._section_nodes.items():
            node.set_label(Text(f"{section} ({counts.get(section, 0)})", style="bold"))

    def rebuild(self, state: AppState) -> None:
        """Redraw all sections from `state`, keeping the cursor where it was."""
        keep = self.selected_key
        keep_line = self.cursor_line
        for section_node in self.root.children:
            label = str(section_node.data or "")
            if label.startswith("section:"):
                name = label.split(":", 1)[1]
                if section_node.is_collapsed:
                    self._collapsed.add(name)
                else:
                    self._collapsed.discard(name)
        self.clear()
        self._target_nodes = {}
        self._section_nodes = {}
        self._sigs = {}
        for section, items in state.by_section().items():
            if not items and section not in ("Images", "Containers") and state.engine.wanted:
                continue
            head = Text(f"{section} ({len(items)})", style="bold")
            if not items:
                head.append(f"  {_empty_reason(section, state)}", style="dim")
            node = self.root.add(head, data=f"section:{section}", expand=section not in self._collapsed)
            if items:
                self._section_nodes[section] = node
            parents: dict[str, TreeNode[str]] = {}
            for tr in items:
                label = target_label(tr, display_name(tr))
                parent_node = parents.get(tr.target.parent or "", node)
                if tr.target.kind is TargetKind.COMPOSE_FILE:
                    child = parent_node.add(label, data=tr.target.key, expand=True)
                    parents[tr.target.key] = child
                else:
                    child = parent_node.add_leaf(label, data=tr.target.key)
                self._target_nodes[tr.target.key] = child
                self._sigs[tr.target.key] = (tr.level, tr.worst, len(tr.active), display_name(tr))
        self._restoring = keep if keep in self._target_nodes else None
        # Node lines are only known after the next refresh: move the cursor back then.
        self.call_after_refresh(self._restore, keep, keep_line)

    def _restore(self, keep: str | None, keep_line: int) -> None:
        node = self._target_nodes.get(keep or "")
        if node is not None:
            self.move_cursor(node)
        elif keep_line >= 0:
            self.cursor_line = min(keep_line, max(0, self.last_line))
        self._restoring = None

    def select_key(self, key: str) -> None:
        if key in self._target_nodes:
            self._restoring = key
            self.call_after_refresh(self._restore, key, -1)

    def first_target_key(self, state: AppState) -> str | None:
        """The first target (in inventory order) that has findings, else the first one."""
        for key in self._target_nodes:
            tr = state.targets.get(key)
            if tr is not None and tr.active:
                return key
        return next(iter(self._target_nodes), None)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        if self._restoring is not None or event.node is not self.cursor_node:
            return  # a rebuild moved the cursor in passing; the restore will say where it is
        data = event.node.data
        self.post_message(self.TargetHighlighted(data if data and not data.startswith("section:") else None))

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        data = event.node.data
        if data and not data.startswith("section:"):
            self.post_message(self.TargetChosen())


def _empty_reason(section: str, state: AppState) -> str:
    """Why a section is empty: nothing there, or not looked at (no engine, --no-engine)."""
    if section in ("Images", "Containers") and not state.engine.endpoint:
        return "no engine"
    if section == "Host" and not state.engine.wanted:
        return "not checked"
    return "none"
