"""`lockdock scan` with the end of the container list analysed in a forked process
(lockdock.engine.forkscan): the same report as one process, and the share redone in the
scanning process when the child fails; on containers of this test only (`[scan]
container-labels`), each scan in a fresh interpreter (see SCRIPT)."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lockdock.engine import forkscan
from tests.conftest import SESSION, SESSION_LABEL, TEST_LABEL

pytestmark = pytest.mark.engine

COUNT = 9  # containers of the test; the split threshold is lowered below it


@pytest.fixture
def world(tmp_path: Path, docker_api: Any, busybox_image: str) -> Iterator[Path]:
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
        yield tmp_path
    finally:
        _remove(docker_api, made)


def _remove(docker_api: Any, made: list[str]) -> None:
    for cid in made:
        with contextlib.suppress(Exception):  # best effort
            docker_api.remove_container(cid, force=True)


# Each scan runs in a fresh interpreter (pytest's own may hold threads, and a process with
# threads never forks): the split threshold lowered, `start` watched, `_child` replaced to
# break it when FORK_TEST_FAILURE says how; the shares forked are said on stderr's last line.
SCRIPT = """
import os, sys, threading
from lockdock.engine import forkscan
forkscan.MIN_CONTAINERS = int(os.environ.get("FORK_TEST_MIN", "4"))
forks = []
real = forkscan.start
def spy(ctx):
    kept = real(ctx)
    share = ctx.cache.get(forkscan.SHARE)
    if share is not None:
        forks.append(len(share.ids))
    return kept
forkscan.start = spy
failure = os.environ.get("FORK_TEST_FAILURE")
def broken(ctx, ids, wfd):
    if failure == "raises":
        raise RuntimeError("child broke")
    if failure == "killed":
        os.kill(os.getpid(), 9)
    with open(wfd, "wb", closefd=True) as out:
        out.write(b"not marshal")
if failure:
    forkscan._child = broken
count_to = os.environ.get("FORK_TEST_COUNT")  # a file: the pid of each image inspect, per line
if count_to:
    from lockdock.engine import rawapi
    real_inspect = rawapi.LocalAPI.inspect_image
    def counted(self, ref):
        with open(count_to, "a") as fh:
            fh.write("%d\\n" % os.getpid())
        return real_inspect(self, ref)
    rawapi.LocalAPI.inspect_image = counted
stop = threading.Event()
if os.environ.get("FORK_TEST_THREAD"):
    threading.Thread(target=stop.wait, daemon=True).start()
from lockdock.cli.entry import main
code = main(sys.argv[1:])
stop.set()
sys.stdout.flush()
sys.stderr.write("FORKS=%r\\n" % forks)
sys.exit(code)
"""


def _scan(world: Path, fmt: str, jobs: str, **env: str) -> tuple[int, str, str, list[int]]:
    """(exit code, stdout, stderr, sizes of the shares forked) of `lockdock scan` in `world`."""
    proc = subprocess.run([sys.executable, "-c", SCRIPT, "scan", "--format", fmt, "."], cwd=world,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "LOCKDOCK_JOBS": jobs, "LOCKDOCK_NO_CACHE": "1", **env})
    err, _, last = proc.stderr.rstrip("\n").rpartition("\n")
    assert last.startswith("FORKS="), proc.stderr[-2000:]
    return proc.returncode, proc.stdout, err, ast.literal_eval(last[len("FORKS="):])


def _containers(report: str) -> dict[str, Any]:
    """The containers' part of a JSON report (other helpers' images come and go meanwhile)."""
    data = json.loads(report)
    return {"targets": [t for t in data["targets"] if t["kind"] == "container"],
            "findings": [f for f in data["findings"] if f["target"]["kind"] == "container"],
            "errors": data["errors"]}


CHILD = COUNT - (COUNT - int(COUNT * forkscan.CHILD_SHARE))  # containers in the child's share


def test_a_split_scan_reports_what_one_process_reports(world: Path) -> None:
    one = _scan(world, "json", "1")
    two = _scan(world, "json", "2")
    assert one[3] == [] and two[3] == [CHILD]
    assert one[0] == two[0] == 1 and one[2] == two[2]
    mine = _containers(one[1])
    assert len(mine["targets"]) == COUNT
    checks = {f["check"] for f in mine["findings"]}
    assert {"container.not-privileged", "secrets.no-secrets-in-env"} <= checks, checks
    assert _containers(two[1]) == mine
    # The container targets come last, in list order, exactly as one process writes them.
    assert json.loads(two[1])["targets"][-COUNT:] == mine["targets"]
    for fmt in ("text", "sarif"):
        a, b = _scan(world, fmt, "1"), _scan(world, fmt, "2")
        assert b[3] == [CHILD] and a[0] == b[0] and a[2] == b[2]
        if fmt == "sarif":
            # Without ruleIndex: it counts the rules of the whole run, and other sessions'
            # images (their rules) may come and go between the two scans.
            def mine(out: str) -> list[Any]:
                return [{k: v for k, v in r.items() if k != "ruleIndex"}
                        for r in json.loads(out)["runs"][0]["results"] if "container" in json.dumps(r)]

            assert mine(a[1]) == mine(b[1])
        else:
            assert [ln for ln in a[1].splitlines() if "lockdock-test-fork" in ln] == \
                [ln for ln in b[1].splitlines() if "lockdock-test-fork" in ln]


@pytest.mark.parametrize("failure", ["raises", "killed", "garbage"])
def test_a_failed_child_s_share_is_analysed_here(world: Path, failure: str) -> None:
    want = _containers(_scan(world, "json", "1")[1])
    code, out, err, forks = _scan(world, "json", "2", FORK_TEST_FAILURE=failure)
    assert forks == [CHILD], "the scan did not fork"
    assert code == 1 and "Traceback" not in err
    assert _containers(out) == want


def test_no_split_on_one_cpu_for_few_containers_or_in_a_threaded_process(world: Path) -> None:
    assert _scan(world, "json", "1")[3] == []  # LOCKDOCK_JOBS=1: no second process wanted
    assert _scan(world, "json", "2", FORK_TEST_MIN=str(COUNT + 1))[3] == []  # too few containers
    code, out, _, forks = _scan(world, "json", "2", FORK_TEST_THREAD="1")  # forking is unsafe then
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


@pytest.fixture
def old_world(tmp_path: Path, docker_api: Any, load_image_tar: Any) -> Iterator[Path]:
    """COUNT containers of an image built in 2019 (image.fresh-base on each), the scan
    seeing only them: the forked child knows its creation time from the image list."""
    from tests.conftest import unique_tag
    from tests.engine import tarkit

    mark = uuid.uuid4().hex[:10]
    tag = unique_tag("lockdock-test-fork-old")
    layer = tarkit.layer([tarkit.file("app", b"old\n")])
    load_image_tar(tarkit.legacy_save([layer], tag=tag, created="2019-03-04T05:06:07.891Z",
                                      config={"Cmd": ["/app"]}))
    made = []
    try:
        for i in range(COUNT):
            made.append(docker_api.create_container(
                tag, labels={TEST_LABEL: "1", SESSION_LABEL: SESSION, "lockdock-test-fork": mark},
                name=f"lockdock-test-fork-old-{mark}-{i}")["Id"])
        (tmp_path / ".lockdock.toml").write_text(f'[scan]\ncontainer-labels = ["lockdock-test-fork={mark}"]\n')
        yield tmp_path
    finally:
        _remove(docker_api, made)
        with contextlib.suppress(Exception):
            docker_api.remove_image(tag, force=True)


def test_the_child_reports_the_image_age_of_its_containers(old_world: Path) -> None:
    one = _scan(old_world, "json", "1")
    counts = old_world / "inspects.txt"
    two = _scan(old_world, "json", "2", FORK_TEST_COUNT=str(counts))
    assert one[3] == [] and two[3] == [CHILD]
    # The child asked nothing about images (its containers' image is in the engine's list).
    pids = counts.read_text().split() if counts.exists() else []
    assert len(set(pids)) <= 1, "the forked child inspected images"
    mine = _containers(one[1])
    aged = [f for f in mine["findings"] if f["check"] == "image.fresh-base"]
    assert len(aged) == COUNT and all("days ago" in f["message"] for f in aged)
    assert _containers(two[1]) == mine


def test_an_image_list_that_hangs_holds_up_nothing_a_one_process_scan_does(
        tmp_path: Path, run_lockdock: Any) -> None:
    """The engine never answers `GET /images/json`: the split scan waits for that list no
    longer than a one-process scan does, so both report the same (the host and the files
    scanned, the list's timeout said once) and end at the scan timeout, not later."""
    import time

    from .fakeengine import HANG, FakeEngine, Reply, ok

    n = forkscan.MIN_CONTAINERS + 4
    image = "sha256:" + "c" * 64
    inspect = {"Name": "/web", "Image": image, "Config": {"Image": "web:1.0", "User": "", "Env": [], "Labels": {}},
               "HostConfig": {"Privileged": True}, "State": {"Running": False}, "Mounts": []}
    routes = {
        "/containers/json": ok([{"Id": f"{i:064x}", "Image": "web:1.0", "ImageID": image, "Labels": {}} for i in range(n)]),
        "/containers/[0-9a-f]+/json": ok(inspect),
        "/images/json": Reply(mode=HANG),
    }
    sockdir = Path(f"/tmp/lockdock-hangimg-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    sockdir.mkdir()
    (tmp_path / "Dockerfile").write_text("FROM busybox:1.36\n")
    try:
        with FakeEngine(sockdir / "e.sock", routes):
            reports, took = {}, {}
            for jobs in ("1", "2"):
                start = time.monotonic()
                proc = run_lockdock("scan", "--format", "json", "--no-cache", "--timeout", "4", ".",
                                    env={"DOCKER_HOST": f"unix://{sockdir}/e.sock", "LOCKDOCK_JOBS": jobs})
                took[jobs] = time.monotonic() - start
                assert "Traceback" not in proc.stderr
                reports[jobs] = json.loads(proc.stdout)
    finally:
        for p in sockdir.iterdir():
            p.unlink()
        sockdir.rmdir()
    assert reports["2"]["summary"]["targets"] == reports["1"]["summary"]["targets"] >= 2, reports["2"]["summary"]
    assert reports["2"] == reports["1"]
    assert took["2"] < took["1"] + 2.0, took
