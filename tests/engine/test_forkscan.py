"""`lockdock scan` with the end of the container list analysed in a forked process
(lockdock.engine.forkscan): the same report as one process, and the share redone here when
the child fails. Run in this process (the fork is of pytest's process: the child only
reads, analyses and exits), on containers of this test only (`[scan] container-labels`)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lockdock.cli.entry import main
from lockdock.engine import forkscan
from tests.conftest import SESSION, SESSION_LABEL, TEST_LABEL

pytestmark = pytest.mark.engine

COUNT = 9  # containers of the test; the split threshold is lowered below it


@pytest.fixture
def world(tmp_path: Path, docker_api: Any, busybox_image: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """COUNT containers with varied findings (privileged, a secret-looking env value, a
    published port, no limits), one running; the scan sees only them."""
    mark = uuid.uuid4().hex[:10]
    labels = {TEST_LABEL: "1", SESSION_LABEL: SESSION, "lockdock-test-fork": mark}
    made = []
    try:
        for i in range(COUNT):
            hc = docker_api.create_host_config(privileged=i % 3 == 0, mem_limit="64m" if i % 2 else None,
                                               port_bindings={80: 8000 + i} if i % 4 == 1 else None,
                                               cap_add=["NET_ADMIN"] if i % 5 == 2 else None)
            env = {"API_TOKEN": f"ghp_{'a1B2c3D4' * 4}{i:04d}"} if i % 3 == 1 else {}
            made.append(docker_api.create_container(
                busybox_image, command=["sleep", "60"], labels={**labels, "n": str(i)}, environment=env,
                ports=[80] if i % 4 == 1 else None, host_config=hc, name=f"lockdock-test-fork-{mark}-{i}")["Id"])
        docker_api.start(made[4])
        (tmp_path / ".lockdock.toml").write_text(f'[scan]\ncontainer-labels = ["lockdock-test-fork={mark}"]\n')
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("LOCKDOCK_NO_CACHE", "1")
        monkeypatch.setattr(forkscan, "MIN_CONTAINERS", 4)
        yield tmp_path
    finally:
        for cid in made:
            with contextlib.suppress(Exception):  # best effort
                docker_api.remove_container(cid, force=True)


def _scan(fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, jobs: str) -> tuple[int, str, str]:
    monkeypatch.setenv("LOCKDOCK_JOBS", jobs)
    code = main(["scan", "--format", fmt, "."])
    out, err = capsys.readouterr()
    return code, out, err


def _containers(report: str) -> dict[str, Any]:
    """The containers' part of a JSON report (other helpers' images come and go meanwhile)."""
    data = json.loads(report)
    return {"targets": [t for t in data["targets"] if t["kind"] == "container"],
            "findings": [f for f in data["findings"] if f["target"]["kind"] == "container"],
            "errors": data["errors"]}


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records the size of every share handed to a child."""
    seen: list[int] = []
    real = forkscan.start

    def spy(ctx: Any) -> Any:
        kept = real(ctx)
        share = ctx.cache.get(forkscan.SHARE)
        if share is not None:
            seen.append(len(share.ids))
        return kept

    monkeypatch.setattr(forkscan, "start", spy)
    return seen


def test_a_split_scan_reports_what_one_process_reports(world: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    assert threading.active_count() == 1  # else nothing forks and this test would compare a scan with itself
    one = _scan("json", capsys, monkeypatch, "1")
    assert forks == []
    two = _scan("json", capsys, monkeypatch, "2")
    assert forks == [COUNT - (COUNT - int(COUNT * forkscan.CHILD_SHARE))]
    assert one[0] == two[0] == 1 and one[2] == two[2]
    mine = _containers(one[1])
    assert len(mine["targets"]) == COUNT
    checks = {f["check"] for f in mine["findings"]}
    assert {"container.not-privileged", "secrets.no-secrets-in-env"} <= checks, checks
    assert _containers(two[1]) == mine
    # The container targets come last, in list order, exactly as one process writes them.
    assert json.loads(two[1])["targets"][-COUNT:] == mine["targets"]
    for fmt in ("text", "sarif"):
        a, b = _scan(fmt, capsys, monkeypatch, "1"), _scan(fmt, capsys, monkeypatch, "2")
        assert a[0] == b[0] and a[2] == b[2]
        if fmt == "sarif":
            strip = [r for r in json.loads(a[1])["runs"][0]["results"] if "container" in json.dumps(r)]
            assert strip == [r for r in json.loads(b[1])["runs"][0]["results"] if "container" in json.dumps(r)]


@pytest.mark.parametrize("failure", ["raises", "killed", "garbage"])
def test_a_failed_child_s_share_is_analysed_here(world: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, forks: list[int],
                                                 failure: str) -> None:
    want = _containers(_scan("json", capsys, monkeypatch, "1")[1])

    def broken(ctx: Any, ids: list[str], wfd: int) -> None:
        if failure == "raises":
            raise RuntimeError("child broke")
        if failure == "killed":
            os.kill(os.getpid(), 9)
        with open(wfd, "wb", closefd=True) as out:
            out.write(b"not a pickle")

    monkeypatch.setattr(forkscan, "_child", broken)
    code, out, err = _scan("json", capsys, monkeypatch, "2")
    assert forks, "the scan did not fork"
    assert code == 1 and "Traceback" not in err
    assert _containers(out) == want


def test_no_split_for_one_thread_less_or_a_busy_machine(world: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    _scan("json", capsys, monkeypatch, "1")  # LOCKDOCK_JOBS=1: no worker wanted
    monkeypatch.setattr(forkscan, "MIN_CONTAINERS", COUNT + 1)  # too few containers
    _scan("json", capsys, monkeypatch, "2")
    assert forks == []
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # a running thread: forking would be unsafe
    other.start()
    try:
        monkeypatch.setattr(forkscan, "MIN_CONTAINERS", 4)
        code, out, _ = _scan("json", capsys, monkeypatch, "2")
    finally:
        stop.set()
        other.join()
    assert forks == [] and code == 1
    assert len(_containers(out)["targets"]) == COUNT


@pytest.mark.parametrize(("jobs", "loadavg", "cpus", "want"), [
    ("1", "0.00 0.00 0.00 1/100 5", 2, False),  # LOCKDOCK_JOBS=1: never
    ("2", "9.00 9.00 9.00 9/100 5", 2, True),  # LOCKDOCK_JOBS=2: always
    ("", "3.10 2.00 1.00 2/100 5", 2, True),  # a busy minute, but one other task runnable now
    ("", "0.10 0.10 0.10 3/100 5", 2, False),  # two others runnable now
    ("", "0.10 0.10 0.10 1/100 5", 1, False),  # one CPU
])
def test_cpu_free_reads_the_tasks_runnable_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str,
                                                loadavg: str, cpus: int, want: bool) -> None:
    monkeypatch.setenv("LOCKDOCK_JOBS", jobs)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cpus)))
    fake = tmp_path / "loadavg"
    fake.write_text(loadavg + "\n")
    assert forkscan.cpu_free(str(fake)) is want


def test_cpu_free_without_proc_asks_the_load_average(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCKDOCK_JOBS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    for load, want in ((0.5, True), (5.0, False)):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        assert forkscan.cpu_free(str(tmp_path / "missing")) is want
