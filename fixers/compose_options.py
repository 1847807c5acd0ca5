"""Compose fixes of checklist v2: drop a shared/slave propagation option or a tmpfs
`exec`/`suid` flag, and remove `cgroup_parent`. Minimal text edits of the item as written
(interpolation kept); every one changes behaviour, so they are offered as unsafe."""

from __future__ import annotations

import json

from lockdock.compose.edit import Editor, EditRefused, quote
from lockdock.compose.fixkit import make_fix
from lockdock.compose.yamlread import Node
from lockdock.context import ScanContext
from lockdock.fixers.compose_mounts import split_spec
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.mountpolicy import SHARED_PROPAGATION, TMPFS_UNSAFE
from lockdock.payloads.compose import UnsafeMountOption, service_node
from lockdock.registry import fixer
from lockdock.sources import ComposeService


def _scalar(node: Node, value: str, raw: str) -> str:
    """`value` as YAML, in the quoting style the user wrote.

    `value` is `raw` with options deleted, so a plain scalar stays plain (deleting a
    `,flag` or `:flag` part adds no character YAML would read differently).
    """
    if node.style == '"':
        return json.dumps(value)
    if node.style == "'":
        return "'" + value.replace("'", "''") + "'"
    if node.style is not None:
        raise EditRefused("block scalar")
    if value and value[0] == raw[:1] and not value.endswith(":") and " #" not in value and ": " not in value:
        return value
    return quote(value)


def without_propagation(spec: str) -> str:
    """`/a:/b:ro,rshared` -> `/a:/b:ro`; `/a:/b:rslave` -> `/a:/b` (drive letters kept)."""
    parts = split_spec(spec)
    drive = len(parts) > 2 and len(parts[0]) == 1 and parts[0].isalpha()
    head = 3 if drive else 2
    if len(parts) <= head:
        return spec
    modes = [m for m in ":".join(parts[head:]).split(",") if m and m.strip().lower() not in SHARED_PROPAGATION]
    return ":".join(parts[:head]) + (":" + ",".join(modes) if modes else "")


def without_tmpfs_flags(spec: str) -> str:
    """`/tmp:rw,exec,size=64m` -> `/tmp:rw,size=64m`; `/tmp:exec` -> `/tmp`."""
    path, sep, opts = spec.partition(":")
    if not sep:
        return spec
    kept = [o for o in opts.split(",") if o and o.strip().lower() not in TMPFS_UNSAFE]
    return path + (":" + ",".join(kept) if kept else "")


@fixer("container.mount-options", TargetKind.COMPOSE_SERVICE, title="Remove the propagation option or tmpfs flag",
       applicability=Applicability.UNSAFE)
def fix_mount_options(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    payload = finding.payload
    if not isinstance(payload, UnsafeMountOption) or payload.node is None or payload.node.kind != "scalar":
        return None
    node, kind = payload.node, payload.kind
    raw = node.raw if node.raw is not None else str(node.value)

    def build(ed: Editor) -> None:
        if kind == "propagation" and payload.long:
            ed.remove_entry(node)  # `propagation: rshared` under `bind:`
            return
        new = without_propagation(raw) if kind == "propagation" else without_tmpfs_flags(raw)
        if new == raw:
            raise EditRefused("nothing to remove")
        ed.replace(node, _scalar(node, new, raw))

    if kind == "propagation":
        title = f"Remove the {payload.option} propagation (back to rprivate)"
    else:
        title = "Remove exec/suid from the tmpfs options (back to noexec,nosuid)"
    return make_fix(subject, title, Applicability.UNSAFE, build, touched=node)


@fixer("container.cgroup-parent", TargetKind.COMPOSE_SERVICE, title="Remove cgroup_parent",
       applicability=Applicability.UNSAFE)
def fix_cgroup_parent(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    node = service_node(finding)
    if node is None:
        return None
    return make_fix(subject, "Remove `cgroup_parent` (the container joins Docker's default cgroup parent)",
                    Applicability.UNSAFE, lambda ed: ed.remove_entry(node), touched=node)
