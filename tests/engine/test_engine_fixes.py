"""Engine fixes: restart policy and resource limits as `docker update` actions."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import pytest

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.engine.connect import connect
from lockdock.engine.containers import iter_containers
from lockdock.engine.update import update_container_verified
from lockdock.fixers.engine_container import MIN_MEMORY, size_limits
from lockdock.fixing.apply import materialize
from lockdock.model import EngineAction
from lockdock.scan import analyze_subject


def test_size_limits_from_stats():
    stats = {
        "memory_stats": {"usage": 200 * 1024 * 1024},
        "cpu_stats": {"cpu_usage": {"total_usage": 3_000}, "system_cpu_usage": 20_000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 1_000}, "system_cpu_usage": 10_000},
        "pids_stats": {"current": 50},
    }
    new = size_limits(stats, {})
    assert new["Memory"] == 400 * 1024 * 1024 and new["MemorySwap"] == new["Memory"]
    assert new["NanoCpus"] == int(0.8 * 1e9)
    assert new["PidsLimit"] == 200
    idle = size_limits({"memory_stats": {"usage": 1}}, {})
    assert idle["Memory"] == MIN_MEMORY and idle["NanoCpus"] == int(0.25 * 1e9) and idle["PidsLimit"] == 64
    assert size_limits({}, {"Memory": 1 << 30, "MemorySwap": 1 << 30, "NanoCpus": 10**9, "PidsLimit": 10}) == {}


@pytest.fixture
def containers(docker_api: Any, busybox_image: str):
    suffix = uuid.uuid4().hex[:6]
    names = {"running": f"lockdock-test-run-{suffix}", "stopped": f"lockdock-test-stop-{suffix}"}
    subprocess.run(["docker", "run", "-d", "--label", "io.lockdock.test=1", "--name", names["running"], busybox_image, "sleep", "600"], check=True, capture_output=True, timeout=60)
    subprocess.run(["docker", "create", "--label", "io.lockdock.test=1", "--name", names["stopped"], busybox_image, "sleep", "600"], check=True, capture_output=True, timeout=60)
    yield names
    for n in names.values():
        docker_api.remove_container(n, force=True)


def _scan(tmp_path):
    registry.load_plugins()
    (tmp_path / "daemon.json").write_text(json.dumps({}))
    ctx = ScanContext(cwd=tmp_path, engine=connect(), daemon_json=tmp_path / "daemon.json")
    return {s.name: (s, analyze_subject(s, ctx).findings) for s in iter_containers(ctx)}, ctx


@pytest.mark.engine
def test_limits_fix_sized_and_applied(containers, tmp_path):
    results, ctx = _scan(tmp_path)
    subject, findings = results[containers["running"]]
    (finding,) = [f for f in findings if f.check == "container.resource-limits"]
    assert finding.fix is not None and finding.fix.pending and finding.fix.changes == []
    fix = materialize(finding, subject, ctx)
    (action,) = fix.changes
    assert isinstance(action, EngineAction) and action.action == "container.update"
    assert action.new["Memory"] >= MIN_MEMORY and action.new["MemorySwap"] == action.new["Memory"]
    assert action.new["PidsLimit"] >= 64 and action.new["NanoCpus"] >= 250_000_000
    assert action.current == {"Memory": 0, "MemorySwap": 0, "NanoCpus": 0, "PidsLimit": None}
    update_container_verified(ctx.engine, action.object_id, action.new)
    results, _ctx = _scan(tmp_path)
    assert "container.resource-limits" not in {f.check for f in results[containers["running"]][1]}


@pytest.mark.engine
def test_no_limits_fix_for_a_stopped_container(containers, tmp_path):
    results, ctx = _scan(tmp_path)
    subject, findings = results[containers["stopped"]]
    (finding,) = [f for f in findings if f.check == "container.resource-limits"]
    assert "not running" in finding.message
    fix = materialize(finding, subject, ctx)
    assert fix is None or fix.changes == []  # at most the lazy placeholder, never an action


@pytest.mark.engine
def test_restart_policy_fix_applied(containers, tmp_path):
    results, ctx = _scan(tmp_path)
    _subject, findings = results[containers["stopped"]]
    (finding,) = [f for f in findings if f.check == "runtime.restart-policy"]
    fix = finding.fix
    assert fix.applicability.value == "safe"
    (action,) = fix.changes
    assert action.new == {"RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}}
    assert action.current["RestartPolicy"]["Name"] in ("", "no")
    update_container_verified(ctx.engine, action.object_id, action.new)
    results, _ctx = _scan(tmp_path)
    assert "runtime.restart-policy" not in {f.check for f in results[containers["stopped"]][1]}
