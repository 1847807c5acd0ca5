"""runtime.healthcheck fix for compose services that build from a local Dockerfile."""

from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

from tests.conftest import SHARED, scan_json

DOCKERFILE = (
    "FROM debian:12.6-slim\n"
    "RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n"
    "USER 1000\n"
    'CMD ["python3", "-m", "http.server", "8080"]\n'
)
COMPOSE = (
    "services:\n"
    "  web:\n"
    "    build: ./web   # the app\n"
    "    ports:\n"
    '      - "127.0.0.1:8080:8080"\n'
    "  cache:\n"
    "    image: redis:7.2\n"
)


def _health(report, name):
    return [f for f in report["findings"] if f["check"] == "runtime.healthcheck" and f["target"]["name"] == name]


def test_fix_for_built_service_applied_valid_and_idempotent(tmp_path, run_lockdock):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text(DOCKERFILE)  # no EXPOSE: the published port tells
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    (web,) = _health(report, "web")
    (cache,) = _health(report, "cache")
    assert web["fix"] and "port 8080" in web["fix"]["title"]
    assert cache["fix"] is None  # only an image name: its contents are not known
    env = {"LOCKDOCK_STATE_DIR": str(tmp_path / "state")}
    proc = run_lockdock("fix", "--no-engine", "--unsafe", "--apply", "--check", "runtime.healthcheck", "compose.yaml",
                        cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (tmp_path / "compose.yaml").read_text()
    assert "# the app" in text  # comments kept
    data = YAML(typ="safe").load(text)
    assert data["services"]["web"]["healthcheck"]["test"][-1] == "http://127.0.0.1:8080/"
    assert _health(scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path), "web") == []
    schema_file = SHARED / "conformance" / "compose-spec" / "compose-spec.json"
    if schema_file.is_file():
        import jsonschema

        jsonschema.Draft7Validator(json.loads(schema_file.read_text())).validate(data)


@pytest.mark.parametrize(
    "dockerfile",
    ["FROM debian:12.6-slim\nCMD [\"app\"]\n", "FROM debian:12.6-slim\nRUN apt-get install -y curl\nHEALTHCHECK NONE\n"],
)
def test_no_fix_without_curl_or_when_disabled(tmp_path, run_lockdock, dockerfile):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text(dockerfile)
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    found = _health(scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path), "web")
    assert all(f["fix"] is None for f in found)
