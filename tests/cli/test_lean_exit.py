"""The process entry (`lockdock.cli.entry.run`): after `lockdock scan` the process ends
without CPython's teardown, and nothing else changes: the same bytes on stdout and stderr,
the same exit code, `atexit` functions still run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lockdock.cli import entry

PROJECT = "services:\n  web{i}:\n    image: nginx:latest\n    privileged: true\n    ports: ['80{i:02d}:80']\n"


def _tree(root: Path, count: int) -> None:
    for i in range(count):
        d = root / f"p{i:02d}"
        d.mkdir(parents=True)
        (d / "compose.yaml").write_text(PROJECT.format(i=i))
    (root / "bad").mkdir()
    (root / "bad" / "compose.yaml").write_text("services:\n  a: [unclosed\n")


def _child(root: Path, marker: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`run()` in a fresh interpreter with one atexit function that writes `marker`."""
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
        "from lockdock.cli.entry import run\n"
        f"sys.argv = ['lockdock', *{list(args)!r}]\n"
        "run()\n"
    )
    env = {**os.environ, "LOCKDOCK_NO_CACHE": "1", "LOCKDOCK_JOBS": "1"}
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, env=env, timeout=120,
                          check=False)


def _in_process(root: Path, args: list[str], capsysbinary) -> tuple[int, bytes, bytes]:  # type: ignore[no-untyped-def]
    old = os.getcwd()
    os.chdir(root)
    try:
        code = entry.main(args)
    finally:
        os.chdir(old)
    out, err = capsysbinary.readouterr()
    return code, out, err


def test_scan_ends_lean_with_the_bytes_and_code_of_main(tmp_path: Path, monkeypatch, capsysbinary) -> None:  # type: ignore[no-untyped-def]
    _tree(tmp_path / "tree", 60)
    monkeypatch.setenv("LOCKDOCK_NO_CACHE", "1")
    monkeypatch.setenv("LOCKDOCK_JOBS", "1")
    for fmt in ("json", "text", "sarif"):
        args = ["scan", "--no-engine", "--format", fmt, ".", "missing-dir"]
        marker = tmp_path / f"atexit-{fmt}"
        child = _child(tmp_path / "tree", marker, *args)
        code, out, err = _in_process(tmp_path / "tree", args, capsysbinary)
        assert child.returncode == code == 2  # an asked-for path that is not there
        assert len(child.stdout) > 65536  # more than a pipe holds: everything was flushed
        assert child.stdout == out
        assert child.stderr == err
        assert b"missing-dir" in err
        assert marker.read_text() == "ran"


def test_other_commands_and_bad_usage_exit_as_before(tmp_path: Path) -> None:
    marker = tmp_path / "atexit"
    child = _child(tmp_path, marker, "checks")
    assert child.returncode == 0 and b"image.pinned-tag" in child.stdout
    assert marker.read_text() == "ran"
    marker.unlink()
    child = _child(tmp_path, marker, "scan", "--format", "nope")
    assert child.returncode == 2 and b"invalid choice" in child.stderr
    assert marker.read_text() == "ran"


def test_python_m_lockdock_is_the_process_entry(tmp_path: Path) -> None:
    _tree(tmp_path, 2)
    env = {**os.environ, "LOCKDOCK_NO_CACHE": "1"}
    child = subprocess.run([sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "compact", "."],
                           cwd=tmp_path, capture_output=True, env=env, timeout=120, check=False)
    assert child.returncode == 1
    assert b"image.pinned-tag" in child.stdout
    assert child.stdout.endswith(b"fail-on high: FAILED\n")


def test_fix_ends_lean_with_the_same_preview_and_the_same_writes(tmp_path: Path, monkeypatch, capsysbinary) -> None:  # type: ignore[no-untyped-def]
    """`lockdock fix` ends lean too: the preview's bytes, and the files `--apply` rewrites,
    are those of `main()` in this process (whose writes complete before it returns)."""
    import shutil

    monkeypatch.setenv("LOCKDOCK_NO_CACHE", "1")
    monkeypatch.setenv("LOCKDOCK_JOBS", "1")
    _tree(tmp_path / "a", 12)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    preview = ["fix", "--no-engine", "."]
    child = _child(tmp_path / "a", tmp_path / "atexit-preview", *preview)
    code, out, err = _in_process(tmp_path / "a", preview, capsysbinary)
    assert (child.returncode, child.stdout, child.stderr) == (code, out, err)
    assert b"+++ " in out and (tmp_path / "atexit-preview").read_text() == "ran"
    apply = ["fix", "--no-engine", "--apply", "--unsafe", "."]
    child = _child(tmp_path / "a", tmp_path / "atexit-apply", *apply)
    code, out, err = _in_process(tmp_path / "b", apply, capsysbinary)
    assert child.returncode == code
    written = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("compose.yaml"))
    assert written
    changed = 0
    for rel in written:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
        changed += (tmp_path / "a" / rel).read_text() != PROJECT.format(i=int(rel.parts[0][1:])) if rel.parts[0] != "bad" else 0
    assert changed == 12


def test_a_scan_keeps_its_objects_until_the_exit_only_under_run(tmp_path: Path) -> None:
    """Under `run`, `lockdock scan` leaves its result for the process's end (no freeing on
    return); an in-process `main` gets its memory back when the command returns."""
    _tree(tmp_path, 3)
    code = (
        "import gc, sys\n"
        "from lockdock.cli import entry, lean\n"
        "from lockdock.scan import ScanResult\n"
        "def held():\n"
        "    return [o for o in lean._KEPT if isinstance(o, ScanResult)]\n"
        "entry.main(['scan', '--no-engine', '--format', 'json', '.'])\n"
        "print('main', len(held()), file=sys.stderr)\n"
        "lean.lean_exit_ahead()\n"
        "entry.main(['scan', '--no-engine', '--format', 'json', '.'])\n"
        "print('run', len(held()), sum(len(t.findings) for r in held() for t in r.targets.values()) > 0,\n"
        "      file=sys.stderr)\n"
    )
    env = {**os.environ, "LOCKDOCK_NO_CACHE": "1", "LOCKDOCK_JOBS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.splitlines()[-2:] == ["main 0", "run 1 True"]
