"""Counts shared by every report format."""

from __future__ import annotations

from typing import Any

from lockdock.model import Severity
from lockdock.scan import ScanResult, severity_of


def summarize(result: ScanResult, fail_on: Severity) -> dict[str, Any]:
    active = [f for f in result.findings if f.suppressed is None]
    by_sev = {s.label: 0 for s in sorted(Severity, reverse=True)}
    for f in active:
        by_sev[severity_of(f).label] += 1
    levels = {t.target.key: t.level for t in result.targets.values()}
    return {
        "targets": len(result.targets),
        "findings": len(active),
        "suppressed": len(result.findings) - len(active),
        "errors": sum(1 for e in result.errors if e.kind == "error"),
        "warnings": sum(1 for e in result.errors if e.kind != "error"),
        "by_severity": by_sev,
        "fixable": sum(1 for f in active if f.fix is not None),
        "level": min(levels.values()) if levels else None,
        "fail_on": fail_on.label,
        "failed": any(severity_of(f) >= fail_on for f in active),
        "engine": result.engine_endpoint,
        "engine_error": result.engine_error,
    }


def exit_code(result: ScanResult, fail_on: Severity) -> int:
    """0 nothing at or above fail-on, 1 something is."""
    active = [f for f in result.findings if f.suppressed is None]
    return 1 if any(severity_of(f) >= fail_on for f in active) else 0
