"""daemon.json fixes: minimal text edits to the file (or a new file), never a re-dump.

A fix is refused (None; the finding already says why) when daemon.json is not valid JSON
or when dockerd gets the same setting as a command-line flag: dockerd does not start when
a directive is given both ways. Every change needs a daemon restart (or reload) to apply.
"""

from __future__ import annotations

from typing import Any

from lockdock.context import ScanContext
from lockdock.engine import daemonjson
from lockdock.model import Applicability, FileEdit, Finding, Fix, NewFile, TargetKind
from lockdock.payloads.engine import DaemonSetting
from lockdock.registry import fixer
from lockdock.sources import HostSubject

LOG_OPTS = {"max-size": "10m", "max-file": "3"}
RESTART_NOTE = "takes effect after `systemctl reload docker` (or a daemon restart)"


def daemon_fix(host: HostSubject, title: str, applicability: Applicability, settings: dict[str, Any]) -> Fix | None:
    """Set `settings` in daemon.json, or None when that would break dockerd."""
    dj = host.daemon
    if not dj.usable or any(host.flag_for(k) for k in settings):
        return None
    if not dj.exists:
        change: FileEdit | NewFile = NewFile(str(dj.path), daemonjson.new_content(settings), 0o644)
    else:
        assert dj.file is not None
        change = FileEdit(str(dj.path), daemonjson.set_keys(dj, settings), dj.file.sha256)
    return Fix(title, applicability, [change], note=RESTART_NOTE)


@fixer("container.no-new-privileges", TargetKind.HOST, title='daemon.json: "no-new-privileges": true', applicability=Applicability.SAFE)
def no_new_privileges(finding: Finding, host: HostSubject, ctx: ScanContext) -> Fix | None:
    return daemon_fix(host, 'daemon.json: "no-new-privileges": true', Applicability.SAFE, {"no-new-privileges": True})


@fixer("runtime.live-restore", TargetKind.HOST, title='daemon.json: "live-restore": true', applicability=Applicability.SAFE)
def live_restore(finding: Finding, host: HostSubject, ctx: ScanContext) -> Fix | None:
    return daemon_fix(host, 'daemon.json: "live-restore": true', Applicability.SAFE, {"live-restore": True})


@fixer("runtime.log-rotation", TargetKind.HOST, title="daemon.json: json-file logs with max-size/max-file", applicability=Applicability.SAFE)
def log_rotation(finding: Finding, host: HostSubject, ctx: ScanContext) -> Fix | None:
    if not isinstance(finding.payload, DaemonSetting):
        return None
    settings: dict[str, Any] = {}
    driver = host.daemon.data.get("log-driver") if host.daemon.usable else None
    if finding.payload.driver == "none" or (driver is not None and driver != "json-file"):
        settings["log-driver"] = "json-file"
    current = host.daemon.data.get("log-opts") if host.daemon.usable else None
    opts = dict(current) if isinstance(current, dict) else {}
    for k, v in LOG_OPTS.items():
        opts.setdefault(k, v)
    settings["log-opts"] = opts
    return daemon_fix(host, "daemon.json: json-file logs with max-size 10m, max-file 3", Applicability.SAFE, settings)


@fixer("network.icc", TargetKind.HOST, title='daemon.json: "icc": false', applicability=Applicability.UNSAFE)
def icc(finding: Finding, host: HostSubject, ctx: ScanContext) -> Fix | None:
    if not isinstance(finding.payload, DaemonSetting) or finding.payload.key != "icc":
        return None  # the userland-proxy finding has no fix of its own
    return daemon_fix(host, 'daemon.json: "icc": false (containers must use user-defined networks to talk)', Applicability.UNSAFE, {"icc": False})


@fixer("container.userns-remap", TargetKind.HOST, title='daemon.json: "userns-remap": "default"', applicability=Applicability.UNSAFE)
def userns_remap(finding: Finding, host: HostSubject, ctx: ScanContext) -> Fix | None:
    fix = daemon_fix(host, 'daemon.json: "userns-remap": "default"', Applicability.UNSAFE, {"userns-remap": "default"})
    if fix is not None:
        fix.note = "existing images and volumes are not visible to the remapped daemon; " + RESTART_NOTE
    return fix


@fixer("registry.https", TargetKind.HOST, title="daemon.json: remove insecure-registries", applicability=Applicability.UNSAFE)
def insecure_registries(finding: Finding, host: HostSubject, ctx: ScanContext) -> Fix | None:
    dj = host.daemon
    if not dj.usable or dj.file is None or dj.member("insecure-registries") is None:
        return None
    if host.flag_for("insecure-registries"):
        return None
    edits = daemonjson.remove_key(dj, "insecure-registries")
    return Fix("daemon.json: remove insecure-registries", Applicability.UNSAFE, [FileEdit(str(dj.path), edits, dj.file.sha256)], note=RESTART_NOTE)
