"""Merging service definitions the way compose merges override files and `extends`.

Mappings merge key by key; `environment`, `labels`, `build.args` and friends merge as
maps even when written as `KEY=VALUE` lists; `ports`, `cap_add`, `security_opt`... are
appended (without duplicates); `volumes` and `secrets` merge by target; `command`,
`entrypoint` and `healthcheck.test` are replaced. `!reset` drops a value, `!override`
replaces it whole. Nodes keep their own positions, so a merged value still points at the
file and line where it was written.
"""

from __future__ import annotations

from lockdock.compose.yamlread import Node

# Lists whose `KEY=VALUE` entries merge like a map.
_MAPLIKE = frozenset({"environment", "labels", "args", "sysctls", "extra_hosts", "annotations"})
_REPLACE = frozenset({"command", "entrypoint", "test", "dns_search"})
_BY_TARGET = frozenset({"volumes", "secrets", "configs", "tmpfs"})


def is_reset(node: Node | None) -> bool:
    return node is not None and node.tag == "!reset"


def _entry_key(field_name: str, item: Node) -> str:
    """Identity of a list item for merging: target path for volumes, source for secrets."""
    v = item.value
    if item.kind == "map":
        for key in ("target", "source"):
            sub = v.get(key)
            if sub is not None and sub.kind == "scalar":
                return f"{key}:{sub.value}"
        return repr(item.plain())
    if isinstance(v, str) and field_name == "volumes":
        parts = v.split(":")
        return f"target:{parts[1] if len(parts) > 1 else parts[0]}"
    if isinstance(v, str) and field_name in ("secrets", "configs"):
        return f"source:{v}"
    return repr(item.plain())


def list_as_map(node: Node) -> dict[str, Node]:
    """`- KEY=VALUE` items (or a map) as name -> node; the node's value is the VALUE part."""
    if node.kind == "map":
        return dict(node.value)
    result: dict[str, Node] = {}
    if node.kind != "seq":
        return result
    for item in node.value:
        if item.kind != "scalar" or item.value is None:
            continue
        text = str(item.value)
        name, sep, val = text.partition("=")
        entry = item.copy_shallow()
        entry.value = val if sep else None
        entry.raw = item.raw.partition("=")[2] if item.raw is not None and sep else None
        result[name.strip()] = entry
    return result


def merge_nodes(base: Node | None, over: Node, field_name: str = "") -> Node:
    """`over` applied on top of `base` (both left untouched)."""
    if over.tag == "!override" or base is None or is_reset(base):
        return over
    if field_name in _MAPLIKE and {base.kind, over.kind} <= {"map", "seq"}:
        merged = dict(list_as_map(base))
        for k, v in list_as_map(over).items():
            if is_reset(v):
                merged.pop(k, None)
            else:
                merged[k] = v
        out = over.copy_shallow()
        out.kind = "map"
        out.value = merged
        return out
    if base.kind == "map" and over.kind == "map":
        out = base.copy_shallow()
        out.key_start, out.key_end, out.key_line, out.key_column = (
            over.key_start, over.key_end, over.key_line, over.key_column)
        for k, v in over.value.items():
            if is_reset(v):
                out.value.pop(k, None)
                continue
            out.value[k] = merge_nodes(out.value.get(k), v, k)
        return out
    if base.kind == "seq" and over.kind == "seq" and field_name not in _REPLACE:
        out = over.copy_shallow()
        if field_name in _BY_TARGET:
            items = {_entry_key(field_name, i): i for i in base.value}
            for i in over.value:
                items[_entry_key(field_name, i)] = i
            out.value = list(items.values())
        else:
            seen = {repr(i.plain()) for i in base.value}
            out.value = list(base.value) + [i for i in over.value if repr(i.plain()) not in seen]
        return out
    return over


def drop_resets(node: Node) -> Node:
    """Remove `!reset` values that had nothing to reset (a lone file)."""
    if node.kind == "map":
        for k in [k for k, v in node.value.items() if is_reset(v)]:
            del node.value[k]
        for v in node.value.values():
            drop_resets(v)
    elif node.kind == "seq":
        node.value = [drop_resets(i) for i in node.value if not is_reset(i)]
    return node
