"""The human report: by target, then by checklist layer, severity spelled out.

Colour is an extra (only on a terminal, never with NO_COLOR); the words carry the meaning.
Every string is sanitised here once more, since it may quote files or engine data.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from lockdock import checks
from lockdock.model import LAYER_ORDER, Finding, Severity
from lockdock.reports.summary import summarize, summary_line
from lockdock.scan import ScanResult, TargetResult, severity_of
from lockdock.text import sanitize

_COLOURS = {
    Severity.CRITICAL: "\x1b[1;35m",
    Severity.HIGH: "\x1b[1;31m",
    Severity.MEDIUM: "\x1b[33m",
    Severity.LOW: "\x1b[36m",
    Severity.INFO: "\x1b[2m",
}
_RESET = "\x1b[0m"


def use_colour(stream_is_tty: bool) -> bool:
    return stream_is_tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _sev(sev: Severity, colour: bool) -> str:
    word = sev.label.upper().ljust(8)
    return f"{_COLOURS[sev]}{word}{_RESET}" if colour else word


def _where(f: Finding) -> str:
    loc = f.location
    if loc.image_layer is not None:
        cmd = sanitize(loc.image_layer.created_by)[:60]
        return f"layer {loc.image_layer.index} ({cmd})"
    if loc.path and loc.line:
        end = f"-{loc.end_line}" if loc.end_line and loc.end_line != loc.line else ""
        return f"{sanitize(loc.path)}:{loc.line}{end}"
    if loc.path:
        return sanitize(loc.path)
    return ""


def _target_block(t: TargetResult, colour: bool, show_suppressed: bool) -> list[str]:
    shown = t.findings if show_suppressed else t.active
    head = f"{t.target.kind.value} {sanitize(t.target.name)}"
    if t.target.engine is not None and t.target.kind.value != "host":
        head += f" on {sanitize(t.target.engine)}"
    if t.target.path and t.target.path != t.target.name:
        head += f" ({sanitize(t.target.path)})"
    worst = t.worst
    lines = [f"{head}  level {t.level}/4" + (f", worst {worst.label}" if worst else ", clean")]
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in shown:
        groups[f.layer.value].append(f)
    for layer in LAYER_ORDER:
        items = groups.get(layer.value)
        if not items:
            continue
        lines.append(f"  [{layer.value}]")
        for f in sorted(items, key=lambda x: (-severity_of(x), x.location.line or 0)):
            where = _where(f)
            mark = "  (suppressed: " + sanitize(f.suppressed.reason) + ")" if f.suppressed else ""
            lines.append(
                f"    {_sev(severity_of(f), colour)} {f.check}  {sanitize(f.message)}{mark}"
            )
            if where:
                lines.append(f"             at {where}")
            if f.evidence:
                lines.append(f"             evidence: {sanitize(f.evidence)}")
            if f.fix is not None and not f.suppressed:
                kind = "safe fix" if f.fix.applicability.value == "safe" else "fix changes behaviour"
                lines.append(f"             {kind}: {sanitize(f.fix.title)}")
    return lines


def render(result: ScanResult, fail_on: Severity, *, colour: bool = False, show_suppressed: bool = False,
           quiet_clean: bool = True, meta: dict[str, Any] | None = None) -> str:
    """The report: the engine line, each target with findings, problems, the summary line
    (`summary.summary_line`). `meta` as for `summary.summarize`."""
    out: list[str] = []
    if result.engine_error:
        out.append(sanitize(result.engine_error) + "; file checks still ran")
    elif result.engines:
        for e in result.engines:
            state = f"error: {e['error']}" if e.get("error") else f"{e.get('kind')} {e.get('version')}; host settings from {e.get('host_settings')}"
            out.append(f"engine {sanitize(e.get('name'))}: {sanitize(state)}")
    elif result.engine_endpoint:
        out.append(f"engine: {sanitize(result.engine_endpoint)}")
    for t in result.targets.values():
        if quiet_clean and not (t.findings if show_suppressed else t.active):
            continue
        out.append("")
        out.extend(_target_block(t, colour, show_suppressed))
    if result.errors:
        out.append("")
        out.append("problems:")
        for e in result.errors:
            where = f"{sanitize(e.path)}: " if e.path else ""
            out.append(f"  {e.kind}: {where}{sanitize(e.message)}")
    out.append("")
    out.append(summary_line(summarize(result, fail_on, meta)))
    return "\n".join(out).lstrip("\n") + "\n"


WHERE_LEGEND = (
    ("D", "Dockerfile"),
    ("C", "compose file or service"),
    ("I", "image"),
    ("K", "container"),
    ("H", "host: daemon.json, client config, auditd"),
    ("R", "repository: .gitignore, CI config, secret files"),
)


def render_checks() -> str:
    """The catalogue table, the legend of its WHERE letters, the ShellCheck note."""
    rows = ["ID                            LEVEL SEVERITY  WHERE       FIX"]
    for c in checks.CHECKS:
        fix = c.fix.value if c.fix is not None else "-"
        rows.append(f"{c.id:<30}{c.level:<6}{c.severity.label:<10}{' '.join(c.where):<12}{fix}")
    rows.append("")
    rows.append("WHERE: " + "; ".join(f"{letter} {what}" for letter, what in WHERE_LEGEND))
    rows.append("FIX: safe keeps behaviour; unsafe changes it (applied only with --unsafe); - none")
    rows.append("")
    rows.append(_shellcheck_note())
    return "\n".join(rows) + "\n"


def _shellcheck_note() -> str:
    """Which part of the checks needs ShellCheck, and whether it was found on PATH."""
    import shutil

    state = "found" if shutil.which("shellcheck") else "not found; install it or lockdock[shellcheck]"
    return (
        "build.shell-safety: ShellCheck's findings on RUN bodies need a `shellcheck` binary on "
        f"PATH ({state}); lockdock's own pipe, cd and rm checks work without it."
    )
