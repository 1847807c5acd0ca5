"""Host checks from daemon.json fixtures, client config and auditd rules; daemon.json fixes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.engine import daemonjson
from lockdock.engine.host import collect, parse_flags
from lockdock.model import FileEdit, NewFile
from lockdock.payloads.engine import DaemonSetting
from lockdock.scan import analyze_subject

HARDENED = {
    "userns-remap": "default",
    "no-new-privileges": True,
    "icc": False,
    "userland-proxy": False,
    "log-driver": "json-file",
    "log-opts": {"max-size": "10m", "max-file": "3"},
    "live-restore": True,
    "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"],
    "tlsverify": True,
    "authorization-plugins": ["authz-broker"],
}
AUDIT = """-w /usr/bin/dockerd -k docker
-w /var/lib/docker -k docker
-w /etc/docker -k docker
-w /lib/systemd/system/docker.service -k docker
-w /lib/systemd/system/docker.socket -k docker
-w /usr/bin/containerd -k docker
"""


def host_scan(tmp_path: Path, daemon: str | None, *, env=None, docker_config=None, audit=AUDIT, args=None, monkeypatch=None):
    registry.load_plugins()
    dj = tmp_path / "daemon.json"
    if daemon is not None:
        dj.write_text(daemon, encoding="utf-8")
    root = tmp_path / "root"
    if audit is not None:
        (root / "etc/audit/rules.d").mkdir(parents=True, exist_ok=True)
        (root / "etc/audit/rules.d/docker.rules").write_text(audit)
    cfg = tmp_path / "config.json"
    if docker_config is not None:
        cfg.write_text(json.dumps(docker_config))
    if monkeypatch is not None:
        for k in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CONTENT_TRUST"):
            monkeypatch.delenv(k, raising=False)
        for k, v in (env or {"DOCKER_CONTENT_TRUST": "1"}).items():
            monkeypatch.setenv(k, v)
    ctx = ScanContext(cwd=tmp_path, use_engine=False, daemon_json=dj)
    host = collect(ctx, audit_root=root, docker_config=cfg)
    if args is not None:
        host.dockerd_args = args
        host.daemon_explicit = False
    result = analyze_subject(host, ctx)
    return host, result.findings, ctx


def checks(findings):
    return sorted(f.check for f in findings)


def test_hardened_daemon_json_passes(tmp_path, monkeypatch):
    _h, findings, ctx = host_scan(tmp_path, json.dumps(HARDENED, indent=2), monkeypatch=monkeypatch)
    assert checks(findings) == []
    assert ctx.errors == []


@pytest.mark.parametrize(
    ("change", "check", "words"),
    [
        ({"userns-remap": ""}, "container.userns-remap", "remap"),
        ({"no-new-privileges": False}, "container.no-new-privileges", "no-new-privileges"),
        ({"tlsverify": False}, "network.daemon-tls", "tcp://0.0.0.0:2376"),
        ({"icc": True}, "network.icc", "icc is on"),
        ({"userland-proxy": True}, "network.icc", "userland proxy"),
        ({"log-opts": {"max-size": "10m"}}, "runtime.log-rotation", "max-file"),
        ({"log-driver": "none"}, "runtime.log-rotation", "discarded"),
        ({"live-restore": False}, "runtime.live-restore", "live-restore is off"),
        ({"insecure-registries": ["reg.local:5000"]}, "registry.https", "reg.local:5000"),
    ],
)
def test_each_daemon_setting_is_caught(tmp_path, monkeypatch, change, check, words):
    _h, findings, _ctx = host_scan(tmp_path, json.dumps({**HARDENED, **change}, indent=2), monkeypatch=monkeypatch)
    assert checks(findings) == [check]
    assert words in findings[0].message
    assert findings[0].location.path == "daemon.json"


def test_syslog_driver_needs_no_rotation(tmp_path, monkeypatch):
    settings = {**HARDENED, "log-driver": "syslog"}
    del settings["log-opts"]
    _h, findings, _ctx = host_scan(tmp_path, json.dumps(settings), monkeypatch=monkeypatch)
    assert checks(findings) == []


def test_client_env_checks(tmp_path, monkeypatch):
    env = {"DOCKER_HOST": "tcp://10.0.0.5:2375", "DOCKER_CONTENT_TRUST": "0"}
    _h, findings, _ctx = host_scan(tmp_path, json.dumps(HARDENED), env=env, monkeypatch=monkeypatch)
    assert checks(findings) == ["build.content-trust", "network.daemon-tls"]
    env = {"DOCKER_HOST": "tcp://10.0.0.5:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CONTENT_TRUST": "1"}
    _h, findings, _ctx = host_scan(tmp_path, json.dumps(HARDENED), env=env, monkeypatch=monkeypatch)
    assert checks(findings) == []


def test_plain_registry_credentials_never_printed(tmp_path, monkeypatch):
    secret = base64.b64encode(b"alice:Sup3r-S3cret-pw").decode()
    cfg = {"auths": {"registry.example.com": {"auth": secret}, "helped.example.com": {"auth": secret}},
           "credHelpers": {"helped.example.com": "pass"}}
    _h, findings, _ctx = host_scan(tmp_path, json.dumps(HARDENED), docker_config=cfg, monkeypatch=monkeypatch)
    (f,) = findings
    assert f.check == "registry.credentials-store"
    assert "registry.example.com" in f.message and "helped.example.com" not in f.message
    assert secret not in repr(f) and "Sup3r" not in repr(f)
    cfg["credsStore"] = "secretservice"
    _h, findings, _ctx = host_scan(tmp_path, json.dumps(HARDENED), docker_config=cfg, monkeypatch=monkeypatch)
    assert findings == []


def test_audit_rules(tmp_path, monkeypatch):
    _h, findings, _ctx = host_scan(tmp_path, json.dumps(HARDENED), audit="-w /etc/docker -k docker\n", monkeypatch=monkeypatch)
    (f,) = findings
    assert f.check == "runtime.audit-logging" and "/var/lib/docker" in f.message and "/etc/docker," not in f.message
    _h, findings, _ctx = host_scan(tmp_path / "b", json.dumps(HARDENED), audit=None, monkeypatch=monkeypatch) if (tmp_path / "b").mkdir() is None else None
    assert checks(findings) == ["runtime.audit-logging"] and "no auditd rules" in findings[0].message


def test_bom_duplicates_and_invalid_json(tmp_path, monkeypatch):
    text = "\ufeff" + json.dumps(HARDENED, indent=2)[:-1] + ',\n  "icc": true\n}'
    _h, findings, ctx = host_scan(tmp_path, text, monkeypatch=monkeypatch)
    assert checks(findings) == ["network.icc"]  # the last duplicate wins, as in dockerd
    assert any("duplicate key 'icc'" in e.message for e in ctx.errors)
    _h, findings, ctx = host_scan(tmp_path, '{"icc": false,, }', monkeypatch=monkeypatch)
    assert any("invalid JSON" in e.message for e in ctx.errors)
    icc = [f for f in findings if f.payload == DaemonSetting("icc")]
    assert icc and "not valid JSON" in icc[0].message and icc[0].fix is None


# --------------------------------------------------------------------------- fixes


def _apply(host, fix) -> str:
    (change,) = fix.changes
    assert isinstance(change, FileEdit)
    return daemonjson.apply_edits(host.daemon.file.text, change.edits)


def test_fix_keeps_formatting_and_adds_member(tmp_path, monkeypatch):
    original = '{\n    "debug": true,   \n    "log-level": "warn"\n}\n'
    host, findings, _ctx = host_scan(tmp_path, original, monkeypatch=monkeypatch)
    by = {f.check: f for f in findings}
    fix = by["runtime.live-restore"].fix
    assert fix.applicability.value == "safe"
    out = _apply(host, fix)
    assert out == '{\n    "debug": true,   \n    "log-level": "warn",\n    "live-restore": true\n}\n'
    out = _apply(host, by["runtime.log-rotation"].fix)
    assert json.loads(out)["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert out.startswith('{\n    "debug": true,   \n')
    icc, proxy = [f for f in findings if f.check == "network.icc"]
    assert icc.fix.applicability.value == "unsafe" and proxy.fix is None
    assert json.loads(_apply(host, icc.fix))["icc"] is False
    assert json.loads(_apply(host, by["container.userns-remap"].fix))["userns-remap"] == "default"
    assert json.loads(_apply(host, by["container.no-new-privileges"].fix))["no-new-privileges"] is True


def test_fix_replaces_value_in_place_and_merges_log_opts(tmp_path, monkeypatch):
    original = '{"live-restore": false, "log-opts": {"max-size": "50m", "labels": "a"}}'
    host, findings, _ctx = host_scan(tmp_path, original, monkeypatch=monkeypatch)
    by = {f.check: f for f in findings}
    assert _apply(host, by["runtime.live-restore"].fix) == '{"live-restore": true, "log-opts": {"max-size": "50m", "labels": "a"}}'
    opts = json.loads(_apply(host, by["runtime.log-rotation"].fix))["log-opts"]
    assert opts == {"max-size": "50m", "labels": "a", "max-file": "3"}


def test_remove_insecure_registries(tmp_path, monkeypatch):
    original = '{\n  "insecure-registries": ["a:5000"],\n  "debug": true\n}\n'
    host, findings, _ctx = host_scan(tmp_path, original, monkeypatch=monkeypatch)
    fix = [f for f in findings if f.check == "registry.https"][0].fix
    assert fix.applicability.value == "unsafe"
    assert _apply(host, fix) == '{\n  "debug": true\n}\n'
    dj = daemonjson.parse_text('{"a": 1, "x": 2, "b": 3, "x": 4}', Path("d"))
    assert daemonjson.apply_edits('{"a": 1, "x": 2, "b": 3, "x": 4}', daemonjson.remove_key(dj, "x")) == '{"a": 1, "b": 3}'
    dj = daemonjson.parse_text('{"x": 1, "x": 2, "b": 3}', Path("d"))
    assert daemonjson.apply_edits('{"x": 1, "x": 2, "b": 3}', daemonjson.remove_key(dj, "x")) == '{"b": 3}'


def test_missing_and_empty_daemon_json(tmp_path, monkeypatch):
    host, findings, _ctx = host_scan(tmp_path, None, monkeypatch=monkeypatch)
    fix = [f for f in findings if f.check == "runtime.live-restore"][0].fix
    (change,) = fix.changes
    assert isinstance(change, NewFile) and json.loads(change.content) == {"live-restore": True}
    host, findings, _ctx = host_scan(tmp_path, "", monkeypatch=monkeypatch)
    fix = [f for f in findings if f.check == "runtime.live-restore"][0].fix
    assert json.loads(_apply(host, fix)) == {"live-restore": True}


def test_fix_refused_when_dockerd_has_the_flag(tmp_path, monkeypatch):
    args = ["-H", "fd://", "--log-opt", "max-size=5m", "--icc=true"]
    assert parse_flags(args) == {"H": ["fd://"], "log-opt": ["max-size=5m"], "icc": ["true"]}
    host, findings, _ctx = host_scan(tmp_path, "{}", args=args, monkeypatch=monkeypatch)
    by = {f.check: f for f in findings}
    icc = [f for f in findings if f.payload == DaemonSetting("icc")][0]
    assert icc.fix is None and "--icc" in icc.message
    assert by["runtime.log-rotation"].fix is None and "--log-opt" in by["runtime.log-rotation"].message
    assert by["runtime.live-restore"].fix is not None


def test_end_to_end_daemon_json_without_engine(tmp_path, run_lockdock):
    (tmp_path / "daemon.json").write_text(json.dumps({**HARDENED, "live-restore": False}))
    (tmp_path / "proj").mkdir()
    proc = run_lockdock("scan", "--no-engine", "--daemon-json", "daemon.json", "--format", "json", "proj", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    host = [f for f in report["findings"] if f["target"]["kind"] == "host"]
    live = [f for f in host if f["check"] == "runtime.live-restore"]
    assert live and live[0]["location"]["path"] == "daemon.json" and live[0]["location"]["line"] == 1
    assert live[0]["fix"] == {"title": 'daemon.json: "live-restore": true', "applicability": "safe"}
    assert not [f for f in host if f["check"] == "network.icc"]


@pytest.mark.engine
def test_live_engine_settings_from_docker_info(docker_api, tmp_path, monkeypatch):
    """Without --daemon-json the daemon's own report counts, and a missing file gets a NewFile fix."""
    from lockdock.engine.connect import connect

    registry.load_plugins()
    monkeypatch.setenv("DOCKER_CONTENT_TRUST", "1")
    ctx = ScanContext(cwd=tmp_path, engine=connect())
    host = collect(ctx, audit_root=tmp_path, docker_config=tmp_path / "none.json")
    assert host.info is not None and host.target.name == ctx.engine.endpoint
    assert host.dockerd_args is not None  # the running dockerd was found in /proc
    findings = analyze_subject(host, ctx).findings
    live = [f for f in findings if f.check == "runtime.live-restore"]
    assert bool(live) != bool(ctx.engine.info.get("LiveRestoreEnabled"))
    if live and not host.daemon.exists and not host.flag_for("live-restore"):
        (change,) = live[0].fix.changes
        assert isinstance(change, NewFile) and change.path == "/etc/docker/daemon.json"


def test_dockerd_config_file_flag_is_followed(tmp_path, monkeypatch):
    """dockerd --config-file PATH: that file is the daemon.json that counts."""
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    conf = tmp_path / "custom-daemon.json"
    conf.write_text('{"live-restore": true}')
    (proc / "4242" / "cmdline").write_bytes(b"/usr/bin/dockerd\0--config-file\0" + str(conf).encode() + b"\0")
    monkeypatch.setenv("DOCKER_CONTENT_TRUST", "1")
    registry.load_plugins()
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    host = collect(ctx, audit_root=tmp_path, proc=proc, docker_config=tmp_path / "none.json")
    assert host.daemon.path == conf and host.dockerd_args == ["--config-file", str(conf)]
    checks = {f.check for f in analyze_subject(host, ctx).findings}
    assert "runtime.live-restore" not in checks and "network.icc" in checks
