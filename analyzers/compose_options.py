"""Compose checks of checklist v2 on a service's runtime options: mount propagation and
tmpfs flags, cgroup parent, host ports below 1024, host-availability capabilities,
literal secrets in `labels:`, `build.args` and `env_file:` contents, and projects whose
services all share the implicit `default` network.

Rules: CIS Docker Benchmark 5.4 (capabilities), 5.8 (privileged ports), 5.20 (mount
propagation), 5.25 (cgroup parent), 5.30 (network isolation); compose-lint CL-0017,
CL-0022 (propagation, tmpfs), CL-0020/CL-0021 (secrets in the file).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lockdock.analyzers.compose_privileges import DANGEROUS_CAPS, cap_name
from lockdock.capabilities import AVAILABILITY_CAPS
from lockdock.compose import views
from lockdock.compose.findings import service_finding
from lockdock.compose.views import is_datastore
from lockdock.compose.yamlread import Node
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.mountpolicy import SHARED_PROPAGATION, TMPFS_UNSAFE
from lockdock.payloads.compose import PrivilegedPorts, ServiceVariant, UnsafeMountOption
from lockdock.registry import analyzer
from lockdock.sources import ComposeService
from lockdock.text import safe


@dataclass
class MountOption:
    """A mount option to report: which flag, on which node (list item or `propagation:`)."""

    node: Node
    option: str
    where: str  # "volumes" or "tmpfs"
    target: str
    long: bool


def propagation_options(service: object) -> list[MountOption]:
    """Bind mounts with shared/slave propagation, short and long syntax."""
    found: list[MountOption] = []
    for m in views.mounts(service):  # type: ignore[arg-type]
        target = m.target or "?"
        if m.long:
            bind = m.node.get("bind")
            prop = bind.get("propagation") if bind is not None and bind.kind == "map" else None
            value = (views.text(prop) or "").strip().lower()
            if prop is not None and value in SHARED_PROPAGATION:
                found.append(MountOption(prop, value, "volumes", target, True))
        elif m.type == "bind":
            for mode in m.modes:
                if mode.strip().lower() in SHARED_PROPAGATION:
                    found.append(MountOption(m.node, mode.strip().lower(), "volumes", target, False))
    return found


def tmpfs_options(service: object) -> list[MountOption]:
    """`tmpfs:` entries (string or list) that ask for `exec` or `suid`."""
    found: list[MountOption] = []
    for spec, node in views.string_list(service.get("tmpfs")):  # type: ignore[attr-defined]
        path, _, opts = spec.partition(":")
        for opt in opts.split(","):
            if opt.strip().lower() in TMPFS_UNSAFE:
                found.append(MountOption(node, opt.strip().lower(), "tmpfs", path.strip(), False))
    return found


@analyzer(TargetKind.COMPOSE_SERVICE, "container.mount-options")
def mount_options(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    name = safe(subject.name, 60)
    for opt in propagation_options(subject.service):
        yield service_finding(
            subject, ctx, "container.mount-options",
            f"service {name} mounts {safe(opt.target, 120)} with {opt.option} propagation: mounts made on "
            "one side appear on the other (keep the default rprivate)",
            opt.node, payload=UnsafeMountOption("propagation", opt.option, opt.long))
    for opt in tmpfs_options(subject.service):
        yield service_finding(
            subject, ctx, "container.mount-options",
            f"service {name} mounts a tmpfs on {safe(opt.target, 120)} with {opt.option}: "
            + ("files written there can be executed" if opt.option == "exec" else "setuid files there take effect"),
            opt.node, payload=UnsafeMountOption("tmpfs", opt.option))


@analyzer(TargetKind.COMPOSE_SERVICE, "container.cgroup-parent")
def cgroup_parent(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    node = subject.service.get("cgroup_parent")
    value = views.text(node)
    if node is not None and value and value.strip():
        yield service_finding(
            subject, ctx, "container.cgroup-parent",
            f"service {safe(subject.name, 60)} runs under the cgroup parent {safe(value, 80)}: its resource "
            "limits and accounting leave Docker's default hierarchy", node)


@analyzer(TargetKind.COMPOSE_SERVICE, "network.privileged-ports")
def privileged_ports(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    for port in views.ports(subject.service):
        low = [p for p in port.published_ports if 0 < p < 1024]
        if not low:
            continue
        shown = f"{low[0]}" if len(low) == 1 else f"{low[0]}-{low[-1]}"
        yield service_finding(
            subject, ctx, "network.privileged-ports",
            f"service {safe(subject.name, 60)} publishes host port {shown} (below 1024, a privileged port); "
            "a reverse proxy whose job is to serve 80/443 can suppress this with a reason",
            port.node, payload=PrivilegedPorts(tuple(low)))


@analyzer(TargetKind.COMPOSE_SERVICE, "container.capabilities")
def availability_capabilities(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    for cap, node in views.string_list(subject.service.get("cap_add")):
        name = cap_name(cap)
        if name in AVAILABILITY_CAPS and name not in DANGEROUS_CAPS:
            yield service_finding(
                subject, ctx, "container.capabilities",
                f"service {safe(subject.name, 60)} adds {safe(name, 40)}, which lets it starve or disturb "
                "the host (priorities, locked memory, limits, clock or power)",
                node, payload=ServiceVariant("availability-add"))


# ------------------------------------------------------------------ the default network


@analyzer(TargetKind.COMPOSE_SERVICE, "network.isolation")
def default_network_only(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    """A backend service (no published ports) when the file declares no networks at all."""
    root = subject.project.root
    svc = subject.service
    if root is None or root.get("networks") is not None:
        return
    mode = (views.text(svc.get("network_mode")) or "").strip().lower()
    if svc.get("networks") is not None or mode not in ("", "host") or views.ports(svc):
        return  # none / bridge / service:x / container:x are judged elsewhere or have no network
    if is_datastore(subject):
        return  # reported (with a fix) as a backend data store by compose_network
    if len(subject.project.services) < 2:
        return  # a lone service has no neighbours to be isolated from
    # A host-network service counts too: dropping `network_mode: host` (the host-namespaces
    # fix) puts it on `default`, and it has outside access either way.
    where = "the host network" if mode == "host" else "`default` with every other service"
    yield service_finding(
        subject, ctx, "network.isolation",
        f"service {safe(subject.name, 60)} publishes no ports but the file declares no networks: it shares "
        f"{where} and can reach the internet (put backends on an `internal: true` network)",
        None, payload=ServiceVariant("default-network"))
