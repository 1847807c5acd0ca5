"""Compose checks on what a service sees of the host: runtime sockets, sensitive paths,
devices, and whether its own root filesystem is writable."""

from __future__ import annotations

from collections.abc import Iterator

from lockdock import mountpolicy
from lockdock.compose import views
from lockdock.compose.findings import service_finding
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.payloads.compose import SensitiveMount
from lockdock.registry import analyzer
from lockdock.sources import ComposeService
from lockdock.text import safe

# Kept for importers: the policy lives in lockdock.mountpolicy.
host_path = mountpolicy.host_path
is_socket = mountpolicy.is_socket


def _verdict(m: views.Mount) -> mountpolicy.MountVerdict | None:
    if m.type not in ("bind", "volume") or not m.source:
        return None
    return mountpolicy.judge(m.source, writable=not m.read_only)


@analyzer(TargetKind.COMPOSE_SERVICE, "container.docker-socket")
def docker_socket(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    for m in views.mounts(subject.service):
        v = _verdict(m)
        if v is not None and v.kind == "socket":
            yield service_finding(subject, ctx, "container.docker-socket",
                                  f"service {safe(subject.name, 60)} mounts the container runtime socket "
                                  f"{safe(v.path, 80)} (control of the host)", m.node)


@analyzer(TargetKind.COMPOSE_SERVICE, "container.sensitive-mounts")
def sensitive_mounts(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    for m in views.mounts(subject.service):
        v = _verdict(m)
        if v is None or v.kind != "sensitive":
            continue
        note = ""
        if m.unknown_keys:
            keys = ", ".join(safe(k, 30) for k in m.unknown_keys[:3])
            note = (f"; {keys} {'is not a compose key' if len(m.unknown_keys) == 1 else 'are not compose keys'}"
                    " (compose rejects the file; read-only is written `read_only: true`)")
        yield service_finding(subject, ctx, "container.sensitive-mounts",
                              f"service {safe(subject.name, 60)} mounts the host path "
                              f"{safe(mountpolicy.describe(v), 160)}{note}", m.node,
                              severity=v.severity, payload=SensitiveMount(m, v.writable))


@analyzer(TargetKind.COMPOSE_SERVICE, "container.host-devices")
def host_devices(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    svc = subject.service
    for dev, node in views.string_list(svc.get("devices")):
        yield service_finding(subject, ctx, "container.host-devices",
                              f"service {safe(subject.name, 60)} gets the host device "
                              f"{safe(dev.split(':', 1)[0], 80)}", node)
    for rule, node in views.string_list(svc.get("device_cgroup_rules")):
        yield service_finding(subject, ctx, "container.host-devices",
                              f"service {safe(subject.name, 60)} allows host devices by cgroup rule "
                              f"{safe(rule, 60)}", node)


@analyzer(TargetKind.COMPOSE_SERVICE, "container.read-only-rootfs")
def read_only_rootfs(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    node = subject.service.get("read_only")
    if views.truthy(node):
        return
    msg = (f"service {safe(subject.name, 60)} has a writable root filesystem"
           + (" (read_only is false)" if node is not None else " (no read_only: true)"))
    yield service_finding(subject, ctx, "container.read-only-rootfs", msg, node)
