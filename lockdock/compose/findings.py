"""Building compose findings that point where the value is written.

A finding about a value points at the value's file and lines (the override file when the
override sets it, the anchor's definition when it comes through an anchor, and then the
message names the inheriting service). A finding about a missing key points at the
service's key line. The finding's `scope_lines` hold the service key line in that file, so a
pragma above a service suppresses all its findings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from lockdock.compose.yamlread import Node
from lockdock.model import Finding, Location, Severity
from lockdock.payloads.compose import ServiceValue
from lockdock.text import safe

if TYPE_CHECKING:
    from lockdock.context import ScanContext
    from lockdock.sources.compose import ComposeService


def _context_note(subject: ComposeService, node: Node | None) -> str:
    if node is None:
        return ""
    notes: list[str] = []
    if node.anchor:
        notes.append(f"set in anchor &{safe(node.anchor, 60)}, inherited by service "
                     f"{safe(subject.name, 60)}")
    elif node.merged:
        notes.append(f"set through a merge key, inherited by service {safe(subject.name, 60)}")
    elif not _declared_in_service(subject, node):
        notes.append(f"inherited by service {safe(subject.name, 60)} through extends")
    if node.interp:
        notes.append("; ".join(safe(n, 120) for n in node.interp[:3]))
    return f" ({'; '.join(notes)})" if notes else ""


def _declared_in_service(subject: ComposeService, node: Node) -> bool:
    """True when `node` is written inside one of the service's own declarations."""
    decls = subject.service.decls
    if not decls:
        return True
    return any(d.file == node.file and d.start <= node.start <= d.end for d in decls)


def service_finding(
    subject: ComposeService,
    ctx: ScanContext,
    check: str,
    message: str,
    node: Node | None = None,
    *,
    evidence: str | None = None,
    severity: Severity | None = None,
    payload: ServiceValue | None = None,
    ctx_note: bool = True,
) -> Finding:
    """A finding on a compose service; `node=None` means "a key is missing".

    The finding's payload is `payload` (a `ServiceValue` when None) with its `node` set to
    `node`.
    """
    svc = subject.service
    if node is not None:
        path = node.file
        line = node.key_line or node.line
        end_line = max(node.end_line, line)
        column = node.key_column or node.column
    else:
        path = str(svc.project.main)
        decl = svc.main_decl
        if decl is not None:
            path = decl.file
        line = svc.key_lines.get(path)
        end_line = line
        column = None
    scope = svc.key_lines.get(path)
    return Finding(
        check=check,
        target=subject.target,
        message=message + (_context_note(subject, node) if ctx_note else ""),
        location=Location(path=_rel(ctx, path), line=line, end_line=end_line, column=column),
        evidence=evidence,
        severity=severity,
        scope_lines=(scope,) if scope else (),
        payload=ServiceValue(node=node) if payload is None else replace(payload, node=node),
    )



def _rel(ctx: ScanContext, path: str) -> str | None:
    """`ctx.rel`, cached per scan (thousands of findings share a few paths)."""
    cache = ctx.cache.setdefault("compose-rel", {})
    if path not in cache:
        cache[path] = ctx.rel(path)
    return cache[path]
