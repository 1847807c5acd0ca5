"""Files passed as a list (pre-commit, CI) get the repository checks once, at the real
repository root: git's top level, else the current directory."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lockdock.context import ScanContext
from lockdock.discovery import discover, repository_root
from tests.conftest import scan_json

REPO_CHECKS = ("build.ci-scan", "secrets.gitignore")


def _git_repo(root: Path, ci: bool = True) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text(".env\nsecrets/\n*.key\n*.pem\n")
    if ci:
        (root / ".github" / "workflows").mkdir(parents=True)
        (root / ".github" / "workflows" / "images.yml").write_text(
            "on: push\njobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - uses: aquasecurity/trivy-action@0.24.0\n")
    for sub in ("services/api", "services/web", "deploy"):
        (root / sub).mkdir(parents=True)
    (root / "services/api/Dockerfile").write_text("FROM alpine:3.20\nUSER 1000\n")
    (root / "services/web/Dockerfile").write_text("FROM alpine:3.20\nUSER 1000\n")
    (root / "deploy/compose.yml").write_text("services:\n  api:\n    image: example/api:1.0.0\n")
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)


FILES = ("services/api/Dockerfile", "services/web/Dockerfile", "deploy/compose.yml")


def _repo_findings(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["check"], f["target"]["name"]) for f in report["findings"] if f["target"]["kind"] == "repo"]


def test_file_list_uses_the_git_top_level(tmp_path: Path, run_lockdock: Any) -> None:
    _git_repo(tmp_path)
    report = scan_json(run_lockdock, "--no-engine", *FILES, cwd=tmp_path)
    assert [f for f in _repo_findings(report) if f[0] in REPO_CHECKS] == []
    # One repository target, at the top level, not one per folder of the listed files.
    assert [t["name"] for t in report["targets"] if t["kind"] == "repo"] == ["."]


def test_file_list_from_a_subfolder_still_finds_the_root(tmp_path: Path, run_lockdock: Any) -> None:
    _git_repo(tmp_path)
    report = scan_json(run_lockdock, "--no-engine", "api/Dockerfile", "web/Dockerfile",
                       cwd=tmp_path / "services")
    assert [f for f in _repo_findings(report) if f[0] in REPO_CHECKS] == []


def test_missing_ci_is_reported_once_not_once_per_folder(tmp_path: Path, run_lockdock: Any) -> None:
    _git_repo(tmp_path, ci=False)
    report = scan_json(run_lockdock, "--no-engine", *FILES, cwd=tmp_path)
    ci = [f for f in _repo_findings(report) if f[0] == "build.ci-scan"]
    assert len(ci) == 1


def test_repository_root_without_git(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    assert repository_root(inner, tmp_path) == tmp_path  # inside the current directory
    elsewhere = tmp_path / "x"
    elsewhere.mkdir()
    assert repository_root(elsewhere, inner) == elsewhere  # outside it: the file's folder


def test_discovery_gives_one_repository_root_for_a_file_list(tmp_path: Path) -> None:
    _git_repo(tmp_path)
    ctx = ScanContext(cwd=tmp_path / "deploy")
    found = discover([tmp_path / f for f in FILES], ctx)
    assert found.repo_roots == [tmp_path]
    assert [p.relative_to(tmp_path).as_posix() for p in found.ci_configs] == [".github/workflows/images.yml"]
    assert len(found.dockerfiles) == 2 and len(found.compose_files) == 1
