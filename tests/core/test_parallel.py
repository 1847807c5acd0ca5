"""Dockerfile analysis in worker processes (lockdock.parallel): the same report as a scan in
one process, byte for byte, with the same order of targets and of errors and warnings, with
and without the result cache, and when a worker fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lockdock import parallel
from lockdock import scan as scan_mod
from lockdock.context import ScanContext
from lockdock.model import Severity
from lockdock.reports import json_report

TOKEN = "ghp_" + "Q7w8E9r0" * 4 + "Tt5Y"

KINDS = [
    "FROM debian:12\nRUN apt-get update && apt-get install -y curl git\nCOPY . /app\n",
    "FROM python:3.12\nENV DB_PASSWORD=s3cr3t-{i}-value\nRUN pip install flask\nUSER 1000\n",
    "FROM alpine:3.19\nRUN cd /src; make; rm -rf $OUT/*\nRUN chmod 755 $TARGET\nEXPOSE 22\n",
    "FROM ubuntu\nRUN curl -fsSL https://x.io/i.sh | sh\nADD https://x.io/f.tgz /opt/\nCMD /app/run --port {i}\n",
    "FROM node:20 AS build\nWORKDIR /src\nRUN npm install\nFROM gcr.io/distroless/nodejs20\nCOPY --from=build /src /app\n",
    "FROM debian:12\nRUN echo " + TOKEN + " > /root/.token\nHEALTHCHECK CMD [\"true\"]\n",
    "FROM debian:{{{{ version }}}}\nRUN apt-get install -y vim\n",  # a template: a read warning
    "RUN echo no FROM here\nFROM alpine\n",  # docker build would fail: a read warning
    "FROM alpine\nRUN <<EOF\nnever closed\n",  # not a Dockerfile: an error, no target
    "FROM alpine\n" + "".join(f"RUN apk add pkg{n}\n" for n in range(105)),  # capped: a warning
    "FROM debian:12\nRUN <<EOF\nset -e\nrm -rf /usr\ncd /tmp\nEOF\n",
]


def make_tree(root: Path, count: int) -> None:
    """`count` varied Dockerfiles in a few folders, a compose project between them."""
    for i in range(count):
        folder = root / f"d{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"s{i:03d}.Dockerfile").write_text(KINDS[i % len(KINDS)].replace("{i}", str(i)))
    (root / "d1" / ".dockerignore").write_text(".git\n.env\n")
    (root / "d2" / "secrets").mkdir()
    (root / "d2" / "secrets" / "db.key").write_text("x\n")
    (root / "app").mkdir()
    (root / "app" / "compose.yaml").write_text("services:\n  web:\n    image: nginx\n    privileged: true\n")


def report(root: Path, *, throughput: bool, use_cache: bool = False) -> str:
    ctx = ScanContext(cwd=root, use_engine=False)
    result = scan_mod.scan([root], ctx, throughput=throughput, use_cache=use_cache)
    return json_report.render(result, Severity.HIGH)


class Recording(parallel.FilePool):
    made: list[Recording] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        Recording.made.append(self)


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> list[Recording]:
    """Pools start at 10 files with 2 workers; pytest's own threads do not stop the fork."""
    Recording.made = []
    monkeypatch.setattr(parallel, "FilePool", Recording)
    monkeypatch.setattr(parallel, "MIN_FILES", 10)
    monkeypatch.setattr(parallel, "CHUNK", 7)
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    monkeypatch.setenv("LOCKDOCK_JOBS", "2")
    return Recording.made


def test_workers_give_the_report_of_one_process(tmp_path: Path, pooled: list[Recording]) -> None:
    make_tree(tmp_path, 60)
    serial = report(tmp_path, throughput=False)
    assert not pooled
    together = report(tmp_path, throughput=True)
    assert len(pooled) == 1 and pooled[0].pids and os.getpid() not in pooled[0].pids
    assert together == serial
    assert TOKEN not in together
    for said in ("looks like a Dockerfile template", "more than 100 findings", "not a valid Dockerfile",
                 "RUN before the first FROM"):
        assert said in serial  # the errors whose order is compared are there


def test_batches_beyond_the_first_keep_their_order(tmp_path: Path, pooled: list[Recording],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_mod, "BATCH_SIZE", 16)  # several batches in flight at once
    make_tree(tmp_path, 70)
    assert report(tmp_path, throughput=True) == report(tmp_path, throughput=False)
    assert len(pooled) == 1


def test_workers_fill_and_use_the_result_cache(tmp_path: Path, pooled: list[Recording]) -> None:
    make_tree(tmp_path / "t", 40)
    root = tmp_path / "t"
    serial = report(root, throughput=False)
    cold = report(root, throughput=True, use_cache=True)
    assert cold == serial and pooled
    pooled.clear()
    warm = report(root, throughput=True, use_cache=True)
    assert warm == serial
    assert not pooled  # every file was a cache hit: no pool was started
    (root / "d0" / "s000.Dockerfile").write_text("FROM debian:12\nUSER root\n")
    assert report(root, throughput=True, use_cache=True) == report(root, throughput=False)


def boom(paths: list[str], record_reads: bool) -> Any:
    raise RuntimeError("worker lost")


def test_a_failing_worker_costs_speed_not_results(tmp_path: Path, pooled: list[Recording],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path, 30)
    serial = report(tmp_path, throughput=False)
    monkeypatch.setattr(parallel, "_analyze_paths", boom)
    assert report(tmp_path, throughput=True) == serial
    assert pooled and not pooled[0].pids  # no worker answered; the scan analysed them itself


def test_small_trees_and_one_cpu_stay_in_one_process(tmp_path: Path, pooled: list[Recording],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path, 8)
    report(tmp_path, throughput=True)
    monkeypatch.setenv("LOCKDOCK_JOBS", "1")
    make_tree(tmp_path / "more", 30)
    report(tmp_path, throughput=True)
    assert not pooled


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_cli_report_is_the_same_with_workers_and_without(tmp_path: Path) -> None:
    """Through `lockdock scan` (no thread then: the real fork guard), ShellCheck on PATH."""
    make_tree(tmp_path, 2 * parallel.MIN_FILES)
    outs = []
    for jobs in ("1", "2"):
        env = dict(os.environ, LOCKDOCK_JOBS=jobs, LOCKDOCK_NO_CACHE="1")
        proc = subprocess.run([sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json", "."],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 1, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1]
    assert "ShellCheck SC2114" in outs[0]  # ShellCheck ran in the workers too


def test_default_workers_follow_idle_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCKDOCK_JOBS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(os, "getloadavg", lambda: (0.4, 0.2, 0.1))
    assert parallel.workers_wanted() == 4
    monkeypatch.setattr(os, "getloadavg", lambda: (7.5, 6.0, 5.0))
    assert parallel.workers_wanted() == 1  # no idle CPU: one process, less CPU time
    monkeypatch.setenv("LOCKDOCK_JOBS", "3")
    assert parallel.workers_wanted() == 3  # asked for explicitly
    monkeypatch.setenv("LOCKDOCK_JOBS", "many")
    assert parallel.workers_wanted() == 1


def die(paths: list[str], record_reads: bool) -> Any:
    os._exit(3)  # a worker killed mid-scan (OOM, a signal): the pool breaks for good


def test_a_worker_that_dies_breaks_the_pool_not_the_scan(tmp_path: Path, pooled: list[Recording],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_mod, "BATCH_SIZE", 12)  # later batches meet the broken pool
    make_tree(tmp_path, 50)
    serial = report(tmp_path, throughput=False)
    monkeypatch.setattr(parallel, "_analyze_paths", die)
    assert report(tmp_path, throughput=True) == serial
    assert pooled and not pooled[0].pids
