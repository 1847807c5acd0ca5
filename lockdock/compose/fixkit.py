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


def insert_at_path(
    editor: Editor,
    service: Service,
    path: list[str],
    data: dict[str, object],
    share: bool | Callable[[Service], dict[str, object] | None] = False,
) -> None:
    """Make sure `path` (mappings) exists in the service and add `data` at its end.

    With `share`, new keys of a service that merges a shared mapping (`<<: *common`) go
    into that mapping when the services sharing it need the same value (`share(other)`
    gives another service's value; True: the same `data` for all), so they are written
    once, not copied into each service (see `shared_target`).
    """
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
    nested: dict[str, object] = dict(data)
    for key in reversed(path[depth:]):
        nested = {key: nested}
    if depth == 0:
        node = target_decl(service)
        if share:
            data_for = share if callable(share) and not path else None
            node = shared_target(editor, service, nested, data_for) or node
    editor.insert_entries(node, block_lines(nested, indent_step(service.project, node.file)))


def merge_source(editor: Editor, decl: Node) -> tuple[Node, Node] | None:
    """(mapping merged into `decl` through `<<`, one of its merged values), if any."""
    for key, child in decl.value.items():
        if child.merged and key not in decl.own_keys:
            owner = editor.owner(child)
            if owner is not None and owner.kind == "map" and owner.style != "flow":
                return owner, child
    return None


def shared_target(
    editor: Editor,
    service: Service,
    data: dict[str, object],
    data_for: Callable[[Service], dict[str, object] | None] | None,
) -> Node | None:
    """The merged anchor mapping to write `data` into instead of the service, or None.

    The anchor gets the value shared by the services that merge it: the value of services
    that are the anchor itself (`c: *common`, they cannot override it), else the value most
    of them need. A service that needs another value writes its own keys (they override).
    """
    decl = target_decl(service)
    found = merge_source(editor, decl)
    if found is None:
        return None
    anchor, child = found
    if any(k in anchor.value for k in data):
        return None
    project = service.project
    values: list[tuple[bool, dict[str, object] | None]] = []
    for name in services_sharing(project, child):
        other = project.services.get(name)
        if other is None:
            continue
        if other is not service and any(
            k in other.node.value and other.node.value[k].anchor is None for k in data
        ):
            continue  # the other service sets the key itself: the anchor does not reach it
        want = data if other is service else data_for(other) if data_for is not None else data
        alias_only = any(d.file == anchor.file and d.start == anchor.start for d in other.decls)
        values.append((alias_only, want))
    fixed = [v for a, v in values if a]
    if fixed:
        return anchor if all(v == data for v in fixed) else None
    counts = [sum(1 for _, v in values if v == w) for _, w in values]
    best = max(counts, default=0)
    winners = {repr(w) for (_, w), c in zip(values, counts, strict=True) if c == best}
    return anchor if best > 1 and winners == {repr(data)} else None
