"""A forward-only tar reader for streams: headers parsed in place, data skipped in big steps.

`tarfile` in stream mode re-slices its whole read buffer for every header (a copy per
entry) and keeps every TarInfo; on a layer with a million entries that is slow and
unbounded. This reader understands what image layers contain (ustar, GNU long names
`L`/`K`, PAX `x`/`g` records, base-256 sizes), verifies header checksums, and never keeps
more than one read chunk. Entries expose the same predicates as `tarfile.TarInfo`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

BLOCK = 512
CHUNK = 1 << 20
ZERO_BLOCK = b"\0" * BLOCK
# Types whose size field counts data blocks (tarfile: regular files and unknown types).
_DATA_TYPES = frozenset({b"0", b"\0", b"7"})
_KNOWN_TYPES = frozenset({b"0", b"\0", b"1", b"2", b"3", b"4", b"5", b"6", b"7"})
# The POSIX ustar header (POSIX.1-1988, `pax` in POSIX.1-2001), one unpack for the fields
# read: name, mode, uid, gid, size, (mtime skipped), chksum, typeflag, linkname, magic,
# (version, uname, gname, devmajor, devminor skipped), prefix, (padding).
_HEADER = struct.Struct("100s8s8s8s12s12x8sc100s6s2x64x16x155s12x")


class TarCorrupt(ValueError):
    """The stream is not a tar archive or is damaged (bad checksum, short header)."""


class TarTruncated(EOFError):
    """The stream ended inside a header or an entry's data."""


class BudgetExceeded(Exception):
    """More decompressed bytes than the layer budget allows."""


@dataclass(slots=True)
class TarEntry:
    name: str
    linkname: str
    size: int
    mode: int
    type: bytes
    uid: int = 0
    gid: int = 0

    def isreg(self) -> bool:
        return self.type in (b"0", b"\0", b"7")

    def isdir(self) -> bool:
        return self.type == b"5"

    def issym(self) -> bool:
        return self.type == b"2"

    def islnk(self) -> bool:
        return self.type == b"1"

    def ischr(self) -> bool:
        return self.type == b"3"

    def isblk(self) -> bool:
        return self.type == b"4"

    def isfifo(self) -> bool:
        return self.type == b"6"


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:
        return int.from_bytes(field[1:], "big")  # GNU base-256 for sizes over 8 GiB
    digits = field.split(b"\0", 1)[0].strip(b" ")
    if not digits:
        return 0
    try:
        return int(digits, 8)
    except ValueError:
        raise TarCorrupt("invalid number in tar header") from None


def _octal(field: bytes) -> int:
    """`_number` for the common field (octal digits, NUL/space padded) with one int();
    anything else (base-256, junk, empty) goes through `_number`, so the result and
    the errors are the same."""
    try:
        return int(field.rstrip(b"\0"), 8)
    except ValueError:
        return _number(field)


def _byte_sum(header: bytes) -> int:
    """`sum(header)` for a 512-byte header, in C when it can be: with at most 256 nonzero
    bytes the sum is at most 65,280, below zlib's Adler-32 modulus (65,521), so the low
    half of `adler32` is exactly 1 + the sum (RFC 1950). Headers are mostly NUL padding."""
    if header.count(0) >= BLOCK - 256:
        return (zlib.adler32(header) & 0xFFFF) - 1
    return sum(header)


def _pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            raise TarCorrupt("invalid PAX record") from None
        if length <= 0:
            raise TarCorrupt("invalid PAX record length")
        record = data[space + 1 : pos + length].rstrip(b"\n")
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        pos += length
    return out


def _owner(header: bytes, pax: dict[str, str]) -> tuple[int, int]:
    """Numeric owner and group of an entry (PAX records win over the header fields)."""
    ids = []
    for key, field in (("uid", header[108:116]), ("gid", header[116:124])):
        try:
            ids.append(int(pax[key]) if key in pax else _number(field))
        except (ValueError, TarCorrupt):
            ids.append(0)
    return ids[0], ids[1]


class TarReader:
    """Iterate the entries of a tar stream read with `raw.read(n)` (short reads allowed).

    `limit`: at most this many bytes pulled from `raw` (`BudgetExceeded` past it).
    `whole_reads`: skipping data always asks `raw` for a whole CHUNK and keeps the rest,
    so a chunk reader's blocks come back whole instead of as copied pieces (for a reader
    whose `consumed` count is not reported: it may then run up to one chunk ahead).
    """

    def __init__(self, raw: Any, limit: int | None = None, whole_reads: bool = False) -> None:
        self._raw = raw
        self._whole_reads = whole_reads
        self._buf = b""
        self._pos = 0
        self._limit = limit
        self.consumed = 0  # bytes pulled from `raw`
        self._data_left = 0  # unread data bytes of the current entry
        self._pad = 0

    # ------------------------------------------------------------------ raw access

    def _pull(self, n: int) -> bytes:
        chunk = self._raw.read(n)
        if chunk:
            self.consumed += len(chunk)
            if self._limit is not None and self.consumed > self._limit:
                raise BudgetExceeded(f"more than {self._limit} bytes")
        return chunk

    def _take(self, n: int) -> bytes:
        """Exactly n bytes, or fewer at the end of the stream."""
        avail = len(self._buf) - self._pos
        if avail >= n:
            out = self._buf[self._pos : self._pos + n]
            self._pos += n
            return out
        parts = [self._buf[self._pos :]] if avail else []
        got = avail
        self._buf, self._pos = b"", 0
        while got < n:
            chunk = self._pull(max(n - got, CHUNK))
            if not chunk:
                break
            need = n - got
            if len(chunk) > need:
                parts.append(chunk[:need])
                self._buf, self._pos = chunk, need
                got = n
                break
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _skip(self, n: int) -> None:
        avail = len(self._buf) - self._pos
        if n <= avail:
            self._pos += n
            return
        n -= avail
        self._buf, self._pos = b"", 0
        skip = getattr(self._raw, "skip", None)
        if skip is not None:
            # A nested uncompressed tar: let the outer reader skip, no copies.
            self.consumed += n
            if self._limit is not None and self.consumed > self._limit:
                raise BudgetExceeded(f"more than {self._limit} bytes")
            if skip(n) < n:
                raise TarTruncated("stream ended inside an entry")
            return
        while n > 0:
            chunk = self._pull(CHUNK if self._whole_reads else min(n, CHUNK))
            if not chunk:
                raise TarTruncated("stream ended inside an entry")
            if len(chunk) > n:
                self._buf, self._pos = chunk, n
                return
            n -= len(chunk)

    # ------------------------------------------------------------------ entries

    def read_data(self, n: int = -1) -> bytes:
        """Read up to n bytes of the current entry's data (all of it when n < 0)."""
        if n < 0 or n > self._data_left:
            n = self._data_left
        data = self._take(n)
        if len(data) < n:
            raise TarTruncated("stream ended inside an entry")
        self._data_left -= n
        return data

    def read_some(self, n: int) -> bytes:
        """Up to n bytes of the current entry's data, never joined from two reads: what the
        buffer holds, or one new read (b"" when the entry's data is all read). A nested
        tar or gzip reader pulls through this, so each byte of the stream is copied at most
        once on its way (a whole read chunk is handed on as it is)."""
        n = min(n, self._data_left)
        if n <= 0:
            return b""
        avail = len(self._buf) - self._pos
        if avail == 0:
            chunk = self._pull(CHUNK)
            if not chunk:
                raise TarTruncated("stream ended inside an entry")
            self._buf, self._pos, avail = chunk, 0, len(chunk)
        whole = self._pos == 0 and n >= avail
        out = self._buf if whole else self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        self._data_left -= len(out)
        return out

    def _next_header(self) -> bytes:
        """Skip what is left of the current entry and take the next 512-byte block (fewer
        at the end of the stream)."""
        skip = self._data_left + self._pad
        self._data_left = self._pad = 0
        end = self._pos + skip + BLOCK
        if end <= len(self._buf):  # the usual case: header and skipped data are buffered
            self._pos = end
            return self._buf[end - BLOCK : end]
        if skip:
            self._skip(skip)
        return self._take(BLOCK)

    def entries(self) -> Iterator[TarEntry]:
        long_name: str | None = None
        long_link: str | None = None
        pax: dict[str, str] = {}
        unpack = _HEADER.unpack
        adler32 = zlib.adler32
        count = bytes.count
        while True:
            skip = self._data_left + self._pad
            end = self._pos + skip + BLOCK
            if end <= len(self._buf):  # `_next_header`, inline for the usual case
                self._data_left = self._pad = 0
                self._pos = end
                header = self._buf[end - BLOCK : end]
            else:
                header = self._next_header()
            if not header:
                return  # no end-of-archive blocks: accepted, as tar does
            if len(header) < BLOCK:
                raise TarTruncated("stream ended inside a tar header")
            if header == ZERO_BLOCK:
                return
            name_f, mode_f, uid_f, gid_f, size_f, chksum, kind, link_f, magic, prefix_f = unpack(header)
            # `_byte_sum`, `_octal` and `_text` inline below (a call each per entry saved).
            try:  # the usual fields: six octal digits, NUL, space (POSIX); NUL-padded octal
                stored = int(chksum[:6], 8) if chksum[6:] == b"\0 " else int(chksum.rstrip(b"\0"), 8)
            except ValueError:
                stored = _number(chksum)
            total = (adler32(header) & 0xFFFF) - 1 if count(header, 0) >= 256 else sum(header)
            if stored != total - sum(chksum) + 8 * 32:  # chksum counted as spaces
                raise TarCorrupt("tar header checksum mismatch (not a tar archive, or damaged)")
            try:
                size = int(size_f.rstrip(b"\0"), 8)
            except ValueError:
                size = _number(size_f)
            if kind in (b"L", b"K", b"x", b"g"):
                if size > 1 << 20:
                    raise TarCorrupt("oversized long-name or PAX header")
                data = self._take(size)
                if len(data) < size:
                    raise TarTruncated("stream ended inside a tar header")
                self._skip(-size % BLOCK)
                if kind == b"L":
                    long_name = _text(data)
                elif kind == b"K":
                    long_link = _text(data)
                elif kind == b"x":
                    pax = _pax(data)
                continue
            name = name_f.partition(b"\0")[0].decode("utf-8", "replace")
            if magic == b"ustar\x00" and prefix_f[0]:
                name = _text(prefix_f) + "/" + name
            linkname = _text(link_f) if link_f[0] else ""
            if long_name is not None:
                name = long_name
                long_name = None
            if long_link is not None:
                linkname = long_link
                long_link = None
            if pax:
                name = pax.get("path", name)
                linkname = pax.get("linkpath", linkname)
                if "size" in pax:
                    try:
                        size = int(pax["size"])
                    except ValueError:
                        raise TarCorrupt("invalid PAX size") from None
                uid, gid = _owner(header, pax)
                pax = {}
            else:
                try:
                    uid, gid = int(uid_f.rstrip(b"\0"), 8), int(gid_f.rstrip(b"\0"), 8)
                except ValueError:
                    uid, gid = _owner(header, pax)
            if kind == b"5":
                name = name.rstrip("/")
            try:
                mode = int(mode_f.rstrip(b"\0"), 8) & 0o7777
            except ValueError:
                mode = _number(mode_f) & 0o7777
            entry = TarEntry(name, linkname, size, mode, kind, uid, gid)
            if kind in _DATA_TYPES or kind not in _KNOWN_TYPES:
                self._data_left = size
                self._pad = -size % BLOCK
            yield entry


class EntryData:
    """The data of the current entry as a file-like object (for a nested tar or gzip)."""

    def __init__(self, reader: TarReader) -> None:
        self._reader = reader

    def read(self, n: int = -1) -> bytes:
        """Up to n bytes (a short read is not the end; b"" is)."""
        return self._reader.read_some(CHUNK if n is None or n < 0 else n)

    def readable(self) -> bool:
        return True

    def skip(self, n: int) -> int:
        """Skip n bytes of the entry's data; returns how many could be skipped."""
        r = self._reader
        n = min(n, r._data_left)
        r._skip(n)
        r._data_left -= n
        return n

    def peek(self, n: int) -> bytes:
        """The first bytes, kept for the next read (used to sniff compression once)."""
        r = self._reader
        buf, pos = r._buf, r._pos
        head = r.read_data(n)
        if r._buf is buf and r._pos == pos + len(head):
            r._pos = pos  # it came from the read buffer: step back (no copy of the buffer)
        else:
            r._buf = head + r._buf[r._pos :]
            r._pos = 0
        r._data_left += len(head)
        return head
