"""Repository checks end to end through `lockdock scan`: what they catch and what they don't."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.conftest import scan_json


def _ids(report, check):
    return [f for f in report["findings"] if f["check"] == check and f["suppressed"] is None]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd, check=True, capture_output=True)


def test_gitignore_missing_patterns(tmp_path, run_lockdock):
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    (tmp_path / ".env").write_text("X=1\n")
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    (f,) = _ids(report, "secrets.gitignore")
    assert f["target"]["kind"] == "repo"
    assert f["location"]["path"] == ".gitignore"
    for pattern in (".env", "secrets/", "*.key", "*.pem"):
        assert pattern in f["message"]
    assert f["fix"] is None or f["fix"]["applicability"] == "safe"


def test_gitignore_complete_is_clean(tmp_path, run_lockdock):
    (tmp_path / ".gitignore").write_text(".env\nsecrets/\n*.key\n*.pem\n")
    (tmp_path / ".env").write_text("X=1\n")
    os.chmod(tmp_path / ".env", 0o600)
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    assert _ids(report, "secrets.gitignore") == []


def test_gitignore_globstar_and_negation(tmp_path, run_lockdock):
    (tmp_path / ".gitignore").write_text("**/.env\n**/secrets/**\n*.key\n*.pem\n!keep.pem\n")
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    assert _ids(report, "secrets.gitignore") == []


def test_tracked_secret_file_is_reported_even_when_ignored(tmp_path, run_lockdock):
    _git(tmp_path, "init", "-q")
    (tmp_path / "server.key").write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
    os.chmod(tmp_path / "server.key", 0o600)
    _git(tmp_path, "add", "server.key")
    (tmp_path / ".gitignore").write_text(".env\nsecrets/\n*.key\n*.pem\n")
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    (f,) = _ids(report, "secrets.gitignore")
    assert "git tracks the secret file server.key" in f["message"]
    assert f["location"]["path"] == "server.key"
    # The key material itself never reaches the report.
    assert "BEGIN PRIVATE KEY" not in str(report)


def test_no_git_and_no_gitignore_is_not_judged(tmp_path, run_lockdock):
    (tmp_path / "readme.txt").write_text("hello\n")
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    assert _ids(report, "secrets.gitignore") == []


def test_file_permissions(tmp_path, run_lockdock):
    (tmp_path / "secrets").mkdir()
    loose = tmp_path / "secrets" / "db_password.txt"
    tight = tmp_path / "id_rsa"
    public = tmp_path / "id_rsa.pub"
    for p in (loose, tight, public):
        p.write_text("x\n")
    os.chmod(loose, 0o644)
    os.chmod(tight, 0o600)
    os.chmod(public, 0o644)
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    found = _ids(report, "secrets.file-permissions")
    assert [f["location"]["path"] for f in found] == ["secrets/db_password.txt"]
    assert "0644" in found[0]["message"]


def test_rotation_uses_kind_specific_periods(tmp_path, run_lockdock):
    old_pw = tmp_path / ".env"
    young_key = tmp_path / "tls.key"
    old_key = tmp_path / "old.pem"
    for p in (old_pw, young_key, old_key):
        p.write_text("x\n")
        os.chmod(p, 0o600)
    now = time.time()
    os.utime(old_pw, (now, now - 45 * 86400))  # password: 30 days -> too old
    os.utime(young_key, (now, now - 45 * 86400))  # key: 90 days -> fine
    os.utime(old_key, (now, now - 120 * 86400))  # key: too old
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    paths = sorted(f["location"]["path"] for f in _ids(report, "secrets.rotation"))
    assert paths == [".env", "old.pem"]


def test_rotation_period_from_config(tmp_path, run_lockdock):
    p = tmp_path / ".env"
    p.write_text("x\n")
    os.chmod(p, 0o600)
    now = time.time()
    os.utime(p, (now, now - 45 * 86400))
    (tmp_path / ".lockdock.toml").write_text("rotation-days = { password = 60 }\n")
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    assert _ids(report, "secrets.rotation") == []


def test_ci_scan(tmp_path, run_lockdock):
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\n")
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    (f,) = _ids(report, "build.ci-scan")
    assert "no CI configuration" in f["message"]

    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "ci.yml").write_text("jobs:\n  test:\n    steps:\n      - run: make test\n")
    (f,) = _ids(scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path), "build.ci-scan")
    assert f["location"]["path"] == ".github/workflows/ci.yml"

    (wf / "ci.yml").write_text("jobs:\n  scan:\n    steps:\n      - uses: aquasecurity/trivy-action@0.28.0\n")
    assert _ids(scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path), "build.ci-scan") == []


def test_ci_scan_not_judged_without_container_files(tmp_path, run_lockdock):
    (tmp_path / "main.py").write_text("print(1)\n")
    assert _ids(scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path), "build.ci-scan") == []


def test_dockerignore_for_compose_build_context(tmp_path, run_lockdock):
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM alpine:3.20\n")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile\n"
    )
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    repo_findings = [f for f in _ids(report, "build.dockerignore") if f["target"]["kind"] == "repo"]
    assert len(repo_findings) == 1 and "has no .dockerignore" in repo_findings[0]["message"]

    (tmp_path / ".dockerignore").write_text(".git\n.env\nsecrets/\n**/*.key\n**/*.pem\n")
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    assert [f for f in _ids(report, "build.dockerignore") if f["target"]["kind"] == "repo"] == []
