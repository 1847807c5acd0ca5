"""Minimal text edits to compose files, located with the parsed tree.

The file is never re-dumped: we replace a scalar, delete the lines of one entry, or insert
lines shaped like their neighbours (the file's indentation step, the list's dash column,
its line endings). Block extents are found from the text: an entry runs until the next
line with content at the same or a smaller indentation, so comments and blank lines that
follow it stay where they are. Flow collections (`[a, b]`, `{k: v}`) get flow edits.
Anything this module cannot edit safely returns None and the fixer offers no fix.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from lockdock.compose.project import LoadedFile, Project
from lockdock.compose.yamlread import Node
from lockdock.model import FileEdit, TextEdit

_BREAK = re.compile(r"\r\n|\r|\n")
_PLAIN_SAFE = re.compile(r"^[A-Za-z_/.][A-Za-z0-9_./@+-]*$")


class EditRefused(Exception):
    """The text has a shape we do not edit (flow map, key not first on its line, ...)."""


def line_start(text: str, pos: int) -> int:
    return max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1


def next_line(text: str, pos: int) -> int:
    """Offset of the start of the line after the one holding `pos` (len(text) at the end)."""
    m = _BREAK.search(text, pos)
    return m.end() if m else len(text)


def _lines_from(text: str, pos: int) -> Iterator[tuple[int, int, str]]:
    """(start, end-with-break, content) for each line starting at `pos`."""
    while pos < len(text):
        m = _BREAK.search(text, pos)
        end = m.end() if m else len(text)
        content_end = m.start() if m else len(text)
        yield pos, end, text[pos:content_end]
        pos = end


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def block_extent(text: str, start: int) -> tuple[int, int]:
    """Lines of the block entry whose first token starts at `start` (a key or a `-`).

    Returns (start of its line, start of the line after its last content line). Deeper
    lines (and deeper comments) belong to the entry; blank lines and comments at the
    entry's own indentation that follow it do not.
    """
    ls = line_start(text, start)
    if not re.fullmatch(r" *(- +)*", text[ls:start]):
        raise EditRefused("entry is not the first thing on its line")
    col = start - ls
    is_key = text[start:start + 1] != "-"
    last_end = next_line(text, start)
    for _s, e, line in _lines_from(text, last_end):
        if not line.strip():
            continue
        indent = _indent(line)
        # An "indentless" block sequence (`key:` then `- item` at the key's column) is the
        # key's value: its items belong to the entry.
        indentless = is_key and indent == col and re.match(r"-( |$)", line[indent:].rstrip("\r\n")) is not None
        if indent <= col and not indentless:
            break
        last_end = e
    return ls, last_end


def dash_of(text: str, item: Node) -> int | None:
    """Offset of the `- ` that introduces block sequence item `item`, if it is one."""
    ls = line_start(text, item.start)
    prefix = text[ls:item.start]
    if prefix.strip(" ") == "-" or re.fullmatch(r" *- +", prefix):
        return ls + prefix.index("-")
    return None


def newline_of(lf: LoadedFile) -> str:
    return lf.text.newline if lf.text is not None else "\n"


def quote(value: str) -> str:
    """A YAML scalar for `value`: plain when unambiguous, else double-quoted."""
    if _PLAIN_SAFE.match(value) and value.lower() not in (
        "yes", "no", "on", "off", "true", "false", "null", "y", "n", "~"
    ):
        return value
    return json.dumps(value)


@dataclass
class Editor:
    """Collects edits for the files of one project."""

    project: Project

    def __post_init__(self) -> None:
        self.edits: dict[str, list[TextEdit]] = {}

    def extent(self, path: str, start: int) -> tuple[int, int]:
        """`block_extent`, memoised per project (many fixes insert after the same entry)."""
        key = ("extent", path, start)
        memo = self.project.memo
        if key not in memo:
            try:
                memo[key] = block_extent(self.text(path), start)
            except EditRefused as exc:
                memo[key] = exc
        found = memo[key]
        if isinstance(found, EditRefused):
            raise found
        return found

    def file(self, path: str) -> LoadedFile:
        """The loaded file at `path`, when it parsed cleanly (else EditRefused)."""
        lf = self.project.loaded.get(path)
        if lf is None or lf.text is None or not lf.clean:
            raise EditRefused("file could not be parsed cleanly")
        return lf

    def text(self, path: str) -> str:
        lf = self.project.loaded.get(path)
        if lf is None or lf.text is None or not lf.clean:
            raise EditRefused("file could not be parsed cleanly")
        return lf.text.text

    def add(self, path: str, start: int, end: int, new: str) -> None:
        edits = self.edits.get(path)
        if edits is None:
            self.file(path)
            edits = self.edits[path] = []
        edits.append(TextEdit(start, end, new))

    def file_edits(self) -> list[FileEdit]:
        out = []
        for path, edits in self.edits.items():
            lf = self.file(path)
            assert lf.text is not None
            joined = _join_insertions(edits)
            for a, b in itertools.pairwise(joined):
                if b.start < a.end:
                    raise EditRefused("this fix's own edits overlap")
            out.append(FileEdit(path=path, edits=joined, expected_sha256=lf.text.sha256))
        return out

    # ------------------------------------------------------------------ primitives

    def replace(self, node: Node, new: str) -> None:
        self.add(node.file, node.start, node.end, new)

    def remove_entry(self, node: Node) -> None:
        """Delete `key: value` (block) or `key: value` inside a flow map."""
        if node.key_start is None:
            raise EditRefused("value has no key")
        text = self.text(node.file)
        parent = self.owner(node)
        if parent is None:
            raise EditRefused("entry not found in its file")
        if parent.style == "flow":
            self._remove_flow_entry(text, parent, node)
            return
        ls = line_start(text, node.key_start)
        if text[ls:node.key_start].strip(" "):
            raise EditRefused("key shares its line with a list dash")
        start, end = block_extent(text, node.key_start)
        if len(parent.entry_starts) == 1:
            # The mapping's only entry: leave an empty mapping, not a null (a null
            # service or merge source is an error).
            nl = newline_of(self.file(node.file))
            self.add(node.file, start, end, " " * (node.key_start - ls) + "{}" + nl)
            return
        self.add(node.file, start, end, "")

    def _remove_flow_entry(self, text: str, parent: Node, node: Node) -> None:
        assert node.key_start is not None
        starts = sorted(parent.entry_starts)
        i = starts.index(node.key_start)
        if i + 1 < len(starts):
            self.add(node.file, node.key_start, starts[i + 1], "")
        elif i > 0:
            prev_end = text.rfind(",", 0, node.key_start)
            self.add(node.file, prev_end, node.end, "")
        else:
            self.add(node.file, node.key_start, node.end, "")

    def remove_item(self, item: Node) -> None:
        """Delete one item of a sequence; a block list left empty loses its key too."""
        text = self.text(item.file)
        seq = self.parent(item)
        if seq is None or seq.kind != "seq":
            raise EditRefused("list item not found in its file")
        own = [i for i in seq.value if i.file == item.file]
        if seq.style == "flow":
            idx = next(k for k, i in enumerate(seq.value) if i is item)
            if idx + 1 < len(seq.value):
                self.add(item.file, item.start, seq.value[idx + 1].start, "")
            elif idx > 0:
                prev = seq.value[idx - 1]
                self.add(item.file, prev.end, item.end, "")
            else:
                self.add(item.file, item.start, item.end, "")
            return
        if len(own) == 1 and seq.key_start is not None:
            self.remove_entry(seq)
            return
        dash = dash_of(text, item)
        if dash is None:
            raise EditRefused("list item is not on its own line")
        start, end = block_extent(text, dash)
        self.add(item.file, start, end, "")

    def append_item(self, seq: Node, item_text: str) -> None:
        """Add `item_text` (already YAML) at the end of a sequence (see `append_items`)."""
        self.append_items(seq, [item_text])

    def append_items(self, seq: Node, item_texts: list[str]) -> None:
        """Add `item_texts` (already YAML) at the end of a sequence, in one edit.

        The edit rewrites the list's whole body (unchanged, plus the item) rather than
        inserting at a point, so it overlaps any other fix that edits or removes the same
        list: one-pass application then defers one of them instead of producing
        `[, x]` or an orphaned `- x` line.
        """
        text = self.text(seq.file)
        if seq.style == "flow":
            close = seq.end - 1
            if text[close] != "]":
                raise EditRefused("unexpected flow sequence end")
            inner = text[seq.start + 1:close]
            body = inner.rstrip()
            sep = ", " if body.strip() else ""
            self.add(seq.file, seq.start + 1, close, body + sep + ", ".join(item_texts) + inner[len(body):])
            return
        items = [i for i in seq.value if i.file == seq.file]
        if not items:
            raise EditRefused("empty block sequence")
        dash = dash_of(text, items[0])
        last_dash = dash_of(text, items[-1])
        if dash is None or last_dash is None:
            raise EditRefused("list items are not on their own lines")
        col = dash - line_start(text, dash)
        _, end = self.extent(seq.file, last_dash)
        first_line = line_start(text, dash)
        nl = newline_of(self.file(seq.file))
        body = text[first_line:end]
        if body and not body.endswith(("\n", "\r")):
            body += nl
        self.add(seq.file, first_line, end, body + "".join(" " * col + "- " + t + nl for t in item_texts))

    def _insert_lines(self, path: str, pos: int, lines: list[str]) -> None:
        text = self.text(path)
        nl = newline_of(self.file(path))
        prefix = ""
        if pos == len(text) and text and not text.endswith(("\n", "\r")):
            prefix = nl
        self.add(path, pos, pos, prefix + "".join(line + nl for line in lines))

    def insert_entries(self, mapping: Node, lines: list[str], *, inside: bool = False) -> None:
        """Insert `key: value` lines (relative indentation, first level at 0) into a block map.

        They go after the last entry; with `inside`, before the second entry (a mapping of
        one entry: after it), so that the insertion lies within the mapping's text: another
        fix's edit that removes the mapping (a list item, the key holding it) then overlaps
        this one and waits for a rescan, instead of leaving the new lines behind it."""
        text = self.text(mapping.file)
        if mapping.kind != "map":
            raise EditRefused("not a mapping")
        if mapping.style == "flow":
            if len(lines) != 1 or text[mapping.end - 1] != "}":
                raise EditRefused("flow mapping")
            inner = text[mapping.start + 1:mapping.end - 1]
            body = inner.rstrip()
            sep = ", " if body.strip() else ""
            self.add(mapping.file, mapping.start + 1, mapping.end - 1,
                     body + sep + lines[0].strip() + inner[len(body):])
            return
        col, at_inside, at_end = self._insertion_points(mapping, text)
        at = at_inside if inside and at_inside is not None else at_end
        if isinstance(at, EditRefused):
            raise at
        pad = " " * col
        self._insert_lines(mapping.file, at, [pad + line for line in lines])

    def _insertion_points(self, mapping: Node, text: str) -> tuple[int, int | None, int | EditRefused]:
        """(column of the block mapping's keys, offset before its second entry when that
        starts on a later line, offset after its last entry or why it has none), memoised
        per project: most fixes of a service insert into the same mapping."""
        memo = self.project.memo
        key = ("insert-at", id(mapping))
        found = memo.get(key)
        if found is not None and found[0] is mapping:  # the id of a freed node may be reused
            points = found[1]
        else:
            if not mapping.entry_starts:
                points = EditRefused("empty mapping")
            else:
                starts = sorted(mapping.entry_starts)
                col = starts[0] - line_start(text, starts[0])
                inside = None
                if len(starts) > 1 and line_start(text, starts[1]) > starts[0]:
                    inside = line_start(text, starts[1])
                at_end: int | EditRefused
                try:
                    at_end = self.extent(mapping.file, starts[-1])[1]
                except EditRefused as exc:
                    at_end = exc
                points = (col, inside, at_end)
            memo[key] = (mapping, points)
        if isinstance(points, EditRefused):
            raise points
        return points

    # ------------------------------------------------------------------ structure

    def _index(self) -> dict[object, Node]:
        index = self.project.memo.setdefault("parent-index", {})
        if not index:
            for lf in self.project.loaded.values():
                if lf.root is not None:
                    _index(lf.root, index)
        return index

    def parent(self, node: Node) -> Node | None:
        """The collection holding `node` (a list item) in its file's tree."""
        return self._index().get(id(node))

    def owner(self, node: Node) -> Node | None:
        """The mapping where the entry of value `node` is written (the anchor's mapping when
        the value came through a merge key)."""
        return self._index().get(("key", node.file, node.key_start))


def _join_insertions(edits: list[TextEdit]) -> list[TextEdit]:
    """Insertions at one offset become one edit: deeper-indented blocks first, so lines
    that belong to an inner mapping are not captured by an outer one inserted before them."""
    if len(edits) == 1:
        return list(edits)
    groups: dict[int, list[TextEdit]] = {}
    out: list[TextEdit] = []
    for e in edits:
        if e.start == e.end:
            groups.setdefault(e.start, []).append(e)
        else:
            out.append(e)
    for pos, group in groups.items():
        ordered = sorted(group, key=lambda e: -_lead(e.text))
        lead_break = next((e.text[: len(e.text) - len(e.text.lstrip("\r\n"))] for e in group
                           if e.text[:1] in "\r\n"), "")
        body = "".join(e.text.lstrip("\r\n") if lead_break else e.text for e in ordered)
        out.append(TextEdit(pos, pos, lead_break + body))
    return sorted(out, key=lambda e: (e.start, e.end))


def _lead(text: str) -> int:
    body = text.lstrip("\r\n")
    return len(body) - len(body.lstrip(" "))


def _index(node: Node, index: dict[object, Node]) -> None:
    stack = [node]
    while stack:
        cur = stack.pop()
        children = cur.value.values() if cur.kind == "map" else cur.value if cur.kind == "seq" else ()
        for child in children:
            index.setdefault(id(child), cur)
            stack.append(child)
        if cur.kind == "map":
            for key in cur.own_keys:
                child = cur.value.get(key)  # validation may have dropped a wrong-typed entry
                if child is not None:
                    index.setdefault(("key", child.file, child.key_start), cur)


def indent_step(project: Project, path: str) -> int:
    lf = project.file(path)
    return lf.indent if lf is not None and lf.indent > 0 else 2


def block_lines(data: dict[str, object] | list[object], step: int, level: int = 0) -> list[str]:
    """Render a small dict/list as block YAML lines (values already quoted strings)."""
    pad = " " * (step * level)
    out: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(v, dict | list):
                out.append(f"{pad}{k}:")
                out.extend(block_lines(v, step, level + 1))
            else:
                out.append(f"{pad}{k}: {v}")
    else:
        for v in data:
            out.append(f"{pad}- {v}")
    return out


def services_sharing(project: Project, node: Node) -> list[str]:
    """Services whose effective configuration contains the value written at `node` (a new
    list each call; memoised per project, which never changes after loading)."""
    key = ("sharing", node.file, node.start, node.kind)
    found = project.memo.get(key)
    if found is None:
        found = project.memo[key] = _services_sharing(project, node)
    return list(found)


def _services_sharing(project: Project, node: Node) -> list[str]:
    names = []
    for name, svc in project.services.items():
        stack = [svc.node]
        count = 0
        while stack and count < 20000:
            count += 1
            cur = stack.pop()
            if cur.file == node.file and cur.start == node.start and cur.kind == node.kind:
                names.append(name)
                break
            if cur.kind == "map":
                stack.extend(cur.value.values())
            elif cur.kind == "seq":
                stack.extend(cur.value)
    return names
