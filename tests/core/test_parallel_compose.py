"""Compose subjects analysed in forked workers (lockdock.parallel.analyze_in_workers): the
report, its order and its errors are those of one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from lockdock import parallel, registry
from lockdock import scan as scan_mod
from lockdock.context import ScanContext
from lockdock.model import Severity, TargetKind
from lockdock.reports import json_report, text_report

PROJECT = """services:
  web{i}:
    image: nginx:1.25
    privileged: true
    env_file: [../shared.env, ./own.env]
    environment:
      DB_PASSWORD: "s3cr3t-{i}-value"
    ports: ["80{i:02d}:80"]
    secrets: [db]
  odd{i}:
    build: ./app
    user: root
    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
  worker{i}:
    image: "${{IMAGE:-alpine}}"
    env_file: ./own.env
    cap_add: [ALL]
    network_mode: host
secrets:
  db:
    file: ./secrets/db.key
"""


def make_projects(root: Path, count: int, template: str = PROJECT) -> None:
    """`count` compose projects (secret files, build contexts, .env, env files shared by the
    services of a project and by every project), one broken file; `template` is the compose
    file, formatted with the project number `i`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "shared.env").write_text("API_TOKEN=ghp_aaaaBBBBccccDDDDeeeeFFFFgggg00001111\n")
    for i in range(count):
        d = root / f"p{i:03d}"
        (d / "app").mkdir(parents=True)
        (d / "secrets").mkdir()
        (d / "secrets" / "db.key").write_text("x\n")
        (d / "app" / "Dockerfile").write_text("FROM alpine:3.19\nUSER 1000\n")
        (d / "compose.yaml").write_text(template.format(i=i))
        (d / "own.env").write_text(f"DB_PASSWORD=Zq8-own-{i}-secret-value\n")
        if i % 3 == 0:
            (d / ".env").write_text(f"IMAGE=busybox:1.{i}\n")
    (root / "broken").mkdir()
    (root / "broken" / "compose.yaml").write_text("services:\n  a: [unclosed\n")


def reports(root: Path, *, throughput: bool) -> tuple[str, str, list[Any]]:
    ctx = ScanContext(cwd=root, use_engine=False)
    result = scan_mod.scan([root], ctx, throughput=throughput)
    return json_report.render(result, Severity.HIGH), text_report.render(result, Severity.HIGH), result.errors


def _odd_service(subject: Any, ctx: Any) -> Any:
    """A check that fails on every `odd` service: an error made inside the workers."""
    if subject.target.name.split("/")[-1].startswith("odd") or "odd" in subject.target.key:
        raise ValueError("odd service")
    return iter(())


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers from 20 subjects, tasks of 7; pytest's threads do not stop the fork."""
    # Every kind first: a plugin imported while ANALYZERS is patched would register into the
    # patched list and be lost for later tests (its module stays imported).
    registry.load_plugins()
    odd = registry.Analyzer(TargetKind.COMPOSE_SERVICE, (), _odd_service, "tests.odd")
    monkeypatch.setattr(registry, "ANALYZERS", [*registry.ANALYZERS, odd])
    monkeypatch.setattr(parallel, "MIN_SUBJECTS", 20)
    monkeypatch.setattr(parallel, "SUBJECT_CHUNK", 7)
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    monkeypatch.setenv("LOCKDOCK_JOBS", "3")


def _in_worker() -> Any:
    marker = Path(os.environ["LOCKDOCK_TEST_PIDS"]) / str(os.getpid())
    marker.write_text("")
    return parallel.__dict__["_real_worker_task"]()


def test_workers_give_the_report_of_one_process(tmp_path: Path, pooled: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, pids = tmp_path / "c", tmp_path / "pids"
    make_projects(corpus, 15)
    pids.mkdir()
    monkeypatch.setenv("LOCKDOCK_TEST_PIDS", str(pids))
    monkeypatch.setattr(parallel, "_real_worker_task", parallel._worker_task, raising=False)
    monkeypatch.setattr(parallel, "_worker_task", _in_worker)
    here, analyze = os.getpid(), parallel._analyze_indexes

    def slow_here(start: int, stop: int) -> Any:  # this process slower: the workers surely get tasks
        if os.getpid() == here:
            time.sleep(0.05)
        return analyze(start, stop)

    monkeypatch.setattr(parallel, "_analyze_indexes", slow_here)
    serial = reports(corpus, throughput=False)
    pooled_run = reports(corpus, throughput=True)
    assert pooled_run == serial
    workers = {int(p.name) for p in pids.iterdir()}
    assert workers and os.getpid() not in workers  # tasks did run in other processes
    messages = [e.message for e in serial[2]]
    assert sum("internal error in tests.odd" in m for m in messages) == 15
    assert any("broken" in (e.path or "") for e in serial[2])
    assert "s3cr3t" not in serial[0] + serial[1]
    # An env file several services load is reported once, by the first of them (workers
    # included, though tasks of 7 subjects split projects): each project's `./own.env` and
    # `../shared.env` by its web service, never by its worker service.
    env_findings = [f for f in json.loads(serial[0])["findings"]
                    if f["check"] == "secrets.no-secrets-in-env" and ".env" in f["location"]["path"]]
    for name in ("shared.env", "own.env"):
        by = [f["target"]["name"] for f in env_findings if f["location"]["path"].endswith(name)]
        assert sorted(by) == sorted(f"web{i}" for i in range(15)), name


def _boom() -> Any:
    """A worker that analyses one task, then fails: its task is analysed again here."""
    k = parallel._claim(from_front=True)
    if k is not None:
        parallel._analyze_compact(*parallel._STATE["bounds"][k])
    raise RuntimeError("worker lost")


def test_a_failing_task_is_analysed_here(tmp_path: Path, pooled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    make_projects(tmp_path, 12)
    serial = reports(tmp_path, throughput=False)
    monkeypatch.setattr(parallel, "_worker_task", _boom)
    assert reports(tmp_path, throughput=True) == serial


def _die() -> Any:
    parallel._claim(from_front=True)  # claims a task, then dies with it
    os._exit(3)


def test_a_worker_that_dies_costs_speed_not_results(tmp_path: Path, pooled: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    make_projects(tmp_path, 12)
    serial = reports(tmp_path, throughput=False)
    monkeypatch.setattr(parallel, "_worker_task", _die)
    assert reports(tmp_path, throughput=True) == serial


def assert_same_cli_output_with_jobs(root: Path) -> None:
    """`lockdock scan --no-engine` of `root` in JSON, SARIF and text: the same stdout, stderr
    and exit code (1: findings) with LOCKDOCK_JOBS=1 and 2, no traceback."""
    for fmt in ("json", "sarif", "text"):
        outs = []
        for jobs in ("1", "2"):
            env = dict(os.environ, LOCKDOCK_JOBS=jobs, LOCKDOCK_NO_CACHE="1")
            proc = subprocess.run([sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", fmt, "."],
                                  cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False)
            assert proc.returncode == 1, proc.stderr[-2000:]
            assert "Traceback" not in proc.stderr
            outs.append((proc.stdout, proc.stderr))
        assert outs[0] == outs[1], fmt


def test_cli_output_is_byte_identical_with_workers(tmp_path: Path) -> None:
    """Through `lockdock scan` (the real fork guard and MIN_SUBJECTS): JSON, SARIF, text, stderr."""
    make_projects(tmp_path, parallel.MIN_SUBJECTS // 3 + 5)
    assert_same_cli_output_with_jobs(tmp_path)


def test_compact_form_keeps_what_reports_read() -> None:
    """A worker's finding comes back with every reported field (the other target, the image
    layer, the fix summary and its bookkeeping, the suppression, the pragma lines), without
    the payload and the fix's edits, which `lockdock scan` never reads."""
    from lockdock.model import (
        Applicability,
        FileEdit,
        Finding,
        Fix,
        ImageLayerRef,
        Location,
        Suppression,
        Target,
        TextEdit,
    )
    from lockdock.payloads.compose import ServiceValue

    own = Target(TargetKind.COMPOSE_SERVICE, "web", "compose.yaml", parent="compose-file:compose.yaml:x")
    other = Target(TargetKind.COMPOSE_FILE, "compose.yaml", "compose.yaml")
    edits = [FileEdit("compose.yaml", [TextEdit(3, 3, "  read_only: true\n")], "ab" * 32)]
    fix = Fix("Set read_only", Applicability.UNSAFE, edits, check="container.read-only-rootfs",
              note="edits anchor &base: services a, b change", target=own.key, pending=False,
              reveals=("network.exposed-ports",))
    findings = [
        Finding("container.read-only-rootfs", own, "service web: root filesystem writable",
                Location("compose.yaml", 4, 6, 5), evidence="read_only: false", severity=Severity.LOW,
                fix=fix, suppressed=Suppression("reviewed", "pragma"), payload=ServiceValue(), scope_lines=(2,)),
        Finding("image.pinned-digest", other, "not pinned",
                Location("compose.yaml", 1, None, None, ImageLayerRef(2, "RUN x", "sha256:ab", 10))),
    ]
    # A field added to these classes must be added to the compact form (or said to be dropped).
    assert [x.name for x in fields(Finding)] == ["check", "target", "message", "location", "evidence", "severity",
                                                "fix", "suppressed", "payload", "scope_lines"]
    assert [x.name for x in fields(Fix)] == ["title", "applicability", "changes", "check", "note", "target",
                                            "pending", "reveals"]
    assert [x.name for x in fields(Location)] == ["path", "line", "end_line", "column", "image_layer"]
    for f in findings:
        back = parallel._expand(parallel._compact(f, own), own)
        assert back.payload is None and back.scope_lines == f.scope_lines
        assert back.target == f.target
        assert back.target is own or f.target is not own
        if f.fix is None:
            assert back == f
        else:
            assert back.fix is not None and back.fix.changes == []
            assert back.fix == Fix(**{**vars(f.fix), "changes": []})
            assert (back.check, back.message, back.location, back.evidence, back.severity, back.suppressed) == (
                f.check, f.message, f.location, f.evidence, f.severity, f.suppressed)
            assert json_report.finding_json(back) == json_report.finding_json(f)


def _compact_report(root: Path, *, throughput: bool, entries: bool, keep: Any = None) -> str:
    """The compact JSON report (`lockdock scan --format json` to a pipe); `entries`: made
    where each subject is analysed (`ScanContext.report_entries`); `keep` filters findings
    after the scan, as --select, --ignore, --severity and a baseline do."""
    ctx = ScanContext(cwd=root, use_engine=False)
    if entries:
        ctx.report_entries = json_report.encoded_entries
    result = scan_mod.scan([root], ctx, throughput=throughput)
    if keep is not None:
        for t in result.targets.values():
            t.findings = [f for f in t.findings if keep(f)]
    return json_report.render(result, Severity.HIGH, pretty=False)


def test_entries_made_in_workers_give_the_same_compact_report(tmp_path: Path, pooled: None) -> None:
    """The report entries the workers (and this process) make as they analyse are the bytes
    the report would have written itself, in order, with the errors of the odd check."""
    make_projects(tmp_path, 12)
    plain = _compact_report(tmp_path, throughput=False, entries=False)
    made = _compact_report(tmp_path, throughput=True, entries=True)
    assert made == plain
    assert json.loads(made)["findings"] and "s3cr3t" not in made


def test_entries_of_a_target_that_lost_findings_are_not_used(tmp_path: Path, pooled: None) -> None:
    """Findings left out after the scan (--ignore, --severity, a baseline) are left out of
    the report though entries were made with them: such a target is converted again."""
    make_projects(tmp_path, 12)
    for keep in (lambda f: f.check != "container.privileged", lambda f: "web3" not in f.target.key,
                 lambda f: False):
        plain = _compact_report(tmp_path, throughput=False, entries=False, keep=keep)
        made = _compact_report(tmp_path, throughput=True, entries=True, keep=keep)
        assert made == plain
    assert "container.privileged" not in _compact_report(tmp_path, throughput=True, entries=True,
                                                         keep=lambda f: f.check != "container.privileged")


def test_entries_with_text_to_escape_are_cleaned(tmp_path: Path, pooled: None) -> None:
    """A service name with a terminal escape in it: the entries made ahead hold it raw, and
    the report is cleaned as without them (the escape shown as text, never sent)."""
    make_projects(tmp_path, 10)
    odd = tmp_path / "p001" / "compose.yaml"
    odd.write_text(odd.read_text().replace("odd1:", '"odd1\\e[31mred":'))
    plain = _compact_report(tmp_path, throughput=False, entries=False)
    made = _compact_report(tmp_path, throughput=True, entries=True)
    assert made == plain
    assert "\x1b" not in made and "odd1\\\\e[31mred" in made


def test_entries_refused_by_the_encoder_fall_back(tmp_path: Path, pooled: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """No entries (orjson refuses, or a finding cannot be converted) is only slower."""
    make_projects(tmp_path, 10)
    plain = _compact_report(tmp_path, throughput=False, entries=False)
    monkeypatch.setattr(json_report, "encoded_json", lambda v: None)
    assert _compact_report(tmp_path, throughput=True, entries=True) == plain
    assert json_report.encoded_entries([]) == b""
