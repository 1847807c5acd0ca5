"""Reading a `docker save` archive as a stream, one layer tar at a time.

The archive comes from `api.get_image(ref)` as an iterator of byte chunks. Both layouts
are understood: legacy (`<id>/layer.tar`, `<config>.json`, `manifest.json`; Docker < 25)
and OCI (`index.json`, `blobs/sha256/<hex>`; Docker 25+, where layers may be gzip or zstd
compressed). Nothing is extracted or written to disk and no layer is held in memory: tar
members are classified as they pass (`LayerScanner`) and their data is skipped. Budgets
stop the analysis of a layer that is too big (a gzip bomb) or has too many entries.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import queue
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lockdock.engine.layerfacts import LayerFacts, LayerScanner
from lockdock.engine.tarstream import BudgetExceeded, EntryData, TarCorrupt, TarReader, TarTruncated
from lockdock.text import safe

MAX_JSON_BYTES = 16 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class Budgets:
    """Per-layer limits; past them that layer's analysis stops with a warning."""

    max_entries: int = 500_000
    max_bytes: int = 8 * 1024**3  # decompressed bytes read from one layer


class Cancelled(Exception):
    pass


_END = object()


class ChunkStream:
    """A file-like reader over an iterator of byte chunks (the SDK's `get_image` stream).

    With `prefetch`, a thread pulls chunks ahead into a small bounded queue, so the
    daemon producing the archive and lockdock parsing it work at the same time.
    """

    def __init__(self, chunks: Iterable[bytes], prefetch: int = 0) -> None:
        self._it: Iterator[bytes] = iter(chunks)
        self._cur = b""
        self._off = 0
        self.total = 0
        self._queue: queue.Queue[Any] | None = None
        self._stop = threading.Event()
        if prefetch > 0:
            self._queue = queue.Queue(maxsize=prefetch)
            self._thread = threading.Thread(target=self._produce, name="lockdock-save-prefetch", daemon=True)
            self._thread.start()

    def _produce(self) -> None:
        assert self._queue is not None
        item: Any = _END
        try:
            for chunk in self._it:
                while not self._stop.is_set():
                    try:
                        self._queue.put(chunk, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            item = exc
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _next(self) -> bytes | None:
        if self._queue is None:
            return next(self._it, None)
        while True:
            try:
                item = self._queue.get(timeout=1.0)
                break
            except queue.Empty:
                if not self._thread.is_alive():
                    return None
        if item is _END or isinstance(item, BaseException):
            self._queue.put(item)  # sticky: later reads see the same end or error
            if isinstance(item, BaseException):
                raise item
            return None
        return item

    def read(self, n: int) -> bytes:
        while self._off >= len(self._cur):
            chunk = self._next()
            if chunk is None:
                return b""
            self._cur, self._off = chunk, 0
        if self._off == 0 and len(self._cur) <= n:
            out = self._cur
        else:
            out = self._cur[self._off : self._off + n]
        self._off += len(out)
        self.total += len(out)
        return out

    def close(self) -> None:
        self._stop.set()


@dataclass
class SaveArchive:
    """What one `docker save` stream held: per-layer facts and the small JSON files."""

    layers: dict[str, LayerFacts] = field(default_factory=dict)  # by member name
    json_files: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the stream ended badly; what was read is still usable
    bytes_read: int = 0

    @property
    def layout(self) -> str:
        if "index.json" in self.json_files and any(n.startswith("blobs/") for n in self.layers):
            return "oci"
        if "manifest.json" in self.json_files:
            return "legacy"
        return "unknown"

    def images(self) -> list[tuple[dict[str, Any], list[str], dict[str, Any]]]:
        """(manifest entry, ordered layer member names, config) for each saved image."""
        out: list[tuple[dict[str, Any], list[str], dict[str, Any]]] = []
        manifest = self.json_files.get("manifest.json")
        if isinstance(manifest, list):
            for entry in manifest:
                if not isinstance(entry, dict):
                    continue
                layers = [str(x) for x in entry.get("Layers") or [] if isinstance(x, str)]
                config = self.json_files.get(str(entry.get("Config", "")))
                out.append((entry, layers, config if isinstance(config, dict) else {}))
            return out
        index = self.json_files.get("index.json")
        if isinstance(index, dict):
            for desc in index.get("manifests") or []:
                man = self._blob(desc)
                if isinstance(man, dict) and isinstance(man.get("manifests"), list):
                    man = self._blob(man["manifests"][0]) if man["manifests"] else None
                if not isinstance(man, dict):
                    continue
                config = self._blob(man.get("config") or {})
                layers = [_blob_name(d.get("digest", "")) for d in man.get("layers") or [] if isinstance(d, dict)]
                out.append((desc, layers, config if isinstance(config, dict) else {}))
        return out

    def _blob(self, desc: Any) -> Any:
        if not isinstance(desc, dict):
            return None
        return self.json_files.get(_blob_name(str(desc.get("digest", ""))))


def _blob_name(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"blobs/{algo}/{hexpart}"


def _is_json_name(name: str) -> bool:
    return name.endswith(".json") or name in ("repositories", "oci-layout")


def _sniff(head: bytes) -> str | None:
    """The compression of a layer blob, or None when it is not a layer."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "none"
    if len(head) >= 512 and head[:512] == b"\0" * 512:
        return "none"  # an empty layer: end-of-archive blocks only
    return None


def _zstd_reader(fileobj: Any) -> Any | None:
    """A streaming zstd decoder when one is available (Python 3.14+, or `zstandard`)."""
    try:
        from compression import zstd  # type: ignore[import-not-found]

        return zstd.ZstdFile(fileobj, mode="rb")
    except ImportError:
        pass
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        return None
    return zstandard.ZstdDecompressor().stream_reader(fileobj)


def scan_layer(
    fileobj: Any,
    name: str,
    compression: str,
    budgets: Budgets,
    cancel: threading.Event | None = None,
) -> LayerFacts:
    """Walk one layer tar (a file-like positioned at its start) and return its facts."""
    scanner = LayerScanner(name)
    facts = scanner.facts
    facts.compression = compression
    if compression == "gzip":
        raw: Any = gzip.GzipFile(fileobj=fileobj, mode="rb")
    elif compression == "zstd":
        raw = _zstd_reader(fileobj)
        if raw is None:
            facts.stopped = "zstd layer not analysed (no zstd decoder installed)"
            return facts
    else:
        raw = fileobj
    reader = TarReader(raw, budgets.max_bytes)
    try:
        for info in reader.entries():
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if facts.entries >= budgets.max_entries:
                facts.stopped = f"more than {budgets.max_entries} entries: rest of the layer not analysed"
                break
            path = scanner.entry(info)
            if path is not None:
                scanner.content(path, reader.read_data(info.size))
    except BudgetExceeded:
        facts.stopped = f"more than {budgets.max_bytes} bytes of layer data (compression bomb?): rest of the layer not analysed"
    except Cancelled:
        facts.stopped = "cancelled"
        raise
    except (TarCorrupt, TarTruncated, EOFError, OSError, zlib.error) as exc:
        facts.stopped = f"layer is truncated or corrupt: {safe(exc, 120)}"
    except Exception as exc:  # noqa: BLE001 - zstandard raises its own error type
        facts.stopped = f"layer could not be read: {type(exc).__name__}: {safe(exc, 120)}"
    facts.bytes_read = reader.consumed
    return facts


def read_save(
    chunks: Iterable[bytes],
    budgets: Budgets | None = None,
    cancel: threading.Event | None = None,
    prefetch: int = 8,
) -> SaveArchive:
    """Read a whole `docker save` stream; errors end the read and are noted, never raised."""
    budgets = budgets or Budgets()
    archive = SaveArchive()
    stream = ChunkStream(chunks, prefetch)
    outer = TarReader(stream, whole_reads=True)  # its byte count is the stream's, read through
    try:
        for info in outer.entries():
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if not info.isreg():
                continue
            name = info.name.removeprefix("./").lstrip("/")
            if _is_json_name(name) and info.size <= MAX_JSON_BYTES:
                _load_json(archive, name, outer.read_data(info.size))
                continue
            member = EntryData(outer)
            head = member.peek(512)
            kind = _sniff(head)
            if kind is None:
                if head[:1] in (b"{", b"[") and info.size <= MAX_JSON_BYTES:
                    _load_json(archive, name, outer.read_data(info.size))
                continue
            archive.layers[name] = scan_layer(member, name, kind, budgets, cancel)
    except Cancelled:
        archive.error = "cancelled: partial result"
    except (TarCorrupt, TarTruncated, EOFError, OSError, zlib.error) as exc:
        archive.error = f"docker save stream is truncated or corrupt: {safe(exc, 160)}"
    except Exception as exc:  # noqa: BLE001 - engine stream errors (requests, urllib3)
        archive.error = f"docker save stream is truncated or broke off: {type(exc).__name__}: {safe(exc, 160)}"
    finally:
        stream.close()
    archive.bytes_read = stream.total
    return archive


def _load_json(archive: SaveArchive, name: str, data: bytes) -> None:
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        archive.json_files[name] = json.loads(data.decode("utf-8-sig"))
