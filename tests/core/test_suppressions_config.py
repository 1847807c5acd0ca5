"""Suppressions (pragmas, config) and config loading, end to end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import scan_json


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    key = tmp_path / "deploy.key"
    key.write_text("k\n")
    os.chmod(key, 0o644)
    return tmp_path


def _by_check(report, check):
    return [f for f in report["findings"] if f["check"] == check]


def test_line_pragma_suppresses_with_reason(project, run_lockdock):
    (project / ".gitignore").write_text("# lockdock: ignore=secrets.gitignore keys live in a vault\nnode_modules/\n")
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=project)
    (f,) = _by_check(report, "secrets.gitignore")
    assert f["suppressed"] == {"reason": "keys live in a vault", "source": "pragma"}
    assert report["summary"]["suppressed"] == 1
    # Other checks are untouched.
    assert _by_check(report, "secrets.file-permissions")[0]["suppressed"] is None


def test_file_pragma_and_layer_selector(project, run_lockdock):
    (project / ".gitignore").write_text("node_modules/\n# lockdock: ignore-file=secrets\n")
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=project)
    assert _by_check(report, "secrets.gitignore")[0]["suppressed"] is not None


def test_pragma_for_another_check_does_not_suppress(project, run_lockdock):
    (project / ".gitignore").write_text("# lockdock: ignore=build.no-sudo\nnode_modules/\n")
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=project)
    assert _by_check(report, "secrets.gitignore")[0]["suppressed"] is None


def test_suppressed_findings_do_not_fail_the_run(project, run_lockdock):
    (project / ".lockdock.toml").write_text('ignore = ["secrets.gitignore"]\n')
    proc = run_lockdock("scan", "--no-engine", ".", cwd=project)
    assert proc.returncode == 0, proc.stdout
    assert "1 suppressed" in proc.stdout


def test_config_per_path_ignores_and_severity(project, run_lockdock):
    (project / ".lockdock.toml").write_text(
        '[per-path-ignores]\n"*.key" = ["secrets.file-permissions"]\n\n[severity]\n"secrets.gitignore" = "low"\n'
    )
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=project)
    assert _by_check(report, "secrets.file-permissions")[0]["suppressed"]["source"] == "config"
    assert _by_check(report, "secrets.gitignore")[0]["severity"] == "low"
    assert run_lockdock("scan", "--no-engine", ".", cwd=project).returncode == 0


def test_fail_on_from_pyproject(project, run_lockdock):
    (project / "pyproject.toml").write_text('[tool.lockdock]\nfail-on = "critical"\n')
    assert run_lockdock("scan", "--no-engine", ".", cwd=project).returncode == 0


def test_user_config_applies_and_project_wins(project, run_lockdock, tmp_path_factory):
    home = tmp_path_factory.mktemp("xdg")
    (home / "lockdock").mkdir()
    (home / "lockdock" / "config.toml").write_text('fail-on = "critical"\n')
    env = {"XDG_CONFIG_HOME": str(home)}
    assert run_lockdock("scan", "--no-engine", ".", cwd=project, env=env).returncode == 0
    (project / ".lockdock.toml").write_text('fail-on = "medium"\n')
    assert run_lockdock("scan", "--no-engine", ".", cwd=project, env=env).returncode == 1


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("fail-on = [", "invalid TOML"),
        ('bogus-key = 1\n', "unknown key 'bogus-key'"),
        ('ignore = ["no.such"]\n', "key 'ignore'"),
        ('fail-on = "extreme"\n', "key 'fail-on'"),
        ("freshness-days = -3\n", "key 'freshness-days'"),
        ('[severity]\n"secrets.gitignore" = "loud"\n', "key 'severity.secrets.gitignore'"),
    ],
)
def test_malformed_config_names_file_and_key(project, run_lockdock, content, needle):
    (project / ".lockdock.toml").write_text(content)
    proc = run_lockdock("scan", "--no-engine", ".", cwd=project)
    assert proc.returncode == 2
    assert ".lockdock.toml" in proc.stderr and needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_runs_are_isolated_from_the_users_world(run_lockdock, tmp_path) -> None:
    """tests/conftest.py `_isolated`: HOME, XDG_* and DOCKER_CONFIG are private temp dirs
    for this test and the CLI it runs; DOCKER_HOST (the engine socket) is not touched."""
    import os

    from tests.conftest import ISOLATED_DIRS

    for key in ISOLATED_DIRS:
        value = os.environ[key]
        assert value.startswith(str(tmp_path.parent.parent)), (key, value)
    cfg = os.path.join(os.environ["XDG_CONFIG_HOME"], "lockdock")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "config.toml"), "w") as fh:
        fh.write('fail-on = "info"\n')  # a "user config": seen by the child through the env
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "Dockerfile").write_text("FROM alpine:3.19\nUSER 1000\nHEALTHCHECK CMD true\n")
    proc = run_lockdock("scan", "--no-engine", "--format", "json", "p", cwd=tmp_path,
                        env={"XDG_CACHE_HOME": os.environ["XDG_CACHE_HOME"]})
    assert '"fail_on":"info"' in proc.stdout.replace(" ", "").replace("\n", ""), proc.stdout[-400:]
