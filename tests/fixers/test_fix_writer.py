"""The safe writer against every "Files written by fixes" fault of RELIABILITY.md."""

from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lockdock.files import read_text, sha256_bytes
from lockdock.fixing import writer
from lockdock.fixing.edits import apply_edits, keep_final_newline, plan, render
from lockdock.model import Applicability, FileEdit, Fix, TextEdit

ORIGINAL = b"FROM alpine:3.19\r\nRUN echo hi\r\n"


def _file(tmp_path: Path, data: bytes = ORIGINAL, name: str = "Dockerfile") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _temps(d: Path) -> list[str]:
    return [n for n in os.listdir(d) if n.startswith(writer.TEMP_PREFIX)]


# ------------------------------------------------------------------ edits


def test_apply_edits_one_pass_and_defers_overlaps() -> None:
    text = "abcdef"
    new, deferred = apply_edits(
        text, [TextEdit(4, 5, "E"), TextEdit(0, 1, "A"), TextEdit(0, 2, "xx"), TextEdit(3, 3, "+")]
    )
    assert new == "Abc+dEf"
    assert deferred == [TextEdit(0, 2, "xx")]


def test_apply_edits_same_point_insertions_collide_duplicates_merge() -> None:
    new, deferred = apply_edits("ab", [TextEdit(1, 1, "x"), TextEdit(1, 1, "y"), TextEdit(1, 1, "x")])
    assert new == "axb"
    assert deferred == [TextEdit(1, 1, "y")]


def test_apply_edits_out_of_range() -> None:
    with pytest.raises(ValueError):
        apply_edits("ab", [TextEdit(1, 5, "x")])


def test_plan_merges_fixes_per_file_and_defers_colliding_fix() -> None:
    f1 = Fix("a", Applicability.SAFE, [FileEdit("D", [TextEdit(0, 1, "A")], "h")])
    f2 = Fix("b", Applicability.SAFE, [FileEdit("D", [TextEdit(5, 6, "B")], "h")])
    f3 = Fix("c", Applicability.SAFE, [FileEdit("D", [TextEdit(0, 3, "C")], "h")])
    f4 = Fix("d", Applicability.SAFE, [FileEdit("D", [TextEdit(9, 9, "x")], "other-version")])
    batch = plan([f1, f2, f3, f4])
    assert [f.title for f in batch.fixes] == ["a", "b"]
    assert [f.title for f in batch.deferred] == ["c", "d"]
    assert sorted(batch.files["D"].edits, key=lambda e: e.start) == [TextEdit(0, 1, "A"), TextEdit(5, 6, "B")]


@pytest.mark.parametrize(
    ("orig", "new", "want"),
    [
        ("a\n", "a\nb", "a\nb\n"),
        ("a", "a\nb\n", "a\nb"),
        ("a\r\n", "a\r\nb", "a\r\nb\r\n"),
        ("a", "a\r\nb\r\n", "a\r\nb"),
        ("", "x\n", "x\n"),
    ],
)
def test_final_newline_state_kept(orig: str, new: str, want: str) -> None:
    nl = "\r\n" if "\r\n" in orig + new else "\n"
    assert keep_final_newline(orig, new, nl) == want


def test_render_keeps_bom_crlf_and_untouched_bytes(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbfFROM a\r\nRUN x\nLABEL y\r\n"  # mixed endings stay mixed
    p = _file(tmp_path, raw)
    tf = read_text(p)
    off = tf.text.index("RUN")
    _text, data, _ = render(tf, [TextEdit(off, off, "USER 1000\r\n")])
    assert data == b"\xef\xbb\xbfFROM a\r\nUSER 1000\r\nRUN x\nLABEL y\r\n"


# ------------------------------------------------------------------ writes


def test_write_keeps_mode_and_owner_and_is_atomic(tmp_path: Path) -> None:
    p = _file(tmp_path)
    os.chmod(p, 0o640)
    os.chown(p, 1234, 2345)
    before_ino = os.stat(p).st_ino
    res = writer.write_file(p, b"new\r\n", root=tmp_path, expected_sha256=sha256_bytes(ORIGINAL))
    st = os.stat(p)
    assert p.read_bytes() == b"new\r\n"
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (1234, 2345)
    assert st.st_ino != before_ino  # replaced by rename, not rewritten in place
    assert res.original == ORIGINAL and res.written_sha256 == sha256_bytes(b"new\r\n")
    assert _temps(tmp_path) == []


def _stale_append(p: Path) -> None:
    with open(p, "ab") as fh:
        fh.write(b"# more\n")


def _stale_same_size(p: Path) -> None:
    p.write_bytes(ORIGINAL.replace(b"3.19", b"3.18"))


def _stale_editor_rename(p: Path) -> None:
    # Editors write a new file and rename it over: same bytes, new inode.
    tmp = p.with_name(p.name + ".swp")
    tmp.write_bytes(ORIGINAL)
    os.replace(tmp, p)


def _stale_touch(p: Path) -> None:
    st = os.stat(p)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


@pytest.mark.parametrize(
    "change", [_stale_append, _stale_same_size, _stale_editor_rename, _stale_touch]
)
def test_changed_since_preview_refused(tmp_path: Path, change) -> None:
    p = _file(tmp_path)
    stamp = writer.Stamp.of(os.stat(p))  # taken when the preview was shown
    change(p)
    after = p.read_bytes()
    with pytest.raises(writer.StaleFile, match="changed since preview"):
        writer.write_file(
            p, b"fixed\n", root=tmp_path, expected_sha256=sha256_bytes(ORIGINAL), stamp=stamp
        )
    assert p.read_bytes() == after
    assert _temps(tmp_path) == []


def test_symlink_outside_root_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    real = _file(outside)
    root = tmp_path / "proj"
    root.mkdir()
    link = root / "Dockerfile"
    link.symlink_to(real)
    with pytest.raises(writer.WriteRefused, match="symlink leading outside the scanned root"):
        writer.write_file(link, b"x\n", root=root, expected_sha256=sha256_bytes(ORIGINAL))
    assert real.read_bytes() == ORIGINAL
    assert link.is_symlink()


def test_symlink_inside_root_resolved_once(tmp_path: Path) -> None:
    real = _file(tmp_path, name="Dockerfile.real")
    link = tmp_path / "Dockerfile"
    link.symlink_to("Dockerfile.real")
    res = writer.write_file(link, b"x\n", root=tmp_path, expected_sha256=sha256_bytes(ORIGINAL))
    assert res.real == str(real)
    assert link.is_symlink() and real.read_bytes() == b"x\n"


def test_hard_link_refused(tmp_path: Path) -> None:
    p = _file(tmp_path)
    os.link(p, tmp_path / "other")
    with pytest.raises(writer.WriteRefused, match="hard links"):
        writer.write_file(p, b"x\n", root=tmp_path, expected_sha256=sha256_bytes(ORIGINAL))
    assert p.read_bytes() == ORIGINAL


@pytest.mark.timeout(10)
def test_fifo_socket_directory_device_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "compose.yaml"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock_path))
    d = tmp_path / "dir"
    d.mkdir()
    cases = [(fifo, "FIFO"), (sock_path, "socket"), (d, "directory")]
    dev = tmp_path / "null"
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        cases.append((dev, "device"))
    except PermissionError:
        pass
    try:
        for path, word in cases:
            with pytest.raises(writer.WriteRefused, match=word):
                writer.write_file(path, b"x", root=tmp_path, expected_sha256=None)
    finally:
        s.close()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("fail_in", ["write", "fsync"])
def test_disk_full_or_io_error_leaves_original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_in: str) -> None:
    p = _file(tmp_path)
    code = errno.ENOSPC if fail_in == "write" else errno.EIO

    def boom(*_a: object, **_k: object) -> int:
        raise OSError(code, os.strerror(code))

    with monkeypatch.context() as m:
        m.setattr(writer.os, fail_in, boom)
        with pytest.raises(writer.WriteFailed, match="disk full" if fail_in == "write" else "I/O error"):
            writer.write_file(p, b"x" * 100_000, root=tmp_path, expected_sha256=sha256_bytes(ORIGINAL))
    assert p.read_bytes() == ORIGINAL
    assert _temps(tmp_path) == []


def test_disk_full_on_real_small_tmpfs(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.decode(errors="replace").strip())
    try:
        p = _file(mnt)
        with pytest.raises(writer.WriteFailed, match="disk full"):
            writer.write_file(p, b"y" * 200_000, root=mnt, expected_sha256=sha256_bytes(ORIGINAL))
        assert p.read_bytes() == ORIGINAL
        assert _temps(mnt) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_read_only_file_refused_as_root(tmp_path: Path) -> None:
    p = _file(tmp_path)
    os.chmod(p, 0o444)
    with pytest.raises(writer.WriteRefused, match="read-only"):
        writer.write_file(p, b"x\n", root=tmp_path, expected_sha256=sha256_bytes(ORIGINAL))
    assert p.read_bytes() == ORIGINAL and stat.S_IMODE(os.stat(p).st_mode) == 0o444


_CHILD_WRITE = textwrap.dedent(
    """
    import os, sys
    from lockdock.fixing import writer
    # Python lives under /root here: import first, then drop to uid/gid nobody.
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    try:
        writer.write_file(sys.argv[1], b"new\\n", root=sys.argv[2], expected_sha256=sys.argv[3])
    except writer.WriteRefused as exc:
        print("REFUSED", exc)
        sys.exit(3)
    except writer.WriteFailed as exc:
        print("FAILED", exc)
        sys.exit(4)
    print("WROTE")
    """
)


def _as_nobody(args: list[str], env_state: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LOCKDOCK_STATE_DIR=str(env_state))
    return subprocess.run(
        [sys.executable, "-c", _CHILD_WRITE, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=60,
    )


def test_permission_denied_file_as_unprivileged_user(nobody_dir: Path, lockdock_state: Path) -> None:
    p = _file(nobody_dir)  # owned by root, 0644: nobody may not write it
    r = _as_nobody([str(p), str(nobody_dir), sha256_bytes(ORIGINAL)], lockdock_state)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "permission denied" in r.stdout
    assert p.read_bytes() == ORIGINAL
    assert _temps(nobody_dir) == []


def test_read_only_directory_as_unprivileged_user(nobody_dir: Path, lockdock_state: Path) -> None:
    d = nobody_dir / "ro"
    d.mkdir()
    p = _file(d)
    os.chown(p, 65534, 65534)
    os.chmod(d, 0o555)
    r = _as_nobody([str(p), str(d), sha256_bytes(ORIGINAL)], lockdock_state)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "not writable" in r.stdout
    assert p.read_bytes() == ORIGINAL


_CHILD_KILLED = textwrap.dedent(
    """
    import os, sys, time
    from lockdock.fixing import writer
    def hang(*a, **k):
        print("TEMP-WRITTEN", flush=True)
        time.sleep(60)
    os.replace = hang
    writer.write_file(sys.argv[1], b"x" * 50000, root=sys.argv[2], expected_sha256=sys.argv[3])
    """
)


def test_kill_9_between_temp_write_and_rename(tmp_path: Path) -> None:
    p = _file(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD_KILLED, str(p), str(tmp_path), sha256_bytes(ORIGINAL)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "TEMP-WRITTEN"
    child.kill()
    child.wait()
    assert p.read_bytes() == ORIGINAL  # never partial
    stray = _temps(tmp_path)
    assert len(stray) == 1
    # The next run cleans it (its pid is dead), and writes normally.
    writer.write_file(p, b"fixed\n", root=tmp_path, expected_sha256=sha256_bytes(ORIGINAL))
    assert _temps(tmp_path) == []
    assert p.read_bytes() == b"fixed\n"


def test_stray_temp_of_live_process_kept_until_old(tmp_path: Path) -> None:
    live = tmp_path / f"{writer.TEMP_PREFIX}1-0123abcd-x"  # pid 1 is alive
    live.write_bytes(b"")
    assert writer.clean_stray_temps(tmp_path) == []
    old = time.time() - 2 * writer.STRAY_AGE_SECONDS
    os.utime(live, (old, old))
    assert writer.clean_stray_temps(tmp_path) == [live]
    unrelated = tmp_path / ".lockdock-tmp-notes"
    unrelated.write_bytes(b"")
    writer.clean_stray_temps(tmp_path)
    assert unrelated.exists()


_CHILD_RACE = textwrap.dedent(
    """
    import sys, time
    from lockdock.fixing import writer
    deadline = float(sys.argv[4])
    while time.time() < deadline:
        pass
    try:
        writer.write_file(sys.argv[1], sys.argv[5].encode(), root=sys.argv[2], expected_sha256=sys.argv[3])
    except writer.StaleFile as exc:
        print("STALE", exc)
        sys.exit(3)
    print("WROTE")
    """
)


def test_two_processes_one_wins_other_stale(tmp_path: Path) -> None:
    p = _file(tmp_path)
    start = str(time.time() + 1.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD_RACE, str(p), str(tmp_path), sha256_bytes(ORIGINAL), start, body],
            stdout=subprocess.PIPE,
            text=True,
        )
        for body in ("first\n", "second\n")
    ]
    outs = [pr.communicate(timeout=60)[0] for pr in procs]
    codes = sorted(pr.returncode for pr in procs)
    assert codes == [0, 3], outs
    winner = "first\n" if procs[0].returncode == 0 else "second\n"
    assert p.read_text() == winner
    assert any("changed since preview" in o for o in outs)


def test_new_file_created_atomically_never_clobbers(tmp_path: Path) -> None:
    res = writer.create_file(tmp_path / ".dockerignore", b".git\n", root=tmp_path, mode=0o640)
    assert (tmp_path / ".dockerignore").read_bytes() == b".git\n"
    assert stat.S_IMODE(os.stat(tmp_path / ".dockerignore").st_mode) == 0o640
    assert res.original is None
    with pytest.raises(writer.StaleFile, match="already exists"):
        writer.create_file(tmp_path / ".dockerignore", b"other\n", root=tmp_path)
    assert (tmp_path / ".dockerignore").read_bytes() == b".git\n"
    with pytest.raises(writer.WriteRefused, match="outside the scanned root"):
        writer.create_file(tmp_path.parent / "evil", b"x", root=tmp_path)
    assert _temps(tmp_path) == []


def test_mode_change_checks_old_mode(tmp_path: Path) -> None:
    p = _file(tmp_path, b"KEY=1\n", ".env")
    os.chmod(p, 0o644)
    writer.change_mode(p, 0o644, 0o600, root=tmp_path)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    with pytest.raises(writer.StaleFile, match="mode is 0600"):
        writer.change_mode(p, 0o644, 0o600, root=tmp_path)


class _FakeAPI:
    def __init__(self, mounts: list[dict[str, str]]) -> None:
        self.mounts = mounts

    def containers(self, filters: dict[str, str]) -> list[dict[str, object]]:
        assert filters == {"status": "running"}
        return [{"Id": "abc", "Names": ["/web\x1b[2J"], "Mounts": self.mounts}]


class _FakeEngine:
    def __init__(self, mounts: list[dict[str, str]]) -> None:
        self.api = _FakeAPI(mounts)


def test_bind_mounted_file_warning(tmp_path: Path) -> None:
    p = _file(tmp_path, b"{}", "nginx.conf")
    eng = _FakeEngine([{"Type": "bind", "Source": str(p), "Destination": "/etc/nginx.conf"}])
    warnings = writer.bind_mount_warnings([str(p)], eng)
    assert len(warnings) == 1
    assert "keeps the old file" in warnings[0] and "\x1b" not in warnings[0]
    dir_mount = _FakeEngine([{"Type": "bind", "Source": str(tmp_path), "Destination": "/x"}])
    assert writer.bind_mount_warnings([str(p)], dir_mount) == []  # a directory mount sees the new file


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_ctrl_c_mid_write_leaves_original_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    p = _file(tmp_path)

    def interrupted(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(writer.os, where, interrupted)
        with pytest.raises(KeyboardInterrupt):
            writer.write_file(p, b"new\n", root=tmp_path, expected_sha256=sha256_bytes(ORIGINAL))
    assert p.read_bytes() == ORIGINAL
    assert _temps(tmp_path) == []


def test_new_file_in_missing_directory_creates_private_dirs(tmp_path: Path) -> None:
    target = tmp_path / "secrets" / "db" / "password.txt"
    res = writer.create_file(target, b"s3cret\n", root=tmp_path, mode=0o600, make_parents=True)
    assert res.created_dirs == [str(tmp_path / "secrets"), str(tmp_path / "secrets" / "db")]
    assert stat.S_IMODE(os.stat(tmp_path / "secrets").st_mode) == 0o700
    assert target.read_bytes() == b"s3cret\n"
    with pytest.raises(writer.WriteRefused, match="outside the scanned root"):
        writer.create_file(tmp_path.parent / "x" / "y", b"", root=tmp_path, make_parents=True)


def test_new_file_failure_removes_directories_it_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*_a: object, **_k: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(writer.os, "write", full)
        with pytest.raises(writer.WriteFailed, match="disk full"):
            writer.create_file(tmp_path / "a" / "b.txt", b"x", root=tmp_path, make_parents=True)
    assert os.listdir(tmp_path) == []
