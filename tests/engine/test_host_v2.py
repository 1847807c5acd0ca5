"""Checklist v2 host checks: iptables, log level, authorization plugin, cgroup parent,
daemon-wide seccomp, mirror URL passwords; their daemon.json fixes and flag refusals."""

from __future__ import annotations

import json

import pytest

from lockdock import registry
from lockdock.engine import daemonjson
from lockdock.model import Applicability, FileEdit, TargetKind
from tests.engine.test_host import HARDENED, checks, host_scan


@pytest.mark.parametrize(
    ("change", "check", "words"),
    [
        ({"iptables": False}, "network.daemon-iptables", "iptables"),
        ({"log-level": "debug"}, "runtime.daemon-log-level", "debug level"),
        ({"debug": True}, "runtime.daemon-log-level", "debug true"),
        ({"authorization-plugins": []}, "runtime.authorization-plugin", "no authorization plugin"),
        ({"cgroup-parent": "/custom"}, "container.cgroup-parent", "/custom"),
        ({"seccomp-profile": "unconfined"}, "container.security-profiles", "unconfined"),
        ({"registry-mirrors": ["https://bob:mirror-pass-123456@mirror.example"]},
         "registry.credentials-store", "mirror URL carries a password"),
    ],
)
def test_each_v2_daemon_setting_is_caught(tmp_path, monkeypatch, change, check, words):
    _h, findings, _ctx = host_scan(tmp_path, json.dumps({**HARDENED, **change}, indent=2), monkeypatch=monkeypatch)
    assert checks(findings) == [check]
    assert words in findings[0].message
    assert findings[0].location.path == "daemon.json"
    assert "mirror-pass-123456" not in findings[0].message


@pytest.mark.parametrize(
    "change",
    [
        {"iptables": True},
        {"log-level": "info"},
        {"debug": False, "log-level": "warn"},
        {"cgroup-parent": ""},
        {"seccomp-profile": "/etc/docker/seccomp.json"},
        {"registry-mirrors": ["https://mirror.example", "https://user@mirror2.example"]},
    ],
)
def test_safe_v2_settings_pass(tmp_path, monkeypatch, change):
    _h, findings, _ctx = host_scan(tmp_path, json.dumps({**HARDENED, **change}), monkeypatch=monkeypatch)
    assert checks(findings) == []


def test_v2_settings_from_dockerd_flags(tmp_path, monkeypatch):
    args = ["--iptables=false", "-D", "--cgroup-parent", "/x", "--seccomp-profile=unconfined",
            "--registry-mirror", "https://u:flag-pass-123456@m.example"]
    host, findings, _ctx = host_scan(tmp_path, None, args=args, monkeypatch=monkeypatch)
    found = set(checks(findings))
    assert {"network.daemon-iptables", "runtime.daemon-log-level", "container.cgroup-parent",
            "container.security-profiles", "runtime.authorization-plugin", "registry.credentials-store"} <= found
    by = {f.check: f for f in findings}
    assert "dockerd flag --iptables" in by["network.daemon-iptables"].message
    assert "flag-pass-123456" not in by["registry.credentials-store"].message
    _h, findings, _ctx = host_scan(tmp_path, None, args=["--authorization-plugin", "authz"], monkeypatch=monkeypatch)
    assert "runtime.authorization-plugin" not in checks(findings)


def _fix(host, findings, check):
    (finding,) = [f for f in findings if f.check == check]
    fixers = registry.fixers_for(check, TargetKind.HOST)
    fixes = [fx.fn(finding, host, None) for fx in fixers]
    fixes = [f for f in fixes if f is not None]
    return fixes[0] if fixes else None


def _apply(host, fix) -> dict:
    (change,) = fix.changes
    assert isinstance(change, FileEdit)
    return json.loads(daemonjson.apply_edits(host.daemon.file.text, change.edits))


@pytest.mark.parametrize(("key", "value", "check"), [
    ("iptables", False, "network.daemon-iptables"),
    ("cgroup-parent", "/custom", "container.cgroup-parent"),
    ("seccomp-profile", "unconfined", "container.security-profiles"),
])
def test_removal_fixes(tmp_path, monkeypatch, key, value, check):
    host, findings, _ctx = host_scan(tmp_path, json.dumps({**HARDENED, key: value}, indent=2), monkeypatch=monkeypatch)
    fix = _fix(host, findings, check)
    assert fix is not None and fix.applicability is Applicability.UNSAFE
    assert _apply(host, fix) == HARDENED


def test_log_level_fix_is_safe_and_clears_debug(tmp_path, monkeypatch):
    host, findings, _ctx = host_scan(tmp_path, json.dumps({**HARDENED, "debug": True}, indent=2), monkeypatch=monkeypatch)
    fix = _fix(host, findings, "runtime.daemon-log-level")
    assert fix.applicability is Applicability.SAFE
    assert _apply(host, fix) == {**HARDENED, "debug": False, "log-level": "info"}


def test_v2_fixes_refused_when_dockerd_has_the_flag(tmp_path, monkeypatch):
    daemon = json.dumps({**HARDENED, "iptables": False, "log-level": "debug"})
    host, findings, _ctx = host_scan(tmp_path, daemon, monkeypatch=monkeypatch)
    host.dockerd_args = ["--iptables=false", "--debug"]
    assert _fix(host, findings, "network.daemon-iptables") is None
    assert _fix(host, findings, "runtime.daemon-log-level") is None


def test_cli_fix_applies_safe_log_level_and_only_lists_unsafe_removals(tmp_path, run_lockdock):
    settings = {**HARDENED, "log-level": "debug", "iptables": False, "registry-mirrors": ["https://u:cli-pass-123456@m.example"]}
    (tmp_path / "daemon.json").write_text(json.dumps(settings, indent=2))
    (tmp_path / "p").mkdir()
    proc = run_lockdock("fix", "--no-engine", "--daemon-json", "daemon.json", "--apply", "p", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cli-pass-123456" not in proc.stdout + proc.stderr
    after = json.loads((tmp_path / "daemon.json").read_text())
    assert after["log-level"] == "info" and after["iptables"] is False  # unsafe: listed, not applied
    assert after["registry-mirrors"] == settings["registry-mirrors"]
