"""Compose checks on what a service sees of the host: runtime sockets, sensitive paths,
devices, and whether its own root filesystem is writable."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from lockdock.compose import views
from lockdock.compose.findings import service_finding
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.registry import analyzer
from lockdock.sources.compose import ComposeService
from lockdock.text import safe

SOCKET_NAMES = ("docker.sock", "containerd.sock", "podman.sock", "crio.sock", "cri-dockerd.sock",
                "dockershim.sock", "buildkitd.sock")
SOCKET_DIRS = frozenset({"/run", "/var/run", "/run/docker", "/var/run/docker", "/run/containerd",
                         "/var/run/containerd", "/run/podman", "/run/user"})
SENSITIVE = ("/", "/etc", "/root", "/boot", "/proc", "/sys", "/dev", "/var/lib/docker", "/home",
             "/usr", "/lib", "/bin", "/sbin", "/var/lib/kubelet")


def host_path(source: str | None) -> str | None:
    """The normalised host path of a bind source (None for named volumes)."""
    if not source:
        return None
    s = source.strip()
    if s.startswith("~"):
        return "~" + posixpath.normpath("/" + s[1:].lstrip("/")).rstrip("/") if s != "~" else "~"
    if not s.startswith("/"):
        return None
    return posixpath.normpath(s) if s != "/" else "/"


def is_socket(path: str) -> bool:
    return path.endswith(SOCKET_NAMES) or path in SOCKET_DIRS


def sensitive(path: str) -> bool:
    if path == "~" or path.startswith("~/"):
        return path in ("~", "~/.ssh", "~/.docker", "~/.aws", "~/.kube", "~/.config", "~/.gnupg")
    for root in SENSITIVE:
        if path == root:
            return True
        if root != "/" and path.startswith(root + "/") and root in ("/etc", "/root", "/boot", "/proc",
                                                                     "/sys", "/var/lib/docker"):
            return True
    return path.startswith("/home/") and path.count("/") == 2


@analyzer(TargetKind.COMPOSE_SERVICE, "container.docker-socket")
def docker_socket(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    for m in views.mounts(subject.service):
        path = host_path(m.source) if m.type in ("bind", "volume") else None
        if path and is_socket(path):
            yield service_finding(subject, ctx, "container.docker-socket",
                                  f"service {safe(subject.name, 60)} mounts the container runtime socket "
                                  f"{safe(path, 80)} (control of the host)", m.node)


@analyzer(TargetKind.COMPOSE_SERVICE, "container.sensitive-mounts")
def sensitive_mounts(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    for m in views.mounts(subject.service):
        path = host_path(m.source)
        if not path or is_socket(path) or not sensitive(path) or m.read_only:
            continue
        yield service_finding(subject, ctx, "container.sensitive-mounts",
                              f"service {safe(subject.name, 60)} mounts the host path {safe(path, 80)} "
                              "writable", m.node, data={"mount": m})


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
