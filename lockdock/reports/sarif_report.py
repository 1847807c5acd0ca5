"""SARIF 2.1.0: one run, rules from the catalogue, results with file regions."""

from __future__ import annotations

from typing import Any

from lockdock import __version__, checks
from lockdock.model import Finding, Severity
from lockdock.reports.clean import clean, each_or_error, needs_clean
from lockdock.reports.encode import dumps
from lockdock.reports.summary import summarize, summary_line
from lockdock.scan import ScanResult, severity_of

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SCORE = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _rule(check: checks.Check) -> dict[str, Any]:
    return {
        "id": check.id,
        "name": "".join(part.capitalize() for part in check.id.replace(".", "-").split("-")),
        "shortDescription": {"text": check.title},
        "fullDescription": {"text": f"{check.title} (checklist level {check.level})."},
        "helpUri": "https://github.com/lockdock/lockdock/blob/main/docs/checks.md#"
        + check.id.replace(".", ""),
        "help": {"text": f"Run `lockdock explain {check.id}`. References: {', '.join(check.references)}"},
        "defaultConfiguration": {"level": _LEVEL[check.severity]},
        "properties": {
            "tags": ["security", check.layer.value],
            "security-severity": _SCORE[check.severity],
            "precision": "high",
            "level": check.level,
        },
    }


def _location(f: Finding) -> list[dict[str, Any]]:
    path = f.location.path or f.target.path
    engine = f.target.engine
    # The logical location names the engine (or host of a merged report) at the top.
    qualified = f"{f.target.kind.value}:{f.target.name}"
    logical = {"name": f.target.name, "kind": "resource",
               "fullyQualifiedName": f"{engine}/{qualified}" if engine else qualified}
    if not path:
        return [{"logicalLocations": [logical]}]
    phys: dict[str, Any] = {"artifactLocation": {"uri": path.replace("\\", "/")}}
    if f.location.line:
        region: dict[str, Any] = {"startLine": f.location.line}
        if f.location.end_line and f.location.end_line >= f.location.line:
            region["endLine"] = f.location.end_line
        if f.location.column:
            region["startColumn"] = f.location.column
        phys["region"] = region
    if engine is not None:
        return [{"physicalLocation": phys, "logicalLocations": [logical]}]
    return [{"physicalLocation": phys}]


def to_sarif(result: ScanResult, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The SARIF log, every string sanitised (`reports.clean`); a finding whose data cannot
    be converted becomes a tool notification instead of failing the log. An engine that was
    not reachable and an empty scan are notifications too; asked-for targets that were not
    scanned (`meta["problems"]`) make `executionSuccessful` false."""
    return clean(_raw_sarif(result, meta))


def _raw_sarif(result: ScanResult, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """`to_sarif` before its strings are sanitised."""
    used = sorted({f.check for f in result.findings})
    rules = [_rule(checks.get(cid)) for cid in used]
    index = {cid: i for i, cid in enumerate(used)}
    extra: list[dict[str, Any]] = []
    results = each_or_error(result.findings, lambda f: _result(f, index), extra, lambda f: f"finding {f.check}")
    notifications = [
        {"level": "error" if e.kind == "error" else "warning", "message": {"text": f"{e.path}: {e.message}" if e.path else e.message}}
        for e in result.errors
    ] + [{"level": "error", "message": {"text": e["message"]}} for e in extra]
    s = summarize(result, Severity.HIGH, meta)
    if s["engine_status"] == "not reachable":
        notifications.append({"level": "warning", "message": {"text": f"{result.engine_error}; the engine was not scanned"}})
    if s["nothing_found"] and not s["findings"]:
        notifications.append({"level": "warning", "message": {"text": summary_line(s).split(";")[0]}})
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "lockdock",
                        "version": __version__,
                        "informationUri": "https://github.com/lockdock/lockdock",
                        "rules": rules,
                    }
                },
                "invocations": [
                    {"executionSuccessful": not s["problems"], "toolExecutionNotifications": notifications}
                ],
                "results": results,
            }
        ],
    }


def _result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    """One SARIF result (strings are sanitised by the caller)."""
    sev = severity_of(f)
    res: dict[str, Any] = {
        "ruleId": f.check,
        "ruleIndex": index[f.check],
        "level": _LEVEL[sev],
        "message": {"text": f.message},
        "locations": _location(f),
        "properties": {"severity": sev.label, "target": f.target.to_json()},
    }
    if f.target.engine is not None:
        res["properties"]["engine"] = f.target.engine
    if f.location.image_layer is not None:
        res["properties"]["imageLayer"] = f.location.image_layer.index
    if f.suppressed is not None:
        res["suppressions"] = [{"kind": "inSource" if f.suppressed.source == "pragma" else "external", "justification": f.suppressed.reason}]
    return res


def render(result: ScanResult, meta: dict[str, Any] | None = None) -> str:
    """The SARIF log as JSON text, indented two spaces: `to_sarif`, encoded once
    (`reports.encode`); only a log with something to escape (`reports.clean.needs_clean`) is
    sanitised and encoded again."""
    data = _raw_sarif(result, meta)
    try:
        text = dumps(data, indent=True)
    except (TypeError, ValueError):
        text = None
    if text is None or needs_clean(text):
        text = dumps(clean(data), indent=True)
    return text + "\n"


