"""Reading scanned text files defensively, remembering how they were written.

Every loader goes through `read_text`, so size caps, binary detection, encodings, BOMs
and line endings are handled once; fixers use the same record (hash, BOM, newline style)
to write a file back exactly as it was shaped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_TEXT_BYTES = 2 * 1024 * 1024  # Dockerfiles and compose files larger than this are skipped
MAX_LINE_CHARS = 256 * 1024  # a single line longer than this is not analysed


class FileProblem(Exception):
    """A file that cannot be analysed; the message is shown as-is (no path prefix)."""


@dataclass(frozen=True)
class TextFile:
    path: Path
    raw: bytes
    text: str  # decoded, BOM removed, line endings as in the file
    sha256: str
    bom: bool
    newline: str  # "\n", "\r\n" or "\r" (the dominant style; "\n" when none)
    final_newline: bool
    mode: int

    @property
    def lines(self) -> list[str]:
        """Lines without their endings (splitting on \\r\\n, \\n and \\r)."""
        return self.text.splitlines()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detect_newline(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    if crlf and crlf >= lf and crlf >= cr:
        return "\r\n"
    if cr > lf:
        return "\r"
    return "\n"


_RECORDER = threading.local()


@contextlib.contextmanager
def recording_reads() -> Iterator[list[tuple[Path, str | None]]]:
    """Collect, on this thread, every `read_text` of the block as (path, sha256 of the bytes,
    None when the file could not be read): the files a result depends on (lockdock.cache)."""
    outer = getattr(_RECORDER, "reads", None)
    reads: list[tuple[Path, str | None]] = []
    _RECORDER.reads = reads
    try:
        yield reads
    finally:
        _RECORDER.reads = outer
        if outer is not None:
            outer.extend(reads)


def read_text(path: Path, max_bytes: int = MAX_TEXT_BYTES) -> TextFile:
    """Read a text file or raise `FileProblem` saying why it cannot be analysed."""
    reads = getattr(_RECORDER, "reads", None)
    if reads is None:
        return _read_text(path, max_bytes)
    try:
        tf = _read_text(path, max_bytes)
    except FileProblem:
        reads.append((path, None))
        raise
    reads.append((path, tf.sha256))
    return tf


def _read_text(path: Path, max_bytes: int) -> TextFile:
    try:
        st = path.stat()
    except OSError as exc:
        raise FileProblem(f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise FileProblem("not a regular file")
    if st.st_size > max_bytes:
        raise FileProblem(
            f"skipped: {st.st_size} bytes is over the {max_bytes // (1024 * 1024)} MiB size cap"
        )
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise FileProblem(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise FileProblem("skipped: file grew over the size cap while being read")
    if b"\x00" in raw:
        raise FileProblem("binary file (contains NUL bytes); not analysed")
    bom = raw.startswith(b"\xef\xbb\xbf")
    body = raw[3:] if bom else raw
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise FileProblem(f"invalid UTF-8 at line {line} (byte {exc.start}); not analysed") from None
    return TextFile(
        path=path,
        raw=raw,
        text=text,
        sha256=sha256_bytes(raw),
        bom=bom,
        newline=detect_newline(text),
        final_newline=text.endswith(("\n", "\r")),
        mode=stat.S_IMODE(st.st_mode),
    )


def is_probably_binary(path: Path, sniff: int = 4096) -> bool:
    try:
        with open(path, "rb") as fh:
            return b"\x00" in fh.read(sniff)
    except OSError:
        return False


def within(path: Path, root: Path) -> bool:
    """True when `path` (resolved) lies inside `root` (resolved)."""
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        return True
    except ValueError:
        return False


class Inside:
    """`within(path, root)` for many paths and one `root`, resolving each folder once.

    For the lists of one scan (a folder of 1,000 Dockerfiles resolved the root and the folder
    again for every file). Answers are those of `within`: a path whose last part is a
    symlink, or that holds `..`, is resolved in full; otherwise its folder's resolution
    (remembered for this object's life only) plus its name. Not for long-lived use: a folder
    replaced by a symlink afterwards is not noticed.
    """

    def __init__(self, root: Path) -> None:
        self._root = Path(os.path.realpath(root))
        self._folders: dict[str, str] = {}

    def __call__(self, path: Path) -> bool:
        text = os.fspath(path)
        folder, name = os.path.split(text)
        if not name or not folder or name in (".", "..") or ".." in text.split(os.sep) or os.path.islink(text):
            real = os.path.realpath(text)
        else:
            real_folder = self._folders.get(folder)
            if real_folder is None:
                real_folder = self._folders[folder] = os.path.realpath(folder)
            real = os.path.join(real_folder, name)
        try:
            Path(real).relative_to(self._root)
            return True
        except ValueError:
            return False
