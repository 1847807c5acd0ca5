"""XML formats CI servers read: Checkstyle (Jenkins warnings-ng, reviewdog, GitLab via
converters) and JUnit (GitLab, Jenkins, Azure, GitHub test reporters).

Built with `xml.etree.ElementTree`, which escapes markup characters. Every string from a
finding goes through `lockdock.text.display` (secrets masked, control characters escaped);
the two characters XML 1.0 forbids that `display` keeps (U+FFFE, U+FFFF) are escaped too.
Suppressed findings are left out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

from lockdock import checks
from lockdock.model import Finding, Severity
from lockdock.reports.ci_reports import where
from lockdock.scan import ScanResult, severity_of
from lockdock.text import display

CHECKSTYLE_SEVERITY = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "info",
    Severity.INFO: "info",
}


def _text(value: Any) -> str:
    return display(value).replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")


def _file_of(f: Finding) -> str:
    if f.location.image_layer is None and (f.location.path or f.target.path):
        return _text(f.location.path or f.target.path)
    return _text(f"{f.target.kind.value}:{f.target.name}")


def _serialise(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_checkstyle(result: ScanResult) -> str:
    """`<checkstyle version="4.3">` with one `<file name>` per file (engine targets as
    `kind:name`), an `<error line column severity message source>` per finding (`source` is
    `lockdock.<check id>`, severity error/warning/info), and scan problems as errors of the
    file they concern (or `lockdock`)."""
    files: dict[str, list[dict[str, str]]] = defaultdict(list)
    for t in result.targets.values():
        for f in t.active:
            attrs = {
                "line": str(f.location.line or 0),
                "severity": CHECKSTYLE_SEVERITY[severity_of(f)],
                "message": _text(f.message if f.location.image_layer is None else f"{f.message} ({where(f)})"),
                "source": f"lockdock.{f.check}",
            }
            if f.location.column:
                attrs["column"] = str(f.location.column)
            files[_file_of(f)].append(attrs)
    for e in result.errors:
        files[_text(e.path) if e.path else "lockdock"].append({
            "line": "0",
            "severity": "error" if e.kind == "error" else "warning",
            "message": _text(e.message),
            "source": "lockdock.scan-problem",
        })
    root = ET.Element("checkstyle", {"version": "4.3"})
    for name, errors in files.items():
        node = ET.SubElement(root, "file", {"name": name})
        for attrs in errors:
            ET.SubElement(node, "error", attrs)
    return _serialise(root)


def render_junit(result: ScanResult) -> str:
    """`<testsuites name="lockdock" tests failures errors>` with one `<testsuite>` per target:
    a `<testcase classname="<check id>" name="<where>">` holding a `<failure message type>`
    (type = severity) per finding, or one passing testcase `no findings` for a clean target.
    Scan problems form a last suite `lockdock problems` whose testcases hold `<error>`."""
    root = ET.Element("testsuites", {"name": "lockdock"})
    total = failures = errors = 0
    for t in result.targets.values():
        suite_name = _text(f"{t.target.kind.value} {t.target.name}")
        suite = ET.SubElement(root, "testsuite", {"name": suite_name})
        cases = 0
        for f in t.active:
            check = checks.get(f.check)
            case = ET.SubElement(suite, "testcase", {"classname": f.check, "name": where(f), "time": "0"})
            failure = ET.SubElement(case, "failure", {
                "message": _text(f.message), "type": severity_of(f).label,
            })
            failure.text = _text(f"{check.title} (level {check.level}, {severity_of(f).label})"
                                 + (f"\nevidence: {f.evidence}" if f.evidence else ""))
            cases += 1
        if not cases:
            ET.SubElement(suite, "testcase", {"classname": suite_name, "name": "no findings", "time": "0"})
        suite.attrib.update({"tests": str(max(cases, 1)), "failures": str(cases), "errors": "0",
                             "skipped": "0", "time": "0"})
        total += max(cases, 1)
        failures += cases
    problems = [e for e in result.errors if e.kind == "error"]
    if problems:
        suite = ET.SubElement(root, "testsuite", {
            "name": "lockdock problems", "tests": str(len(problems)), "failures": "0",
            "errors": str(len(problems)), "skipped": "0", "time": "0",
        })
        for e in problems:
            case = ET.SubElement(suite, "testcase", {
                "classname": "lockdock", "name": _text(e.path or "scan"), "time": "0",
            })
            ET.SubElement(case, "error", {"message": _text(e.message), "type": "scan-problem"})
        total += len(problems)
        errors += len(problems)
    root.attrib.update({"tests": str(total), "failures": str(failures), "errors": str(errors), "time": "0"})
    return _serialise(root)
