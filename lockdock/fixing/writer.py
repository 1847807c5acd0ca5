"""Writing users' files without ever leaving them half-written, stale or out of bounds.

Every write goes: lstat (never open a FIFO blocking), refuse what is not a plain file of
the scanned tree, take a per-file lock, re-read and compare with the hash the fix was
computed from, write a temp file next to it, fsync, rename over, fsync the directory.
Mode, owner and bytes outside the edits are kept as they were; an error leaves the
original byte-identical and removes the temp file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import secrets as _random
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock.files import sha256_bytes, within
from lockdock.text import safe

TEMP_PREFIX = ".lockdock-tmp-"
_TEMP_NAME = re.compile(r"^\.lockdock-tmp-(?P<pid>\d+)-[0-9a-f]{8}-")
STRAY_AGE_SECONDS = 3600.0
LOCK_TIMEOUT_SECONDS = 10.0


class WriteRefused(Exception):
    """A precondition does not hold (stale, symlink, hard link, not a file, read-only)."""


class StaleFile(WriteRefused):
    """The file is not the one the fix was computed from."""


class WriteFailed(Exception):
    """Writing failed midway; the original is unchanged and the temp file is gone."""


@dataclass(frozen=True)
class Stamp:
    """What identifies one version of a file besides its bytes (a `touch` changes mtime)."""

    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Stamp:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class WriteResult:
    path: str  # as the fix named it
    real: str  # what was written (differs when a symlink inside the root was resolved)
    original: bytes | None  # None: the file was created
    mode: int
    uid: int
    gid: int
    written_sha256: str
    created_dirs: list[str] = field(default_factory=list)  # made for a new file, outermost first


def state_dir() -> Path:
    """lockdock's per-user state directory (journal, locks); LOCKDOCK_STATE_DIR for tests."""
    explicit = os.environ.get("LOCKDOCK_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "lockdock"


def _ensure_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symlink"
    return "not a regular file"


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "disk full (no space left on device)"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EIO:
        return "I/O error"
    return exc.strerror or type(exc).__name__


def resolve_target(path: str | Path, root: str | Path) -> tuple[Path, bool]:
    """The real file to write and whether a symlink was followed; refuse leaving `root`."""
    p = Path(os.path.abspath(path))
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        raise WriteRefused(f"{safe(p)}: does not exist") from None
    except OSError as exc:
        raise WriteRefused(f"{safe(p)}: cannot read: {_os_reason(exc)}") from None
    if not within(p.parent, root):
        raise WriteRefused(f"{safe(p)}: outside the scanned root {safe(root)}")
    if stat.S_ISLNK(st.st_mode):
        real = Path(os.path.realpath(p))
        if not within(real, root):
            raise WriteRefused(
                f"{safe(p)}: is a symlink leading outside the scanned root (to {safe(real)}); not written"
            )
        return real, True
    return p, False


def _check_plain(real: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise WriteRefused(f"{safe(real)}: is {_kind_of(st.st_mode)}; not written")
    if st.st_nlink > 1:
        raise WriteRefused(
            f"{safe(real)}: has {st.st_nlink} hard links; writing would split them apart; not written"
        )


def _check_writable(real: Path, st: os.stat_result) -> None:
    mode = stat.S_IMODE(st.st_mode)
    if not mode & stat.S_IWUSR:
        raise WriteRefused(f"{safe(real)}: is read-only (mode {mode:04o}); not written")
    if not os.access(real, os.W_OK):
        raise WriteRefused(f"{safe(real)}: permission denied (no write permission)")
    parent = real.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise WriteRefused(
            f"{safe(real)}: permission denied: directory {safe(parent)} is not writable"
        )


def _read_nonblocking(real: Path) -> tuple[bytes, os.stat_result]:
    """Open without following links and without blocking (a FIFO swapped in late)."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StaleFile(f"{safe(real)}: became a symlink since the preview") from None
        raise WriteRefused(f"{safe(real)}: cannot read: {_os_reason(exc)}") from None
    try:
        st = os.fstat(fd)
        _check_plain(real, st)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks), st
    finally:
        os.close(fd)


def check_existing(
    path: str | Path,
    root: str | Path,
    expected_sha256: str | None,
    stamp: Stamp | None = None,
    *,
    need_write: bool = True,
) -> tuple[Path, bool, bytes, os.stat_result]:
    """Every refusal a write could meet, checked up front: (real, via_symlink, bytes, stat)."""
    real, via_link = resolve_target(path, root)
    st = os.lstat(real)
    _check_plain(real, st)
    raw, fst = _read_nonblocking(real)
    if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
        raise StaleFile(f"{safe(path)}: changed since preview (replaced while reading)")
    if expected_sha256 is not None and sha256_bytes(raw) != expected_sha256:
        raise StaleFile(f"{safe(path)}: changed since preview (content differs); rescan first")
    if stamp is not None and Stamp.of(fst) != stamp:
        raise StaleFile(f"{safe(path)}: changed since preview (file was modified or replaced); rescan first")
    if need_write:
        _check_writable(real, fst)
    return real, via_link, raw, fst


@contextlib.contextmanager
def file_lock(real: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Serialise lockdock processes writing the same file (the loser then sees "stale")."""
    locks = _ensure_private_dir(state_dir() / "locks")
    name = hashlib.sha256(os.fsencode(os.path.abspath(real))).hexdigest()[:32]
    fd = os.open(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WriteRefused(
                        f"{safe(real)}: another lockdock process is writing it; try again"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _temp_name(target: Path) -> Path:
    tail = target.name[:80]
    return target.parent / f"{TEMP_PREFIX}{os.getpid()}-{_random.token_hex(4)}-{tail}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass  # some file systems cannot fsync directories; the rename is still atomic
    finally:
        os.close(dfd)


def _write_temp(target: Path, data: bytes, mode: int, uid: int, gid: int) -> Path:
    """Write `data` to a fresh temp file beside `target`; remove it on any failure."""
    tmp = _temp_name(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise WriteFailed(f"{safe(target)}: cannot create a temp file: {_os_reason(exc)}") from None
    try:
        try:
            _write_all(fd, data)
            fst = os.fstat(fd)
            if (fst.st_uid, fst.st_gid) != (uid, gid):
                try:
                    os.fchown(fd, uid, gid)
                except PermissionError:
                    raise WriteRefused(
                        f"{safe(target)}: cannot keep its owner {uid}:{gid}; not written"
                    ) from None
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise WriteFailed(f"{safe(target)}: write failed: {_os_reason(exc)}; file unchanged") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def write_file(
    path: str | Path,
    data: bytes,
    *,
    root: str | Path,
    expected_sha256: str | None,
    stamp: Stamp | None = None,
    mode: int | None = None,
) -> WriteResult:
    """Replace an existing file's bytes atomically, if it is still what the fix expects."""
    real, _via, _raw, _st = check_existing(path, root, expected_sha256, stamp)
    clean_stray_temps(real.parent)
    with file_lock(real):
        # Checked again under the lock: another process may have won the race.
        real2, _via, raw, st = check_existing(path, root, expected_sha256, stamp)
        if real2 != real:
            raise StaleFile(f"{safe(path)}: changed since preview (symlink retargeted)")
        keep_mode = stat.S_IMODE(st.st_mode) if mode is None else mode
        tmp = _write_temp(real, data, keep_mode, st.st_uid, st.st_gid)
        try:
            now = os.lstat(real)
            if (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != (
                st.st_dev,
                st.st_ino,
                st.st_size,
                st.st_mtime_ns,
            ):
                raise StaleFile(f"{safe(path)}: changed since preview (modified during the write)")
            os.replace(tmp, real)
        except OSError as exc:
            _unlink_quietly(tmp)
            raise WriteFailed(f"{safe(path)}: rename failed: {_os_reason(exc)}; file unchanged") from None
        except BaseException:
            _unlink_quietly(tmp)
            raise
        _fsync_dir(real.parent)
    return WriteResult(
        str(path), str(real), raw, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, sha256_bytes(data)
    )


def existing_ancestor(path: Path) -> Path:
    """The nearest ancestor of `path` that exists (the directory a new tree starts in)."""
    d = path.parent
    while not os.path.lexists(d) and d != d.parent:
        d = d.parent
    return d


def _make_parents(parent: Path, root: str | Path, mode: int) -> list[str]:
    """Create missing directories up to `parent`, owned like the directory they start in."""
    base = existing_ancestor(parent / "x")
    if not within(base, root):
        raise WriteRefused(f"{safe(parent)}: outside the scanned root {safe(root)}")
    bst = os.stat(base)
    if not stat.S_ISDIR(bst.st_mode):
        raise WriteRefused(f"{safe(base)}: is not a directory")
    missing = []
    d = parent
    while d != base:
        missing.append(d)
        d = d.parent
    created: list[str] = []
    try:
        for d in reversed(missing):
            os.mkdir(d, mode)
            created.append(str(d))
            if os.geteuid() == 0:
                os.chown(d, bst.st_uid, bst.st_gid)
    except OSError as exc:
        for c in reversed(created):
            with contextlib.suppress(OSError):
                os.rmdir(c)
        raise WriteFailed(f"{safe(parent)}: cannot create the directory: {_os_reason(exc)}") from None
    return created


def create_file(
    path: str | Path, data: bytes, *, root: str | Path, mode: int = 0o644, make_parents: bool = False
) -> WriteResult:
    """Create a new file atomically; refuse when anything already exists at `path`."""
    p = Path(os.path.abspath(path))
    parent = p.parent
    if not within(parent, root):
        raise WriteRefused(f"{safe(p)}: outside the scanned root {safe(root)}")
    if os.path.lexists(p):
        raise StaleFile(f"{safe(p)}: already exists (changed since preview); not overwritten")
    created_dirs: list[str] = []
    if make_parents and not os.path.lexists(parent):
        # A directory for secrets is private when the file is.
        created_dirs = _make_parents(parent, root, 0o700 if not mode & 0o077 else 0o755)
    try:
        uid, gid = _create_in(p, data, mode)
    except BaseException:
        for d in reversed(created_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        raise
    return WriteResult(str(path), str(p), None, mode, uid, gid, sha256_bytes(data), created_dirs)


def _create_in(p: Path, data: bytes, mode: int) -> tuple[int, int]:
    """Create `p` (its directory exists) from a temp file; returns the owner given."""
    parent = p.parent
    try:
        pst = os.stat(parent)
    except OSError as exc:
        raise WriteRefused(f"{safe(parent)}: {_os_reason(exc)}") from None
    if not stat.S_ISDIR(pst.st_mode):
        raise WriteRefused(f"{safe(parent)}: is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise WriteRefused(f"{safe(p)}: permission denied: directory {safe(parent)} is not writable")
    # A root-run fix creates files owned like their directory, not by root.
    uid, gid = (pst.st_uid, pst.st_gid) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    clean_stray_temps(parent)
    with file_lock(p):
        tmp = _write_temp(p, data, mode, uid, gid)
        try:
            os.link(tmp, p)  # fails if the name appeared meanwhile: never clobbers
        except FileExistsError:
            raise StaleFile(f"{safe(p)}: appeared since preview; not overwritten") from None
        except OSError as exc:
            raise WriteFailed(f"{safe(p)}: cannot create: {_os_reason(exc)}") from None
        finally:
            _unlink_quietly(tmp)
        _fsync_dir(parent)
    return uid, gid


def change_mode(
    path: str | Path,
    old_mode: int,
    new_mode: int,
    *,
    root: str | Path,
    expected_sha256: str | None = None,
) -> WriteResult:
    """chmod a plain file of the tree, if its mode is still `old_mode`."""
    real, _via, raw, st = check_existing(path, root, expected_sha256, need_write=False)
    current = stat.S_IMODE(st.st_mode)
    if current != old_mode:
        raise StaleFile(
            f"{safe(path)}: changed since preview (mode is {current:04o}, expected {old_mode:04o})"
        )
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise WriteFailed(f"{safe(path)}: cannot open: {_os_reason(exc)}") from None
    try:
        if (os.fstat(fd).st_ino, os.fstat(fd).st_dev) != (st.st_ino, st.st_dev):
            raise StaleFile(f"{safe(path)}: changed since preview (replaced)")
        os.fchmod(fd, new_mode)
    except OSError as exc:
        raise WriteFailed(f"{safe(path)}: chmod failed: {_os_reason(exc)}") from None
    finally:
        os.close(fd)
    return WriteResult(str(path), str(real), None, current, st.st_uid, st.st_gid, sha256_bytes(raw))


def remove_created(path: str | Path, expected_sha256: str, *, root: str | Path) -> None:
    """Delete a file lockdock created, only if it still holds what lockdock wrote."""
    real, _via, _raw, _st = check_existing(path, root, expected_sha256, need_write=False)
    try:
        os.unlink(real)
    except OSError as exc:
        raise WriteFailed(f"{safe(path)}: cannot remove: {_os_reason(exc)}") from None
    _fsync_dir(real.parent)


def clean_stray_temps(directory: str | Path, max_age: float = STRAY_AGE_SECONDS) -> list[Path]:
    """Remove temp files left by a killed lockdock run (dead pid, or older than `max_age`)."""
    removed: list[Path] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        m = _TEMP_NAME.match(name)
        if not m:
            continue
        p = Path(directory) / name
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        pid = int(m.group("pid"))
        alive = pid != os.getpid() and _pid_alive(pid)
        if pid == os.getpid() or (alive and now - st.st_mtime < max_age):
            continue
        with contextlib.suppress(OSError):
            os.unlink(p)
            removed.append(p)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def bind_mount_warnings(real_paths: list[str], engine: Any) -> list[str]:
    """Running containers that bind-mount one of these files keep the old inode."""
    if engine is None or not real_paths:
        return []
    wanted = {os.path.realpath(p) for p in real_paths}
    try:
        containers = engine.api.containers(filters={"status": "running"})
    except Exception as exc:  # noqa: BLE001 - a warning we cannot compute is itself a warning
        return [f"could not check running containers for bind mounts: {safe(exc)}"]
    out: list[str] = []
    for c in containers or []:
        names = c.get("Names") or [c.get("Id", "")[:12]]
        name = str(names[0]).lstrip("/")
        for m in c.get("Mounts") or []:
            src = m.get("Source")
            if m.get("Type") == "bind" and isinstance(src, str) and os.path.realpath(src) in wanted:
                out.append(
                    f"container {safe(name, 80)} bind-mounts {safe(src)}: it keeps the old file "
                    "(old inode) until it is restarted"
                )
    return out
