"""Compose projects loaded and analysed in two processes (lockdock.composesplit): the report,
its order and its errors are those of one process, also when the facts that span projects
cross the split, when the scanning process takes projects from the child's share, and
when the child fails at any step."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from lockdock import composesplit, parallel, registry
from lockdock import scan as scan_mod
from lockdock.context import ScanContext
from lockdock.model import Severity, TargetKind
from lockdock.reports import json_report, sarif_report, text_report
from tests.core.test_parallel_compose import PROJECT as PARALLEL_PROJECT
from tests.core.test_parallel_compose import assert_same_cli_output_with_jobs
from tests.core.test_parallel_compose import make_projects as parallel_projects

# test_parallel_compose's projects, with a root and a non-root reader of the secret file.
PROJECT = PARALLEL_PROJECT.replace("    volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]\n",
                                   "    volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]\n    secrets: [db]\n")

COUNT = 16  # projects p000..p015; the split cuts them about in the middle


def _with_service(text: str, service: str) -> str:
    return text.replace("services:\n", f"services:\n  {service}\n", 1)


def make_projects(root: Path) -> None:
    """Projects whose shared facts cross the split: env files every project loads; a base
    file of the first half that a project of the second half extends (so it is consumed and
    not analysed on its own) and one the other way; a broken file both halves extend
    (reported once); secret files with non-root readers on both sides; build contexts."""
    parallel_projects(root, COUNT, PROJECT)
    (root / "common").mkdir()
    (root / "common" / "broken.yaml").write_text("services:\n  base: [unclosed\n")
    # p014 (late: the child's share) extends p001's main file: p001 is not analysed alone.
    (root / "p014" / "compose.yaml").write_text(
        _with_service(PROJECT.format(i=14), "late:\n    extends: {file: ../p001/compose.yaml, service: web1}"))
    # p002 (early) extends p013's main file: p013 is not analysed alone.
    (root / "p002" / "compose.yaml").write_text(
        _with_service(PROJECT.format(i=2), "early:\n    extends: {file: ../p013/compose.yaml, service: odd13}"))
    for i in (3, 12):  # both halves read the broken file: its problem is said once
        (root / f"p{i:03d}" / "compose.yaml").write_text(
            _with_service(PROJECT.format(i=i), "b:\n    extends: {file: ../common/broken.yaml, service: base}"))
    (root / "p005" / ".env").write_text("COMPOSE_FILE=missing.yaml\n")  # a grouping problem


def reports(root: Path, *, split: bool) -> tuple[str, str, str, list[Any]]:
    """(compact JSON with entries made ahead, text, SARIF, errors) of one scan of `root`."""
    ctx = ScanContext(cwd=root, use_engine=False)
    ctx.report_entries = json_report.encoded_entries
    result = scan_mod.scan([root], ctx, throughput=split)
    return (json_report.render(result, Severity.HIGH, pretty=False), text_report.render(result, Severity.HIGH),
            sarif_report.render(result), result.errors)


def _odd_service(subject: Any, ctx: Any) -> Any:
    """A check that fails on every `odd` service: errors made in both processes, in order."""
    if subject.target.name.startswith("odd"):
        raise ValueError("odd service")
    return iter(())


@pytest.fixture
def splitting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A split from 4 projects on; pytest's threads do not stop the fork; two CPUs; a check
    that fails on some services."""
    registry.load_plugins()
    # Every kind first: a plugin imported while ANALYZERS is patched would be lost later.
    odd = registry.Analyzer(TargetKind.COMPOSE_SERVICE, (), _odd_service, "tests.odd")
    monkeypatch.setattr(registry, "ANALYZERS", [*registry.ANALYZERS, odd])
    monkeypatch.setattr(composesplit, "MIN_PROJECTS", 4)
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    monkeypatch.setenv("LOCKDOCK_JOBS", "2")


def no_children_left() -> bool:
    """True when this process has no child left, alive or unreaped."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_a_split_scan_gives_the_report_of_one_process(tmp_path: Path, splitting: None) -> None:
    make_projects(tmp_path)
    serial = reports(tmp_path, split=False)
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    scan_mod.scan([tmp_path], ctx, throughput=True)
    made = ctx.cache.get(composesplit.RUNNING)
    assert made is not None and 0 < made.cut < COUNT and made.done is not None and made.local is None
    assert reports(tmp_path, split=True) == serial
    assert no_children_left()
    data = json.loads(serial[0])
    targets = {t["path"] for t in data["targets"]}
    assert "p001/compose.yaml" not in targets and "p013/compose.yaml" not in targets  # consumed, both ways
    assert "p014/compose.yaml" in targets and "p002/compose.yaml" in targets
    messages = [e.message for e in serial[3]]
    broken = [e for e in serial[3] if (e.path or "").endswith("broken.yaml") and "invalid YAML" in e.message]
    assert len(broken) == 1, messages  # read by both halves, said once
    assert any("COMPOSE_FILE" in m for m in messages)
    odd = [m for m in messages if "internal error in tests.odd" in m]
    assert len(odd) == COUNT - 2  # every odd service, p001's and p013's not (consumed)
    env = [f for f in data["findings"] if f["check"] == "secrets.no-secrets-in-env"
           and f["location"]["path"].endswith(".env")]
    assert env and not any(f["target"]["name"].startswith("worker") for f in env)  # by a project's first only
    perms = [f for f in data["findings"] if f["check"] == "secrets.file-permissions"]
    assert perms and all(f["fix"] is None or f["fix"]["title"] for f in perms)
    assert "s3cr3t" not in serial[0] + serial[1] + serial[2]


def test_projects_taken_from_the_childs_share_give_the_same_report(tmp_path: Path, splitting: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The child gets nearly all projects: this process, done with its own, takes the rest
    from the back of the child's share, with the env files earlier projects load left to them."""
    make_projects(tmp_path)
    serial = reports(tmp_path, split=False)
    monkeypatch.setattr(composesplit, "CHILD_SHARE", 0.95)
    taken: list[int] = []
    steal = composesplit.Split._steal

    def counting(self: Any, k: int) -> Any:
        taken.append(k)
        return steal(self, k)

    monkeypatch.setattr(composesplit.Split, "_steal", counting)
    claim = composesplit.Claims.claim

    def slow_child(self: Any, from_front: bool, wait: float) -> Any:
        if from_front:  # the child: slower, so this process surely takes some
            import time

            time.sleep(0.05)
        return claim(self, from_front, wait)

    monkeypatch.setattr(composesplit.Claims, "claim", slow_child)
    assert reports(tmp_path, split=True) == serial
    assert taken
    assert no_children_left()


def _failing_send(kind: str) -> Any:
    real = composesplit._send

    def send(sock: Any, message: Any) -> None:
        if message[0] == kind:
            os._exit(7)  # the child dies just before it would say `kind`
        real(sock, message)
    return send


@pytest.mark.parametrize("kind", ["loaded", "targets", "done"])
def test_a_child_that_dies_costs_speed_not_results(tmp_path: Path, splitting: None,
                                                   monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    make_projects(tmp_path)
    serial = reports(tmp_path, split=False)
    monkeypatch.setattr(composesplit, "_send", _failing_send(kind))
    assert reports(tmp_path, split=True) == serial
    assert no_children_left()


def _garbage_then_silence(sock: Any) -> None:
    sock.sendall((5).to_bytes(8, "big") + b"\x80junk")


@pytest.mark.parametrize(("kind", "first"), [("targets", _garbage_then_silence), ("loaded", None)])
def test_a_child_that_misbehaves_is_ended(tmp_path: Path, splitting: None, monkeypatch: pytest.MonkeyPatch,
                                         kind: str, first: Any) -> None:
    """A child that sends garbage and then hangs, or hangs before it says anything, is
    killed within the scan's time (here 1 s) and its share analysed here."""
    make_projects(tmp_path)
    serial = reports(tmp_path, split=False)
    real = composesplit._send

    def send(sock: Any, message: Any) -> None:
        if message[0] == kind:
            if first is not None:
                first(sock)
            import time

            time.sleep(60)
        real(sock, message)

    monkeypatch.setattr(composesplit, "_send", send)
    monkeypatch.setattr(ScanContext, "remaining", lambda self: 1.0)
    assert reports(tmp_path, split=True) == serial
    assert no_children_left()


def test_few_projects_or_one_cpu_load_in_one_process(tmp_path: Path, splitting: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    make_projects(tmp_path)
    monkeypatch.setattr(composesplit, "MIN_PROJECTS", 10_000)
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    scan_mod.scan([tmp_path], ctx, throughput=True)
    assert ctx.cache.get(composesplit.RUNNING) is None
    monkeypatch.setattr(composesplit, "MIN_PROJECTS", 4)
    monkeypatch.setenv("LOCKDOCK_JOBS", "1")
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    scan_mod.scan([tmp_path], ctx, throughput=True)
    assert ctx.cache.get(composesplit.RUNNING) is None


def test_cli_output_is_byte_identical_with_the_split(tmp_path: Path) -> None:
    """Through `lockdock scan` (the real fork guard and MIN_PROJECTS): JSON, SARIF, text, stderr."""
    root = tmp_path / "c"
    make_projects(root)
    for i in range(COUNT, composesplit.MIN_PROJECTS + 4):
        d = root / f"q{i:03d}"
        d.mkdir()
        (d / "compose.yaml").write_text(PROJECT.format(i=i).replace("./secrets/db.key", "../p000/secrets/db.key")
                                        .replace("./own.env", "../p000/own.env").replace("./app", "../p000/app"))
    assert_same_cli_output_with_jobs(root)


def test_the_scanning_process_does_not_parse_the_childs_files_again(tmp_path: Path, splitting: None,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository's build contexts come from the child's facts (read when the repository
    is analysed, after the child's results are in), not from parsing its share again here."""
    from lockdock.compose import project as project_mod

    make_projects(tmp_path)
    parsed: list[str] = []
    real = project_mod.parse

    def counting(text: str, path: str, *args: Any, **kwargs: Any) -> Any:
        parsed.append(path)
        return real(text, path, *args, **kwargs)

    monkeypatch.setattr(project_mod, "parse", counting)
    monkeypatch.setattr(composesplit, "Claims", _NoTaking)  # this process takes none of the child's
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    result = scan_mod.scan([tmp_path], ctx, throughput=True)
    split = ctx.cache.get(composesplit.RUNNING)
    assert split is not None and split.done is not None and split.local is None
    child_mains = {str(files[0]) for files, _env in split.groups[split.cut:]}
    read_for_own = {c for p in split.own for c in p.consumed}  # extends/include of this side's projects
    assert len(child_mains) > 4 and child_mains & set(parsed) <= read_for_own
    repo = next(t.subject for t in result.targets.values() if t.target.kind is TargetKind.REPO)
    assert len(repo.build_contexts) == COUNT  # every project's ./app, the child's included


class _NoTaking(composesplit.Claims):
    def claim(self, from_front: bool, wait: float) -> int | None:
        return super().claim(from_front, wait) if from_front else None
