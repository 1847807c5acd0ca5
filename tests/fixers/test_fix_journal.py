"""The undo journal: byte-identical restores, refusals when the user edited again."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lockdock.files import sha256_bytes
from lockdock.fixing import journal, writer

ORIG = b"\xef\xbb\xbfservices:\r\n  web:\r\n    image: nginx:1.25\r\n"


def _record(tmp_path: Path) -> tuple[Path, Path]:
    p = tmp_path / "compose.yaml"
    p.write_bytes(ORIG)
    os.chmod(p, 0o640)
    res = writer.write_file(p, b"changed\n", root=tmp_path, expected_sha256=sha256_bytes(ORIG))
    created = writer.create_file(tmp_path / ".gitignore", b".env\n", root=tmp_path)
    key = tmp_path / "id_rsa"
    key.write_bytes(b"k")
    os.chmod(key, 0o644)
    mode = writer.change_mode(key, 0o644, 0o600, root=tmp_path)
    entry = journal.Entry(titles=["t"], root=str(tmp_path))
    for r in (res, created):
        entry.files.append(journal.FileRecord(r.real, r.written_sha256, r.original, r.mode, r.uid, r.gid))
    entry.modes.append(journal.ModeRecord(mode.real, 0o644, 0o600, mode.written_sha256))
    journal.save(entry)
    return p, key


def test_undo_restores_bytes_mode_removes_created_and_resets_mode(tmp_path: Path, lockdock_state: Path) -> None:
    p, key = _record(tmp_path)
    files = journal.entries()
    assert len(files) == 1 and stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    _entry, done = journal.undo_last()
    assert p.read_bytes() == ORIG
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640
    assert not (tmp_path / ".gitignore").exists()
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o644
    assert len(done) == 3
    assert journal.entries() == []
    with pytest.raises(journal.UndoRefused, match="nothing to undo"):
        journal.undo_last()


def test_undo_after_user_edit_refused_and_nothing_touched(tmp_path: Path) -> None:
    p, key = _record(tmp_path)
    p.write_bytes(b"changed\nuser edit\n")
    with pytest.raises(journal.UndoRefused, match="not what lockdock wrote"):
        journal.undo_last()
    assert p.read_bytes() == b"changed\nuser edit\n"
    assert (tmp_path / ".gitignore").read_bytes() == b".env\n"  # nothing partially undone
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert len(journal.entries()) == 1


def test_journal_lives_in_state_dir(tmp_path: Path, lockdock_state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert journal.journal_dir() == lockdock_state / "journal"
    monkeypatch.delenv("LOCKDOCK_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert journal.journal_dir() == tmp_path / "xdg" / "lockdock" / "journal"


def test_journal_prunes_oldest_entries(tmp_path: Path) -> None:
    for i in range(5):
        journal.save(journal.Entry(titles=[f"t{i}"], root=str(tmp_path), id=f"{i:020d}-1"))
    journal.prune(keep=3)
    assert [journal.load(p).titles for p in journal.entries()] == [["t2"], ["t3"], ["t4"]]
