"""daemon.json through the framework: overlapping fixes in passes, flags refuse, undo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.engine.host import collect
from lockdock.model import Finding, Target, TargetKind
from lockdock.payloads.engine import DaemonSetting

DAEMON = b'{\n  "debug": false\n}\n'


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lockdock", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_overlapping_daemon_json_fixes_applied_in_passes_then_undone(tmp_path: Path) -> None:
    (tmp_path / "daemon.json").write_bytes(DAEMON)
    r = _cli("fix", "--no-engine", "--daemon-json", "daemon.json", "--apply", ".", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads((tmp_path / "daemon.json").read_text())
    assert data["live-restore"] is True and data["no-new-privileges"] is True
    assert data["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert "userns-remap" not in data  # unsafe: only listed
    assert "unsafe fix(es) available" in r.stdout
    r = _cli("undo", cwd=tmp_path)  # one undo takes back every pass of the run
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "daemon.json").read_bytes() == DAEMON
    assert _cli("undo", cwd=tmp_path).returncode == 1


def test_daemon_json_fix_refused_when_dockerd_flag_sets_the_key(tmp_path: Path) -> None:
    (tmp_path / "daemon.json").write_bytes(DAEMON)
    registry.load_plugins()
    ctx = ScanContext(cwd=tmp_path, use_engine=False, daemon_json=tmp_path / "daemon.json")
    host = collect(ctx, audit_root=tmp_path, proc=tmp_path)
    (fx,) = registry.fixers_for("runtime.live-restore", TargetKind.HOST)
    finding = Finding("runtime.live-restore", host.target, "live-restore is off")
    assert fx.fn(finding, host, ctx) is not None  # no flag: a fix is offered
    host.dockerd_args = ["--live-restore"]
    assert fx.fn(finding, host, ctx) is None  # dockerd would refuse to start with both
    host.dockerd_args = ["--icc=false"]
    (icc,) = registry.fixers_for("network.icc", TargetKind.HOST)
    assert icc.fn(Finding("network.icc", Target(TargetKind.HOST, "h"), "m", payload=DaemonSetting("icc")), host, ctx) is None
