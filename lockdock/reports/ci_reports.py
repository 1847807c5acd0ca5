"""Line-oriented and CI formats: `compact` (one line per finding, for editors and grep) and
`gitlab` (GitLab Code Quality JSON).

Every string from a finding goes through `lockdock.text.display` (secrets masked, control
characters escaped), as in the other formats. Suppressed findings are left out: these
consumers have no notion of a suppression.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

from lockdock.model import Finding, Severity
from lockdock.reports.baseline import LineSource, fingerprint
from lockdock.reports.encode import dumps
from lockdock.reports.summary import summarize, summary_line
from lockdock.scan import ScanResult, severity_of
from lockdock.text import display


def where(f: Finding) -> str:
    """Where a finding is, as one token: `path:line` (or `path`) for files, `image@layerN` for
    an image layer, else the target's name (a container, an image, the host)."""
    loc = f.location
    if loc.image_layer is not None:
        return f"{display(f.target.name)}@layer{loc.image_layer.index}"
    path = loc.path or f.target.path
    if path:
        return display(path) + (f":{loc.line}" if loc.line else "")
    return display(f.target.name)


def render_compact(result: ScanResult, fail_on: Severity, *, quiet: bool = False,
                   meta: dict[str, Any] | None = None) -> str:
    """`where: SEVERITY check message` per unsuppressed finding, `where: error: message` per
    problem, then the summary line (left out with `quiet`)."""
    out = []
    for t in result.targets.values():
        for f in t.active:
            out.append(f"{where(f)}: {severity_of(f).label.upper()} {f.check} {display(f.message)}")
    for e in result.errors:
        prefix = f"{display(e.path)}: " if e.path else "lockdock: "
        out.append(f"{prefix}{e.kind}: {display(e.message)}")
    if not quiet:
        out.append(summary_line(summarize(result, fail_on, meta)))
    return "".join(line + "\n" for line in out)


# GitLab Code Quality severities: info, minor, major, critical, blocker.
GITLAB_SEVERITY = {
    Severity.INFO: "info",
    Severity.LOW: "minor",
    Severity.MEDIUM: "major",
    Severity.HIGH: "critical",
    Severity.CRITICAL: "blocker",
}


def to_gitlab(result: ScanResult, cwd: Path) -> list[dict[str, Any]]:
    """The Code Quality report: one issue per unsuppressed finding with `description`,
    `check_name`, `fingerprint` (the baseline fingerprint, made unique per occurrence),
    `severity` and `location.path` + `location.lines.begin` (1 when the finding has no line).
    Engine findings use the target as their path (`image:name`, `container:name`)."""
    lines = LineSource(cwd)
    seen: Counter[str] = Counter()
    issues = []
    for t in result.targets.values():
        for f in t.active:
            base = fingerprint(f, lines)
            seen[base] += 1
            unique = hashlib.sha256(f"{base}:{seen[base]}".encode()).hexdigest()
            path = f.location.path or f.target.path or f"{f.target.kind.value}:{f.target.name}"
            if f.location.image_layer is not None:
                path = f"{f.target.kind.value}:{f.target.name}@layer{f.location.image_layer.index}"
            issues.append({
                "type": "issue",
                "engine_name": "lockdock",
                "check_name": f.check,
                "description": display(f.message),
                "categories": ["Security"],
                "fingerprint": unique,
                "severity": GITLAB_SEVERITY[severity_of(f)],
                "location": {"path": display(path), "lines": {"begin": f.location.line or 1}},
            })
    return issues


def render_gitlab(result: ScanResult, cwd: Path) -> str:
    return dumps(to_gitlab(result, cwd), indent=True) + "\n"
