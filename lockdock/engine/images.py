"""Local images as subjects: config, history paired with layers, and layer contents.

The history is paired with filesystem layers the way `docker history` shows it: every
history entry is listed, the ones that made no layer (ENV, LABEL, CMD...) are marked empty.
Layer contents come from the `docker save` stream (see `savestream`) the first time an
image is analysed and are cached by image id, so an unchanged image is never read twice.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lockdock.dockerfile.facts import mask_build_passwords
from lockdock.engine import rawapi
from lockdock.engine.layerfacts import FileFact, LayerFacts, deleted_by, parse_os_release
from lockdock.engine.saveahead import (  # noqa: F401 - re-exported: the image code's names
    _HEX,
    SAVE_PATH,
    SAVE_TIMEOUT,
    _cache_file,
    cache_dir,
    save_timeout,
)
from lockdock.model import ImageLayerRef, Location, Target, TargetKind
from lockdock.secrets import check_assignment, find_in_text
from lockdock.text import safe

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from lockdock.context import ScanContext
    from lockdock.engine.savestream import Budgets

CACHE_VERSION = 5  # 2: account files; 3: no surrogate escapes; 4: context leftovers; 5: shells
MAX_COMMAND = 4096  # history commands are cut before redaction and display
# History lines of instructions that never make a filesystem layer.
_METADATA_INSTR = re.compile(
    r"(#\(nop\)\s*)?(ENV|LABEL|CMD|ENTRYPOINT|EXPOSE|USER|HEALTHCHECK|ARG|STOPSIGNAL|VOLUME|"
    r"ONBUILD|SHELL|MAINTAINER)\b"
)


@dataclass
class HistoryEntry:
    index: int  # 0 = oldest
    created_by: str  # raw, untrusted: sanitise before showing
    created: str = ""
    comment: str = ""
    empty: bool = True
    layer: int | None = None  # index into RootFS.Layers
    digest: str | None = None
    size: int | None = None


@dataclass
class FactInLayer:
    """A file fact placed in the image: which layer added it, which later one removed it."""

    fact: FileFact
    layer: int
    deleted_in: int | None  # layer index that removed it, None when still present
    overwritten: bool = False  # a later layer wrote the same path again

    @property
    def in_final(self) -> bool:
        return self.deleted_in is None and not self.overwritten


@dataclass
class ImageContents:
    """Cached per image id: layer facts aligned with RootFS.Layers."""

    layers: list[LayerFacts | None]
    empty_flags: list[bool] | None  # from the saved config's history (exact pairing)
    error: str | None = None
    # The engine's `docker history` of the image, only the fields `pair_history` reads
    # (`HISTORY_FIELDS`); None when not known. They come from the image config and the
    # layers' sizes, both fixed by the image id, so they are cached with the contents.
    history: list[dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": CACHE_VERSION,
            "layers": [lf.to_json() if lf else None for lf in self.layers],
            "empty_flags": self.empty_flags,
        }
        if self.history is not None:
            out["history"] = self.history
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageContents:
        history = data.get("history")
        if not (isinstance(history, list) and all(isinstance(h, dict) for h in history)):
            history = None
        return cls(
            layers=[LayerFacts.from_json(x) if x else None for x in data["layers"]],
            empty_flags=data.get("empty_flags"),
            history=history,
        )


HISTORY_FIELDS = ("CreatedBy", "Created", "Comment", "Size")  # what `pair_history` reads of an entry


def history_rows(raw: list[Any]) -> list[dict[str, Any]]:
    """`raw` (the engine's history reply) cut to `HISTORY_FIELDS`, for the cache."""
    return [{k: h[k] for k in HISTORY_FIELDS if k in h} for h in raw if isinstance(h, dict)]


@dataclass
class ImageSubject:
    """One local image. `load(ctx)` reads (or recalls) its layer contents."""

    target: Target
    id: str
    inspect: dict[str, Any]
    raw_history: list[dict[str, Any]]
    labels: dict[str, str] = field(default_factory=dict)
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    contents: ImageContents | None = None
    from_cache: bool = False
    history_known: bool = False  # raw_history is the engine's whole answer (not a failed ask)
    cached: ImageContents | None = field(default=None, repr=False)  # read ahead by make_subject
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _loaded: bool = False

    @property
    def config(self) -> dict[str, Any]:
        cfg = self.inspect.get("Config")
        return cfg if isinstance(cfg, dict) else {}

    @property
    def diff_ids(self) -> list[str]:
        rootfs = self.inspect.get("RootFS") or {}
        layers = rootfs.get("Layers") if isinstance(rootfs, dict) else None
        return [str(x) for x in layers or []]

    # ------------------------------------------------------------------ layers

    def load(self, ctx: ScanContext) -> ImageContents | None:
        """Layer contents from the cache or the engine; errors go to ctx, once."""
        with self._lock:
            if self._loaded:
                return self.contents
            self._loaded = True
            self.contents, self.from_cache = load_contents(self, ctx)
            if self.contents is not None:
                if self.contents.error:
                    ctx.warn(
                        None,
                        f"image {self.target.name}: {self.contents.error} (layer checks are partial)",
                        target=self.target.key,
                    )
                for i, lf in enumerate(self.contents.layers):
                    if lf is None:
                        continue
                    if lf.stopped:
                        ctx.warn(None, f"image {self.target.name} layer {self.layer_ref(i).index}: {lf.stopped}", target=self.target.key)
                    for odd in lf.odd[:5]:
                        ctx.warn(None, f"image {self.target.name} layer {self.layer_ref(i).index}: unusual tar entry, {odd}", target=self.target.key)
            self.history = pair_history(self.raw_history, self.diff_ids, self.contents.empty_flags if self.contents else None, self.inspect)
            return self.contents

    def layer_ref(self, layer: int) -> ImageLayerRef:
        """The history entry that made filesystem layer `layer`."""
        for h in self.history:
            if h.layer == layer:
                return entry_ref(h)
        digest = self.diff_ids[layer] if 0 <= layer < len(self.diff_ids) else None
        return ImageLayerRef(index=layer, created_by="", digest=digest)

    def last_ref(self) -> ImageLayerRef:
        if self.history:
            return entry_ref(self.history[-1])
        n = len(self.diff_ids)
        return self.layer_ref(n - 1) if n else ImageLayerRef(index=0)

    def find_entry(self, pattern: re.Pattern[str]) -> ImageLayerRef | None:
        """The newest history entry whose command matches `pattern`."""
        for h in reversed(self.history):
            if pattern.search(h.created_by):
                return entry_ref(h)
        return None

    def location(self, ref: ImageLayerRef) -> Location:
        return Location(image_layer=ref)

    def placed_facts(self, kinds: set[str]) -> list[FactInLayer]:
        """File facts of `kinds` in every layer, with later deletion/overwrite applied."""
        if self.contents is None:
            return []
        layers = self.contents.layers
        out: list[FactInLayer] = []
        for i, lf in enumerate(layers):
            if lf is None:
                continue
            for fact in lf.files:
                if fact.kind not in kinds:
                    continue
                deleted_in = None
                overwritten = False
                for j in range(i + 1, len(layers)):
                    later = layers[j]
                    if later is None:
                        continue
                    if deleted_by(fact.path, later):
                        deleted_in = j
                        break
                    if any(f.path == fact.path for f in later.files):
                        overwritten = True
                out.append(FactInLayer(fact, i, deleted_in, overwritten))
        return out

    def os_release(self) -> tuple[dict[str, str], int] | None:
        """The final filesystem's os-release (parsed) and the layer that wrote it."""
        if self.contents is None:
            return None
        layers = self.contents.layers
        for path in ("etc/os-release", "usr/lib/os-release"):
            for i in range(len(layers) - 1, -1, -1):
                lf = layers[i]
                if lf is None or path not in lf.os_release:
                    continue
                if any(lt is not None and deleted_by(path, lt) for lt in layers[i + 1:]):
                    break
                return parse_os_release(lf.os_release[path]), i
        return None


_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=('[^']*'|\"[^\"]*\"|[^\s'\"]*)")


def redact(command: str) -> str:
    """A history command with secret values masked (build args, ENV, credential formats,
    passwords set with chpasswd/passwd/useradd -p)."""
    text = mask_build_passwords(command[:MAX_COMMAND])

    def assignment(m: re.Match[str]) -> str:
        match = check_assignment(m.group(1), m.group(2).strip("'\""))
        return f"{m.group(1)}={match.masked}" if match else m.group(0)

    text = _ASSIGN.sub(assignment, text)
    for sm in sorted(find_in_text(text), key=lambda x: -x.start):
        text = text[: sm.start] + sm.masked + text[sm.end :]
    return text


def entry_ref(h: HistoryEntry) -> ImageLayerRef:
    """The layer reference findings carry; the command is masked and sanitised."""
    return _layer_ref(h.index, h.created_by, h.digest, h.size)


@functools.lru_cache(maxsize=4096)
def _layer_ref(index: int, created_by: str, digest: str | None, size: int | None) -> ImageLayerRef:
    """`entry_ref` of those values, masked once: the findings of an image ask for the same
    entries again and again, and images built alike share most of their history."""
    return ImageLayerRef(index=index, created_by=safe(redact(created_by), 200), digest=digest, size=size)


def pair_history(
    raw: list[dict[str, Any]],
    diff_ids: list[str],
    empty_flags: list[bool] | None,
    inspect: dict[str, Any],
) -> list[HistoryEntry]:
    """Oldest-first history entries with the layer each one made (like `docker history`)."""
    items = list(reversed([h for h in raw if isinstance(h, dict)]))
    entries = [
        HistoryEntry(
            index=i,
            created_by=str(h.get("CreatedBy") or ""),
            created=str(h.get("Created") or ""),
            comment=str(h.get("Comment") or ""),
            size=int(h["Size"]) if isinstance(h.get("Size"), int) else None,
        )
        for i, h in enumerate(items)
    ]
    n = len(diff_ids)
    if not entries:
        # An image without history: one synthetic entry per layer.
        return [
            HistoryEntry(index=i, created_by="(no history)", empty=False, layer=i, digest=d)
            for i, d in enumerate(diff_ids)
        ]
    if empty_flags is not None and len(empty_flags) == len(entries) and empty_flags.count(False) == n:
        nonempty = [not e for e in empty_flags]
    else:
        nonempty = [bool(e.size) for e in entries]
        missing = n - sum(nonempty)
        # Size-0 layers exist (RUN true); give them to commands that are not metadata-only.
        for i in range(len(entries) - 1, -1, -1):
            if missing <= 0:
                break
            if not nonempty[i] and not _METADATA_INSTR.match(_instruction(entries[i].created_by)):
                nonempty[i] = True
                missing -= 1
        for i in range(len(entries) - 1, -1, -1):
            if missing <= 0:
                break
            if not nonempty[i]:
                nonempty[i] = True
                missing -= 1
        extra = sum(nonempty) - n
        for i in range(len(entries)):
            if extra <= 0:
                break
            if nonempty[i]:
                nonempty[i] = False
                extra -= 1
    layer = 0
    for e, ne in zip(entries, nonempty, strict=True):
        if ne and layer < n:
            e.empty = False
            e.layer = layer
            e.digest = diff_ids[layer]
            layer += 1
        else:
            e.empty = True
            e.size = 0 if e.size is None else e.size
    return entries


def _instruction(created_by: str) -> str:
    """The Dockerfile instruction of a history line (legacy builder prefixes removed)."""
    s = created_by.strip()
    if s.startswith("/bin/sh -c "):
        s = s[len("/bin/sh -c "):].strip()
    return s


# --------------------------------------------------------------------------- loading


def read_cache(image_id: str) -> ImageContents | None:
    path = _cache_file(image_id)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != CACHE_VERSION:
            return None
        return ImageContents.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cache(image_id: str, contents: ImageContents) -> None:
    """Atomic write; a read-only cache directory only costs the next scan some time."""
    path = _cache_file(image_id)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(contents.to_json()), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def save_stream(api: Any, ref: str, timeout: float | None = None, sent: Any = None) -> Any:
    """`docker save` of one image as byte chunks, with a read timeout fit for it.

    The daemon exports the whole image before it sends the first byte (about 15 s for
    1 GiB here), longer than the short timeout every other call uses. `timeout` (seconds
    without a byte) defaults to `save_timeout()`; the scan passes what is left of its own.
    `sent`: the socket a `LocalAPI.send_get` of the same request was sent on (taken over).
    """
    timeout = save_timeout() if timeout is None else timeout
    if isinstance(api, rawapi.LocalAPI):  # a local socket: no SDK, unchunked 1 MiB blocks
        return _tar_ended(api.body_stream(SAVE_PATH, ref, timeout=timeout, sent=sent))
    if sent is not None:
        sent.close()
    res = rawapi.get_stream(api, SAVE_PATH, ref, timeout=timeout)
    return res.raw.stream(2 << 20, decode_content=False)


class SaveCut(EOFError):
    """The `docker save` stream ended before its tar end-of-archive blocks."""


def _tar_ended(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """`blocks` passed on; raises `SaveCut` at the end unless the stream's last 1024 bytes
    are zeros: the two end-of-archive blocks every tar writer puts last (Go's
    `archive/tar`, which the engine uses, writes exactly those). The local stream's end is
    the connection's close (`streams.BodyStream`), so this is what tells a whole archive from
    one cut at a member boundary."""
    tail = b""
    for block in blocks:
        tail = (tail + block[-1024:])[-1024:]
        yield block
    if tail != bytes(1024):
        raise SaveCut("docker save stream ended before the end of the archive (connection closed early)")


def _timed_out(exc: BaseException) -> bool:
    """True when `exc` (or its cause chain) is a read/connect timeout of the engine socket."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, TimeoutError) or "Timeout" in type(cur).__name__ or "timed out" in str(cur):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def budgets_from_env() -> Budgets:
    """Budgets, overridable for tests and unusual hosts."""
    from lockdock.engine.savestream import Budgets  # the layer readers: not for cached images

    b = Budgets()
    try:
        entries = int(os.environ.get("LOCKDOCK_LAYER_MAX_ENTRIES", b.max_entries))
        size = int(os.environ.get("LOCKDOCK_LAYER_MAX_BYTES", b.max_bytes))
    except ValueError:
        return b
    return Budgets(max_entries=entries, max_bytes=size)


def load_contents(subject: ImageSubject, ctx: ScanContext) -> tuple[ImageContents | None, bool]:
    """Cached contents, or read the image's save stream; (contents, from_cache). A stream
    already started for it (`saveahead`, from `stream_images`) is taken instead of a new one."""
    cached, subject.cached = subject.cached, None
    if cached is None:
        cached = read_cache(subject.id)
    if cached is not None and len(cached.layers) == len(subject.diff_ids):
        if cached.history is None and subject.history_known:
            cached.history = _known_history(subject)  # cached from now on
            write_cache(subject.id, cached)
        return cached, True
    if ctx.engine is None:
        return None, False
    from_dirs = _contents_from_layer_dirs(subject, ctx)
    if from_dirs is not None:
        return from_dirs, False
    from lockdock.engine import saveahead

    archive = saveahead.take(ctx, subject.id)
    if archive is None:
        archive = saveahead.read_archive(subject, ctx)
    if isinstance(archive, ImageContents):
        return archive, False
    images = archive.images()
    by_name = archive.layers
    chosen = None
    for _entry, layer_names, config in images:
        rootfs = config.get("rootfs") or {}
        if rootfs.get("diff_ids") == subject.diff_ids or len(images) == 1:
            chosen = (layer_names, config)
            break
    if chosen is None:
        msg = archive.error or "docker save stream has no manifest for this image"
        return ImageContents([None] * len(subject.diff_ids), None, msg), False
    layer_names, config = chosen
    layers: list[LayerFacts | None] = [by_name.get(n) for n in layer_names]
    layers += [None] * (len(subject.diff_ids) - len(layers))
    layers = layers[: len(subject.diff_ids)]
    hist = config.get("history")
    flags = [bool(h.get("empty_layer")) for h in hist if isinstance(h, dict)] if isinstance(hist, list) else None
    contents = ImageContents(layers, flags, archive.error, _known_history(subject))
    if archive.error is None and all(lf is not None for lf in layers) and not any(
        lf.stopped == "cancelled" for lf in layers if lf
    ):
        write_cache(subject.id, contents)
    elif archive.error is None and any(lf is None for lf in layers):
        contents.error = "docker save stream lacks some layers: partial result"
    return contents, False


def _contents_from_layer_dirs(subject: ImageSubject, ctx: ScanContext) -> ImageContents | None:
    """The fast path: a local overlay2 engine's unpacked layers (None: use docker save)."""
    from lockdock.engine.graphdriver import config_history, layer_dirs, scan_dir

    assert ctx.engine is not None
    dirs = layer_dirs(subject.inspect, ctx.engine.endpoint)
    if dirs is None:
        return None
    budgets = budgets_from_env()
    layers: list[LayerFacts | None] = []
    for i, d in enumerate(dirs):
        facts = scan_dir(d, f"layer {i}", budgets)
        if facts.stopped and "could not be read" in facts.stopped:
            return None
        layers.append(facts)
    info = ctx.engine.info if isinstance(ctx.engine.info, dict) else {}
    flags = config_history(str(info.get("DockerRootDir") or "/var/lib/docker"), subject.id)
    contents = ImageContents(layers, flags, history=_known_history(subject))
    write_cache(subject.id, contents)
    return contents


def _known_history(subject: ImageSubject) -> list[dict[str, Any]] | None:
    """The subject's history for the cache, when the engine answered it whole."""
    return history_rows(subject.raw_history) if subject.history_known else None


# --------------------------------------------------------------------------- inventory


def image_name(inspect: dict[str, Any]) -> str:
    tags = [t for t in inspect.get("RepoTags") or [] if t and t != "<none>:<none>"]
    if tags:
        return safe(tags[0], 200)
    return safe(str(inspect.get("Id", "")).removeprefix("sha256:")[:12], 200)


def make_subject(api: Any, inspect: dict[str, Any], ctx: ScanContext,
                 inspected: Callable[[ImageSubject], None] | None = None) -> ImageSubject:
    """The subject of one inspected image, with its history (asked here). `inspected` is
    called with the subject before the history is asked (it has no history yet)."""
    image_id = str(inspect.get("Id", ""))
    labels = (inspect.get("Config") or {}).get("Labels") or {}
    name = image_name(inspect)
    subject = ImageSubject(
        target=Target(TargetKind.IMAGE, name, None, key=f"image:{image_id}"),
        id=image_id,
        inspect=inspect,
        raw_history=[],
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        repo_tags=[t for t in inspect.get("RepoTags") or [] if t and t != "<none>:<none>"],
        repo_digests=list(inspect.get("RepoDigests") or []),
    )
    if inspected is not None:
        inspected(subject)
    # The cached contents carry the history when an earlier scan asked for it: no request.
    cached = subject.cached = read_cache(image_id)
    if cached is not None and cached.history is not None and len(cached.layers) == len(subject.diff_ids):
        subject.raw_history, subject.history_known = cached.history, True
    else:
        try:
            raw_history = api.history(image_id)
            subject.history_known = isinstance(raw_history, list)
        except Exception as exc:  # noqa: BLE001 - history is optional for the analysis
            ctx.warn(None, f"image {name}: history not available: {safe(exc, 160)}")
            raw_history = []
        subject.raw_history = raw_history if isinstance(raw_history, list) else []
    subject.history = pair_history(subject.raw_history, subject.diff_ids, None, inspect)
    return subject


def list_image_ids(api: Any, refs: list[str], ctx: ScanContext) -> list[str]:
    """Image ids to scan: the `--image` refs, or every tagged/dangling top-level image."""
    if refs:
        ids = []
        for ref in refs:
            data = ctx.local_image(ref)
            if data is None:
                ctx.error(None, f"image {safe(ref, 200)} not found locally")
            else:
                ids.append(str(data.get("Id")))
                # The same inspect answers for the id: no second request before the save.
                with ctx._lock:
                    ctx.cache.setdefault(f"image-inspect:{data.get('Id')}", data)
        return list(dict.fromkeys(ids))
    with ctx._lock:
        listed = ctx.cache.pop(PRELISTED, None)
    if listed is None:
        try:
            listed = api.images()
        except Exception as exc:  # noqa: BLE001 - a broken engine reply
            ctx.error(None, f"cannot list images: {safe(exc, 200)}")
            return []
        remember_listed(ctx, listed, ahead=False)
    found = [i for i in listed if isinstance(i, dict) and i.get("Id")]
    # The engine lists newest first, images of the same second in no fixed order: ties go by
    # id, so two scans of an unchanged engine give the same report.
    found.sort(key=lambda i: (-_created(i), str(i.get("Id"))))
    return [str(i.get("Id")) for i in found]


PRELISTED = "engine.images:prelisted"  # ctx.cache key: the image list `forkscan.start` read ahead


def remember_listed(ctx: ScanContext, listed: Any, *, ahead: bool = True) -> None:
    """Keep the engine's image list (`GET /images/json`) in `ctx`: each image's `Created`
    (Unix seconds) by id under `context.LISTED_CREATED` for `ScanContext.image_created`
    (an image id names one config, so one creation time: the table never goes stale), and,
    when read `ahead` of the image source, the list itself as `PRELISTED`, which
    `list_image_ids` takes once. Not a list: nothing."""
    from lockdock.context import LISTED_CREATED

    if not isinstance(listed, list):
        return
    created = {str(i["Id"]): i.get("Created") for i in listed if isinstance(i, dict) and i.get("Id")}
    with ctx._lock:
        ctx.cache[LISTED_CREATED] = {**ctx.cache.get(LISTED_CREATED, {}), **created}
        if ahead:
            ctx.cache[PRELISTED] = listed


def _created(listed: dict[str, Any]) -> int:
    """`Created` of an image list entry (Unix seconds), 0 when missing or not a number."""
    value = listed.get("Created")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


INSPECT_WORKERS = 8  # image inspect + history requests in flight at once (SDK: tcp, ssh)
LOCAL_WORKERS = 3  # the same over a local socket (`rawapi.LocalAPI`: no per-request SDK cost)


def iter_images(ctx: ScanContext) -> list[ImageSubject]:
    """One subject per local image (inspect + history only; layers read on `load`), in list
    order. The engine answers each request in ~10-20 ms, mostly waiting: INSPECT_WORKERS
    requests are kept in flight at once."""
    return list(stream_images(ctx))


def stream_images(ctx: ScanContext) -> Iterator[ImageSubject]:
    """`iter_images` as the replies come: lists the images and starts inspecting them before
    returning; the iterator yields each subject in list order as soon as its inspect and
    history are in (`lockdock.sources.engine.prefetch`)."""
    if ctx.engine is None:
        return iter(())
    api = ctx.engine.api

    from lockdock.engine import saveahead

    ahead = saveahead.for_scan(ctx)
    ids = list_image_ids(api, ctx.images, ctx)
    offer = ahead.sequence(len(ids))

    def one(item: tuple[int, str]) -> ImageSubject | None:
        index, image_id = item
        offered: list[ImageSubject] = []

        def inspected(subject: ImageSubject) -> None:
            # The `docker save` read starts now, while the history and the rest are read.
            offered.append(subject)
            if saveahead.will_save(subject, ctx):
                offer(index, subject)
            else:
                ahead.drop(subject.id)  # a request `send_first` sent is not read
                offer(index, None)

        try:
            data = ctx.local_image(image_id)
            if not isinstance(data, dict):
                ctx.warn(None, f"image {safe(image_id[:19], 40)} vanished or could not be inspected")
                return None
            return make_subject(api, data, ctx, inspected)
        finally:
            if not offered:
                ahead.drop(image_id)
                offer(index, None)

    workers = LOCAL_WORKERS if isinstance(api, rawapi.LocalAPI) else INSPECT_WORKERS
    items = list(enumerate(ids))
    if len(ids) < 2:
        found: Iterator[ImageSubject | None] = iter([one(i) for i in items])
    else:
        pool = ThreadPoolExecutor(max_workers=min(workers, len(ids)), thread_name_prefix="lockdock-image")
        try:
            found = pool.map(one, items)  # every request submitted here
        finally:
            pool.shutdown(wait=False)  # the submitted requests still run; the threads end after them
    return (s for s in found if s is not None)
