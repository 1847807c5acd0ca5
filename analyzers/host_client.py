"""Host checks outside dockerd: client credentials, content trust, and auditd rules."""

from __future__ import annotations

from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.engine.host import missing_audit
from lockdock.model import Finding, Location, TargetKind
from lockdock.registry import analyzer
from lockdock.sources import HostSubject
from lockdock.text import safe


@analyzer(TargetKind.HOST, "registry.credentials-store")
def credentials_store(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    cfg = host.docker_config
    if not cfg.plain_auth:
        return
    registries = ", ".join(safe(r, 80) for r in cfg.plain_auth[:10])
    yield Finding(
        "registry.credentials-store",
        host.target,
        f"{ctx.rel(cfg.path)} keeps registry credentials as plain base64 for {registries}; "
        "configure a credential helper (credsStore) and log in again",
        Location(path=ctx.rel(cfg.path)),
    )


@analyzer(TargetKind.HOST, "build.content-trust")
def content_trust(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    value = host.env.get("DOCKER_CONTENT_TRUST", "")
    if value == "1":
        return
    shown = f"is {safe(value, 20)!r}" if value else "is not set"
    yield Finding(
        "build.content-trust",
        host.target,
        f"DOCKER_CONTENT_TRUST {shown}: pulled images are not signature-checked (export DOCKER_CONTENT_TRUST=1)",
    )


@analyzer(TargetKind.HOST, "runtime.audit-logging")
def audit_logging(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    if not host.knows_daemon:
        return
    if not host.audit.files:
        yield Finding(
            "runtime.audit-logging",
            host.target,
            "no auditd rules found (/etc/audit/rules.d/*.rules, /etc/audit/audit.rules): Docker's "
            "files and directories are not audited",
        )
        return
    missing = missing_audit(host.audit)
    if missing:
        yield Finding(
            "runtime.audit-logging",
            host.target,
            f"auditd rules do not watch: {', '.join(missing)} (add `-w <path> -k docker` rules)",
            Location(path=ctx.rel(host.audit.files[0])),
        )
