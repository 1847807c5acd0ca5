"""Adopting lockdock on an existing project: baselines by stable fingerprint, `lockdock init`."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from lockdock import config as config_module
from lockdock.config import load_config
from lockdock.model import Finding, Location, Target, TargetKind
from lockdock.reports import baseline
from tests.conftest import scan_json

from .helpers import SECRET, make_project


def test_baseline_reports_only_new_findings_and_survives_inserted_lines(tmp_path, run_lockdock):
    proj = make_project(tmp_path / "proj")
    base = tmp_path / "lockdock-baseline.json"
    first = run_lockdock("scan", "--no-engine", "--write-baseline", str(base), "--format", "json", cwd=proj)
    assert first.returncode == 1  # writing a baseline still reports today's findings
    today = json.loads(first.stdout)["summary"]["findings"]
    assert f"baseline of {today} finding(s) written" in first.stderr
    raw = base.read_text()
    assert SECRET not in raw and SECRET[4:] not in raw  # no secret value in the fingerprints
    assert sum(json.loads(raw)["fingerprints"].values()) == today

    again = run_lockdock("scan", "--no-engine", "--baseline", str(base), cwd=proj)
    assert again.returncode == 0, again.stdout
    assert f"{today} baselined" in again.stdout.splitlines()[-1]

    # Lines inserted above every finding move them; their fingerprints stay.
    dockerfile = proj / "Dockerfile"
    dockerfile.write_text("# syntax=docker/dockerfile:1\n\n# a comment\n" + dockerfile.read_text())
    moved = scan_json(run_lockdock, "--no-engine", "--baseline", str(base), cwd=proj)
    assert moved["findings"] == [] and moved["summary"]["baselined"] == today

    # A new finding is reported, and only it.
    dockerfile.write_text(dockerfile.read_text() + "EXPOSE 3306\n")
    new = run_lockdock("scan", "--no-engine", "--baseline", str(base), "--format", "json", cwd=proj)
    assert new.returncode == 1
    findings = json.loads(new.stdout)["findings"]
    assert [(f["check"], f["location"]["line"]) for f in findings] == [("network.exposed-ports", 8)]


def test_baseline_counts_repeated_identical_lines(tmp_path, run_lockdock):
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / "Dockerfile").write_text("FROM scratch\nUSER 1000\nEXPOSE 22\n")
    base = tmp_path / "b.json"
    run_lockdock("scan", "--no-engine", "--select", "network.exposed-ports", "--write-baseline", str(base), cwd=proj)
    (proj / "Dockerfile").write_text("FROM scratch\nUSER 1000\nEXPOSE 22\nEXPOSE 22\n")
    report = scan_json(run_lockdock, "--no-engine", "--select", "network.exposed-ports", "--baseline", str(base),
                       cwd=proj)
    assert len(report["findings"]) == 1 and report["summary"]["baselined"] == 1


def test_bad_baseline_file_is_a_clear_usage_error(tmp_path, run_lockdock):
    (tmp_path / "b.json").write_text('{"version": 99}')
    proc = run_lockdock("scan", "--no-engine", "--baseline", "b.json", cwd=tmp_path)
    assert proc.returncode == 2 and "not a lockdock baseline" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_lockdock("scan", "--no-engine", "--baseline", "missing.json", cwd=tmp_path)
    assert proc.returncode == 2 and "cannot read baseline" in proc.stderr


def test_fingerprint_ignores_line_numbers_and_secret_values(tmp_path):
    target = Target(TargetKind.DOCKERFILE, "Dockerfile", "Dockerfile")

    def fp(path: str, line: int, check: str = "build.exec-form", evidence: str | None = None) -> str:
        lines = baseline.LineSource(tmp_path)  # reads the file as it is now
        return baseline.fingerprint(Finding(check, target, "m", Location(path, line), evidence=evidence), lines)

    (tmp_path / "a").write_text("FROM x\nRUN  make   install\n")
    before = fp("a", 2)
    assert before != fp("a", 1)
    (tmp_path / "a").write_text("\n\nFROM x\n\nRUN make install  \n")
    assert fp("a", 5) == before  # same content (whitespace aside), other line number
    assert fp("b", 5) != before  # another path
    assert fp("a", 2) != fp("a", 2, check="build.shell-safety")
    # The secrets layer is fingerprinted by its masked evidence, never by the line's raw value.
    (tmp_path / "s").write_text(f"ENV TOKEN={SECRET}\n")
    planted = fp("s", 1, "secrets.no-secrets-in-image", "TOKEN=ghp_****")
    (tmp_path / "s").write_text("ENV TOKEN=ghp_" + "c" * 36 + "\n")
    assert fp("s", 1, "secrets.no-secrets-in-image", "TOKEN=ghp_****") == planted


def _uncomment(text: str) -> str:
    return re.sub(r'(?m)^# ((\[[a-z-]+\])|([a-z"][\w.*/"-]* = .*))$', r"\1", text)


def test_init_writes_every_config_key_commented_and_refuses_to_overwrite(tmp_path, run_lockdock):
    proc = run_lockdock("init", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    starter = (tmp_path / ".lockdock.toml").read_text()
    assert tomllib.loads(starter) == {}  # everything commented out: changes nothing
    full = tomllib.loads(_uncomment(starter))
    assert set(full) == config_module._KNOWN
    assert set(full["scan"]) == set(config_module.SCAN_KEYS)
    # The uncommented example is a valid config.
    (tmp_path / "full.toml").write_text(_uncomment(starter))
    cfg = load_config(tmp_path, tmp_path / "full.toml")
    assert cfg.scan_timeout == 600 and cfg.require_engine is False and cfg.trusted_registries

    (tmp_path / ".lockdock.toml").write_text("fail-on = 'low'\n")
    refused = run_lockdock("init", cwd=tmp_path)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert (tmp_path / ".lockdock.toml").read_text() == "fail-on = 'low'\n"
    assert run_lockdock("init", "--force", cwd=tmp_path).returncode == 0
    assert (tmp_path / ".lockdock.toml").read_text() == starter
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".lockdock-init-")]


def test_require_engine_config_key_is_validated(tmp_path):
    (tmp_path / ".lockdock.toml").write_text("[scan]\nrequire-engine = 'yes'\n")
    import pytest

    with pytest.raises(config_module.ConfigError, match="require-engine"):
        load_config(Path(tmp_path))
