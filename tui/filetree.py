"""Per-layer file lists for the Layers tab, in the manner of dive: what each layer added,
changed (the path existed in a lower layer) and deleted (an overlay whiteout), with sizes.

Read on demand, for the one image the user looks at, from the engine's `docker save`
stream (`lockdock.engine.savestream`): entries pass by and only their name, size and type
are kept, at most `MAX_ENTRIES` per layer (the rest is counted, and the view says the
list was capped), so memory stays bounded whatever the image size. Pure Python: no
textual here, the widget lives in `layers.py`.
"""

from __future__ import annotations

import gzip
import posixpath
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lockdock.engine.layerfacts import normalise
from lockdock.engine.savestream import ChunkStream, SaveArchive, _load_json, _sniff, _zstd_reader
from lockdock.engine.tarstream import EntryData, TarReader
from lockdock.text import safe

MAX_ENTRIES = 5_000  # file entries kept per layer
MAX_BYTES_PER_LAYER = 8 * 1024**3  # decompressed bytes read from one layer before giving up
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True)
class FileEntry:
    """One path in one layer: `status` is added, changed or deleted; `size` in bytes."""

    path: str  # relative, no leading slash; untrusted text (show through `render.plain`)
    size: int
    status: str
    is_dir: bool = False


@dataclass
class LayerFiles:
    """The files of one layer (diff) in `RootFS.Layers` order, capped at `MAX_ENTRIES`."""

    entries: list[FileEntry] = field(default_factory=list)
    total: int = 0  # entries seen, kept or not
    size: int = 0  # bytes of regular files added or changed
    stopped: str | None = None  # why the listing of this layer ended early

    @property
    def capped(self) -> int:
        """Entries not kept (0 when the list is complete)."""
        return self.total - len(self.entries)


@dataclass
class _Raw:
    names: list[tuple[str, int, bool, bool]] = field(default_factory=list)  # path, size, dir, whiteout
    total: int = 0
    size: int = 0
    stopped: str | None = None


def _list_layer(fileobj: Any, compression: str, cancel: threading.Event | None) -> _Raw:
    raw = _Raw()
    if compression == "gzip":
        stream: Any = gzip.GzipFile(fileobj=fileobj, mode="rb")
    elif compression == "zstd":
        stream = _zstd_reader(fileobj)
        if stream is None:
            raw.stopped = "zstd layer not listed (no zstd decoder installed)"
            return raw
    else:
        stream = fileobj
    reader = TarReader(stream, MAX_BYTES_PER_LAYER)
    try:
        for info in reader.entries():
            if cancel is not None and cancel.is_set():
                raw.stopped = "cancelled"
                break
            path, _odd = normalise(info.name)
            if not path:
                continue
            raw.total += 1
            base = posixpath.basename(path)
            whiteout = base.startswith(WHITEOUT)
            if not whiteout and info.isreg():
                raw.size += info.size
            if len(raw.names) < MAX_ENTRIES:
                raw.names.append((path, info.size if info.isreg() else 0, info.isdir(), whiteout))
    except Exception as exc:  # noqa: BLE001 - a broken layer ends its listing, never the view
        raw.stopped = f"layer could not be read to the end: {type(exc).__name__}: {safe(exc, 120)}"
    return raw


def read_layer_files(chunks: Iterable[bytes], cancel: threading.Event | None = None) -> tuple[list[LayerFiles], str | None]:
    """Per-layer file lists of the one image in a `docker save` stream, bottom layer first,
    and an error (the stream broke off) or None."""
    archive = SaveArchive()
    raws: dict[str, _Raw] = {}
    stream = ChunkStream(chunks, 4)
    outer = TarReader(stream)
    error = None
    try:
        for info in outer.entries():
            if cancel is not None and cancel.is_set():
                error = "cancelled"
                break
            if not info.isreg():
                continue
            name = info.name.removeprefix("./").lstrip("/")
            member = EntryData(outer)
            head = member.peek(512)
            kind = _sniff(head)
            if kind is None:
                if head[:1] in (b"{", b"[") and info.size <= 16 * 1024 * 1024:
                    _load_json(archive, name, outer.read_data(info.size))
                continue
            raws[name] = _list_layer(member, kind, cancel)
    except Exception as exc:  # noqa: BLE001 - engine stream errors (requests, urllib3, tar)
        error = f"docker save stream broke off: {type(exc).__name__}: {safe(exc, 160)}"
    finally:
        stream.close()
    images = archive.images()
    order = images[0][1] if images else list(raws)
    return classify([raws.get(n, _Raw(stopped="layer missing from the save stream")) for n in order]), error


def classify(layers: list[_Raw]) -> list[LayerFiles]:
    """Mark each kept entry added, changed (a lower layer has the path) or deleted (whiteout)."""
    seen: set[str] = set()
    out: list[LayerFiles] = []
    for raw in layers:
        files = LayerFiles(total=raw.total, size=raw.size, stopped=raw.stopped)
        mine: list[str] = []
        for path, size, is_dir, whiteout in raw.names:
            if whiteout:
                base = posixpath.basename(path)
                parent = posixpath.dirname(path)
                if base == OPAQUE:
                    files.entries.append(FileEntry(parent or "/", 0, "deleted", True))
                    continue
                gone = posixpath.join(parent, base[len(WHITEOUT):])
                files.entries.append(FileEntry(gone, 0, "deleted"))
                continue
            status = "changed" if path in seen and not is_dir else "added"
            if is_dir and path in seen:
                continue  # a directory entry re-stated by a change below it: not news
            files.entries.append(FileEntry(path, size, status, is_dir))
            mine.append(path)
        seen.update(mine)
        out.append(files)
    return out


def still_lives(path: str, layer: int, layers: list[LayerFiles]) -> list[int]:
    """Lower layers (diff indexes) that still carry `path`, deleted in `layer`: a whiteout
    hides a file, it does not remove its bytes from the image."""
    return [i for i in range(layer) if any(e.path == path and e.status != "deleted" for e in layers[i].entries)]


def deleted_in(path: str, layer: int, layers: list[LayerFiles]) -> int | None:
    """The first upper layer that deletes `path` (added in `layer`), or None."""
    for i in range(layer + 1, len(layers)):
        if any(e.path == path and e.status == "deleted" for e in layers[i].entries):
            return i
    return None
