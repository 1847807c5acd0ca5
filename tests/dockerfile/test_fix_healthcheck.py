"""runtime.healthcheck fix for Dockerfiles: only when a served HTTP port and curl are known."""

from __future__ import annotations

import json

import pytest

from tests.conftest import scan_json

WITH_CURL = (
    "FROM debian:12.6-slim\n"
    "RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n"
    "EXPOSE 8080\n"
    "USER 1000\n"
    'CMD ["python3", "-m", "http.server", "8080"]\n'
)


def _health(report):
    return [f for f in report["findings"] if f["check"] == "runtime.healthcheck" and f["target"]["kind"] == "dockerfile"]


def test_fix_added_applied_and_idempotent(tmp_path, run_lockdock):
    (tmp_path / "Dockerfile").write_text(WITH_CURL)
    env = {"LOCKDOCK_STATE_DIR": str(tmp_path / "state")}
    (f,) = _health(scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path))
    assert f["fix"]["applicability"] == "unsafe" and "port 8080" in f["fix"]["title"]
    proc = run_lockdock("fix", "--no-engine", "--unsafe", "--apply", "--check", "runtime.healthcheck", ".", cwd=tmp_path, env=env)
    assert proc.returncode == 0 and "1 applied" in proc.stdout, proc.stdout + proc.stderr
    lines = (tmp_path / "Dockerfile").read_text().splitlines()
    assert lines[4].startswith("HEALTHCHECK ") and "http://127.0.0.1:8080/" in lines[4]
    assert lines[5].startswith("CMD ")  # inserted before CMD, nothing else touched
    assert _health(scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)) == []
    again = run_lockdock("fix", "--no-engine", "--unsafe", "--check", "runtime.healthcheck", ".", cwd=tmp_path)
    assert "0 fix(es) shown" in again.stderr


@pytest.mark.parametrize(
    "dockerfile",
    [
        "FROM debian:12.6-slim\nEXPOSE 8080\nCMD [\"app\"]\n",  # no curl: the command would fail
        "FROM debian:12.6-slim\nRUN apt-get install -y curl\nEXPOSE 5432\nCMD [\"db\"]\n",  # not HTTP
        "FROM debian:12.6-slim\nRUN apt-get install -y curl\nEXPOSE 8443\nCMD [\"app\"]\n",  # TLS: needs -k
        "FROM debian:12.6-slim\nRUN apt-get install -y curl && apt-get purge -y curl\nEXPOSE 80\nCMD [\"app\"]\n",
        "FROM debian:12.6-slim\nRUN apt-get install -y curl\nEXPOSE 80\nHEALTHCHECK NONE\nCMD [\"app\"]\n",
    ],
)
def test_no_fix_when_it_cannot_be_derived(tmp_path, run_lockdock, dockerfile):
    (tmp_path / "Dockerfile").write_text(dockerfile)
    found = _health(scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path))
    assert found and all(f["fix"] is None for f in found), json.dumps(found)
