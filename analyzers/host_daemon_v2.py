"""Host checks of checklist v2 on the daemon: iptables, log level, authorization plugins,
cgroup parent, a daemon-wide unconfined seccomp profile, and passwords in mirror URLs.

Settings come from daemon.json, dockerd's flags and (with an engine, when no daemon.json
was named) `docker info`. Rules: CIS Docker Benchmark 2.3 (log level), 2.4 (iptables),
2.10 (cgroup parent), 2.12 (authorization plugins) and 5.21 (seccomp); the mirror-URL
password is reported under registry.credentials-store (credentials kept in plain text).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from lockdock.analyzers.host_daemon import _finding, _true, flag_note
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.registry import analyzer
from lockdock.secrets import mask
from lockdock.sources import HostSubject
from lockdock.text import safe


def _from_info(host: HostSubject) -> dict[str, Any] | None:
    """`docker info`, only when no daemon.json was named (an explicit file is the truth)."""
    return None if host.daemon_explicit else host.info


@analyzer(TargetKind.HOST, "network.daemon-iptables")
def daemon_iptables(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    found = host.setting("iptables")
    if found is None or _true(found[0]):
        return
    yield _finding(
        host, "network.daemon-iptables",
        f"the daemon does not manage iptables (iptables false, {safe(found[1], 120)}): published ports "
        "and inter-container rules are not enforced by the firewall" + flag_note(host, "iptables"),
        "iptables",
    )


def _debug_source(host: HostSubject) -> tuple[str | None, str] | None:
    """(daemon.json key or None, what turns debug logging on), or None when it is off."""
    level = host.setting("log-level")
    if level is not None and str(level[0]).strip().lower() == "debug":
        return "log-level", f"log-level debug, {level[1]}"
    debug = host.setting("debug")
    if debug is not None and _true(debug[0]):
        return "debug", f"debug true, {debug[1]}"
    info = _from_info(host)
    if level is None and debug is None and info is not None and info.get("Debug") is True:
        return None, "docker info reports Debug: true"
    return None


@analyzer(TargetKind.HOST, "runtime.daemon-log-level")
def daemon_log_level(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    found = _debug_source(host)
    if found is None:
        return
    key, why = found
    note = (flag_note(host, "log-level") or flag_note(host, "debug")) if host.daemon.usable else flag_note(host, "log-level")
    yield _finding(
        host, "runtime.daemon-log-level",
        f"the daemon logs at debug level ({safe(why, 120)}): request bodies, environment values "
        "and tokens can end up in the daemon log" + note,
        key,
    )


@analyzer(TargetKind.HOST, "runtime.authorization-plugin")
def authorization_plugin(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    if not host.knows_daemon and host.dockerd_args is None:
        return  # nothing known about the daemon: no engine, no daemon.json, no dockerd seen
    found = host.setting("authorization-plugins")
    if found is not None and isinstance(found[0], list) and any(str(p).strip() for p in found[0]):
        return
    info = _from_info(host)
    if found is None and info is not None and ((info.get("Plugins") or {}).get("Authorization") or []):
        return
    yield _finding(
        host, "runtime.authorization-plugin",
        "no authorization plugin guards the daemon API: anyone who can reach the socket may run "
        "any command (authorization-plugins in daemon.json or --authorization-plugin)",
        "authorization-plugins",
    )


@analyzer(TargetKind.HOST, "container.cgroup-parent")
def cgroup_parent(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    found = host.setting("cgroup-parent")
    if found is None or not str(found[0]).strip():
        return
    yield _finding(
        host, "container.cgroup-parent",
        f"the daemon puts every container under the cgroup parent {safe(str(found[0]), 80)} "
        f"({safe(found[1], 120)}) instead of the default one: the limits of that cgroup, not "
        "Docker's, now bound all containers" + flag_note(host, "cgroup-parent"),
        "cgroup-parent",
    )


@analyzer(TargetKind.HOST, "container.security-profiles")
def daemon_seccomp(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    found = host.setting("seccomp-profile")
    where = ""
    if found is not None:
        if str(found[0]).strip().lower() != "unconfined":
            return
        where = found[1]
    else:
        info = _from_info(host)
        opts = [str(o) for o in (info or {}).get("SecurityOptions") or []]
        if not any("name=seccomp" in o and "profile=unconfined" in o for o in opts):
            return
        where = "docker info SecurityOptions"
    yield _finding(
        host, "container.security-profiles",
        f"the daemon's default seccomp profile is unconfined ({safe(where, 120)}): every container "
        "may call any system call unless it names a profile" + flag_note(host, "seccomp-profile"),
        "seccomp-profile",
    )


def _with_password(url: str) -> str | None:
    """The URL with its password masked when it carries one, else None."""
    try:
        parts = urlsplit(url.strip())
        password = parts.password
    except ValueError:
        return None
    if not password:
        return None
    host = parts.hostname or "?"
    return f"{parts.scheme}://{parts.username or ''}:{mask(password)}@{host}"


@analyzer(TargetKind.HOST, "registry.credentials-store")
def mirror_passwords(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    found = host.setting("registry-mirrors")
    mirrors = found[0] if found and isinstance(found[0], list) else []
    for url in mirrors:
        shown = _with_password(str(url))
        if shown is None:
            continue
        yield _finding(
            host, "registry.credentials-store",
            f"a registry mirror URL carries a password in plain text ({safe(shown, 120)}, "
            f"{safe(found[1], 120) if found else ''}): anyone who reads the daemon settings or "
            "`docker info` gets it",
            "registry-mirrors",
        )
