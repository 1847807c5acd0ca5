"""Container checks on isolation: user, privileged, sockets, namespaces, mounts, devices,
read-only root, no-new-privileges, security profiles and capabilities (from `docker inspect`).
"""

from __future__ import annotations

from collections.abc import Iterator

from lockdock import mountpolicy
from lockdock.context import ScanContext
from lockdock.engine.host import daemon_no_new_privileges
from lockdock.model import Finding, TargetKind
from lockdock.payloads.engine import HostMount
from lockdock.registry import analyzer
from lockdock.sources import ContainerSubject
from lockdock.text import safe

DANGEROUS_CAPS = frozenset(
    {"ALL", "SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE", "NET_ADMIN", "DAC_READ_SEARCH", "SYS_RAWIO",
     "SYS_BOOT", "SYS_TIME", "MAC_ADMIN", "MAC_OVERRIDE", "BPF", "PERFMON", "SYSLOG", "DAC_OVERRIDE",
     "SETFCAP", "LINUX_IMMUTABLE"}
)
ROOT_USERS = frozenset({"", "root", "0"})


def _mounts(c: ContainerSubject) -> list[tuple[str, str, bool]]:
    """(host source, container destination, writable) of every bind mount."""
    out = []
    for m in c.inspect.get("Mounts") or []:
        if isinstance(m, dict) and m.get("Type", "bind") == "bind" and m.get("Source"):
            out.append((str(m["Source"]), str(m.get("Destination", "")), bool(m.get("RW", True))))
    if out:
        return out
    for b in c.host_config.get("Binds") or []:
        parts = str(b).split(":")
        if len(parts) >= 2 and parts[0].startswith("/"):
            opts = parts[2].split(",") if len(parts) > 2 else []
            out.append((parts[0], parts[1], "ro" not in opts))
    return out


def _is_socket(src: str) -> bool:
    return mountpolicy.judge(src, True).kind == "socket"


def _cap(name: str) -> str:
    n = str(name).upper()
    return n[4:] if n.startswith("CAP_") else n


def _security_opts(c: ContainerSubject) -> list[str]:
    return [str(o) for o in c.host_config.get("SecurityOpt") or []]


@analyzer(TargetKind.CONTAINER, "container.non-root")
def non_root(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    user = str(c.config.get("User") or "")
    if user.split(":", 1)[0].strip() in ROOT_USERS:
        shown = f"user {safe(user, 40)!r}" if user else "no user set"
        yield c.finding(ctx, "container.non-root", f"container runs as root ({shown})")


@analyzer(TargetKind.CONTAINER, "container.not-privileged")
def privileged(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    if c.host_config.get("Privileged"):
        yield c.finding(ctx, "container.not-privileged", "container is privileged: it has every capability and all host devices")


@analyzer(TargetKind.CONTAINER, "container.docker-socket")
def docker_socket(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    for src, dest, _rw in _mounts(c):
        if _is_socket(src):
            yield c.finding(
                ctx, "container.docker-socket",
                f"container mounts the runtime socket {safe(src, 120)} (at {safe(dest, 120)}): it controls the engine, so it controls the host",
            )


@analyzer(TargetKind.CONTAINER, "container.host-namespaces")
def host_namespaces(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    hc = c.host_config
    shared = [
        label
        for key, label in (("NetworkMode", "network"), ("PidMode", "pid"), ("IpcMode", "ipc"), ("UTSMode", "uts"), ("UsernsMode", "userns"))
        if str(hc.get(key) or "") == "host"
    ]
    if shared:
        yield c.finding(ctx, "container.host-namespaces", f"container shares the host's {', '.join(shared)} namespace{'s' if len(shared) > 1 else ''}")


@analyzer(TargetKind.CONTAINER, "container.sensitive-mounts")
def sensitive_mounts(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    for src, dest, rw in _mounts(c):
        v = mountpolicy.judge(src, rw)
        if v.kind != "sensitive":
            continue  # sockets are container.docker-socket
        yield c.finding(
            ctx, "container.sensitive-mounts",
            f"container mounts the host path {safe(mountpolicy.describe(v), 160)} at {safe(dest, 120)}",
            severity=v.severity, payload=HostMount(src, rw),
        )


@analyzer(TargetKind.CONTAINER, "container.host-devices")
def host_devices(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    devices = [d for d in c.host_config.get("Devices") or [] if isinstance(d, dict)]
    if devices:
        shown = ", ".join(safe(d.get("PathOnHost", "?"), 60) for d in devices[:5])
        yield c.finding(ctx, "container.host-devices", f"host devices are passed into the container: {shown}")


@analyzer(TargetKind.CONTAINER, "container.read-only-rootfs")
def read_only_rootfs(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    if not c.host_config.get("ReadonlyRootfs"):
        yield c.finding(ctx, "container.read-only-rootfs", "root filesystem is writable (use --read-only with a tmpfs for scratch paths)")


@analyzer(TargetKind.CONTAINER, "container.no-new-privileges")
def no_new_privileges(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    for opt in _security_opts(c):
        o = opt.replace("=", ":").lower()
        if o in ("no-new-privileges", "no-new-privileges:true"):
            return
    default, _where = daemon_no_new_privileges(ctx)
    if default:
        return
    yield c.finding(ctx, "container.no-new-privileges", "no-new-privileges is not set for the container nor as the daemon default")


@analyzer(TargetKind.CONTAINER, "container.security-profiles")
def security_profiles(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    disabled = []
    for opt in _security_opts(c):
        o = opt.replace("=", ":").lower()
        if o in ("seccomp:unconfined", "apparmor:unconfined", "label:disable", "systempaths:unconfined"):
            disabled.append(o)
    if disabled:
        yield c.finding(ctx, "container.security-profiles", f"security profiles are disabled: {', '.join(disabled)}")


@analyzer(TargetKind.CONTAINER, "container.capabilities")
def capabilities(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    added = sorted({_cap(x) for x in c.host_config.get("CapAdd") or []})
    dangerous = [x for x in added if x in DANGEROUS_CAPS]
    if dangerous:
        yield c.finding(ctx, "container.capabilities", f"dangerous capabilities are added: {', '.join(safe(x, 30) for x in dangerous)}")
    dropped = {_cap(x) for x in c.host_config.get("CapDrop") or []}
    if "ALL" not in dropped and not c.host_config.get("Privileged"):
        yield c.finding(ctx, "container.capabilities", "capabilities are not dropped (--cap-drop ALL, then add back only what is needed)")
