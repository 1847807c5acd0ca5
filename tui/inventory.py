"""The inventory (panel 1): every scanned target in sections, with level and worst severity.

Rebuilt from `AppState` in batches (the app throttles calls while a scan streams in) and
keeps the cursor on the same target across rebuilds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from lockdock.model import TargetKind
from lockdock.scan import TargetResult
from lockdock.text import display
from lockdock.tui.render import ellipsize, plain, target_label
from lockdock.tui.state import (
    PROJECT_SECTIONS,
    AppState,
    EngineRow,
    display_name,
    in_scope,
    section_of,
    short_name,
    target_matches,
)

# Several engines: an engine's section with more targets than this starts folded, so every
# engine's row fits on one screen (enter or space opens it).
FOLD_AT = 8
SCOPE_WORDS = {"all": "everything", "project": "project files only", "engine": "engine objects only"}


class Inventory(Tree[str]):
    """Sections are top-level nodes (data None); targets carry their key as data."""

    BORDER_TITLE = "1 Inventory"
    _bulk = 0  # > 0 while nodes are added in a batch (`_batch`); Tree calls _invalidate from __init__
    _bulk_changed = False

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
        self._section_names: dict[str, str] = {}  # section node id -> its heading word
        self._engine_sig: tuple[object, ...] = ()
        self._auto_folded: set[str] = set()
        self._restoring: str | None = None  # key the cursor returns to after a rebuild
        self.sort = "severity"  # one of state.SORTS
        self.scope = "all"  # see state.in_scope
        self.query = ""  # the `/` search
        self._name_width = 0
        self.user_moved = False  # True once the user picked a target (the app stops choosing)
        # key -> ((rollup, name, cells), label): a row's label is built once per look.
        self._labels: dict[str, tuple[tuple[object, ...], Text]] = {}

    # Rows are added by the hundred on a big engine; Tree's per-node costs are cut here.
    def process_label(self, label: str | Text) -> Text:
        """Our labels are one-line `Text`s already (`target_label`, `plain` escape newlines):
        kept as they are instead of Tree's split into a copy."""
        if isinstance(label, Text) and "\n" not in label.plain:
            return label
        return super().process_label(label)

    def get_label_width(self, node: TreeNode[str]) -> int:
        """The cells of `render_label`'s output (toggle icon and label), without rendering
        it: Tree measures every line, visible or not, on each rebuild."""
        icon = (self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE) if node.allow_expand else ""
        return cell_len(icon) + node.label.cell_len

    def _invalidate(self) -> None:
        """Tree re-lays itself out after every added node; within `_batch` only once."""
        if self._bulk:
            self._bulk_changed = True
            return
        super()._invalidate()

    @contextmanager
    def _batch(self) -> Iterator[None]:
        self._bulk += 1
        try:
            yield
        finally:
            self._bulk -= 1
            if not self._bulk and self._bulk_changed:
                self._bulk_changed = False
                super()._invalidate()

    def _label(self, tr: TargetResult, name: str, roll: Any, cells: int) -> Text:
        """The row label of `tr` (`render.target_label`), from the cache when nothing it
        shows changed."""
        look = (roll, name, cells)
        cached = self._labels.get(tr.target.key)
        if cached is not None and cached[0] == look:
            return cached[1]
        label = target_label(tr, name, roll, cells)
        self._labels[tr.target.key] = (look, label)
        return label

    @property
    def narrowed(self) -> bool:
        """True when the scope or the search hides targets."""
        return self.scope != "all" or bool(self.query)

    def name_width(self) -> int:
        """Cells left for a top-level name: the row is 'L0 CRIT  12 ' (11) after a guide
        of 2; a compose file (expand icon) and its services have 2 fewer (`_indent`)."""
        width = self.scrollable_content_region.width or self.size.width or 40
        return max(8, width - 13)

    def on_resize(self) -> None:
        if self._name_width != self.name_width() and self._state is not None:
            self.rebuild(self._state)

    _state: AppState | None = None

    @property
    def selected_key(self) -> str | None:
        if self._restoring is not None:
            return self._restoring
        node = self.cursor_node
        return node.data if node is not None else None

    def update_from(self, state: AppState, *, full: bool = False) -> None:
        """Bring the tree up to date: new targets are appended while a scan streams in
        (cheap), everything is redrawn in order when `full` or when something vanished."""
        self._state = state
        if (full or self.narrowed or self.sort != "severity" or not self._section_nodes
                or self._engine_sig != _engine_sig(state)
                or any(k not in state.targets for k in self._target_nodes)):
            self.rebuild(state)
            return
        with self._batch():
            self._update_rows(state)

    def _update_rows(self, state: AppState) -> None:
        rolls = state.rollups()
        width = self.name_width()
        counts: dict[str, int] = {}
        for tr in state.targets.values():
            if not in_scope(tr, self.scope) or (self.query and not target_matches(tr, self.query)):
                continue
            section = section_of(tr.target.kind)
            if state.fleet and tr.target.engine is not None:
                section = f"{tr.target.engine}|{section}"
            counts[section] = counts.get(section, 0) + 1
            key = tr.target.key
            sig = (rolls[key], _row_name(tr, state), width)
            node = self._target_nodes.get(key)
            if node is not None:
                if self._sigs.get(key) != sig:
                    node.set_label(self._label(tr, sig[1], rolls[key], width - _indent(tr, state.fleet)))
                    self._sigs[key] = sig
                continue
            parent = self._section_nodes.get(section)
            if tr.target.parent:
                parent = self._target_nodes.get(tr.target.parent, parent)
            if parent is None:
                self.rebuild(state)
                return
            label = self._label(tr, sig[1], rolls[key], width - _indent(tr, state.fleet))
            if tr.target.kind is TargetKind.COMPOSE_FILE:
                node = parent.add(label, data=key, expand=True)
            else:
                node = parent.add_leaf(label, data=key)
            self._target_nodes[key] = node
            self._sigs[key] = sig
        for sid, node in self._section_nodes.items():
            node.set_label(Text(f"{self._section_names.get(sid, sid)} ({counts.get(sid, 0)})", style="bold"))

    def rebuild(self, state: AppState) -> None:
        """Redraw all sections from `state`, keeping the cursor where it was. With several
        engines the top level is the project's files, then one node per engine holding
        its Host, Images, Containers and Swarm services."""
        with self._batch():
            self._rebuild(state)

    def _rebuild(self, state: AppState) -> None:
        self._state = state
        keep = self.selected_key
        keep_line = self.cursor_line
        rolls = state.rollups()
        self._labels = {k: v for k, v in self._labels.items() if k in state.targets}
        width = self._name_width = self.name_width()
        self._remember_collapsed(self.root)
        self.clear()
        self._target_nodes = {}
        self._section_nodes = {}
        self._section_names = {}
        self._sigs = {}
        self._engine_sig = _engine_sig(state)
        groups: list[tuple[str | bool | None, EngineRow | None]] = [(True, None)]
        if state.fleet:
            groups = [(None, None)] + [(name, row) for name, row in state.engines.items()]
        for engine, row in groups:
            parent = self.root
            if row is not None:
                sections = state.by_section(self.sort, self.scope, self.query, engine=engine, rolls=rolls)
                shown = sum(len(v) for v in sections.values())
                parent = self.root.add(engine_label(row, shown, width + 11), data=f"engine:{row.name}",
                                       expand=f"engine:{row.name}" not in self._collapsed)
                if row.reason and row.state in ("down", "timeout"):
                    # Its own line: the row is too narrow for a connection error.
                    parent.add_leaf(plain(short_reason(row.reason), "dim"), data=f"section:why:{row.name}")
            else:
                sections = state.by_section(self.sort, self.scope, self.query, engine=engine, rolls=rolls)
            for section, items in sections.items():
                if not self._wanted(section, items, state, row, engine):
                    continue
                sid = section if row is None else f"{row.name}|{section}"
                if row is not None and len(items) > FOLD_AT and sid not in self._auto_folded:
                    self._auto_folded.add(sid)  # once: then the user's fold is kept
                    self._collapsed.add(sid)
                head = Text(f"{section} ({len(items)})", style="bold")
                if not items:
                    head.append(f"  {_empty_reason(section, state, row)}", style="dim")
                node = parent.add(head, data=f"section:{sid}", expand=sid not in self._collapsed)
                if items:
                    self._section_nodes[sid] = node
                    self._section_names[sid] = section
                self._add_targets(node, items, rolls, width, state)
        if not self._target_nodes and self.narrowed:
            self.root.add_leaf(Text("No target matches the scope or search (esc clears).", style="dim"),
                               data="section:none")
        self._show_subtitle(state)
        self._restoring = keep if keep in self._target_nodes else None
        # Node lines are only known after the next refresh: move the cursor back then.
        self.call_after_refresh(self._restore, keep, keep_line)

    def _wanted(self, section: str, items: list[TargetResult], state: AppState, row: EngineRow | None,
                engine: str | bool | None) -> bool:
        """Whether a section gets a heading: with several engines the files go on top and
        each engine holds its own objects; an empty section is shown only where its
        emptiness says something (no images or containers)."""
        if state.fleet and (section in PROJECT_SECTIONS) != (engine is None):
            return False
        if items:
            return True
        if self.narrowed:
            return False
        if row is not None:
            return section in ("Images", "Containers") and row.state != "down"
        return not (section not in ("Images", "Containers") and state.engine.wanted) and not state.fleet

    def _add_targets(self, node: TreeNode[str], items: list[TargetResult], rolls: dict[str, Any],
                     width: int, state: AppState) -> None:
        parents: dict[str, TreeNode[str]] = {}
        for tr in items:
            name = _row_name(tr, state)
            label = self._label(tr, name, rolls[tr.target.key], width - _indent(tr, state.fleet))
            parent_node = parents.get(tr.target.parent or "", node)
            if tr.target.kind is TargetKind.COMPOSE_FILE:
                child = parent_node.add(label, data=tr.target.key, expand=True)
                parents[tr.target.key] = child
            else:
                child = parent_node.add_leaf(label, data=tr.target.key)
            self._target_nodes[tr.target.key] = child
            self._sigs[tr.target.key] = (rolls[tr.target.key], name, width)

    def _remember_collapsed(self, node: TreeNode[str]) -> None:
        """Which sections and engines the user folded (kept across rebuilds)."""
        for child in node.children:
            label = str(child.data or "")
            if label.startswith(("section:", "engine:")):
                name = label.split(":", 1)[1] if label.startswith("section:") else label
                if child.is_collapsed:
                    self._collapsed.add(name)
                else:
                    self._collapsed.discard(name)
                if label.startswith("engine:"):
                    self._remember_collapsed(child)

    def _restore(self, keep: str | None, keep_line: int) -> None:
        node = self._target_nodes.get(keep or "")
        if node is not None:
            self.move_cursor(node)
            # Said directly too: under a stream of rebuilds (a busy engine's events) the
            # tree's own highlight message can arrive after its node was replaced.
            self.post_message(self.TargetHighlighted(keep))
        elif keep_line >= 0:
            self.cursor_line = min(keep_line, max(0, self.last_line))
        self._restoring = None

    def select_key(self, key: str, auto: bool = False) -> None:
        """Put the cursor on target `key`; `auto` when the app (not the user) chose it."""
        if not auto:
            self.user_moved = True
        if key in self._target_nodes:
            self._restoring = key
            self.call_after_refresh(self._restore, key, -1)

    def first_target_key(self, state: AppState) -> str | None:
        """The worst target shown, in an unfolded section (see `AppState.worst_key`), else None."""
        return state.worst_key([k for k, node in self._target_nodes.items() if _unfolded(node)])

    def _show_subtitle(self, state: AppState) -> None:
        shown = len(self._target_nodes)
        parts = [f"{shown}/{len(state.targets)}" if self.narrowed else f"{shown}", f"by {self.sort}"]
        if self.scope != "all":
            parts.append(SCOPE_WORDS.get(self.scope, self.scope))
        if self.query:
            parts.append(f"/{self.query}")
        self.border_subtitle = plain(" · ".join(parts))

    def set_view(self, *, sort: str | None = None, scope: str | None = None, query: str | None = None) -> None:
        """Change the order, scope or search and redraw (the cursor stays when still shown)."""
        if sort is not None:
            self.sort = sort
        if scope is not None:
            self.scope = scope
        if query is not None:
            self.query = query.strip()
        if self._state is not None:
            self.rebuild(self._state)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        if self._restoring is not None or event.node is not self.cursor_node:
            return  # a rebuild moved the cursor in passing; the restore will say where it is
        data = event.node.data
        self.post_message(self.TargetHighlighted(data if data and not data.startswith("section:") else None))

    def on_click(self) -> None:
        self.user_moved = True  # a click is the user's choice

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        data = event.node.data
        if data and not data.startswith("section:"):
            self.post_message(self.TargetChosen())


def _row_name(tr: TargetResult, state: AppState) -> str:
    """Under an engine's row (or with the one engine the session opened) a target needs
    no '@ engine' of its own; merged reports (`--from`) keep it."""
    if state.engines and tr.target.engine is not None:
        return "daemon settings" if state.fleet and tr.target.kind is TargetKind.HOST else short_name(tr)
    return display_name(tr)


def _unfolded(node: TreeNode[str]) -> bool:
    parent = node.parent
    while parent is not None and not parent.is_root:
        if not parent.is_expanded:
            return False
        parent = parent.parent
    return True


def _indent(tr: TargetResult, fleet: bool = False) -> int:
    own = 2 if tr.target.parent or tr.target.kind is TargetKind.COMPOSE_FILE else 0
    return own + (2 if fleet and tr.target.engine is not None else 0)


def _engine_sig(state: AppState) -> tuple[object, ...]:
    return tuple((r.name, r.state, r.reason, r.live, r.version) for r in state.engines.values())


ENGINE_STATE_STYLE = {"up": "green", "down": "bold red", "timeout": "bold yellow",
                      "connecting": "dim", "scanning": "cyan"}


_UNREACHABLE = re.compile(r"engine (not reachable) at \S+(?: \(context [^)]*\))?: (.*)", re.S)


def short_reason(reason: str) -> str:
    """A connection error without the engine's address (its row above names it); the
    Problems tab keeps the whole line."""
    m = _UNREACHABLE.match(reason)
    return f"{m.group(1)}: {m.group(2)}" if m else reason


STATE_WORDS = {"up": "up", "down": "DOWN", "timeout": "TIMEOUT", "connecting": "connecting", "scanning": "scanning"}


def engine_label(row: EngineRow, shown: int, width: int = 60) -> Text:
    """An engine's row: its state first (so a narrow column still shows it), then its
    name (cut in the middle to `width` cells), endpoint kind and target count. The reason
    of a down engine is the line below it (`Inventory.rebuild`).

    The name comes from the command line or the context store: plain text, control
    characters escaped."""
    word = STATE_WORDS.get(row.state, row.state)
    tail = f" ({shown})" if row.state in ("up", "scanning") else ""
    # A --host name is its URL already; a context name does not say how it is reached.
    kind = "" if row.name.startswith(f"{row.scheme}://") else f" {row.scheme}"
    room = max(8, width - len(word) - len(tail) - len(kind) - 1)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(word, style=ENGINE_STATE_STYLE.get(row.state, ""))
    text.append(" ")
    text.append_text(plain(ellipsize(display(row.name), room), "bold"))
    text.append(kind + tail, style="dim")
    return text


def _empty_reason(section: str, state: AppState, row: EngineRow | None = None) -> str:
    """Why a section is empty: nothing there, or not looked at (no engine, --no-engine,
    its engine is down or still being scanned)."""
    if row is not None:
        return {"down": "engine down", "timeout": "timed out", "connecting": "connecting…",
                "scanning": "scanning…"}.get(row.state, "none")
    if section in ("Images", "Containers") and not state.engine.endpoint:
        return "no engine"
    if section == "Host" and not state.engine.wanted:
        return "not checked"
    return "none"
