"""Compose fixes for network exposure: drop risky host mappings, bind published ports to
127.0.0.1 (always quoted: `"127.0.0.1:8080:80"` is never read as a YAML 1.1 number), and
put backend data stores on an internal network."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from lockdock.compose import views
from lockdock.compose.edit import Editor, EditRefused, block_lines, indent_step
from lockdock.compose.fixkit import insert_at_path, make_fix
from lockdock.compose.views import is_datastore
from lockdock.compose.yamlread import Node
from lockdock.context import ScanContext
from lockdock.fixers.servicefacts import refuse
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.payloads.compose import PublishedPort, ServiceVariant
from lockdock.registry import fixer
from lockdock.sources import ComposeService
from lockdock.text import safe


@fixer("network.exposed-ports", TargetKind.COMPOSE_SERVICE, title="Drop the host port mapping",
       applicability=Applicability.UNSAFE)
def fix_exposed_ports(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    if not isinstance(finding.payload, PublishedPort):
        return None
    port = finding.payload.port
    title = (f"Stop publishing port {safe(port.target, 20)} on the host (other services still "
             "reach it over the compose network)")
    # A data store left with no published port is a backend: without an internal network it
    # would trade this finding for network.isolation, so the same fix isolates it too.
    # So does any service left with no published port in a file that declares no networks
    # (network.isolation's default-network rule).
    last_port = len(views.ports(subject.service)) == 1
    becomes_backend = last_port and (is_datastore(subject) or not _declares_networks(subject))
    plan = _isolation(subject) if becomes_backend else None
    if becomes_backend and plan is None:
        # It chooses its networks itself: without the port it is a backend on a network that
        # is not internal, a new network.isolation finding; the fix would always roll back.
        refuse(finding, f"without the port {safe(subject.name, 60)} is a data store on a network that is not "
               "internal, and which of its networks to change is your call",
               "put it on an internal network its clients join, then remove the published port")
        return None
    if plan is None:
        return make_fix(subject, title, Applicability.UNSAFE, lambda ed: ed.remove_item(port.node), touched=port.node)

    def build(ed: Editor) -> None:
        ed.remove_item(port.node)
        plan.build(ed)

    fix = make_fix(subject, f"{title[:-1]}; it moves to the internal network {plan.name})",
                   Applicability.UNSAFE, build, touched=port.node)
    if fix is not None:
        fix.note = "; ".join(n for n in (fix.note, plan.note(subject.name)) if n)
    return fix


def localhost_spec(raw: str, port: views.Port) -> str:
    """The short-syntax mapping bound to 127.0.0.1."""
    spec = raw.strip()
    if port.host_ip:  # 0.0.0.0:8080:80, [::]:8080:80
        rest = spec[spec.index("]") + 2:] if spec.startswith("[") else spec.split(":", 1)[1]
        return "127.0.0.1:" + rest
    if port.published is None:  # "80" -> random host port, on loopback only
        return "127.0.0.1::" + spec
    return "127.0.0.1:" + spec


@fixer("network.bind-localhost", TargetKind.COMPOSE_SERVICE, title="Bind the port to 127.0.0.1",
       applicability=Applicability.UNSAFE)
def fix_bind_localhost(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    if not isinstance(finding.payload, PublishedPort):
        return None
    port = finding.payload.port
    node = port.node

    def build(ed: Editor) -> None:
        if port.long:
            host_ip = node.get("host_ip")
            short = None if host_ip is not None else _short_form(node, ed.text(node.file))
            if host_ip is not None:
                ed.replace(host_ip, "127.0.0.1")
            elif short is not None:  # the entry's text, up to its last value (not the line break after)
                body = ed.text(node.file)[node.start:node.end]
                ed.add(node.file, node.start, node.start + len(body.rstrip()), json.dumps(short))
            else:
                # Within the entry: a fix that stops publishing the port removes the entry
                # (or the whole ports key), and the two then overlap instead of leaving
                # host_ip behind under the previous key.
                ed.insert_entries(node, ["host_ip: 127.0.0.1"], inside=True)
            return
        raw = node.raw if node.raw is not None else str(node.value)
        if "$" in raw:
            raise EditRefused("interpolated port mapping")
        new = localhost_spec(raw, port)
        q = node.style if node.style in ('"', "'") else '"'
        ed.replace(node, f"{q}{new}{q}" if q == "'" else json.dumps(new))

    return make_fix(subject, "Publish the port on 127.0.0.1 only", Applicability.UNSAFE, build, touched=node)


_PORT_NUMBER = re.compile(r"[0-9]{1,5}")
_PUBLISHED = re.compile(r"[0-9]{1,5}(?:-[0-9]{1,5})?")


def _short_form(node: Node, text: str) -> str | None:
    """`127.0.0.1:PUBLISHED:TARGET[/PROTOCOL]` for a long-syntax port entry that says no more
    than that (target, published, protocol; plain numbers, no comment or interpolation);
    else None. The short syntax binds to 127.0.0.1 with every compose CLI: `host_ip` is a
    compose-spec key that docker-compose 1.x refuses ("contains unsupported option")."""
    if node.kind != "map" or node.style == "flow" or node.merged or node.anchor or node.tag:
        return None
    if set(node.own_keys) - {"target", "published", "protocol"} or "#" in text[node.start:node.end]:
        return None
    values = {k: node.get(k) for k in ("target", "published", "protocol")}
    raw = {k: None if v is None else (v.raw if v.raw is not None else str(v.value)) for k, v in values.items()}
    target, published, protocol = raw["target"], raw["published"], raw["protocol"]
    if target is None or published is None or not _PORT_NUMBER.fullmatch(target) \
            or not _PUBLISHED.fullmatch(published) or protocol not in (None, "tcp", "udp"):
        return None
    return f"127.0.0.1:{published}:{target}" + (f"/{protocol}" if protocol else "")


def _service_networks_node(subject: ComposeService) -> Node | None:
    return subject.service.get("networks")


@dataclass
class _Isolation:
    """Edits that put a service on a new internal network (peers join it to keep reaching it)."""

    name: str
    peers: list[str]
    build: Callable[[Editor], None]

    def note(self, service: str) -> str:
        note = f"adds internal network {self.name}"
        if self.peers:
            note += (f"; services {', '.join(safe(p, 60) for p in self.peers)} join it too so they still "
                     f"reach {safe(service, 60)}")
        return note


def _declares_networks(subject: ComposeService) -> bool:
    """Whether the project's main file has a top-level `networks:` key."""
    project = subject.project
    root_file = project.file(str(project.main)) if project.root is not None else None
    return root_file is not None and root_file.root is not None and root_file.root.get("networks") is not None


def _isolation(subject: ComposeService) -> _Isolation | None:
    """The internal-network edits for a service that chooses no networks itself, else None."""
    project = subject.project
    svc = subject.service
    if svc.get("networks") is not None or svc.get("network_mode") is not None or project.root is None:
        return None  # already chooses its networks; which ones to keep is the user's call
    root_file = project.file(str(project.main))
    if root_file is None or root_file.root is None:
        return None
    top = root_file.root
    declared = top.get("networks")
    existing = set(declared.value) if declared is not None and declared.kind == "map" else set()
    name = next(n for n in ("backend", "backend-internal", "lockdock-internal") if n not in existing)
    plan = _Isolation(name, [], lambda ed: None)

    def build(ed: Editor) -> None:
        plan.peers.clear()
        step = indent_step(project, top.file)
        if declared is None:
            ed.insert_entries(top, block_lines({"networks": {name: {"internal": "true"}}}, step))
        elif declared.kind == "map" and declared.value:
            ed.insert_entries(declared, block_lines({name: {"internal": "true"}}, step))
        else:
            raise EditRefused("top-level networks has a shape we do not edit")
        insert_at_path(ed, svc, [], {"networks": [name]})
        for other_name, other in project.services.items():
            if other is svc or other.get("network_mode") is not None:
                continue
            nets = other.get("networks")
            if nets is None:
                insert_at_path(ed, other, [], {"networks": ["default", name]})
            elif nets.kind == "seq" and nets.value:
                ed.append_item(nets, name)
            elif nets.kind == "map" and nets.value:
                ed.insert_entries(nets, [f"{name}: {{}}"])
            else:
                raise EditRefused(f"service {other_name} networks have a shape we do not edit")
            plan.peers.append(other_name)

    plan.build = build
    return plan


@fixer("network.isolation", TargetKind.COMPOSE_SERVICE, title="Put the service on an internal network",
       applicability=Applicability.UNSAFE)
def fix_isolation(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    if not isinstance(finding.payload, ServiceVariant) or finding.payload.kind != "backend":
        return None
    plan = _isolation(subject)
    if plan is None:
        return None
    fix = make_fix(subject, f"Move {safe(subject.name, 60)} to the internal network {plan.name}",
                   Applicability.UNSAFE, plan.build)
    if fix is not None:
        fix.note = plan.note(subject.name)
    return fix
