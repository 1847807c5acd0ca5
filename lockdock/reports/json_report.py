"""The JSON report (version 1). Its shape is a public contract; keys may only be added."""

from __future__ import annotations

from typing import Any

from lockdock import checks
from lockdock.model import ChecklistLayer, Finding, Severity
from lockdock.reports.clean import clean, each_or_error, needs_clean
from lockdock.reports.encode import FRAGMENT, dumps, encoded_json
from lockdock.reports.summary import summarize
from lockdock.scan import ScanResult

_LABELS = {s: s.name.lower() for s in Severity}  # Severity.label, without the enum property per call
# check id -> (layer, level, title, default severity label): the same for every finding of a check.
_CHECK_FIELDS: dict[str, tuple[str, int, str, str]] = {}


def _check_fields(check_id: str) -> tuple[str, int, str, str]:
    found = _CHECK_FIELDS.get(check_id)
    if found is None:
        check = checks.get(check_id)  # KeyError for an unknown id, as before
        layer = ChecklistLayer(check_id.split(".", 1)[0]).value
        found = _CHECK_FIELDS[check_id] = (layer, check.level, check.title, _LABELS[check.severity])
    return found


def finding_json(f: Finding, shared: dict[int, tuple[Any, dict[str, Any]]] | None = None) -> dict[str, Any]:
    """One finding of the report. With `shared` (render's, for one report), the target and
    location objects many findings have in common are converted once and their dicts shared
    by those findings (the encoded text is the same)."""
    layer, level, title, default_severity = _check_fields(f.check)
    if shared is None:
        target, location = f.target.to_json(), f.location.to_json()
    else:
        target, location = _converted(shared, f.target), _converted(shared, f.location)
    return {
        "check": f.check,
        "layer": layer,
        "level": level,
        "severity": default_severity if f.severity is None else _LABELS[f.severity],
        "title": title,
        "target": target,
        "location": location,
        "message": f.message,
        "evidence": f.evidence,
        "fix": f.fix.summary_json() if f.fix is not None else None,
        "suppressed": {"reason": f.suppressed.reason, "source": f.suppressed.source}
        if f.suppressed
        else None,
    }


def encoded_entries(findings: list[Finding]) -> bytes | None:
    """The findings' entries of a compact report, `finding_json` of each encoded as that report
    writes it (`reports.encode`) and joined by commas (b"" for none); None when orjson is
    missing or refuses the data, or a finding cannot be converted (the report then converts
    those findings itself). Set as `ScanContext.report_entries` by `lockdock scan --format
    json` for a compact report, so the processes analysing in parallel make these entries."""
    if not findings:
        return b""
    shared: dict[int, tuple[Any, dict[str, Any]]] = {}
    try:
        entries = [finding_json(f, shared) for f in findings]
    except Exception:  # noqa: BLE001 - converted again at render time, where the error is reported
        return None
    encoded = encoded_json(entries)
    return None if encoded is None else encoded[1:-1]


def _converted(shared: dict[int, tuple[Any, dict[str, Any]]], obj: Any) -> dict[str, Any]:
    """`obj.to_json()`, once per object (keyed by identity; the object is kept with its dict,
    so an id is never reused while the table lives)."""
    found = shared.get(id(obj))
    if found is None:
        found = shared[id(obj)] = (obj, obj.to_json())
    return found[1]


def to_json(result: ScanResult, fail_on: Severity, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report as JSON-able data, every string sanitised (`reports.clean`).

    A finding or target whose data cannot be converted is left out with an entry in
    `errors`; the rest of the report is unaffected."""
    return clean(_raw_json(result, fail_on, meta))


def _raw_json(result: ScanResult, fail_on: Severity, meta: dict[str, Any] | None = None, *,
              share: bool = False, findings: Any = None, extra: list[dict[str, Any]] | None = None,
              ) -> dict[str, Any]:
    """The report's data; with `share`, equal parts of findings are one dict (for encoding
    only: not for callers that may change the data). `findings` (with the `extra` errors their
    conversion gave) stands for the findings' entries when the caller made them."""
    extra = [] if extra is None else extra
    shared: dict[int, tuple[Any, dict[str, Any]]] | None = {} if share else None
    if findings is None:
        findings = each_or_error(result.findings, lambda f: finding_json(f, shared), extra,
                                 lambda f: f"finding {f.check}")
    targets = each_or_error(
        result.targets.values(),
        lambda t: {**t.target.to_json(), "level": t.level, "findings": len(t.active)},
        extra,
        lambda t: f"target {t.target.key}",
    )
    data: dict[str, Any] = {
        "version": 1,
        "findings": findings,
        "targets": targets,
        "errors": [e.to_json() for e in result.errors] + extra,
        "summary": summarize(result, fail_on, meta),
    }
    if result.engines:  # a fleet scan: one entry per engine (lockdock.fleet.EngineRun)
        data["engines"] = result.engines
    return data


def render(result: ScanResult, fail_on: Severity, *, pretty: bool = True, meta: dict[str, Any] | None = None) -> str:
    """Indented for people; compact for pipes and files (`reports.encode`: the text of
    `json.dumps(..., ensure_ascii=False)`).

    Encoded once; only a report with something to escape is cleaned and encoded again. A
    compact report takes the entries made ahead (`Finding.encoded`) as they are."""
    text = None if pretty else _with_entries(result, fail_on, meta)
    data = None
    if text is None:
        data = _raw_json(result, fail_on, meta, share=True)
        try:
            text = dumps(data, indent=pretty)
        except (TypeError, ValueError):
            text = None
    if text is None or needs_clean(text):
        if data is None:
            data = _raw_json(result, fail_on, meta, share=True)
        text = dumps(clean(data), indent=pretty)
    return text + "\n"


def _with_entries(result: ScanResult, fail_on: Severity, meta: dict[str, Any] | None) -> str | None:
    """The compact report, its findings array joined from the entries made ahead
    (`TargetResult.encoded`) where a target still holds exactly the findings they were made
    for, and encoded here for the other targets; None when no target has entries made ahead
    or orjson cannot write the report so (the caller encodes it the ordinary way)."""
    targets = result.targets.values()
    if FRAGMENT is None or not any(t.encoded is not None for t in targets):
        return None
    extra: list[dict[str, Any]] = []
    shared: dict[int, tuple[Any, dict[str, Any]]] = {}
    parts: list[bytes] = []
    for t in targets:
        made = t.encoded
        if made is not None and made[0] == t.findings:  # the same findings (list equality: identity first)
            if made[1]:
                parts.append(made[1])
            continue
        entries = each_or_error(t.findings, lambda f: finding_json(f, shared), extra,
                                lambda f: f"finding {f.check}")
        if entries:
            encoded = encoded_json(entries)
            if encoded is None:
                return None
            parts.append(encoded[1:-1])
    array = FRAGMENT(b"[" + b",".join(parts) + b"]")
    try:
        return dumps(_raw_json(result, fail_on, meta, share=True, findings=array, extra=extra), indent=False)
    except (TypeError, ValueError):
        return None
