"""`scan` and `fix` share their option names; `checks` explains its letters; the pre-commit
hook and the GitHub Actions example are usable as written."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

from lockdock.cli.entry import build_parser
from lockdock.cli.targets import plan

from .helpers import make_project

REPO = Path(__file__).resolve().parents[2]
SHARED = ("--select", "--ignore", "--severity", "--config", "--no-engine", "--require-engine", "--image",
          "--daemon-json", "--timeout")


def _options(parser: argparse.ArgumentParser, command: str) -> dict[str, str | None]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {opt: a.dest for a in sub.choices[command]._actions for opt in a.option_strings}


def test_scan_and_fix_share_option_names_and_dests():
    parser = build_parser()
    scan, fix = _options(parser, "scan"), _options(parser, "fix")
    for opt in SHARED:
        assert opt in scan and opt in fix, opt
        assert scan[opt] == fix[opt], opt
    assert fix["--check"] == "select"  # the old name of --select in fix


def test_timeout_option_reaches_the_scan_context(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["scan", "--no-engine", "--timeout", "7.5"])
    assert plan(args).ctx.timeout == 7.5
    args = build_parser().parse_args(["fix", "--no-engine", "--timeout", "3"])
    assert plan(args).ctx.timeout == 3


def test_bad_timeout_is_a_usage_error(tmp_path, run_lockdock):
    for value in ("0", "-1", "soon", "inf"):
        proc = run_lockdock("scan", "--no-engine", "--timeout", value, cwd=tmp_path)
        assert proc.returncode == 2 and "seconds" in proc.stderr, value


def test_fix_select_ignore_and_severity_filter_the_offers(tmp_path, run_lockdock):
    proj = make_project(tmp_path / "p")
    every = run_lockdock("fix", "--no-engine", "--unsafe", cwd=proj)
    assert every.returncode == 0, every.stderr
    shown = int(re.search(r"(\d+) fix\(es\) shown", every.stderr).group(1))
    assert shown >= 2
    ignored = run_lockdock("fix", "--no-engine", "--unsafe", "--ignore", "image,build,runtime,network,secrets,container",
                           cwd=proj)
    assert "0 fix(es) shown" in ignored.stderr and ignored.stdout == ""
    high = run_lockdock("fix", "--no-engine", "--unsafe", "--severity", "critical", cwd=proj)
    assert int(re.search(r"(\d+) fix\(es\) shown", high.stderr).group(1)) < shown
    only = run_lockdock("fix", "--no-engine", "--select", "image.package-cache", cwd=proj)
    assert "--no-install-recommends" in only.stdout and "HEALTHCHECK" not in only.stdout


def test_checks_prints_a_legend_for_every_where_letter(run_lockdock):
    out = run_lockdock("checks").stdout
    legend = next(line for line in out.splitlines() if line.startswith("WHERE:"))
    for letter in "DCIKHR":
        assert re.search(rf"\b{letter} [A-Za-z]", legend), letter


def test_pre_commit_hook_is_files_only_and_matches_docker_files(tmp_path, run_lockdock):
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "lockdock")
    assert hook["entry"].split()[:3] == ["lockdock", "scan", "--no-engine"]
    assert hook["language"] == "python" and hook.get("pass_filenames", True)
    pattern = re.compile(hook["files"])
    for name in ("Dockerfile", "app/Dockerfile.prod", "web.dockerfile", "Containerfile", "compose.yaml",
                 "docker-compose.prod.yml", "deploy/compose.override.yaml", ".dockerignore", ".gitignore",
                 "sub/.gitignore"):
        assert pattern.search(name), name
    for name in ("README.md", "src/app.py", "notes/compose.txt", "compose.json", "gitignore.md"):
        assert not pattern.search(name), name
    # As pre-commit runs it: the entry plus the staged file names.
    proj = make_project(tmp_path / "p")
    (proj / "compose.yaml").write_text("services:\n  web:\n    image: busybox:1.36\n    user: '1000'\n")
    proc = run_lockdock(*hook["entry"].split()[1:], *hook.get("args", []), "Dockerfile", "compose.yaml", cwd=proj)
    assert proc.returncode == 1 and "secrets.no-secrets-in-image" in proc.stdout


def test_github_actions_example_uploads_sarif():
    flow = yaml.safe_load((REPO / "docs" / "github-actions-lockdock.yml").read_text())
    steps = [s for job in flow["jobs"].values() for s in job["steps"]]
    scan = next(s for s in steps if "lockdock scan" in s.get("run", ""))
    assert "--format sarif" in scan["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] in scan["run"]
    assert upload.get("if") == "always()"  # findings (exit 1) are still uploaded
    job = next(iter(flow["jobs"].values()))
    assert job["permissions"]["security-events"] == "write"


def test_readme_documents_every_scan_and_fix_option():
    readme = (REPO / "README.md").read_text()
    parser = build_parser()
    for command in ("scan", "fix"):
        for opt in _options(parser, command):
            if opt in ("-h", "--help"):
                continue
            assert opt in readme, (command, opt)
    from lockdock.cli.scan import FORMATS

    for fmt in FORMATS:
        assert f"| `{fmt}`" in readme, fmt
