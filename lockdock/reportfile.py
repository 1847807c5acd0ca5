"""Reading `lockdock scan --format json` reports back: for `lockdock merge` and `tui --from`.

A report from another host is untrusted input. Each file is read with a size limit and
checked for the version-1 shape; an unreadable file is one error and the others go on;
an entry that does not fit (unknown check id, wrong types) is one error and the rest of
that report is kept. Strings are carried as they are and sanitised by the report writers
(`lockdock.reports.clean`, `text.sanitize`) like any scanned text.

Each report is tagged with a host name: its targets' `engine` when the report came from a
fleet scan, else the file name without `.json` (an orchestrator that fetches
`reports/<host>.json` names the host that way).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock import checks
from lockdock.model import (
    Applicability,
    Finding,
    Fix,
    ImageLayerRef,
    Location,
    ScanError,
    Severity,
    Suppression,
    Target,
    TargetKind,
)
from lockdock.scan import ScanResult, TargetResult
from lockdock.text import safe

MAX_REPORT_BYTES = 64 * 1024 * 1024
KEY_SEP = "|"


class ReportError(ValueError):
    """A report file that cannot be used at all; `str()` is one line naming the file."""


@dataclass
class ReportSubject:
    """A target read from a report: browsed read-only (no file or engine behind it)."""

    target: Target
    findings: list[Finding] = field(default_factory=list)
    host: str = ""

    @property
    def report_findings(self) -> list[Finding]:
        """The findings as the report has them (`scan.analyze_subject` runs no analyzer)."""
        return self.findings


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    return value


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _target(data: Any, host: str, seen: dict[tuple[Any, ...], Target] | None = None) -> Target:
    if not isinstance(data, dict):
        raise ValueError("target is not an object")
    ident = (data.get("kind"), data.get("name"), data.get("path"), data.get("engine"))
    if seen is not None and all(isinstance(x, (str, type(None))) for x in ident) and ident in seen:
        return seen[ident]  # one Target per target of a report, however many findings it has
    kind = TargetKind(_str(data.get("kind"), "target.kind"))
    name = _str(data.get("name"), "target.name")
    path = _opt_str(data.get("path"))
    engine = _opt_str(data.get("engine")) or host
    target = Target(kind, name, path, key=f"{engine}{KEY_SEP}{kind.value}:{path or ''}:{name}", engine=engine)
    if seen is not None:
        seen[ident] = target
    return target


def _finding(data: Any, host: str, seen: dict[tuple[Any, ...], Target]) -> Finding:
    if not isinstance(data, dict):
        raise ValueError("finding is not an object")
    check = _str(data.get("check"), "check")
    if check not in checks.CATALOGUE:
        raise ValueError(f"unknown check id {safe(check, 60)!r}")
    loc = data.get("location") if isinstance(data.get("location"), dict) else {}
    layer = loc.get("image_layer_detail") if isinstance(loc.get("image_layer_detail"), dict) else None
    ref = None
    if layer is not None and _opt_int(layer.get("index")) is not None:
        ref = ImageLayerRef(int(layer["index"]), _opt_str(layer.get("created_by")) or "",
                            _opt_str(layer.get("digest")), _opt_int(layer.get("size")))
    location = Location(_opt_str(loc.get("path")), _opt_int(loc.get("line")), _opt_int(loc.get("end_line")),
                        _opt_int(loc.get("column")), ref)
    sev = data.get("severity")
    fix = data.get("fix") if isinstance(data.get("fix"), dict) else None
    sup = data.get("suppressed") if isinstance(data.get("suppressed"), dict) else None
    target = _target(data.get("target"), host, seen)
    return Finding(
        check=check,
        target=target,
        message=_str(data.get("message"), "message"),
        location=location,
        evidence=_opt_str(data.get("evidence")),
        severity=Severity.parse(sev) if isinstance(sev, str) else None,
        fix=Fix(_str(fix.get("title"), "fix.title"), Applicability(fix.get("applicability")), check=check,
                target=target.key) if fix else None,
        suppressed=Suppression(_opt_str(sup.get("reason")) or "", _opt_str(sup.get("source")) or "") if sup else None,
    )


def load(path: Path) -> dict[str, Any]:
    """The parsed JSON of one report; raises `ReportError` naming the file."""
    shown = safe(str(path), 200)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise ReportError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_REPORT_BYTES:
        raise ReportError(f"{shown}: larger than {MAX_REPORT_BYTES // (1024 * 1024)} MiB; not a lockdock report")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ReportError(f"{shown}: not JSON ({safe(exc, 120)})") from None
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("findings"), list):
        raise ReportError(f"{shown}: not a lockdock JSON report (version 1, made by `lockdock scan --format json`)")
    return data


def subjects(data: dict[str, Any], host: str, errors: list[ScanError]) -> Iterator[ReportSubject]:
    """The targets of one parsed report with their findings; a bad entry is one error."""
    by_key: dict[str, ReportSubject] = {}
    seen: dict[tuple[Any, ...], Target] = {}
    for i, entry in enumerate(data.get("targets") or []):
        try:
            t = _target(entry, host, seen)
        except (ValueError, KeyError) as exc:
            errors.append(ScanError(None, f"{host}: target {i} left out: {safe(exc, 200)}"))
            continue
        by_key.setdefault(t.key, ReportSubject(t, host=host))
    for i, entry in enumerate(data.get("findings") or []):
        try:
            f = _finding(entry, host, seen)
        except (ValueError, KeyError, TypeError) as exc:
            errors.append(ScanError(None, f"{host}: finding {i} left out: {safe(exc, 200)}"))
            continue
        subject = by_key.setdefault(f.target.key, ReportSubject(f.target, host=host))
        f.target = subject.target
        subject.findings.append(f)
    for e in data.get("errors") or []:
        if isinstance(e, dict) and isinstance(e.get("message"), str):
            errors.append(ScanError(_opt_str(e.get("path")), f"{host}: {e['message']}",
                                    kind="warning" if e.get("kind") == "warning" else "error"))
    yield from by_key.values()


def host_name(path: Path, data: dict[str, Any], taken: set[str]) -> str:
    """The name a report's targets are tagged with when they carry no engine: the file stem."""
    base = path.name[:-5] if path.name.endswith(".json") else path.name
    name, n = base or "report", 2
    while name in taken:
        name, n = f"{base}#{n}", n + 1
    taken.add(name)
    return name


def merge(paths: list[Path]) -> tuple[ScanResult, int]:
    """One result from many reports; returns (result, how many files were read)."""
    result = ScanResult()
    taken: set[str] = set()
    read = 0
    hosts: list[str] = []
    for path in paths:
        try:
            data = load(path)
        except ReportError as exc:
            result.errors.append(ScanError(None, str(exc)))
            continue
        read += 1
        host = host_name(path, data, taken)
        hosts.append(host)
        for s in subjects(data, host, result.errors):
            tr = result.targets.setdefault(s.target.key, TargetResult(s.target, s))
            tr.findings.extend(s.findings)
    result.engine_endpoint = ", ".join(hosts) if hosts else None
    return result, read
