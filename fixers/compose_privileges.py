"""Compose fixes for privileges: user, privileged, host namespaces, capabilities,
no-new-privileges and disabled security profiles."""

from __future__ import annotations

import re

from lockdock.compose import views
from lockdock.compose.edit import Editor, EditRefused
from lockdock.compose.fixkit import insert_at_path, make_fix
from lockdock.compose.yamlread import Node
from lockdock.context import ScanContext
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.registry import fixer
from lockdock.sources.compose import ComposeService

_NUMERIC_USER = re.compile(r"^(\d+)(?::(\d+))?$")


@fixer("container.non-root", TargetKind.COMPOSE_SERVICE, title="Run as the image's non-root UID",
       applicability=Applicability.UNSAFE)
def fix_non_root(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    """Only when the image itself names a numeric non-root user: then that UID is known."""
    img = views.image_node(subject.service)
    if img is None or views.builds(subject.service):
        return None
    data = ctx.local_image(str(img.value))
    user = str(((data or {}).get("Config") or {}).get("User") or "")
    m = _NUMERIC_USER.match(user.strip())
    if not m or m.group(1) == "0":
        return None
    value = f'"{m.group(1)}:{m.group(2) or m.group(1)}"'
    node: Node | None = finding.data.get("node")

    def build(ed: Editor) -> None:
        if node is not None:
            ed.replace(node, value)
        else:
            insert_at_path(ed, subject.service, [], {"user": value})

    return make_fix(subject, f"Set user: {value} (the image's own user)", Applicability.UNSAFE, build,
                    touched=node)


def _remove_key(finding: Finding, subject: ComposeService, title: str) -> Fix | None:
    node: Node = finding.data["node"]
    return make_fix(subject, title, Applicability.UNSAFE, lambda ed: ed.remove_entry(node), touched=node)


@fixer("container.not-privileged", TargetKind.COMPOSE_SERVICE, title="Remove privileged",
       applicability=Applicability.UNSAFE)
def fix_not_privileged(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    return _remove_key(finding, subject, "Remove `privileged`")


@fixer("container.host-namespaces", TargetKind.COMPOSE_SERVICE, title="Remove the host namespace key",
       applicability=Applicability.UNSAFE)
def fix_host_namespaces(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    return _remove_key(finding, subject, f"Remove `{finding.data.get('key', 'namespace')}: host`")


@fixer("container.security-profiles", TargetKind.COMPOSE_SERVICE, title="Remove the disabling security_opt",
       applicability=Applicability.UNSAFE)
def fix_security_profiles(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    node: Node = finding.data["node"]
    return make_fix(subject, f"Remove security_opt entry {views.text(node)}", Applicability.UNSAFE,
                    lambda ed: ed.remove_item(node), touched=node)


def _append_or_insert(ed: Editor, subject: ComposeService, key: str, item: str) -> None:
    seq = subject.service.get(key)
    if seq is not None and seq.kind == "seq" and seq.value:
        ed.append_item(seq, item if seq.style != "flow" else _flow_item(item))
    elif seq is not None and seq.kind == "seq" and seq.style == "flow":
        ed.append_item(seq, _flow_item(item))
    elif seq is None:
        insert_at_path(ed, subject.service, [], {key: [item]})
    else:
        raise EditRefused(f"{key} has a shape we do not edit")


def _flow_item(item: str) -> str:
    return item if item.startswith(('"', "'")) or ":" not in item else f'"{item}"'


@fixer("container.no-new-privileges", TargetKind.COMPOSE_SERVICE,
       title="Add security_opt no-new-privileges:true", applicability=Applicability.SAFE)
def fix_no_new_privileges(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    node: Node | None = finding.data.get("node")

    def build(ed: Editor) -> None:
        if node is not None:  # an explicit no-new-privileges:false
            ed.replace(node, '"no-new-privileges:true"')
        else:
            _append_or_insert(ed, subject, "security_opt", "no-new-privileges:true")

    return make_fix(subject, "Add security_opt no-new-privileges:true", Applicability.SAFE, build,
                    touched=node or subject.service.get("security_opt"))


def low_ports(subject: ComposeService) -> bool:
    """True when the service serves a port below 1024 inside the container."""
    targets = [p for port in views.ports(subject.service) for p in port.target_ports]
    for _, node in views.string_list(subject.service.get("expose")):
        port = views.parse_port(node)
        targets += port.target_ports if port else []
    return any(0 < p < 1024 for p in targets)


@fixer("container.capabilities", TargetKind.COMPOSE_SERVICE, title="Drop all capabilities",
       applicability=Applicability.UNSAFE)
def fix_capabilities(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    if finding.data.get("kind") != "no-drop-all":
        return None
    svc = subject.service
    keep_bind = low_ports(subject) and not any(
        c.upper().removeprefix("CAP_") in ("NET_BIND_SERVICE", "ALL")
        for c, _ in views.string_list(svc.get("cap_add")))

    def build(ed: Editor) -> None:
        _append_or_insert(ed, subject, "cap_drop", "ALL")
        if keep_bind:
            _append_or_insert(ed, subject, "cap_add", "NET_BIND_SERVICE")

    title = "Add cap_drop: [ALL]" + (" keeping NET_BIND_SERVICE (a port below 1024 is served)" if keep_bind else "")
    return make_fix(subject, title, Applicability.UNSAFE, build, touched=svc.get("cap_drop"))

