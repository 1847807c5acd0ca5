"""Container checks of checklist v2 from `docker inspect`: mount propagation and tmpfs
flags, cgroup parent, host ports below 1024, host-availability capabilities and literal
secrets in labels.

Rules: CIS Docker Benchmark 5.4 (capabilities), 5.8 (privileged ports), 5.20 (mount
propagation), 5.25 (cgroup parent); compose-lint CL-0017/CL-0022 for the same settings
made by compose; secrets in labels as in CL-0020.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lockdock.analyzers.container_network import published
from lockdock.analyzers.container_security import DANGEROUS_CAPS
from lockdock.capabilities import AVAILABILITY_CAPS
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.mountpolicy import SHARED_PROPAGATION, TMPFS_UNSAFE
from lockdock.payloads import Variant
from lockdock.payloads.engine import ContainerMountOption
from lockdock.registry import analyzer
from lockdock.secrets import check_assignment
from lockdock.sources import ContainerSubject
from lockdock.text import safe


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def propagation_mounts(c: ContainerSubject) -> dict[str, str]:
    """Container destination -> shared/slave propagation of each bind mount."""
    found: dict[str, str] = {}
    for m in _dicts(c.inspect.get("Mounts")):
        prop = str(m.get("Propagation") or "").lower()
        if m.get("Type", "bind") == "bind" and prop in SHARED_PROPAGATION:
            found[str(m.get("Destination") or "?")] = prop
    for m in _dicts(c.host_config.get("Mounts")):
        prop = str((m.get("BindOptions") or {}).get("Propagation") or "").lower()
        if m.get("Type") == "bind" and prop in SHARED_PROPAGATION:
            found.setdefault(str(m.get("Target") or "?"), prop)
    for b in c.host_config.get("Binds") or []:
        parts = str(b).split(":")
        if len(parts) < 3:
            continue
        for opt in parts[-1].split(","):
            if opt.lower() in SHARED_PROPAGATION:
                found.setdefault(parts[-2], opt.lower())
    return found


def tmpfs_flags(c: ContainerSubject) -> dict[str, list[str]]:
    """Container path -> `exec`/`suid` flags asked for its tmpfs (--tmpfs or --mount)."""
    found: dict[str, list[str]] = {}
    tmpfs = c.host_config.get("Tmpfs")
    if isinstance(tmpfs, dict):
        for path, opts in tmpfs.items():
            flags = [o.strip().lower() for o in str(opts or "").split(",") if o.strip().lower() in TMPFS_UNSAFE]
            if flags:
                found[str(path)] = flags
    for m in _dicts(c.host_config.get("Mounts")):
        if m.get("Type") != "tmpfs":
            continue
        # API 1.46+: TmpfsOptions.Options is a list of [flag] or [key, value] lists.
        opts = (m.get("TmpfsOptions") or {}).get("Options") or []
        flags = [str(o[0]).lower() for o in opts if isinstance(o, list) and o and str(o[0]).lower() in TMPFS_UNSAFE]
        if flags:
            found.setdefault(str(m.get("Target") or "?"), flags)
    return found


@analyzer(TargetKind.CONTAINER, "container.mount-options")
def mount_options(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    for dest, prop in sorted(propagation_mounts(c).items()):
        yield c.finding(
            ctx, "container.mount-options",
            f"bind mount at {safe(dest, 120)} uses {prop} propagation: mounts made on one side appear on the other",
            payload=ContainerMountOption("propagation", dest, prop),
        )
    for path, flags in sorted(tmpfs_flags(c).items()):
        yield c.finding(
            ctx, "container.mount-options",
            f"tmpfs at {safe(path, 120)} is mounted with {', '.join(flags)} (Docker's default is noexec,nosuid)",
            payload=ContainerMountOption("tmpfs", path, flags[0]),
        )


@analyzer(TargetKind.CONTAINER, "container.cgroup-parent")
def cgroup_parent(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    parent = str(c.host_config.get("CgroupParent") or "").strip()
    if parent:
        yield c.finding(
            ctx, "container.cgroup-parent",
            f"container runs under the cgroup parent {safe(parent, 80)}, outside Docker's default hierarchy",
        )


def _host_port(text: str) -> int | None:
    head = text.split("-", 1)[0].strip()
    return int(head) if head.isdigit() else None


@analyzer(TargetKind.CONTAINER, "network.privileged-ports")
def privileged_ports(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    for port, proto, ip, host_port in published(c):
        hp = _host_port(host_port)
        if hp is not None and 0 < hp < 1024:
            where = f"{safe(ip, 40) or '0.0.0.0'}:{hp}"
            yield c.finding(
                ctx, "network.privileged-ports",
                f"host port {hp} (below 1024, a privileged port) is published ({where} -> {port}/{proto}); "
                "a reverse proxy whose job is to serve 80/443 can suppress this with a reason",
            )


@analyzer(TargetKind.CONTAINER, "container.capabilities")
def availability_capabilities(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    added = sorted({str(x).upper().removeprefix("CAP_") for x in c.host_config.get("CapAdd") or []})
    extra = [x for x in added if x in AVAILABILITY_CAPS and x not in DANGEROUS_CAPS]
    if extra:
        yield c.finding(
            ctx, "container.capabilities",
            f"capabilities that let the container starve or disturb the host are added: {', '.join(extra)}",
            payload=Variant("availability-add"),
        )


@analyzer(TargetKind.CONTAINER, "secrets.no-secrets-in-env")
def label_secrets(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    labels = c.config.get("Labels")
    if not isinstance(labels, dict):
        return
    for key, value in sorted(labels.items()):
        match = check_assignment(str(key), None if value is None else str(value))
        if match is not None:
            yield c.finding(
                ctx, "secrets.no-secrets-in-env",
                f"label {safe(str(key), 80)} holds a secret ({match.kind}); `docker inspect` shows it",
                evidence=f"{safe(str(key), 80)}={match.masked}",
            )
