"""Shared steps of the compose fixers: build edits, refuse cleanly, name shared anchors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lockdock.compose.edit import Editor, EditRefused, block_lines, indent_step, services_sharing
from lockdock.compose.project import Service
from lockdock.compose.yamlread import Node
from lockdock.model import Applicability, Change, Fix
from lockdock.text import safe

if TYPE_CHECKING:
    from lockdock.sources.compose import ComposeService


def make_fix(
    subject: ComposeService,
    title: str,
    applicability: Applicability,
    build: Callable[[Editor], None],
    *,
    touched: Node | None = None,
    note: str | None = None,
    extra: list[Change] | None = None,
) -> Fix | None:
    """Run `build` on a fresh editor; any refusal means no fix (never a half fix)."""
    editor = Editor(subject.project)
    try:
        build(editor)
        changes: list[Change] = list(editor.file_edits())
    except EditRefused:
        return None
    if not changes and not extra:
        return None
    notes = [note] if note else []
    if touched is not None and (touched.anchor or touched.merged):
        names = services_sharing(subject.project, touched)
        label = f"anchor &{safe(touched.anchor, 60)}" if touched.anchor else "a merged mapping"
        notes.append(f"edits {label}: services {', '.join(safe(n, 60) for n in names)} change")
    return Fix(title, applicability, changes + list(extra or []), note="; ".join(notes) or None)


def target_decl(service: Service, prefer_file: str | None = None) -> Node:
    """The service's own mapping to insert keys into (its main declaration)."""
    decls = service.decls
    if not decls:
        raise EditRefused("service has no declaration of its own")
    if prefer_file:
        for d in decls:
            if d.file == prefer_file:
                return d
    main = str(service.project.main)
    for d in decls:
        if d.file == main:
            return d
    return decls[0]


def insert_at_path(editor: Editor, service: Service, path: list[str], data: dict[str, object]) -> None:
    """Make sure `path` (mappings) exists in the service and add `data` at its end."""
    best: tuple[int, Node] | None = None
    for decl in reversed(service.decls):
        node, depth = decl, 0
        while depth < len(path) and path[depth] in node.value:
            if path[depth] not in node.own_keys:
                raise EditRefused("the mapping comes from a merge key; overriding it would drop the rest")
            child = node.value[path[depth]]
            if child.kind != "map":
                raise EditRefused("not a mapping")
            node, depth = child, depth + 1
        if best is None or depth > best[0]:
            best = (depth, node)
    if best is None:
        raise EditRefused("service has no declaration of its own")
    depth, node = best
    if depth == 0:
        node = target_decl(service)
    nested: dict[str, object] = dict(data)
    for key in reversed(path[depth:]):
        nested = {key: nested}
    editor.insert_entries(node, block_lines(nested, indent_step(service.project, node.file)))
