"""Reading an image's layers where a local overlay2 engine already keeps them unpacked.

`docker save` makes the daemon copy and tar every layer (for 1 GiB: ~15 s of daemon time
before lockdock reads a byte). When the engine is on this machine, uses overlay2 and its
layer directories are readable (root), the same facts come from walking those directories:
metadata only (lstat, readlink, one xattr), never following a symlink, opening only a
small os-release with O_NOFOLLOW, writing nothing. Anything unexpected returns None and
the caller falls back to the save stream.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from lockdock.engine.layerfacts import MAX_CONTENT, LayerFacts, LayerScanner
from lockdock.engine.savestream import Budgets
from lockdock.engine.tarstream import TarEntry
from lockdock.text import escape_surrogates, safe

OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")


def _is_local(endpoint: str) -> bool:
    return endpoint.startswith("unix://") or endpoint.startswith("/")


def layer_dirs(inspect: dict[str, Any], endpoint: str) -> list[Path] | None:
    """The overlay2 `diff` directories of an image, bottom layer first, or None."""
    if os.environ.get("LOCKDOCK_LAYER_SOURCE") == "save" or not _is_local(endpoint):
        return None
    gd = inspect.get("GraphDriver")
    if not isinstance(gd, dict) or gd.get("Name") != "overlay2":
        return None
    data = gd.get("Data") if isinstance(gd.get("Data"), dict) else {}
    upper = data.get("UpperDir")
    lower = data.get("LowerDir")
    if not isinstance(upper, str) or not upper:
        return None
    dirs = [*reversed(lower.split(":"))] if isinstance(lower, str) and lower else []
    dirs.append(upper)
    paths = [Path(d) for d in dirs]
    layers = (inspect.get("RootFS") or {}).get("Layers") or []
    if len(paths) != len(layers):
        return None
    for p in paths:
        if not p.is_absolute() or not p.is_dir() or not os.access(p, os.R_OK | os.X_OK):
            return None
    return paths


def config_history(root_dir: str, image_id: str) -> list[bool] | None:
    """empty_layer flags of the image config in the daemon's image store, or None."""
    algo, _, hexpart = image_id.partition(":")
    path = Path(root_dir) / "image" / "overlay2" / "imagedb" / "content" / algo / hexpart
    try:
        data = json.loads(path.read_bytes()[: 64 * 1024 * 1024])
    except (OSError, ValueError):
        return None
    hist = data.get("history") if isinstance(data, dict) else None
    if not isinstance(hist, list):
        return None
    return [bool(h.get("empty_layer")) for h in hist if isinstance(h, dict)]


def _opaque(path: str) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _read_small(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, MAX_CONTENT)
    finally:
        os.close(fd)


def scan_dir(root: Path, name: str, budgets: Budgets) -> LayerFacts:
    """The facts of one unpacked layer directory, as the tar walk would give them."""
    scanner = LayerScanner(name)
    facts = scanner.facts
    facts.compression = "directory"
    stack: list[tuple[str, str]] = [("", str(root))]
    try:
        while stack:
            prefix, directory = stack.pop()
            with os.scandir(directory) as it:
                for entry in it:
                    if facts.entries >= budgets.max_entries:
                        facts.stopped = f"more than {budgets.max_entries} entries: rest of the layer not analysed"
                        return facts
                    rel = prefix + escape_surrogates(entry.name)  # entry.path stays raw for I/O
                    st = entry.stat(follow_symlinks=False)
                    mode = st.st_mode
                    if stat.S_ISCHR(mode) and st.st_rdev == 0:
                        scanner.entry(TarEntry(_wh(rel), "", 0, 0, b"0"))  # overlay whiteout
                        continue
                    if stat.S_ISDIR(mode):
                        if _opaque(entry.path):
                            scanner.entry(TarEntry(rel + "/.wh..wh..opq", "", 0, 0, b"0"))
                        scanner.entry(TarEntry(rel, "", 0, mode & 0o7777, b"5"))
                        stack.append((rel + "/", entry.path))
                        continue
                    if stat.S_ISLNK(mode):
                        scanner.entry(TarEntry(rel, escape_surrogates(os.readlink(entry.path)), 0, mode & 0o7777, b"2"))
                        continue
                    kind = b"0" if stat.S_ISREG(mode) else b"3" if stat.S_ISCHR(mode) else b"4" if stat.S_ISBLK(mode) else b"6"
                    info = TarEntry(rel, "", st.st_size if kind == b"0" else 0, mode & 0o7777, kind)
                    path = scanner.entry(info)
                    facts.bytes_read += info.size
                    if path is not None:
                        data = _read_small(entry.path)
                        if data is not None:
                            scanner.content(path, data)
    except OSError as exc:
        facts.stopped = f"layer directory could not be read: {safe(exc, 120)}"
    return facts


def _wh(rel: str) -> str:
    head, _, base = rel.rpartition("/")
    return f"{head}/.wh.{base}" if head else f".wh.{base}"
