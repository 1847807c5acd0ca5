"""Issue criterion: `lockdock fix --apply --unsafe` then `lockdock scan` on the insecure demo
leaves only findings that have no automatic fix."""

from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

from lockdock.demo import copy_demo
from tests.conftest import SHARED


def test_one_fix_run_leaves_only_unfixable_findings(tmp_path, run_lockdock):
    root = copy_demo(tmp_path / "demo")
    env = {"LOCKDOCK_STATE_DIR": str(tmp_path / "state")}
    before = json.loads(run_lockdock("scan", "--no-engine", "--format", "json", ".", cwd=root, env=env).stdout)
    proc = run_lockdock("fix", "--no-engine", "--unsafe", "--apply", ".", cwd=root, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 skipped, 0 error(s)" in proc.stdout
    after = json.loads(run_lockdock("scan", "--no-engine", "--format", "json", ".", cwd=root, env=env).stdout)
    assert after["errors"] == []
    fixable = [(f["check"], f["target"]["name"]) for f in after["findings"] if f["fix"] and not f["suppressed"]]
    assert fixable == []
    assert len(after["findings"]) < len(before["findings"]) / 2
    # The raw fake secret moved into a private file; it is not in any report.
    assert "Tr0ub4dor-demo-fake" not in json.dumps(after)


def test_data_store_unpublished_and_isolated_in_one_fix(tmp_path, run_lockdock):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx:1.27\n  db:\n    image: postgres:16.4\n"
        "    ports:\n      - \"5432:5432\"   # published\n"
    )
    proc = run_lockdock("fix", "--no-engine", "--unsafe", "--apply", "--check", "network.exposed-ports", ".", cwd=tmp_path,
                        env={"LOCKDOCK_STATE_DIR": str(tmp_path / "state")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (tmp_path / "compose.yaml").read_text()
    data = YAML(typ="safe").load(text)
    assert "ports" not in data["services"]["db"]
    assert data["networks"]["backend"]["internal"] in (True, "true")
    assert set(data["services"]["web"]["networks"]) == {"default", "backend"}
    report = json.loads(run_lockdock("scan", "--no-engine", "--format", "json", ".", cwd=tmp_path).stdout)
    checks = {f["check"] for f in report["findings"] if f["target"]["name"] == "db"}
    assert "network.exposed-ports" not in checks and "network.isolation" not in checks
    schema_file = SHARED / "conformance" / "compose-spec" / "compose-spec.json"
    if not schema_file.is_file():
        pytest.skip("compose spec schema not present")
    import jsonschema

    jsonschema.Draft7Validator(json.loads(schema_file.read_text())).validate(YAML(typ="safe").load(text))
