"""Compose checks of checklist v2 on a service's runtime options: mount propagation and
tmpfs flags, cgroup parent, host ports below 1024, host-availability capabilities,
literal secrets in `labels:`, `build.args` and `env_file:` contents, and projects whose
services all share the implicit `default` network.

Rules: CIS Docker Benchmark 5.4 (capabilities), 5.8 (privileged ports), 5.20 (mount
propagation), 5.25 (cgroup parent), 5.30 (network isolation); compose-lint CL-0017,
CL-0022 (propagation, tmpfs), CL-0020/CL-0021 (secrets in the file).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lockdock.analyzers.compose_network import is_datastore
from lockdock.analyzers.compose_privileges import DANGEROUS_CAPS, cap_name
from lockdock.compose import views
from lockdock.compose.findings import service_finding
from lockdock.compose.yamlread import Node
from lockdock.context import ScanContext
from lockdock.files import FileProblem, read_text
from lockdock.model import Finding, Location, TargetKind
from lockdock.registry import analyzer
from lockdock.secrets import check_assignment
from lockdock.sources.compose import ComposeService
from lockdock.text import safe

# Propagation modes that let mounts cross between host and container (mount(8) terms).
SHARED_PROPAGATION = frozenset({"shared", "rshared", "slave", "rslave"})
# tmpfs flags that re-enable what Docker turns off by default (noexec, nosuid).
TMPFS_UNSAFE = frozenset({"exec", "suid"})
# Capabilities that let one container starve or disturb the host (scheduling, memory
# locking, limits, clock, power), reported besides the dangerous ones.
AVAILABILITY_CAPS = frozenset({
    "SYS_NICE", "SYS_RESOURCE", "IPC_LOCK", "LEASE", "SYS_TIME", "WAKE_ALARM", "SYS_BOOT",
    "BLOCK_SUSPEND", "SYS_TTY_CONFIG", "SYS_PACCT",
})
MAX_ENV_FILE = 256 * 1024


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
            opt.node, data={"kind": "propagation", "option": opt.option, "long": opt.long})
    for opt in tmpfs_options(subject.service):
        yield service_finding(
            subject, ctx, "container.mount-options",
            f"service {name} mounts a tmpfs on {safe(opt.target, 120)} with {opt.option}: "
            + ("files written there can be executed" if opt.option == "exec" else "setuid files there take effect"),
            opt.node, data={"kind": "tmpfs", "option": opt.option})


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
            port.node, data={"ports": low})


@analyzer(TargetKind.COMPOSE_SERVICE, "container.capabilities")
def availability_capabilities(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    for cap, node in views.string_list(subject.service.get("cap_add")):
        name = cap_name(cap)
        if name in AVAILABILITY_CAPS and name not in DANGEROUS_CAPS:
            yield service_finding(
                subject, ctx, "container.capabilities",
                f"service {safe(subject.name, 60)} adds {safe(name, 40)}, which lets it starve or disturb "
                "the host (priorities, locked memory, limits, clock or power)",
                node, data={"kind": "availability-add"})


# ------------------------------------------------------------------ secrets in the file


def _labels(node: Node | None) -> list[tuple[str, str | None, Node]]:
    """`labels:` / `build.args` as (name, value as written, node); list or map form."""
    out: list[tuple[str, str | None, Node]] = []
    if node is None:
        return out
    if node.kind == "map":
        for k, v in node.value.items():
            out.append((str(k), v.raw if v.raw is not None else views.text(v), v))
    elif node.kind == "seq":
        for item in node.value:
            s = item.raw if item.raw is not None else views.text(item)
            if s is None:
                continue
            k, sep, v = s.partition("=")
            out.append((k.strip(), v if sep else None, item))
    return out


def _secret_findings(subject: ComposeService, ctx: ScanContext, where: str,
                     items: list[tuple[str, str | None, Node]]) -> Iterator[Finding]:
    for key, value, node in items:
        match = check_assignment(key, value)
        if match is None:
            continue
        yield service_finding(
            subject, ctx, "secrets.no-secrets-in-env",
            f"service {safe(subject.name, 60)}: {where} {safe(key, 80)} holds a literal {safe(match.kind, 80)} "
            f"({match.masked}); `docker inspect` and the image history show it",
            node, evidence=f"{safe(key, 80)}={match.masked}", data={"var": key, "where": where})


def env_file_paths(subject: ComposeService) -> list[tuple[str, Node]]:
    """`env_file:` entries (string, list, or long `path:` form) resolved against their file."""
    node = subject.service.get("env_file")
    entries: list[tuple[str, Node]] = []
    if node is None:
        return entries
    items = node.value if node.kind == "seq" else [node]
    for item in items:
        path_node = item.get("path") if item.kind == "map" else item
        path = views.text(path_node)
        if path is None or path_node is None:
            continue
        base = os.path.dirname(path_node.file) if path_node.file else str(subject.project.directory)
        entries.append((os.path.normpath(os.path.join(base, os.path.expanduser(path))), path_node))
    return entries


@analyzer(TargetKind.COMPOSE_SERVICE, "secrets.no-secrets-in-env")
def secrets_in_file(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    svc = subject.service
    yield from _secret_findings(subject, ctx, "label", _labels(svc.get("labels")))
    build = svc.get("build")
    if build is not None and build.kind == "map":
        yield from _secret_findings(subject, ctx, "build arg", _labels(build.get("args")))
    seen = ctx.cache.setdefault("compose-env-files", set())
    for path, node in env_file_paths(subject):
        if path in seen:
            continue  # one env file shared by several services: reported once
        seen.add(path)
        yield from _env_file(subject, ctx, path, node)


def _env_file(subject: ComposeService, ctx: ScanContext, path: str, node: Node) -> Iterator[Finding]:
    if not os.path.isfile(path):
        return  # compose reports a missing env_file itself
    try:
        if os.path.getsize(path) > MAX_ENV_FILE:
            ctx.warn(path, f"env file larger than {MAX_ENV_FILE // 1024} KiB: not read for secrets")
            return
        text = read_text(Path(path)).text
    except (OSError, FileProblem) as exc:
        ctx.warn(path, f"env file not read: {safe(str(exc), 200)}")
        return
    shown = ctx.rel(path) or path
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.removeprefix("export ").strip()
        match = check_assignment(key, value)
        if match is None:
            continue
        finding = service_finding(
            subject, ctx, "secrets.no-secrets-in-env",
            f"service {safe(subject.name, 60)}: env file {safe(shown, 120)} line {lineno} sets {safe(key, 80)} "
            f"to a literal {safe(match.kind, 80)} ({match.masked}); the container's environment (and "
            "`docker inspect`) carries it",
            node, evidence=f"{safe(key, 80)}={match.masked}", data={"var": key, "where": "env_file"})
        finding.location = Location(path=shown, line=lineno)
        yield finding


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
        None, data={"kind": "default-network"})
