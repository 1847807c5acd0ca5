"""`lockdock undo` stays in its project (issue 14.2): list, revert, name another by id."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from lockdock.fixing import journal

GITIGNORE = b"dist/\n"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lockdock", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _project(base: Path, name: str) -> Path:
    root = base / name
    root.mkdir(parents=True)
    (root / ".gitignore").write_bytes(GITIGNORE)
    (root / ".env").write_bytes(b"DB_PASSWORD=s3cr3t-value-42\n")  # a credential: a secret file
    os.chmod(root / ".env", 0o644)
    return root


def _fixed(root: Path) -> bool:
    return (root / ".gitignore").read_bytes() != GITIGNORE


def test_undo_in_a_reverts_a_only_and_list_shows_a_only(tmp_path: Path, lockdock_state: Path) -> None:
    a, b = _project(tmp_path, "a"), _project(tmp_path, "b")
    assert _cli("fix", "--no-engine", "--apply", ".", cwd=a).returncode == 0
    assert _cli("fix", "--no-engine", "--apply", ".", cwd=b).returncode == 0
    assert _fixed(a) and _fixed(b)

    listed = _cli("undo", "--list", cwd=a)
    assert listed.returncode == 0, listed.stderr
    assert "1 run(s) to undo in " + str(a.resolve()) in listed.stdout
    assert f"journal: {lockdock_state / 'journal'}" in listed.stdout
    assert f"file: {a.resolve() / '.gitignore'}" in listed.stdout and "fix: " in listed.stdout
    assert str(b.resolve()) not in listed.stdout
    assert _fixed(a)  # --list changes nothing

    r = _cli("undo", cwd=a)
    assert r.returncode == 0, r.stderr
    assert (a / ".gitignore").read_bytes() == GITIGNORE
    assert stat.S_IMODE(os.stat(a / ".env").st_mode) == 0o644
    assert _fixed(b) and stat.S_IMODE(os.stat(b / ".env").st_mode) == 0o600  # B untouched

    again = _cli("undo", cwd=a)
    assert again.returncode == 1
    assert "nothing to undo in" in again.stderr and "--entry ID" in again.stderr
    assert _fixed(b)

    # Another project's run is reverted only when named.
    every = _cli("undo", "--list", "--all", cwd=a)
    assert str(b.resolve()) in every.stdout
    (b_run,) = journal.entries_for(b)
    named = _cli("undo", "--entry", b_run.id, cwd=a)
    assert named.returncode == 0, named.stderr
    assert (b / ".gitignore").read_bytes() == GITIGNORE
    assert journal.entries() == []


def test_list_before_undo_keeps_state(tmp_path: Path) -> None:
    a = _project(tmp_path, "a")
    assert _cli("fix", "--no-engine", "--apply", ".", cwd=a).returncode == 0
    assert _fixed(a)
    assert _cli("undo", "--list", cwd=a).returncode == 0
    assert _fixed(a)  # listing reverts nothing
    empty = _project(tmp_path, "empty")
    out = _cli("undo", "--list", cwd=empty)
    assert out.returncode == 0 and "0 run(s) to undo" in out.stdout


def test_project_is_the_git_repository_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    sub = _project(repo, "svc")
    (repo / ".git").mkdir()
    other = _project(tmp_path, "other")
    assert _cli("fix", "--no-engine", "--apply", ".", cwd=sub).returncode == 0
    assert _cli("fix", "--no-engine", "--apply", ".", cwd=other).returncode == 0
    assert journal.project_of(sub) == repo.resolve()

    (mine,) = journal.entries_for(repo)
    assert mine.project == str(repo.resolve()) and mine.root == str(sub.resolve())
    assert str(sub.resolve() / ".gitignore") in mine.files and mine.titles
    assert mine.journal == str(journal.journal_dir())
    # The journal keeps original bytes: private files in a private directory.
    assert stat.S_IMODE(os.stat(journal.journal_dir()).st_mode) == 0o700
    assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in journal.entries())

    r = _cli("undo", cwd=repo)  # from the repository root, not the directory fixed
    assert r.returncode == 0, r.stderr
    assert not _fixed(sub) and _fixed(other)


def test_undo_last_api_scoped_by_project(tmp_path: Path) -> None:
    a, b = _project(tmp_path, "a"), _project(tmp_path, "b")
    assert _cli("fix", "--no-engine", "--apply", ".", cwd=a).returncode == 0
    assert _cli("fix", "--no-engine", "--apply", ".", cwd=b).returncode == 0
    entry, done = journal.undo_last(project=a)
    assert entry.project == str(a.resolve()) and any("restored" in d for d in done)
    assert not _fixed(a) and _fixed(b)
    assert [s.project for s in journal.entries_for(None)] == [str(b.resolve())]
