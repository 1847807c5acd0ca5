"""Container fixes against the real engine: docker update, inspect, undo; bind mounts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lockdock.context import ScanContext
from lockdock.engine.connect import Engine
from lockdock.files import sha256_bytes
from lockdock.fixing import journal, writer
from lockdock.fixing.apply import apply_fixes
from lockdock.fixing.preview import build_preview
from lockdock.model import Applicability, EngineAction, Fix

pytestmark = pytest.mark.engine
LABEL = {"io.lockdock.test": "1"}
MB = 1024 * 1024


def _engine(api: Any) -> Engine:
    return Engine(api=api, endpoint="test", version="", info={})


def _hc(api: Any, cid: str) -> dict[str, Any]:
    return api.inspect_container(cid)["HostConfig"]


@pytest.fixture
def container(docker_api: Any, busybox_image: str) -> Any:
    c = docker_api.create_container(
        busybox_image,
        command=["/bin/sleep", "600"],
        labels=LABEL,
        host_config=docker_api.create_host_config(mem_limit="64m", cpu_shares=512),
    )
    yield c["Id"]
    docker_api.remove_container(c["Id"], force=True)


def _fix(cid: str) -> Fix:
    return Fix(
        "Limit resources",
        Applicability.SAFE,
        [
            EngineAction(
                "container.update",
                cid,
                "web",
                {"Memory": 64 * MB, "CpuShares": 512, "PidsLimit": None},
                {"Memory": 128 * MB, "CpuShares": 1024, "PidsLimit": 200},
            )
        ],
        check="container.resource-limits",
    )


def test_docker_update_then_inspect_then_undo(docker_api: Any, container: str, tmp_path: Path) -> None:
    ctx = ScanContext(cwd=tmp_path, engine=_engine(docker_api))
    fix = _fix(container)
    assert "Memory: 67108864 -> 134217728" in build_preview([fix], tmp_path).text
    report = apply_fixes([fix], ctx, root=tmp_path)
    assert report.errors == [] and report.applied == [fix]
    hc = _hc(docker_api, container)
    assert (hc["Memory"], hc["CpuShares"], hc["PidsLimit"]) == (128 * MB, 1024, 200)
    assert len(journal.entries()) == 1

    # Undo belongs to the project the fix ran in (issue 14.2): elsewhere it is refused.
    other = tmp_path.parent / f"{tmp_path.name}-other"
    other.mkdir()
    elsewhere = subprocess.run([sys.executable, "-m", "lockdock", "undo", str(other)],
                               capture_output=True, text=True, timeout=120)
    assert elsewhere.returncode == 1 and "nothing to undo in" in elsewhere.stderr
    r = subprocess.run([sys.executable, "-m", "lockdock", "undo"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    hc = _hc(docker_api, container)
    assert (hc["Memory"], hc["CpuShares"]) == (64 * MB, 512)
    assert hc["PidsLimit"] in (None, 0, -1)
    assert journal.entries() == []


def test_container_changed_since_preview_refused(docker_api: Any, container: str, tmp_path: Path) -> None:
    ctx = ScanContext(cwd=tmp_path, engine=_engine(docker_api))
    fix = _fix(container)
    docker_api.update_container(container, cpu_shares=256)  # someone else changed it
    report = apply_fixes([fix], ctx, root=tmp_path)
    assert report.applied == [] and "changed since preview" in report.skipped[0].reason
    assert _hc(docker_api, container)["CpuShares"] == 256


def test_engine_action_without_engine_skipped(container: str, tmp_path: Path) -> None:
    report = apply_fixes([_fix(container)], ScanContext(cwd=tmp_path, use_engine=False), root=tmp_path)
    assert report.applied == [] and "needs the engine" in report.skipped[0].reason


def test_bind_mounted_file_warns_about_old_inode(docker_api: Any, busybox_image: str, tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_bytes(b"a=1\n")
    c = docker_api.create_container(
        busybox_image,
        command=["/bin/sleep", "600"],
        labels=LABEL,
        volumes=["/etc/app.conf"],
        host_config=docker_api.create_host_config(binds={str(conf): {"bind": "/etc/app.conf", "mode": "ro"}}),
    )
    try:
        docker_api.start(c["Id"])
        deadline = time.time() + 20
        while not docker_api.inspect_container(c["Id"])["State"]["Running"] and time.time() < deadline:
            time.sleep(0.2)
        writer.write_file(conf, b"a=2\n", root=tmp_path, expected_sha256=sha256_bytes(b"a=1\n"))
        warnings = writer.bind_mount_warnings([str(conf)], _engine(docker_api))
        assert len(warnings) == 1 and "keeps the old file" in warnings[0]
    finally:
        docker_api.remove_container(c["Id"], force=True)


def test_machine_daemon_json_not_touched_unless_asked(docker_api: Any, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx:1.25.3\n")
    r = subprocess.run(
        [sys.executable, "-m", "lockdock", "fix", "."], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert "daemon.json" not in r.stdout  # no diff of the machine's daemon config
    if "Docker daemon fix(es) not included" in r.stderr:
        assert "--daemon-json" in r.stderr


def _container_findings(tmp_path: Path, name: str) -> tuple[ScanContext, list[Any], Any]:
    from lockdock.scan import scan

    ctx = ScanContext(cwd=tmp_path)
    result = scan([tmp_path], ctx)
    for tr in result.targets.values():
        if tr.target.kind.value == "container" and tr.target.name == name:
            return ctx, tr.active, tr.subject
    raise AssertionError(f"container {name} not scanned: {[t.target.name for t in result.targets.values()]}")


def test_registered_container_fixes_through_engine_then_undo(docker_api: Any, busybox_image: str, tmp_path: Path) -> None:
    """The engine fixers (restart policy; lazily measured limits) applied and undone."""
    from lockdock.fixing.apply import materialize

    name = f"lockdock-fixtest-{os.getpid()}"
    c = docker_api.create_container(busybox_image, command=["/bin/sleep", "600"], labels=LABEL, name=name)
    try:
        docker_api.start(c["Id"])
        ctx, findings, subject = _container_findings(tmp_path, name)
        by_check = {f.check: f for f in findings}
        restart = by_check["runtime.restart-policy"].fix
        assert restart is not None and restart.changes
        limits_finding = by_check["container.resource-limits"]
        assert limits_finding.fix is not None and limits_finding.fix.pending
        limits = materialize(limits_finding, subject, ctx)
        assert limits is not None and isinstance(limits.changes[0], EngineAction)

        report = apply_fixes([restart, limits], ctx, root=tmp_path, allow_unsafe=True)
        assert report.errors == [] and len(report.applied) == 2, report
        hc = _hc(docker_api, c["Id"])
        assert hc["RestartPolicy"]["Name"] == "unless-stopped"
        assert hc["Memory"] == limits.changes[0].new["Memory"] and hc["PidsLimit"] > 0
        assert any("cannot remove" in w for w in report.warnings)  # honest about undo limits

        r = subprocess.run([sys.executable, "-m", "lockdock", "undo"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        hc = _hc(docker_api, c["Id"])
        assert hc["RestartPolicy"]["Name"] in ("", "no")
        assert hc["PidsLimit"] in (None, 0, -1)
        assert "cannot be reset to unlimited" in r.stdout
    finally:
        docker_api.remove_container(c["Id"], force=True)
