"""The per-entry tar and layer classification as it was before the fast paths (frozen oracle).

tests/engine/test_save_fastpath.py runs these and the current `TarReader.entries` /
`LayerScanner.entry` over the same hostile tars and wants identical entries, errors and
`LayerFacts`. Field by field, with `sum()` for the checksum and posixpath/regexes for the
paths, as the straightforward reading of ustar/GNU/PAX; change it only with a reason.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from lockdock.engine.layerfacts import (
    ACCOUNT_PATHS,
    BIN_DIRS,
    CACHE_PATTERNS,
    CACHE_ROOTS,
    COMPILERS,
    CONTEXT_DIRS,
    CONTEXT_FILES,
    MAX_ACCOUNT_FILE,
    MAX_OS_RELEASE,
    NOT_CONTEXT,
    OS_RELEASE_PATHS,
    PACKAGE_MANAGERS,
    SHELLS,
    SSH_ACCOUNT_FILES,
    TOOLS,
    AccountFile,
    CacheFact,
    FileFact,
    LayerScanner,
)
from lockdock.engine.tarstream import (
    _DATA_TYPES,
    _KNOWN_TYPES,
    BLOCK,
    ZERO_BLOCK,
    TarCorrupt,
    TarEntry,
    TarReader,
    TarTruncated,
    _pax,
)
from lockdock.secrets import secret_file

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:
        return int.from_bytes(field[1:], "big")
    digits = field.split(b"\0", 1)[0].strip(b" ")
    if not digits:
        return 0
    try:
        return int(digits, 8)
    except ValueError:
        raise TarCorrupt("invalid number in tar header") from None


def owner(header: bytes, pax: dict[str, str]) -> tuple[int, int]:
    ids = []
    for key, field in (("uid", header[108:116]), ("gid", header[116:124])):
        try:
            ids.append(int(pax[key]) if key in pax else number(field))
        except (ValueError, TarCorrupt):
            ids.append(0)
    return ids[0], ids[1]


class ReferenceReader(TarReader):
    """TarReader with the field-by-field header parse."""

    def entries(self) -> Iterator[TarEntry]:
        long_name: str | None = None
        long_link: str | None = None
        pax: dict[str, str] = {}
        while True:
            if self._data_left or self._pad:
                self._skip(self._data_left + self._pad)
            self._data_left = self._pad = 0
            header = self._take(BLOCK)
            if not header:
                return
            if len(header) < BLOCK:
                raise TarTruncated("stream ended inside a tar header")
            if header == ZERO_BLOCK:
                return
            stored = number(header[148:156])
            actual = sum(header) - sum(header[148:156]) + 8 * 32
            if stored != actual:
                raise TarCorrupt("tar header checksum mismatch (not a tar archive, or damaged)")
            kind = header[156:157]
            size = number(header[124:136])
            if kind in (b"L", b"K", b"x", b"g"):
                if size > 1 << 20:
                    raise TarCorrupt("oversized long-name or PAX header")
                data = self._take(size)
                if len(data) < size:
                    raise TarTruncated("stream ended inside a tar header")
                self._skip(-size % BLOCK)
                if kind == b"L":
                    long_name = text(data)
                elif kind == b"K":
                    long_link = text(data)
                elif kind == b"x":
                    pax = _pax(data)
                continue
            name = text(header[0:100])
            if header[257:263] == b"ustar\x00":
                prefix = text(header[345:500])
                if prefix:
                    name = prefix + "/" + name
            linkname = text(header[157:257])
            if long_name is not None:
                name = long_name
            if long_link is not None:
                linkname = long_link
            name = pax.get("path", name)
            linkname = pax.get("linkpath", linkname)
            if "size" in pax:
                try:
                    size = int(pax["size"])
                except ValueError:
                    raise TarCorrupt("invalid PAX size") from None
            long_name = long_link = None
            uid, gid = owner(header, pax)
            pax = {}
            if kind == b"5":
                name = name.rstrip("/")
            mode = number(header[100:108]) & 0o7777
            entry = TarEntry(name, linkname, size, mode, kind, uid, gid)
            if kind in _DATA_TYPES or kind not in _KNOWN_TYPES:
                self._data_left = size
                self._pad = -size % BLOCK
            yield entry


def normalise(name: str) -> tuple[str, str | None]:
    if (
        0 < len(name) <= 255
        and name[0] != "/"
        and name[-1] not in "/."
        and "//" not in name
        and "./" not in name
        and not _CONTROL.search(name)
    ):
        return name, None
    odd = None
    if _CONTROL.search(name):
        odd = "control characters in name"
    if name.startswith("/"):
        odd = odd or "absolute path"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return "", "path with '..'"
    if len(name) > 4096 or any(len(p) > 255 for p in parts):
        odd = odd or "overlong name"
    return "/".join(parts), odd


class ReferenceScanner(LayerScanner):
    """LayerScanner with the regex/posixpath classification of every entry."""

    def entry(self, info: TarEntry) -> str | None:
        self.facts.entries += 1
        path, odd = normalise(info.name)
        self._last = (info, path, odd)
        if not path:
            if odd:
                self._odd(f"{odd}: {info.name!r}")
            return None
        if odd:
            self._odd(f"{odd}: {info.name!r}")
        if info.ischr() or info.isblk():
            self._odd(f"device node: {path!r}")
            return None
        if info.isfifo():
            return None
        base = posixpath.basename(path)
        parent = posixpath.dirname(path)
        if base.startswith(".wh."):
            if base == ".wh..wh..opq":
                self.facts.opaque.append(parent)
            elif base.startswith(".wh..wh."):
                return None
            else:
                self.facts.whiteouts.append(posixpath.join(parent, base[4:]))
            return None
        secret = not info.issym() and secret_file("/" + path)
        if not secret:
            self._context_reference(path, info.isdir())
        if info.isdir():
            return None
        if path in ACCOUNT_PATHS:
            self.facts.accounts[path] = AccountFile(read=False).to_json()
        size = info.size if info.isreg() else 0
        if info.islnk():
            target, _ = normalise(info.linkname)
            detail = f"hard link to {target}"
        elif info.issym():
            detail = f"symlink to {info.linkname}"
        else:
            detail = ""
        if secret:
            self._add(FileFact("secret", path, size, detail))
        if info.isreg() or info.islnk():
            if info.mode & 0o4000:
                self._add(FileFact("setuid", path, size, f"mode {info.mode & 0o7777:04o}"))
            elif info.mode & 0o2000:
                self._add(FileFact("setgid", path, size, f"mode {info.mode & 0o7777:04o}"))
        if parent in BIN_DIRS:
            if base in TOOLS:
                self._add(FileFact("tool", path, size, detail))
            elif base in COMPILERS or re.fullmatch(r"(gcc|g\+\+|clang)-[0-9.]+", base):
                self._add(FileFact("compiler", path, size, detail))
            elif base in PACKAGE_MANAGERS:
                self._add(FileFact("pkgmgr", path, size, detail))
            elif base in SHELLS:
                self._add(FileFact("shell", path, size, detail))
        if info.isreg() and path.startswith(CACHE_ROOTS):
            for kind, pattern in CACHE_PATTERNS:
                if pattern.match(path):
                    cache = self.facts.caches.setdefault(kind, CacheFact(kind, example=path))
                    cache.count += 1
                    cache.size += size
                    break
        if info.isreg() and odd is None and (
            (path in OS_RELEASE_PATHS and info.size <= MAX_OS_RELEASE)
            or (path in ACCOUNT_PATHS and info.size <= MAX_ACCOUNT_FILE)
        ):
            return path
        return None

    def _context_reference(self, path: str, is_dir: bool) -> None:
        if NOT_CONTEXT.search(path):
            return
        parts = path.split("/")
        for i, part in enumerate(parts):
            if part in CONTEXT_DIRS and (i + 1 < len(parts) or (is_dir and part != ".ssh")):
                top = "/".join(parts[: i + 1])
                if part == ".ssh" and (is_dir or parts[-1] in SSH_ACCOUNT_FILES):
                    return
                if top not in self._context_dirs:
                    self._context_dirs.add(top)
                    self._add(FileFact("context", top, 0, part + "/"))
                return
        if not is_dir and CONTEXT_FILES.match(parts[-1]):
            self._add(FileFact("context", path, 0, "build definition"))
