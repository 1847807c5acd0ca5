"""Compose fixes for privileges: user, privileged, host namespaces, capabilities,
no-new-privileges and disabled security profiles."""

from __future__ import annotations

import re

from lockdock.compose import views
from lockdock.compose.edit import Editor, EditRefused
from lockdock.compose.fixkit import insert_at_path, make_fix
from lockdock.compose.project import Service
from lockdock.context import ScanContext
from lockdock.fixers.servicefacts import DROP_CAPS, refuse, service_facts
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.payloads.compose import HostNamespace, ServiceVariant, service_node
from lockdock.registry import fixer
from lockdock.sources import ComposeService

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
    node = service_node(finding)

    def build(ed: Editor) -> None:
        if node is not None:
            ed.replace(node, value)
        else:
            insert_at_path(ed, subject.service, [], {"user": value})

    return make_fix(subject, f"Set user: {value} (the image's own user)", Applicability.UNSAFE, build,
                    touched=node)


def _remove_key(finding: Finding, subject: ComposeService, title: str) -> Fix | None:
    node = service_node(finding)
    if node is None:
        return None
    return make_fix(subject, title, Applicability.UNSAFE, lambda ed: ed.remove_entry(node), touched=node)


@fixer("container.not-privileged", TargetKind.COMPOSE_SERVICE, title="Remove privileged",
       applicability=Applicability.UNSAFE)
def fix_not_privileged(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    return _remove_key(finding, subject, "Remove `privileged`")


@fixer("container.host-namespaces", TargetKind.COMPOSE_SERVICE, title="Remove the host namespace key",
       applicability=Applicability.UNSAFE)
def fix_host_namespaces(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    """Remove `<key>: host`; for `network_mode: host` the ports the service serves are
    published on 127.0.0.1 so it stays reachable from the host, or no fix when they are
    not known (image EXPOSE, `-p`/`--port` flags of its command)."""
    if not isinstance(finding.payload, HostNamespace) or finding.payload.node is None:
        return None
    key = finding.payload.key
    if key != "network_mode":
        return _remove_key(finding, subject, f"Remove `{key}: host`")
    node = finding.payload.node
    svc = subject.service
    served = service_facts(subject, ctx).served_ports()
    if not served:
        refuse(finding, "the ports it serves on the host network are not known", "remove network_mode: host and "
               "publish the ports its clients use")
        return None
    if svc.get("ports") is not None or svc.get("networks") is not None:
        refuse(finding, "it also lists ports or networks", "remove network_mode: host and check its ports")
        return None
    specs = [f'"127.0.0.1:{p}:{p}"' for p in served]

    def build(ed: Editor) -> None:
        ed.remove_entry(node)
        insert_at_path(ed, svc, [], {"ports": specs})

    fix = make_fix(subject, f"Remove `network_mode: host`, publishing {', '.join(str(p) for p in served)} on "
                   "127.0.0.1 (clients on other hosts need the ports published on their address)",
                   Applicability.UNSAFE, build, touched=node)
    if fix is not None and any(p < 1024 for p in served):
        # The service served these low ports on the host before; publishing them only says so.
        fix.reveals = ("network.privileged-ports",)
    return fix


@fixer("container.security-profiles", TargetKind.COMPOSE_SERVICE, title="Remove the disabling security_opt",
       applicability=Applicability.UNSAFE)
def fix_security_profiles(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    node = service_node(finding)
    if node is None:
        return None
    return make_fix(subject, f"Remove security_opt entry {views.text(node)}", Applicability.UNSAFE,
                    lambda ed: ed.remove_item(node), touched=node)


def _append_or_insert(ed: Editor, subject: ComposeService, key: str, item: str, share: bool = False) -> None:
    seq = subject.service.get(key)
    if seq is not None and seq.kind == "seq" and seq.value:
        ed.append_item(seq, item if seq.style != "flow" else _flow_item(item))
    elif seq is not None and seq.kind == "seq" and seq.style == "flow":
        ed.append_item(seq, _flow_item(item))
    elif seq is None:
        insert_at_path(ed, subject.service, [], {key: [item]}, share=share)
    else:
        raise EditRefused(f"{key} has a shape we do not edit")


def _flow_item(item: str) -> str:
    return item if item.startswith(('"', "'")) or ":" not in item else f'"{item}"'


@fixer("container.no-new-privileges", TargetKind.COMPOSE_SERVICE,
       title="Add security_opt no-new-privileges:true", applicability=Applicability.SAFE)
def fix_no_new_privileges(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    node = service_node(finding)

    def build(ed: Editor) -> None:
        if node is not None:  # an explicit no-new-privileges:false
            ed.replace(node, '"no-new-privileges:true"')
        else:
            _append_or_insert(ed, subject, "security_opt", "no-new-privileges:true", share=True)

    return make_fix(subject, "Add security_opt no-new-privileges:true", Applicability.SAFE, build,
                    touched=node or subject.service.get("security_opt"))


def low_ports(subject: ComposeService | Service) -> bool:
    """True when the service serves a port below 1024 inside the container."""
    svc = subject.service if isinstance(subject, ComposeService) else subject
    targets = [p for port in views.ports(svc) for p in port.target_ports]
    for _, node in views.string_list(svc.get("expose")):
        port = views.parse_port(node)
        targets += port.target_ports if port else []
    return any(0 < p < 1024 for p in targets)


def capabilities_kept(svc: Service, ctx: ScanContext) -> tuple[list[str], str] | None:
    """(capabilities to add back after cap_drop ALL, why), or None when ALL is added back."""
    facts = service_facts(svc, ctx)
    have = {c.upper().removeprefix("CAP_") for c, _ in views.string_list(svc.get("cap_add"))}
    if "ALL" in have:
        return None
    keep: list[str] = []
    why = ""
    if facts.runs_as_root is not False:
        keep += DROP_CAPS
        if facts.image is not None and facts.image.supervisors:
            keep.append("KILL")
        why = ("it starts as root and switches user" if facts.drops_privileges
               else "it starts as root" if facts.runs_as_root else "its user is not known")
    if low_ports(svc) or any(0 < p < 1024 for p in facts.served_ports()):
        keep.append("NET_BIND_SERVICE")
        why = why or "a port below 1024 is served"
    return [c for c in keep if c not in have], why


@fixer("container.capabilities", TargetKind.COMPOSE_SERVICE, title="Drop all capabilities",
       applicability=Applicability.UNSAFE)
def fix_capabilities(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    """cap_drop ALL, adding back what the start needs (CIS Docker 5.3).

    A container that starts as root (or whose user is unknown) keeps the capabilities a
    root-start-then-drop entrypoint uses (`DROP_CAPS`: postgres, mysql, redis, nginx
    masters chown then switch user); a supervisor (s6-overlay, supervisord) also keeps
    KILL to signal its children; NET_BIND_SERVICE only where a port below 1024 is served
    (compose ports/expose, image EXPOSE, `-p` flags). A service known to start as a
    non-root user gets `cap_drop: [ALL]` alone.
    """
    if not isinstance(finding.payload, ServiceVariant) or finding.payload.kind != "no-drop-all":
        return None
    svc = subject.service
    plan = capabilities_kept(svc, ctx)
    if plan is None:
        return None
    keep, why = plan

    def data_for(other: Service) -> dict[str, object] | None:
        other_plan = capabilities_kept(other, ctx)
        if other_plan is None or other.get("cap_drop") is not None:
            return None
        return _cap_data(other_plan[0])

    def build(ed: Editor) -> None:
        if svc.get("cap_drop") is None and svc.get("cap_add") is None:
            insert_at_path(ed, svc, [], _cap_data(keep), share=data_for)
            return
        _append_or_insert(ed, subject, "cap_drop", "ALL")
        if keep and svc.get("cap_add") is None:
            insert_at_path(ed, svc, [], {"cap_add": list(keep)})
        else:
            for cap in keep:
                _append_or_insert(ed, subject, "cap_add", cap)

    title = "Add cap_drop: [ALL]" + (f" keeping {', '.join(keep)} ({why})" if keep else "")
    return make_fix(subject, title, Applicability.UNSAFE, build, touched=svc.get("cap_drop"))


def _cap_data(keep: list[str]) -> dict[str, object]:
    data: dict[str, object] = {"cap_drop": ["ALL"]}
    if keep:
        data["cap_add"] = list(keep)
    return data
