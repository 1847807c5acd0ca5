"""The scan record (lockdock.scanrecord): a repeated `lockdock scan` of an unchanged tree says
the kept answer without scanning, byte for byte what a cold and an uncached scan say
(stdout, stderr, exit code; JSON, text, SARIF), and each input of its key or dependency,
changed on its own, gives the fresh answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import lockdock
from lockdock import scan as scan_mod
from lockdock import scanrecord
from lockdock.cli.entry import main

BENCH = Path(__file__).resolve().parents[2] / "bench"
HOUR_AGO = time.time() - 3600

FILES = {
    "app/Dockerfile": "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nCOPY . /app\n",
    "app/.dockerignore": ".git\n*.md\n",
    "tmpl/Dockerfile": "FROM debian:{{ version }}\nRUN echo {{ name }}\nUSER app\n",
    "broken/Dockerfile": "FROM alpine:3.19\nFORM x\nRUN id\n",
    "invalid/Dockerfile": "# only a comment\n",
    "py/Dockerfile": "FROM python:3.12\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nUSER app\n",
    "py/requirements.txt": "flask==3.0.0\nrequests\n",
    "deploy/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
    ".gitignore": "*.log\n",
    ".gitlab-ci.yml": "build:\n  script: docker build .\n",
}


def age(root: Path) -> None:
    """Every file and folder under `root` last changed an hour ago (a record is kept only
    when nothing changed around the scan's start)."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            os.utime(os.path.join(dirpath, name), (HOUR_AGO, HOUR_AGO), follow_symlinks=False)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "deploy" / "id_rsa").chmod(0o644)
    sys.path.insert(0, str(BENCH))
    try:
        import dockerfile_bench

        (root / "gen").mkdir()
        dockerfile_bench.generate(root / "gen", 40, 7)
    finally:
        sys.path.remove(str(BENCH))
    age(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("LOCKDOCK_NO_CACHE", raising=False)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per scan that really ran (a replayed answer runs none)."""
    ran: list[int] = []
    real = scan_mod.scan

    def counting(*a: Any, **kw: Any) -> Any:
        ran.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(scan_mod, "scan", counting)
    return ran


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["scan", "--no-engine", *args])
    out, err = capsys.readouterr()
    return code, out, err


def records(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "cache" / "lockdock" / "v2" / "scans"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_a_warm_scan_is_the_cold_answer_without_scanning(
    tree: Path, tmp_path: Path, scans: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    for fmt in ("json", "text", "sarif", "compact"):
        reference = cli(capsys, "--format", fmt, "--no-cache", ".")
        assert reference[0] == 1 and "Traceback" not in reference[2]
        scans.clear()
        assert cli(capsys, "--format", fmt, ".") == reference  # cold: the record is written
        assert scans == [1]
        scans.clear()
        assert cli(capsys, "--format", fmt, ".") == reference  # warm: replayed
        assert scans == [], fmt
    said = cli(capsys, "--format", "json", ".")[1]
    assert "looks like a Dockerfile template" in said and "not a valid Dockerfile" in said
    assert len(records(tmp_path)) == 4  # one per argument set
    for path in records(tmp_path):
        assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "cache" / "lockdock" / "v2" / "scans").stat().st_mode & 0o777 == 0o700


def test_the_real_command_replays_stdout_stderr_and_exit_code(tree: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LOCKDOCK_NO_CACHE"}

    def run(*extra: str) -> tuple[int, str, str]:
        proc = subprocess.run([sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json", *extra,
                               "."], capture_output=True, text=True, cwd=tree, env=env, timeout=300, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    reference = run("--no-cache")
    assert reference[0] == 1 and reference[2] == ""
    assert run() == reference
    [record] = records(tmp_path)
    written = record.stat().st_mtime_ns
    assert run() == reference
    assert record.stat().st_mtime_ns == written  # served, not scanned and written again
    (tree / "gen" / "svc0001.Dockerfile").write_text("FROM busybox:1\nUSER 1000\n")
    changed = run("--no-cache")
    assert changed != reference and run() == changed


def _same_size_same_mtime(path: Path, text: str) -> None:
    st = path.stat()
    assert len(text.encode()) == st.st_size
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _edit_code(tmp: Path, mp: pytest.MonkeyPatch) -> Callable[[], None]:
    pkg = tmp / "code" / "lockdock"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "rules.py").write_text("RULE = 1\n")
    mp.setattr(lockdock, "__file__", str(pkg / "__init__.py"))
    return lambda: (pkg / "rules.py").write_text("RULE = 22\n")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_SYSTEM": os.devnull})


def _git_repo(root: Path) -> Callable[[], None]:
    """The tree as a git work tree; the change stages the private key (`git add`): only the
    index changes, and secrets.gitignore now says git tracks it."""
    _git(root, "init", "-q")
    age(root)
    return lambda: _git(root, "add", "deploy/id_rsa")


# Each prepares what it needs (tree, tmp_path, monkeypatch) and returns the change, made once
# the record is warm; the scan's arguments may be changed too (ARGS below).
CHANGES: dict[str, Callable[[Path, Path, pytest.MonkeyPatch], Callable[[], Any]]] = {
    "Dockerfile bytes (same size and mtime)": lambda root, tmp, mp: lambda: _same_size_same_mtime(
        root / "app" / "Dockerfile", FILES["app/Dockerfile"].replace("curl", "wget")),
    "other file read (same size and mtime)": lambda root, tmp, mp: lambda: _same_size_same_mtime(
        root / "app" / ".dockerignore", ".env\n*.md\n"),
    "context file read (requirements.txt)": lambda root, tmp, mp: lambda: _same_size_same_mtime(
        root / "py" / "requirements.txt", "flask==3.0.0\nreq==1.0\n"),
    "a file added beside": lambda root, tmp, mp: lambda: (root / "app" / ".env").write_text("TOKEN=x\n"),
    "a Dockerfile added in a new folder": lambda root, tmp, mp: lambda: (
        (root / "new").mkdir(), (root / "new" / "Dockerfile").write_text("FROM alpine\n")),
    "a Dockerfile removed": lambda root, tmp, mp: (root / "gen" / "svc0002.Dockerfile").unlink,
    "a secret file's mode": lambda root, tmp, mp: lambda: (root / "deploy" / "id_rsa").chmod(0o600),
    "a CI file's bytes (same size and mtime)": lambda root, tmp, mp: lambda: _same_size_same_mtime(
        root / ".gitlab-ci.yml", "build:\n  script: trivy image ab\n"),
    "config file": lambda root, tmp, mp: lambda: (root / ".lockdock.toml").write_text(
        '[severity]\n"build.copy-not-add" = "low"\n'),
    "lockdock version": lambda root, tmp, mp: lambda: mp.setattr(lockdock, "__version__", lockdock.__version__ + "+x"),
    "lockdock code": lambda root, tmp, mp: _edit_code(tmp, mp),
    "LOCKDOCK_ variable": lambda root, tmp, mp: lambda: mp.setenv("LOCKDOCK_JOBS", "1"),
    "another variable": lambda root, tmp, mp: lambda: mp.setenv("NO_COLOR", "1"),
    "working directory": lambda root, tmp, mp: lambda: mp.chdir(root / "gen"),
    "git index": lambda root, tmp, mp: _git_repo(root),
}
ARGS: dict[str, tuple[str, ...]] = {
    "--select": ("--select", "build"),
    "--ignore": ("--ignore", "secrets.file-permissions"),
    "--severity": ("--severity", "high"),
    "--fail-on": ("--fail-on", "critical"),
    "--format": ("--format", "sarif"),
    "a file list instead of the folder": tuple(f"gen/svc{n:04d}.Dockerfile" for n in range(5)),
}


def _warm(capsys: pytest.CaptureFixture[str], scans: list[int], args: tuple[str, ...]) -> tuple[int, str, str]:
    first = cli(capsys, *args)
    scans.clear()
    assert cli(capsys, *args) == first and scans == []  # warm, unchanged: replayed
    return first


@pytest.mark.parametrize("what", list(CHANGES))
def test_each_input_gives_the_fresh_answer(
    what: str, tree: Path, tmp_path: Path, scans: list[int], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = ("--format", "json", str(tree))
    change = CHANGES[what](tree, tmp_path, monkeypatch)
    before = _warm(capsys, scans, args)
    change()
    scans.clear()
    after = cli(capsys, *args)
    assert scans == [1], f"{what}: the kept answer was served"
    assert after == cli(capsys, "--no-cache", *args)
    if what not in ("lockdock version", "lockdock code", "LOCKDOCK_ variable", "another variable", "working directory"):
        assert after != before, f"{what}: the change should change the report"
    age(tree)
    _warm(capsys, scans, args)  # the fresh answer is kept in turn


@pytest.mark.parametrize("what", list(ARGS))
def test_each_option_has_its_own_answer(
    what: str, tree: Path, scans: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--format", "json")
    plain = _warm(capsys, scans, (*base, "."))
    args = (*base, *ARGS[what], ".") if ARGS[what][0].startswith("--") else (*base, *ARGS[what])
    scans.clear()
    other = cli(capsys, *args)
    assert scans == [1] and other != plain
    assert other == cli(capsys, "--no-cache", *args)
    assert _warm(capsys, scans, args) == other
    assert cli(capsys, *base, ".") == plain


def test_the_shells_bookkeeping_variables_are_not_in_the_key(
    tree: Path, scans: list[int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _warm(capsys, scans, ("--format", "text", "."))
    for name, value in (("_", "/usr/bin/env"), ("OLDPWD", "/"), ("PWD", str(tree)), ("SHLVL", "7"),
                        ("GITHUB_RUN_ID", "912345"), ("CI_JOB_ID", "77"), ("BUILD_NUMBER", "5")):
        monkeypatch.setenv(name, value)
    scans.clear()
    assert cli(capsys, "--format", "text", ".") == first and scans == []


def test_no_record_for_a_tree_that_changed_while_scanned(
    tree: Path, tmp_path: Path, scans: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "app" / "Dockerfile").write_text(FILES["app/Dockerfile"] + "USER app\n")  # mtime: now
    first = cli(capsys, "--format", "json", ".")
    assert records(tmp_path) == []
    scans.clear()
    assert cli(capsys, "--format", "json", ".") == first and scans == [1]


def test_no_record_with_a_compose_file_or_the_engine(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "compose.yaml").write_text("services:\n  web:\n    image: nginx\n")
    age(tree)
    cli(capsys, "--format", "json", ".")
    assert records(tmp_path) == []
    (tree / "compose.yaml").unlink()
    capsys.readouterr()
    main(["scan", "--format", "json", "--daemon-json", str(tree / ".gitignore"), "."])
    assert records(tmp_path) == []


@pytest.fixture
def kept(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[Path, Any]]:
    answer = cli(capsys, "--format", "json", ".")
    [record] = records(tmp_path)
    yield record, answer


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other shape", "writable by others"])
def test_a_damaged_or_foreign_record_is_a_miss_and_rewritten(
    damage: str, kept: tuple[Path, Any], scans: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    record, answer = kept
    if damage == "garbage":
        record.write_bytes(b"\x00not marshal")
    elif damage == "truncated":
        record.write_bytes(record.read_bytes()[:1000])
    elif damage == "other shape":
        import marshal

        record.write_bytes(marshal.dumps((scanrecord.FORMAT, (), (), (), ("forged", 0, 1))))
    else:
        record.chmod(0o666)
    scans.clear()
    assert cli(capsys, "--format", "json", ".") == answer and scans == [1]
    scans.clear()
    assert cli(capsys, "--format", "json", ".") == answer and scans == []


def test_a_file_list_sees_its_repository_change(
    tree: Path, scans: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    """A file-list scan (pre-commit) walks nothing: the folders of the named files, the
    repository root and its CI folders are what it depends on beside the files read."""
    args = ("--format", "json", "gen/svc0001.Dockerfile", "app/Dockerfile")
    before = _warm(capsys, scans, args)
    (tree / ".github" / "workflows").mkdir(parents=True)
    (tree / ".github" / "workflows" / "scan.yml").write_text("on: push\njobs:\n  s:\n    steps:\n      - run: trivy image x\n")
    scans.clear()
    after = cli(capsys, *args)
    assert scans == [1] and after != before and after == cli(capsys, "--no-cache", *args)
    age(tree)
    _warm(capsys, scans, args)
    (tree / "gen" / "svc0001.Dockerfile").write_text("FROM busybox:1\nUSER 1000\n")
    scans.clear()
    assert cli(capsys, *args) == cli(capsys, "--no-cache", *args) and scans[:1] == [1]


def test_file_digest_reads_every_byte_and_refuses_what_is_not_a_file(tmp_path: Path) -> None:
    import hashlib

    for size in (0, 1, 100, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 5):
        data = os.urandom(size)
        (tmp_path / str(size)).write_bytes(data)
        assert scanrecord.file_digest(str(tmp_path / str(size))) == hashlib.sha256(data).hexdigest()
    os.mkfifo(tmp_path / "fifo")
    assert scanrecord.file_digest(str(tmp_path / "fifo")) is None  # never blocks
    assert scanrecord.file_digest(str(tmp_path)) is None
    assert scanrecord.file_digest(str(tmp_path / "missing")) is None


def test_concurrent_scans_leave_a_whole_record(tree: Path, tmp_path: Path) -> None:
    """Scans of the same tree at once each write the record atomically: after them, the
    record decodes and replays the answer of an uncached scan."""
    env = {k: v for k, v in os.environ.items() if k != "LOCKDOCK_NO_CACHE"}
    cmd = [sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json", "."]
    procs = [subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    reference = subprocess.run([*cmd, "--no-cache"], cwd=tree, env=env, capture_output=True, timeout=300, check=False)
    assert {o for o, _ in outs} == {reference.stdout} and all(e == b"" for _, e in outs)
    [record] = records(tmp_path)
    assert not [p for p in record.parent.iterdir() if p.name.startswith(".tmp-")]
    written = record.stat().st_mtime_ns
    again = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, timeout=300, check=False)
    assert again.stdout == reference.stdout and again.returncode == reference.returncode
    assert record.stat().st_mtime_ns == written  # replayed
