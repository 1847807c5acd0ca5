"""The report formats CI servers and editors read (issue 15 CLI): compact, gitlab,
checkstyle, junit -- each checked by a consumer's view of it -- plus -q and --severity."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from tests.conftest import scan_json

from .helpers import FORMATS, SECRET, make_project

# Written from GitLab's Code Quality report format: an array of issues, each with the
# fields GitLab requires (description, check_name, fingerprint, severity, location.path,
# location.lines.begin); severity is one of GitLab's five.
GITLAB_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "minLength": 1},
                    "lines": {"type": "object", "required": ["begin"],
                              "properties": {"begin": {"type": "integer", "minimum": 1}}},
                },
            },
        },
    },
}
COMPACT = re.compile(r"^(?P<where>[^ ]+?)(:(?P<line>\d+))?: (?P<sev>CRITICAL|HIGH|MEDIUM|LOW|INFO) "
                     r"(?P<check>[a-z]+\.[a-z0-9-]+) (?P<message>.+)$")


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "proj")


def _active(report):
    return [f for f in report["findings"] if f["suppressed"] is None]


def test_compact_is_one_line_per_finding(project, run_lockdock):
    report = scan_json(run_lockdock, "--no-engine", cwd=project)
    proc = run_lockdock("scan", "--no-engine", "--format", "compact", cwd=project)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[-1].endswith("fail-on high: FAILED")
    parsed = [COMPACT.match(line) for line in lines[:-1]]
    assert all(parsed), [line for line, m in zip(lines, parsed, strict=False) if not m]
    assert len(parsed) == len(_active(report))
    want = {(f["location"]["path"], f["location"]["line"], f["severity"].upper(), f["check"])
            for f in _active(report) if f["location"]["line"]}
    got = {(m["where"], int(m["line"]), m["sev"], m["check"]) for m in parsed if m["line"]}
    assert want == got


def test_gitlab_code_quality_validates_and_fingerprints_are_unique(project, run_lockdock):
    proc = run_lockdock("scan", "--no-engine", "--format", "gitlab", cwd=project)
    assert proc.returncode == 1
    issues = json.loads(proc.stdout)
    jsonschema.Draft7Validator(GITLAB_SCHEMA).validate(issues)
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    secret = [i for i in issues if i["check_name"] == "secrets.no-secrets-in-image"]
    assert secret and secret[0]["severity"] == "blocker" and secret[0]["location"] == {"path": "Dockerfile", "lines": {"begin": 2}}
    # Stable across runs (GitLab compares the merge request's report with the target branch's).
    assert json.loads(run_lockdock("scan", "--no-engine", "--format", "gitlab", cwd=project).stdout) == issues


def test_checkstyle_parses_with_the_expected_structure(project, run_lockdock):
    proc = run_lockdock("scan", "--no-engine", "--format", "checkstyle", cwd=project)
    root = ET.fromstring(proc.stdout)
    assert root.tag == "checkstyle" and root.get("version")
    files = {f.get("name"): f for f in root.findall("file")}
    assert "Dockerfile" in files
    errors = files["Dockerfile"].findall("error")
    assert errors
    for e in errors:
        assert e.get("severity") in ("error", "warning", "info")
        assert int(e.get("line")) >= 0 and e.get("message") and e.get("source").startswith("lockdock.")
    assert any(e.get("source") == "lockdock.secrets.no-secrets-in-image" and e.get("line") == "2"
               and e.get("severity") == "error" for e in errors)


def test_junit_counts_match_what_consumers_read(project, run_lockdock):
    report = scan_json(run_lockdock, "--no-engine", cwd=project)
    proc = run_lockdock("scan", "--no-engine", "--format", "junit", cwd=project)
    root = ET.fromstring(proc.stdout)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert sum(int(s.get("tests")) for s in suites) == int(root.get("tests"))
    assert sum(int(s.get("failures")) for s in suites) == int(root.get("failures")) == len(_active(report))
    for s in suites:
        cases = s.findall("testcase")
        assert len(cases) == int(s.get("tests"))
        assert sum(1 for c in cases if c.find("failure") is not None) == int(s.get("failures"))
        for c in cases:
            assert c.get("classname") and c.get("name")
            failure = c.find("failure")
            if failure is not None:
                assert failure.get("message") and failure.get("type") in ("critical", "high", "medium", "low", "info")


def test_junit_clean_target_is_a_passing_case(tmp_path, run_lockdock):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nUSER 1000\n")
    root = ET.fromstring(run_lockdock("scan", "--no-engine", "--format", "junit", "--select", "container",
                                      cwd=tmp_path).stdout)
    suite = next(s for s in root.findall("testsuite") if s.get("name").startswith("dockerfile"))
    assert suite.get("failures") == "0" and suite.find("testcase").get("name") == "no findings"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_escapes_control_characters_and_masks_secrets(tmp_path, run_lockdock, fmt):
    proj = tmp_path / "p"
    proj.mkdir()
    # An escape sequence in a label value and in a file name, a token in an ENV.
    (proj / "Dockerfile.\x1b[31mred").write_text(
        f'FROM python:3.12\nLABEL note="\x1b]0;pwned\x07"\nENV GITHUB_TOKEN={SECRET}\nEXPOSE 22\n')
    proc = run_lockdock("scan", "--no-engine", "--format", fmt, cwd=proj)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "\x1b" not in out and "\x07" not in out
    assert SECRET not in out and SECRET[4:] not in out
    assert "Dockerfile.\\e[31mred" in out.replace("\\\\", "\\")
    if fmt in ("checkstyle", "junit"):
        ET.fromstring(out)


def test_format_help_lists_every_format(run_lockdock):
    out = run_lockdock("scan", "--help").stdout
    for fmt in FORMATS:
        assert re.search(rf"^  {fmt} +\S", out, re.M), fmt
    assert "--timeout SECONDS" in out and "default 600" in out


def test_quiet_prints_nothing_on_success_and_findings_without_summary_on_failure(project, run_lockdock):
    ok = run_lockdock("scan", "--no-engine", "-q", "--fail-on", "critical", "--ignore", "secrets", cwd=project)
    assert ok.returncode == 0 and ok.stdout == "" and ok.stderr == ""
    assert run_lockdock("scan", "--no-engine", "-q", "--format", "compact", "--fail-on", "critical",
                        "--ignore", "secrets", cwd=project).stdout == ""
    bad = run_lockdock("scan", "--no-engine", "-q", "--format", "compact", cwd=project)
    assert bad.returncode == 1
    assert bad.stdout and all(COMPACT.match(line) for line in bad.stdout.splitlines())
    text = run_lockdock("scan", "--no-engine", "--quiet", cwd=project)
    assert "secrets.no-secrets-in-image" in text.stdout and "fail-on" not in text.stdout
    # Machine formats are data, not chatter: -q leaves them whole.
    data = json.loads(run_lockdock("scan", "--no-engine", "-q", "--format", "json", "--fail-on", "critical",
                                   "--ignore", "secrets", cwd=project).stdout)
    assert data["version"] == 1


def test_severity_shows_only_findings_at_or_above_and_keeps_fail_on(project, run_lockdock):
    full = scan_json(run_lockdock, "--no-engine", cwd=project)
    high = scan_json(run_lockdock, "--no-engine", "--severity", "high", cwd=project)
    assert high["findings"] and {f["severity"] for f in high["findings"]} <= {"high", "critical"}
    assert high["summary"]["hidden"] == len(_active(full)) - len(_active(high))
    assert high["summary"]["severity_threshold"] == "high"
    # --severity hides, --fail-on decides: a hidden high finding still fails the run.
    crit_only = run_lockdock("scan", "--no-engine", "--severity", "critical", "--ignore", "secrets",
                             "--format", "compact", cwd=project)
    assert crit_only.returncode == 1
    assert crit_only.stdout.splitlines()[0].startswith("0 findings")
    assert "below critical not shown" in crit_only.stdout
    assert run_lockdock("scan", "--no-engine", "--severity", "bogus", cwd=project).returncode == 2


@pytest.mark.engine
def test_compact_names_image_layers(busybox_image, tmp_path, run_lockdock):
    proc = run_lockdock("scan", "--image", busybox_image, "--format", "compact", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()[:-1]
    assert lines and all(COMPACT.match(line) for line in lines)
    assert any(line.startswith(f"{busybox_image}@layer") and " HIGH container.non-root " in line for line in lines)
