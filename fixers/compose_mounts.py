"""Compose fixes for mounts: sensitive binds become read-only (the read-only root
filesystem fix is in `compose_readonly`)."""

from __future__ import annotations

from lockdock.compose.edit import Editor
from lockdock.compose.fixkit import make_fix
from lockdock.compose.yamlread import Node
from lockdock.context import ScanContext
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.payloads.compose import SensitiveMount
from lockdock.registry import fixer
from lockdock.sources import ComposeService


def split_spec(spec: str) -> list[str]:
    """Split a short-syntax volume on `:`, leaving `${VAR:-default}` in one piece."""
    parts, depth, cur = [], 0, []
    i = 0
    while i < len(spec):
        if spec.startswith("${", i):
            depth += 1
            cur.append("${")
            i += 2
            continue
        ch = spec[i]
        if ch == "}" and depth:
            depth -= 1
        if ch == ":" and not depth:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def read_only_spec(spec: str) -> str:
    """`/etc:/x` -> `/etc:/x:ro`; `/etc:/x:rw,z` -> `/etc:/x:ro,z` (interpolation kept as written)."""
    parts = split_spec(spec)
    drive = len(parts) > 2 and len(parts[0]) == 1 and parts[0].isalpha()
    head = 3 if drive else 2
    if len(parts) <= head:
        return spec + ":ro"
    modes = [m for m in ":".join(parts[head:]).split(",") if m and m != "rw"]
    return ":".join(parts[:head]) + ":" + ",".join(["ro", *[m for m in modes if m != "ro"]])


def _requote(node: Node, value: str) -> str:
    if node.style in ('"', "'"):
        return f"{node.style}{value}{node.style}"
    return value


@fixer("container.sensitive-mounts", TargetKind.COMPOSE_SERVICE, title="Mount read-only",
       applicability=Applicability.UNSAFE)
def fix_sensitive_mounts(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    if not isinstance(finding.payload, SensitiveMount) or not finding.payload.writable:
        return None  # already read-only: the finding is about the path itself
    mount = finding.payload.mount
    node = mount.node

    def build(ed: Editor) -> None:
        if not mount.long:
            raw = node.raw if node.raw is not None else str(node.value)
            ed.replace(node, _requote(node, read_only_spec(raw)))
            return
        ro = node.get("read_only")
        if ro is not None:
            ed.replace(ro, "true")
        else:
            ed.insert_entries(node, ["read_only: true"])

    return make_fix(subject, "Make the mount read-only", Applicability.UNSAFE, build, touched=node)
