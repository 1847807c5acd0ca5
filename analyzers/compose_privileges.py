"""Compose checks on what a service's process may do: user, privileged mode, host
namespaces, capabilities, no-new-privileges and security profiles."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lockdock.compose import views
from lockdock.compose.findings import service_finding
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.payloads.compose import HostNamespace, ServiceVariant
from lockdock.registry import analyzer
from lockdock.sources import ComposeService
from lockdock.text import safe

DANGEROUS_CAPS = frozenset({
    "ALL", "SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE", "NET_ADMIN", "DAC_READ_SEARCH", "SYS_RAWIO",
    "SYS_BOOT", "SYS_TIME", "MAC_ADMIN", "MAC_OVERRIDE", "BPF", "PERFMON", "SYSLOG",
    "SYS_RESOURCE", "LINUX_IMMUTABLE", "DAC_OVERRIDE", "SETFCAP",
})
NAMESPACE_KEYS = ("network_mode", "pid", "ipc", "uts", "userns_mode")
_DISABLING = re.compile(r"^\s*(seccomp[:=]unconfined|apparmor[:=]unconfined|label[:=]disable|"
                        r"systempaths[:=]unconfined)\s*$", re.I)
_NNP = re.compile(r"^\s*no-new-privileges(\s*[:=]\s*(true|1|yes))?\s*$", re.I)


def is_root_user(user: str) -> bool:
    name = user.strip().split(":", 1)[0]
    return name in ("", "root", "0")


def image_user(subject: ComposeService, ctx: ScanContext) -> tuple[bool, str | None]:
    """(known, Config.User) of the service's image when it is local."""
    node = views.image_node(subject.service)
    if node is None:
        return False, None
    data = ctx.local_image(str(node.value))
    if not data:
        return False, None
    user = (data.get("Config") or {}).get("User") or ""
    return True, str(user)


@analyzer(TargetKind.COMPOSE_SERVICE, "container.non-root")
def non_root(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    svc = subject.service
    name = safe(subject.name, 60)
    node = svc.get("user")
    if node is not None and views.text(node) is not None:
        user = views.text(node) or ""
        if is_root_user(user):
            yield service_finding(subject, ctx, "container.non-root",
                                  f"service {name} runs as root (user: {safe(user, 40)})", node,
                                  payload=ServiceVariant("root-user"))
        return
    if views.builds(svc):
        return  # the Dockerfile's USER decides; the Dockerfile analyzer judges it
    known, user = image_user(subject, ctx)
    if known and user is not None and not is_root_user(user):
        return
    if known:
        msg = f"service {name} sets no `user:` and its image runs as root"
    elif views.image_node(svc) is None:
        msg = f"service {name} sets no `user:`"
    else:
        why = "no engine" if ctx.engine is None else "the image is not present locally"
        msg = f"service {name} sets no `user:`; the image's default user is unknown ({why}), so it may run as root"
    yield service_finding(subject, ctx, "container.non-root", msg, None, payload=ServiceVariant("missing"))


@analyzer(TargetKind.COMPOSE_SERVICE, "container.not-privileged")
def not_privileged(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    node = subject.service.get("privileged")
    if views.truthy(node):
        yield service_finding(subject, ctx, "container.not-privileged",
                              f"service {safe(subject.name, 60)} runs privileged (full access to the host)",
                              node)


@analyzer(TargetKind.COMPOSE_SERVICE, "container.host-namespaces")
def host_namespaces(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    for key in NAMESPACE_KEYS:
        node = subject.service.get(key)
        if (views.text(node) or "").strip().lower() == "host":
            yield service_finding(subject, ctx, "container.host-namespaces",
                                  f"service {safe(subject.name, 60)} shares the host's namespace ({key}: host)",
                                  node, payload=HostNamespace(key))


def cap_name(text: str) -> str:
    t = text.strip().upper()
    return t[4:] if t.startswith("CAP_") else t


@analyzer(TargetKind.COMPOSE_SERVICE, "container.capabilities")
def capabilities(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    svc = subject.service
    name = safe(subject.name, 60)
    drops = views.string_list(svc.get("cap_drop"))
    if not any(cap_name(c) == "ALL" for c, _ in drops):
        yield service_finding(subject, ctx, "container.capabilities",
                              f"service {name} keeps the default capabilities (no cap_drop: [ALL])",
                              svc.get("cap_drop"), payload=ServiceVariant("no-drop-all"))
    for cap, node in views.string_list(svc.get("cap_add")):
        if cap_name(cap) in DANGEROUS_CAPS:
            yield service_finding(subject, ctx, "container.capabilities",
                                  f"service {name} adds the dangerous capability {safe(cap_name(cap), 40)}",
                                  node, payload=ServiceVariant("dangerous-add"))


@analyzer(TargetKind.COMPOSE_SERVICE, "container.no-new-privileges")
def no_new_privileges(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    opts = views.string_list(subject.service.get("security_opt"))
    if any(_NNP.match(o) for o, _ in opts):
        return
    explicit = [n for o, n in opts if o.strip().lower().startswith("no-new-privileges")]
    yield service_finding(
        subject, ctx, "container.no-new-privileges",
        f"service {safe(subject.name, 60)} does not set security_opt no-new-privileges:true "
        "(setuid binaries can gain privileges unless the daemon sets it by default)",
        explicit[0] if explicit else None,
    )


@analyzer(TargetKind.COMPOSE_SERVICE, "container.security-profiles")
def security_profiles(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    for opt, node in views.string_list(subject.service.get("security_opt")):
        if _DISABLING.match(opt):
            yield service_finding(subject, ctx, "container.security-profiles",
                                  f"service {safe(subject.name, 60)} disables a security profile "
                                  f"({safe(opt.strip(), 60)})", node)
