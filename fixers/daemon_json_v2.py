"""daemon.json fixes of checklist v2: drop `iptables: false`, `cgroup-parent` and an
unconfined `seccomp-profile`; set `log-level` to info.

Same rules as fixers/daemon_json.py: minimal text edits, refused (None) when the file is
not valid JSON, when the setting does not come from daemon.json, or when dockerd is
started with the same flag (dockerd refuses a setting given both ways).
"""

from __future__ import annotations

from typing import Any

from lockdock.context import ScanContext
from lockdock.engine import daemonjson
from lockdock.fixers.daemon_json import RESTART_NOTE, daemon_fix
from lockdock.model import Applicability, FileEdit, Finding, Fix, TargetKind
from lockdock.registry import fixer
from lockdock.sources import HostSubject


def remove_member(host: HostSubject, key: str, title: str) -> Fix | None:
    """Delete `key` from daemon.json, or None when that cannot be done safely."""
    dj = host.daemon
    if not dj.usable or dj.file is None or dj.member(key) is None or host.flag_for(key):
        return None
    edits = daemonjson.remove_key(dj, key)
    return Fix(title, Applicability.UNSAFE, [FileEdit(str(dj.path), edits, dj.file.sha256)], note=RESTART_NOTE)


@fixer("network.daemon-iptables", TargetKind.HOST, title='daemon.json: remove "iptables": false',
       applicability=Applicability.UNSAFE)
def iptables(finding: Finding, host: HostSubject, ctx: ScanContext) -> Fix | None:
    fix = remove_member(host, "iptables", 'daemon.json: remove "iptables": false')
    if fix is not None:
        fix.note = ("dockerd will add its own iptables rules (check host firewall tooling that "
                    "expected none); " + RESTART_NOTE)
    return fix


@fixer("container.cgroup-parent", TargetKind.HOST, title='daemon.json: remove "cgroup-parent"',
       applicability=Applicability.UNSAFE)
def cgroup_parent(finding: Finding, host: HostSubject, ctx: ScanContext) -> Fix | None:
    return remove_member(host, "cgroup-parent", 'daemon.json: remove "cgroup-parent"')


@fixer("container.security-profiles", TargetKind.HOST, title='daemon.json: remove "seccomp-profile": "unconfined"',
       applicability=Applicability.UNSAFE)
def seccomp_profile(finding: Finding, host: HostSubject, ctx: ScanContext) -> Fix | None:
    return remove_member(host, "seccomp-profile", 'daemon.json: remove "seccomp-profile": "unconfined" '
                         "(containers get Docker's default profile)")


@fixer("runtime.daemon-log-level", TargetKind.HOST, title='daemon.json: "log-level": "info"',
       applicability=Applicability.SAFE)
def log_level(finding: Finding, host: HostSubject, ctx: ScanContext) -> Fix | None:
    if host.flag_for("debug") or host.flag_for("log-level"):
        return None
    settings: dict[str, Any] = {"log-level": "info"}
    if host.daemon.usable and host.daemon.member("debug") is not None:
        settings["debug"] = False  # `debug: true` would keep the daemon at debug level
    return daemon_fix(host, 'daemon.json: "log-level": "info"', Applicability.SAFE, settings)
