"""Differential edge cases of the two-process compose scan (lockdock.composesplit): a corpus
whose cross-project facts fall on both sides of the cut, scanned in one process and split,
must give the same report, errors and exit code; interrupting a split scan leaves no
traceback and no child working."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from lockdock import composesplit, parallel, registry
from lockdock import scan as scan_mod
from lockdock.context import ScanContext
from lockdock.model import Severity
from lockdock.reports import json_report, sarif_report, text_report
from tests.core.test_compose_split import no_children_left

SERVICES = """services:
  web{i}:
    image: nginx:1.25
    env_file: [{shared}, {own}]
    environment:
      DB_PASSWORD: "Pw-{i}-literal-value"
    ports: ["81{i:02d}:80"]
    secrets: [db, common]
  job{i}:
    build: ./app
    user: root
    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
    secrets: [db, common]
  side{i}:
    image: "${{IMAGE:-alpine}}"
    env_file: ./own.env
    user: "1000"
    cap_add: [ALL]
    network_mode: host
    secrets: [common]
secrets:
  db:
    file: ./secrets/db.key
  common:
    file: ../common/common.key
"""


def _project(i: int, folder: str) -> str:
    # The shared env file spelled two ways; every fourth project names an env file that is missing.
    shared = "../shared.env" if i % 2 else f"./../{folder}/../shared.env"
    own = "./missing.env" if i % 4 == 0 else "./own.env"
    return SERVICES.format(i=i, shared=shared, own=own)


def _plus(text: str, service: str) -> str:
    return text.replace("services:\n", "services:\n  " + service + "\n", 1)


def make_corpus(root: Path, count: int, *, dockerfiles: bool = True) -> list[str]:
    """`count` project folders p000.. (count >= 24) whose shared facts cross any cut: extends
    and include both ways and in a cycle, a file that does not parse read by several
    projects, a main file another folder's COMPOSE_FILE names, overrides, env files shared
    under two spellings or missing, secret files with loose modes read by root and non-root
    services, `.env` problems, pragmas, hostile folder names, a symlinked folder."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "shared.env").write_text("GITHUB_TOKEN=ghp_ZZZZyyyyXXXXwwwwVVVVuuuuTTTTssss0000\n")
    (root / "common").mkdir()
    (root / "common" / "broken.yaml").write_text("services:\n  base: [not closed\n")
    (root / "common" / "common.key").write_text("k\n")
    (root / "common" / "common.key").chmod(0o644)
    names = [f"p{i:03d}" for i in range(count)]
    for i, name in enumerate(names):
        d = root / name
        (d / "app").mkdir(parents=True)
        (d / "secrets").mkdir()
        key = d / "secrets" / "db.key"
        key.write_text("x\n")
        key.chmod(0o640 if i % 2 else 0o600)
        if dockerfiles:
            (d / "app" / "Dockerfile").write_text("FROM alpine:3.19\n" + ("USER 1000\n" if i % 3 else "RUN apk add curl\n"))
        (d / "compose.yaml").write_text(_project(i, name))
        (d / "own.env").write_text(f"DB_PASSWORD=Own-{i}-secret-Value\n")
        if i % 5 == 0:
            (d / ".env").write_text(f"IMAGE=busybox:1.{i}\n")
    last, late = count - 1, count - 3

    def put(rel: str, text: str) -> None:
        (root / rel).write_text(text)

    put(f"p{late:03d}/compose.yaml", _plus(_project(late, f"p{late:03d}"),
                                            "x1:\n    extends: {file: ../p003/compose.yaml, service: web3}"))
    put("p004/compose.yaml", _plus(_project(4, "p004"),
                                   f"x2:\n    extends: {{file: ../p{late - 1:03d}/compose.yaml, service: job{late - 1}}}"))
    put("p010/compose.yaml", _plus(_project(10, "p010"),  # a cycle across the cut
                                   f"cy:\n    extends: {{file: ../p{last - 5:03d}/compose.yaml, service: web{last - 5}}}"))
    put(f"p{last - 5:03d}/compose.yaml", _plus(_project(last - 5, f"p{last - 5:03d}"),
                                               "cy:\n    extends: {file: ../p010/compose.yaml, service: web10}"))
    put("p012/compose.yaml", f"include:\n  - ../p{last - 2:03d}/compose.yaml\n" + _project(12, "p012"))
    put(f"p{last - 4:03d}/compose.yaml", "include:\n  - path: ../p007/compose.yaml\n" + _project(last - 4, "x"))
    for i in (6, count // 2, last - 6):  # a file that does not parse, read on both sides
        put(f"p{i:03d}/compose.yaml", _plus(_project(i, f"p{i:03d}"),
                                            "b:\n    extends: {file: ../common/broken.yaml, service: base}"))
    put(f"p{last:03d}/compose.yaml", "services:\n  x: {image: [bad\n")  # broken, and extended early
    put("p008/compose.yaml", _plus(_project(8, "p008"), f"bx:\n    extends: {{file: ../p{last:03d}/compose.yaml, service: x}}"))
    for i in (11, last - 7):
        put(f"p{i:03d}/compose.override.yaml", f"services:\n  web{i}:\n    privileged: true\n")
    put(f"p{last - 8:03d}/.env", "COMPOSE_FILE=../p002/compose.yaml\n")  # another folder's main file
    put("p013/.env", f"COMPOSE_FILE=../p{last - 9:03d}/compose.yaml:compose.yaml\n")
    put(f"p{last - 10:03d}/.env", "COMPOSE_FILE=absent.yaml\nNO EQUALS SIGN\n")
    put("p014/compose.yaml", _project(14, "p014").replace(
        "    cap_add: [ALL]\n", "    # lockdock: ignore=container.capabilities kept on purpose\n    cap_add: [ALL]\n"))
    put(f"p{last - 11:03d}/compose.yaml", "# lockdock: ignore-file=container.host-namespaces legacy\n"
        + _project(last - 11, "x"))
    put("p015/compose.yaml", _plus(_project(15, "p015"), "bare:\n    environment: {A: b}"))
    put(f"p{last - 12:03d}/compose.yaml", _plus(_project(last - 12, "x"), "bare:\n    environment: {A: b}"))
    raw = os.fsencode(root)
    for name in (b"a\x1b[31mred", b"b\xff\xfebytes", b"z\nline", b"zz\x07\xe9"):  # before and after p...
        os.makedirs(raw + b"/" + name)
        with open(raw + b"/" + name + b"/compose.yaml", "wb") as f:
            f.write(b"services:\n  s\x1b[0m:\n    image: nginx\n    privileged: true\n    env_file: ../shared.env\n")
    os.symlink("p003", root / "q-link")
    return names


@pytest.fixture
def splitting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A split from 4 projects on, with pytest's threads running, two CPUs."""
    registry.load_plugins()
    monkeypatch.setattr(composesplit, "MIN_PROJECTS", 4)
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    monkeypatch.setenv("LOCKDOCK_JOBS", "2")


def reports(root: Path, *, split: bool, paths: list[Path] | None = None) -> tuple[Any, ...]:
    """(compact JSON with entries made ahead, text, SARIF, errors, the split made or None)."""
    ctx = ScanContext(cwd=root, use_engine=False)
    ctx.report_entries = json_report.encoded_entries
    result = scan_mod.scan(paths or [root], ctx, throughput=split)
    made = ctx.cache.get(composesplit.RUNNING)
    return (json_report.render(result, Severity.LOW, pretty=False), text_report.render(result, Severity.LOW),
            sarif_report.render(result), result.errors, made)




@pytest.mark.parametrize("share", [0.1, 0.55, 0.9])
def test_facts_across_the_cut_give_one_process_report(tmp_path: Path, splitting: None,
                                                      monkeypatch: pytest.MonkeyPatch, share: float) -> None:
    """Wherever the cut falls (the child's share of the bytes), the report is one process's."""
    make_corpus(tmp_path, 28)
    serial = reports(tmp_path, split=False)
    monkeypatch.setattr(composesplit, "CHILD_SHARE", share)
    split = reports(tmp_path, split=True)
    assert split[4] is not None and split[4].done is not None and split[4].local is None
    assert split[:4] == serial[:4]
    assert no_children_left()
    messages = [e.message for e in serial[3]]
    assert sum("invalid YAML: did not" in m for m in messages) == 2  # broken.yaml and p027's, each once
    assert "Pw-" not in serial[0] + serial[1] + serial[2] and "ghp_ZZZZ" not in serial[0] + serial[1]


def test_a_file_list_and_a_symlinked_folder_give_one_process_report(tmp_path: Path, splitting: None) -> None:
    names = make_corpus(tmp_path, 24)
    paths = [tmp_path / n / "compose.yaml" for n in names[::-1]] + [tmp_path / "q-link", tmp_path / "common"]
    serial = reports(tmp_path, split=False, paths=paths)
    split = reports(tmp_path, split=True, paths=paths)
    assert split[4] is not None and split[:4] == serial[:4]
    assert no_children_left()


def test_no_spool_file_means_no_split(tmp_path: Path, splitting: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A temp folder that cannot be written: the scan loads in one process, same report."""
    make_corpus(tmp_path, 24)
    serial = reports(tmp_path, split=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    split = reports(tmp_path, split=True)
    assert split[4] is None and split[:4] == serial[:4]
    assert no_children_left()


def test_a_scan_that_raises_ends_and_reaps_the_child(tmp_path: Path, splitting: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan stops (an exception from a caller's callback, Ctrl-C) while the child still
    works: the child is ended and reaped, not left running."""
    make_corpus(tmp_path, 24)
    claim = composesplit.Claims.claim

    def slow(self: Any, from_front: bool, wait: float) -> Any:
        k = claim(self, from_front, wait)
        if from_front and k is not None:
            time.sleep(30)  # the child: still working when the scan stops
        return k

    monkeypatch.setattr(composesplit.Claims, "claim", slow)

    def stop(tr: Any) -> None:
        raise KeyboardInterrupt

    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    with pytest.raises(KeyboardInterrupt):
        scan_mod.scan([tmp_path], ctx, throughput=True, on_target=stop)
    assert ctx.cache.get(composesplit.RUNNING) is not None
    assert no_children_left()


# ------------------------------------------------------------------ through `lockdock scan`

# Runs lockdock's CLI and, in a file named by SPLIT_PROBE, says when a split child was made;
# SPLIT_SLOW: seconds the child holds each project it claims (an interrupt then finds it working);
# SPLIT_PAUSE: seconds the scan waits before loading the compose projects.
PROBE = """
import os, sys, time
from lockdock import composesplit
fork = composesplit.Split.fork
def probed(self):
    ok = fork(self)
    with open(os.environ["SPLIT_PROBE"], "a") as f:
        f.write(f"{ok} {self.pid}\\n")
    return ok
composesplit.Split.fork = probed
claim = composesplit.Claims.claim
def slow(self, from_front, wait):
    k = claim(self, from_front, wait)
    if from_front and k is not None:
        time.sleep(float(os.environ.get("SPLIT_SLOW", "0")))
    return k
composesplit.Claims.claim = slow
begin = composesplit.begin
def paused(files, ctx):
    time.sleep(float(os.environ.get("SPLIT_PAUSE", "0")))
    return begin(files, ctx)
composesplit.begin = paused
from lockdock.cli.entry import main
sys.exit(main(sys.argv[1:]))
"""


def _cli(root: Path, jobs: str, args: list[str], probe: Path, **env: str) -> tuple[int, bytes, bytes]:
    full = dict(os.environ, LOCKDOCK_JOBS=jobs, LOCKDOCK_NO_CACHE="1", SPLIT_PROBE=str(probe), **env)
    proc = subprocess.run([sys.executable, "-c", PROBE, "scan", "--no-engine", *args], cwd=root, env=full,
                          capture_output=True, timeout=120, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def test_cli_reports_are_byte_identical_split_or_not(tmp_path: Path) -> None:
    """Every format and the options that filter or redirect: stdout, stderr, exit code, files."""
    root = tmp_path / "c"
    make_corpus(root, composesplit.MIN_PROJECTS + 4)
    base = tmp_path / "baseline.json"
    some = [f"p{i:03d}" for i in range(0, composesplit.MIN_PROJECTS, 3)]  # a baseline of some findings
    subprocess.run([sys.executable, "-m", "lockdock", "scan", "--no-engine", "-q", "--write-baseline", str(base),
                    *some], cwd=root, env=dict(os.environ, LOCKDOCK_NO_CACHE="1"), capture_output=True, check=False)
    assert base.exists()
    runs = [["--format", f, "."] for f in ("json", "compact", "text", "sarif", "gitlab", "checkstyle")]
    runs += [["--format", "json", "--select", "container,secrets.no-secrets-in-env,secrets.file-permissions", "--severity", "medium", "."],
             ["--format", "sarif", "--ignore", "container.capabilities,network.isolation", "--baseline", str(base), "."],
             ["-q", "--fail-on", "critical", "--show-suppressed", "."]]
    for args in runs:
        got = []
        for jobs in ("1", "2"):
            probe = tmp_path / f"probe-{jobs}"
            out = tmp_path / f"out-{jobs}"
            rc, stdout, stderr = _cli(root, jobs, [*args, "--output", str(out)] if "-q" in args else args, probe)
            assert b"Traceback" not in stderr
            split = probe.read_text().startswith("True") if probe.exists() else False
            assert split == (jobs == "2"), args
            probe.unlink(missing_ok=True)
            got.append((rc, stdout, stderr, out.read_bytes() if out.exists() else None))
        assert got[0] == got[1], args
        assert got[0][0] in (0, 1), args


def _state(pid: int) -> str:
    """The process's state letter ("" once it is gone and reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


@pytest.mark.parametrize("how", ["group-int", "parent-int", "parent-term"])
def test_an_interrupted_split_scan_leaves_no_traceback_and_no_working_child(tmp_path: Path, how: str) -> None:
    """Ctrl-C (SIGINT to the process group), SIGINT or SIGTERM to the scanning process only,
    while the child still analyses (Dockerfile workers idle by then): no traceback, and the
    child stops working at once (a zombie waiting for init to reap it is not working)."""
    root = tmp_path / "c"
    make_corpus(root, composesplit.MIN_PROJECTS + 4)
    probe = tmp_path / "probe"
    env = dict(os.environ, LOCKDOCK_JOBS="2", LOCKDOCK_NO_CACHE="1", SPLIT_PROBE=str(probe), SPLIT_SLOW="30")
    err = tmp_path / "stderr"  # a file, not a pipe: a pipe stays open while a child lives
    with open(err, "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-c", PROBE, "scan", "--no-engine", "--format", "json", "."],
                                cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=sink, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not probe.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        ok, child = probe.read_text().split()
        assert ok == "True"
        time.sleep(0.5)  # the scanning process waits for the slow child's results now
        if how == "group-int":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGINT if how == "parent-int" else signal.SIGTERM)
        proc.wait(timeout=30)
        stderr = err.read_bytes()
        assert b"Traceback" not in stderr
        if how != "parent-term":
            assert proc.returncode == 130 and b"interrupted" in stderr
        deadline = time.monotonic() + 5.0  # well under the child's remaining work (30 s)
        while _state(int(child)) not in ("", "Z") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _state(int(child)) in ("", "Z"), (child, _state(int(child)), stderr[-300:])
    finally:  # whatever happened, nothing of this test left running
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if probe.exists():
            pid = probe.read_text().split()[-1]
            if pid.isdigit() and _state(int(pid)) not in ("", "Z"):
                os.kill(int(pid), signal.SIGKILL)


def test_ctrl_c_while_dockerfile_workers_wait_prints_no_traceback(tmp_path: Path) -> None:
    """Ctrl-C after the Dockerfiles were analysed in worker processes (the pool waits for
    more until the scan ends): the workers end quietly, the scan says it was interrupted."""
    root = tmp_path / "c"
    make_corpus(root, composesplit.MIN_PROJECTS)
    for i in range(4 * parallel.MIN_FILES):  # enough Dockerfiles for the pool
        (root / "df" / str(i)).mkdir(parents=True)
        (root / "df" / str(i) / "Dockerfile").write_text("FROM alpine:3.19\nRUN apk add curl\n")
    err = tmp_path / "stderr"
    env = dict(os.environ, LOCKDOCK_JOBS="2", LOCKDOCK_NO_CACHE="1", SPLIT_PROBE=str(tmp_path / "probe"),
               SPLIT_PAUSE="30")
    with open(err, "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-c", PROBE, "scan", "--no-engine", "--format", "json", "."],
                                cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=sink, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        workers: list[str] = []
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True,
                                     check=False).stdout.split()
        assert len(workers) >= 2  # the pool's workers (a ShellCheck process may run too)
        time.sleep(1.5)  # the Dockerfiles analysed (or still: the workers then work); compose waits
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
        stderr = err.read_bytes()
        assert proc.returncode == 130 and b"Traceback" not in stderr, stderr[-1500:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
