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


_KINDS = {k.value: k for k in TargetKind}
_SEVERITIES = {s.name.lower(): s for s in Severity}
_APPLICABILITY = {a.value: a for a in Applicability}
_LABELS = {s: s.label for s in Severity}


def _target(data: Any, host: str, seen: dict[Any, Target] | None = None) -> Target:
    if not isinstance(data, dict):
        raise ValueError("target is not an object")
    ident = (data.get("kind"), data.get("name"), data.get("path"), data.get("engine"))
    if seen is not None:
        try:
            known = seen.get(ident)  # one Target per target of a report, however many findings it has
        except TypeError:  # an unhashable value (a list, an object): judged below
            known = None
        if known is not None:
            return known
    kind = _KINDS.get(data.get("kind"))  # type: ignore[arg-type]
    if kind is None:
        TargetKind(_str(data.get("kind"), "target.kind"))  # raises the usual message
    assert kind is not None
    name = _str(data.get("name"), "target.name")
    path = _opt_str(data.get("path"))
    engine = _opt_str(data.get("engine")) or host
    target = Target(kind, name, path, key=f"{engine}{KEY_SEP}{kind.value}:{path or ''}:{name}", engine=engine)
    if seen is not None and all(isinstance(x, (str, type(None))) for x in ident):
        seen[ident] = target
    return target


def _severity(value: Any) -> Severity | None:
    if not isinstance(value, str):
        return None
    sev = _SEVERITIES.get(value)
    return sev if sev is not None else Severity.parse(value)


def _location(loc: Any) -> Location:
    if not isinstance(loc, dict):
        return Location()
    layer = loc.get("image_layer_detail")
    ref = None
    if layer is not None and isinstance(layer, dict) and _opt_int(layer.get("index")) is not None:
        ref = ImageLayerRef(int(layer["index"]), _opt_str(layer.get("created_by")) or "",
                            _opt_str(layer.get("digest")), _opt_int(layer.get("size")))
    path, line, end, column = loc.get("path"), loc.get("line"), loc.get("end_line"), loc.get("column")
    # `type(x) is int` also leaves out bools, as `_opt_int` does.
    return Location(path if type(path) is str else None, line if type(line) is int else None,
                    end if type(end) is int else None, column if type(column) is int else None, ref)


def _finding(data: Any, host: str, seen: dict[Any, Target]) -> Finding:
    if not isinstance(data, dict):
        raise ValueError("finding is not an object")
    check = _str(data.get("check"), "check")
    if check not in checks.CATALOGUE:
        raise ValueError(f"unknown check id {safe(check, 60)!r}")
    fix = data.get("fix")
    sup = data.get("suppressed")
    target = _target(data.get("target"), host, seen)
    message = _str(data.get("message"), "message")
    evidence = data.get("evidence")
    return Finding(
        check=check,
        target=target,
        message=message,
        location=_location(data.get("location")),
        evidence=evidence if isinstance(evidence, str) else None,
        severity=_severity(data.get("severity")),
        fix=Fix(_str(fix.get("title"), "fix.title"), _APPLICABILITY.get(fix.get("applicability"))
                or Applicability(fix.get("applicability")), check=check, target=target.key)
        if isinstance(fix, dict) else None,
        suppressed=Suppression(_opt_str(sup.get("reason")) or "", _opt_str(sup.get("source")) or "")
        if isinstance(sup, dict) else None,
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


def render_json(result: ScanResult, fail_on: Severity, *, pretty: bool = False) -> str:
    """The merged report as JSON: the same text `lockdock.reports.json_report.render` writes
    for `result` (version-1 shape, strings sanitised the same way), built with each check's
    catalogue facts and each target's JSON made once rather than once per finding (a fleet
    merge has tens of thousands of findings over a few dozen checks)."""
    from lockdock.reports.clean import clean, needs_clean
    from lockdock.reports.encode import dumps
    from lockdock.reports.summary import summarize

    facts: dict[str, tuple[str, int, str, str]] = {}
    targets: dict[int, dict[str, Any]] = {}
    findings: list[dict[str, Any]] = []
    for tr in result.targets.values():
        for f in tr.findings:
            fact = facts.get(f.check)
            if fact is None:
                c = checks.get(f.check)
                fact = facts[f.check] = (f.layer.value, c.level, c.title, _LABELS[c.severity])
            t = targets.get(id(f.target))
            if t is None:
                t = targets[id(f.target)] = f.target.to_json()
            fix, sup = f.fix, f.suppressed
            findings.append({
                "check": f.check, "layer": fact[0], "level": fact[1],
                "severity": _LABELS[f.severity] if f.severity is not None else fact[3],
                "title": fact[2], "target": t, "location": f.location.to_json(), "message": f.message,
                "evidence": f.evidence, "fix": fix.summary_json() if fix is not None else None,
                "suppressed": {"reason": sup.reason, "source": sup.source} if sup else None,
            })
    target_rows = []
    for tr in result.targets.values():
        active = [f for f in tr.findings if f.suppressed is None]
        level = min(facts[f.check][1] for f in active) - 1 if active else 4
        target_rows.append({**tr.target.to_json(), "level": level, "findings": len(active)})
    data: dict[str, Any] = {
        "version": 1,
        "findings": findings,
        "targets": target_rows,
        "errors": [e.to_json() for e in result.errors],
        "summary": summarize(result, fail_on),
    }
    if result.engines:
        data["engines"] = result.engines
    text = dumps(data, indent=pretty)
    if needs_clean(text):
        text = dumps(clean(data), indent=pretty)
    return text + "\n"
