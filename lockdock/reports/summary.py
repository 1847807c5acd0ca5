"""Counts and statements shared by every report format.

`summarize` is the JSON report's `summary` object; the other formats take their summary line
and their run status from it, so every format says the same thing: how many findings at which
severity, whether the engine was scanned, whether anything was found to scan at all.
"""

from __future__ import annotations

from typing import Any

from lockdock import checks
from lockdock.model import Severity, TargetKind
from lockdock.scan import ScanResult, severity_of


def nothing_found(result: ScanResult) -> bool:
    """True when the scan had nothing to look at: no Dockerfile, compose file, repository file
    (.gitignore, CI config, secret-looking file) or engine object, only empty folders."""
    for t in result.targets.values():
        if t.target.kind != TargetKind.REPO:
            return False
        subject = t.subject
        if t.findings or any(
            getattr(subject, name, None)
            for name in ("gitignore", "secret_files", "ci_configs", "dockerfiles", "compose_files")
        ):
            return False
    return True


def engine_status(result: ScanResult) -> str:
    """"scanned", "not reachable" or "not scanned" (files only, or not asked)."""
    if result.engine_error:
        return "not reachable"
    return "scanned" if result.engine_endpoint else "not scanned"


def summarize(result: ScanResult, fail_on: Severity, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The summary object. `meta` (from the CLI) adds: `failed` (the exit decision over every
    finding, also those `--severity` hides), `hidden` and `severity_threshold` (`--severity`),
    `baselined` (`--baseline`), `problems` (asked-for targets not scanned)."""
    # One pass over every finding (a big scan has tens of thousands): the counts, and each
    # target's level (`TargetResult.level`: one below its lowest failing check's level).
    counts = dict.fromkeys(Severity, 0)
    total = active = fixable = 0
    levels: list[int] = []
    for t in result.targets.values():
        lowest = 5
        for f in t.findings:
            total += 1
            if f.suppressed is not None:
                continue
            active += 1
            check = checks.get(f.check)
            counts[f.severity if f.severity is not None else check.severity] += 1
            if f.fix is not None:
                fixable += 1
            if check.level < lowest:
                lowest = check.level
        levels.append(lowest - 1 if lowest < 5 else 4)
    by_sev = {s.label: counts[s] for s in sorted(Severity, reverse=True)}
    empty = nothing_found(result)
    summary: dict[str, Any] = {
        "targets": len(result.targets),
        "findings": active,
        "suppressed": total - active,
        "errors": sum(1 for e in result.errors if e.kind == "error"),
        "warnings": sum(1 for e in result.errors if e.kind != "error"),
        "by_severity": by_sev,
        "fixable": fixable,
        "level": min(levels) if levels and not empty else None,
        "fail_on": fail_on.label,
        "failed": any(n for sev, n in counts.items() if sev >= fail_on),
        "engine": result.engine_endpoint,
        "engine_error": result.engine_error,
        "engine_status": engine_status(result),
        "nothing_found": empty,
        "hidden": 0,
        "severity_threshold": None,
        "baselined": 0,
        "problems": 0,
    }
    summary.update(meta or {})
    return summary


def summary_line(s: dict[str, Any]) -> str:
    """One sentence for people (text and compact formats, `-q`)."""
    if s["nothing_found"] and not s["findings"]:
        head = ("nothing found to scan (no Dockerfile, compose file, repository file or engine "
                "object)")
    else:
        sev = ", ".join(f"{n} {name}" for name, n in s["by_severity"].items() if n)
        head = (f"{s['findings']} findings ({sev or 'none'}) in {s['targets']} targets, "
                f"{s['suppressed']} suppressed, {s['fixable']} fixable")
    parts = [head]
    if s["hidden"]:
        parts.append(f"{s['hidden']} below {s['severity_threshold']} not shown")
    if s["baselined"]:
        parts.append(f"{s['baselined']} baselined")
    parts.append(f"{s['errors']} errors")
    if s["engine_status"] == "not reachable":
        parts.append("engine: not scanned (unreachable)")
    if s["level"] is not None:
        parts.append(f"lowest level reached {s['level']}/4")
    verdict = "ERROR (not everything asked for was scanned)" if s["problems"] else (
        "FAILED" if s["failed"] else "passed")
    return "; ".join(parts) + f"; fail-on {s['fail_on']}: {verdict}"


def exit_code(result: ScanResult, fail_on: Severity) -> int:
    """0 nothing at or above fail-on, 1 something is."""
    active = [f for f in result.findings if f.suppressed is None]
    return 1 if any(severity_of(f) >= fail_on for f in active) else 0
