"""`docker save` streams started as soon as an image is inspected, ahead of its analysis.

The engine exports a whole image before it sends the first byte of `docker save` (Docker
20.10: ~4 s for 1 GiB, the bulk of reading an image's layers that way). `stream_images`
offers each image subject here as soon as its inspect is in; one worker thread per scan
reads the images whose layers will come from `docker save` (no cached contents, no
readable local layer store), one at a time, in the scan's image order. The export so
runs while lockdock imports its rules, reads the history and the containers and analyses
the image before; `images.load_contents` takes the result (`take`) instead of asking again.

`lockdock scan --image REF` goes further (`send_first`, from `sources.engine.prefetch`):
the first image's request is sent as soon as its inspect is in, before the containers
are listed and the image code is imported; the worker's read of that image takes the
sent socket (`SaveAhead.claim`), or the image's list entry closes it when it will not
be read (`SaveAhead.drop`). A forked child closes its copies at once.

One read ahead at a time: the worker never starts more exports than one. It reads with
`read_archive`, the function the analysis uses, so a silent engine is asked once per scan
either way (`ScanContext.save_unanswered`) and the scan's timeout bounds each read. An
image whose read has not started when its analysis asks is read by the analysis itself
(the queued read is cancelled; at most two streams then run at once), so nothing waits
on an order the worker has not reached.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockdock.text import safe

if TYPE_CHECKING:
    from lockdock.context import ScanContext
    from lockdock.engine.images import ImageSubject

KEY = "engine.saveahead"  # ctx.cache key: the scan's SaveAhead
IDLE_SECONDS = 1.0  # the worker thread ends after this long with nothing to read
LOCAL_PREFETCH = 0  # blocks read ahead of the parser on a local socket (see read_archive)
SDK_PREFETCH = 8  # the same for the SDK's stream (tcp, ssh: decoded in Python)

_HEX = re.compile(r"^[0-9a-f]{64}$")
SAVE_TIMEOUT = 120.0  # seconds without a byte from `docker save` (env LOCKDOCK_SAVE_TIMEOUT)
SAVE_PATH = "/images/{0}/get"  # the Engine API's `docker save` of one image


def save_timeout() -> float:
    """Seconds `docker save` may stay silent: env LOCKDOCK_SAVE_TIMEOUT, else SAVE_TIMEOUT."""
    try:
        value = float(os.environ.get("LOCKDOCK_SAVE_TIMEOUT", SAVE_TIMEOUT))
    except ValueError:
        return SAVE_TIMEOUT
    return value if value > 0 else SAVE_TIMEOUT


def cache_dir() -> Path:
    """Where image contents are cached (`images.read_cache`): $XDG_CACHE_HOME/lockdock/images.
    Here, not in `images`, so that `send_first` decides without importing the image code."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lockdock" / "images"


def _cache_file(image_id: str) -> Path | None:
    algo, _, hexpart = image_id.partition(":")
    if algo != "sha256" or not _HEX.match(hexpart):
        return None
    return cache_dir() / f"{hexpart}.json"


# Sockets of `docker save` requests sent ahead and not yet claimed or dropped, in any scan
# of this process: a forked child closes its copies (its parent reads them).
_SENT_LOCK = threading.Lock()
_SENT: set[Any] = set()


def _close_sent_in_child() -> None:
    for sock in list(_SENT):
        with contextlib.suppress(OSError):
            sock.close()
    _SENT.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_sent_in_child)


class SaveAhead:
    """The read-ahead of one scan: image readers `offer` subjects through a `sequence()`
    (any thread, any order); one daemon thread (ended when idle) reads them in each
    sequence's order; `take(id)` hands a read to the analysis."""

    def __init__(self, ctx: ScanContext) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._jobs: dict[str, Future[Any]] = {}
        self._queue: queue.SimpleQueue[tuple[ImageSubject, Future[Any]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._open = 0  # sequences whose every index has not been offered yet
        self._sent: dict[str, Any] = {}  # image id -> socket its request was sent on

    def sent_ahead(self, image_id: str, sock: Any) -> None:
        """Keep `sock`, on which the `docker save` request of `image_id` was sent, for the
        read of that image (`claim`); a second one for the same image is closed."""
        with self._lock, _SENT_LOCK:
            if image_id in self._sent:
                sock.close()
                return
            self._sent[image_id] = sock
            _SENT.add(sock)

    def claim(self, image_id: str) -> Any:
        """The socket a request for `image_id` was sent on ahead (now the caller's), or None."""
        with self._lock, _SENT_LOCK:
            sock = self._sent.pop(image_id, None)
            _SENT.discard(sock)
        return sock

    def drop(self, image_id: str) -> None:
        """`image_id` will not be read from `docker save` here: close what was sent for it."""
        sock = self.claim(image_id)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def sequence(self, total: int | None = None) -> Callable[[int, ImageSubject | None], None]:
        """An `offer(index, subject)` for one list of images: image number `index` is known
        (`None`: not read, or its layers will not come from `docker save`). Reads start in
        index order, so the analysis, which takes the images in that order, waits least.
        With `total` (the list's length), the worker ends as soon as every index was offered
        and its reads are done, instead of IDLE_SECONDS later: a `lockdock scan` whose last
        read is over has no thread left then, and ends without the interpreter's teardown
        (`cli.entry.run`)."""
        waiting: dict[int, ImageSubject | None] = {}
        following = [0]
        completed: list[bool] = []  # once
        with self._lock:
            self._open += 1
        if total is not None and total <= 0:
            self._complete()

        def offer(index: int, subject: ImageSubject | None) -> None:
            with self._lock:
                waiting[index] = subject
                while following[0] in waiting:
                    item = waiting.pop(following[0])
                    following[0] += 1
                    if item is not None and item.id not in self._jobs:
                        self._start(item)
                last = following[0] == total and not completed
                if last:
                    completed.append(True)
            if last:
                self._complete()

        return offer

    def _complete(self) -> None:
        """One sequence has every index offered: wake the worker to end when it is idle."""
        with self._lock:
            self._open -= 1
            if self._open == 0 and self._thread is not None:
                self._queue.put(None)

    def _start(self, subject: ImageSubject) -> None:  # under self._lock
        job: Future[Any] = Future()
        self._jobs[subject.id] = job
        self._queue.put((subject, job))
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="lockdock-save-ahead", daemon=True)
            self._thread.start()

    def take(self, image_id: str) -> Any:
        """What the worker read for `image_id` (waiting for it when under way): a
        `SaveArchive` or an `ImageContents` (see `read_archive`); None when no read was
        started for it (or it had not started yet: then it never will)."""
        with self._lock:
            job = self._jobs.pop(image_id, None)
        if job is None or job.cancel():
            return None
        return job.result()

    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                item = None
            if item is None:  # idle, or told that no sequence is open
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            subject, job = item
            if job.set_running_or_notify_cancel():
                try:
                    job.set_result(read_archive(subject, self._ctx))
                except BaseException as exc:  # noqa: BLE001 - handed to the analysis, raised there
                    job.set_exception(exc)
            with self._lock:
                if self._open == 0 and self._queue.empty():  # nothing more can come
                    self._thread = None
                    return


def will_save(subject: ImageSubject, ctx: ScanContext) -> bool:
    """True when `load_contents` would read `subject`'s layers from `docker save`: no
    contents cached for it and no readable local layer store."""
    return _will_save(subject.id, subject.inspect, ctx)


def _will_save(image_id: str, inspect: dict[str, Any], ctx: ScanContext) -> bool:
    from lockdock.engine.graphdriver import layer_dirs

    if ctx.engine is None:
        return False
    cached = _cache_file(image_id)
    if cached is None or cached.exists():
        return False
    return layer_dirs(inspect, ctx.engine.endpoint) is None


def send_first(ctx: ScanContext) -> None:
    """`lockdock scan --image REF`: send the `docker save` request of the first image to
    scan (the first REF, already inspected) now, when its layers will come from `docker
    save` and the engine is a local socket (`rawapi.LocalAPI`); the read that
    `stream_images` starts for it takes the socket. Sent by image id, the request the
    read would send. Does nothing otherwise, or when the engine cannot be reached (the
    read then asks again and reports what it meets). Never raises for the engine."""
    from lockdock.engine.rawapi import LocalAPI

    if ctx.engine is None or not ctx.images or ctx.save_unanswered is not None:
        return
    api = ctx.engine.api
    if not isinstance(api, LocalAPI):
        return
    data = ctx.local_image(ctx.images[0])
    if not isinstance(data, dict):
        return
    image_id = str(data.get("Id", ""))
    if not _will_save(image_id, data, ctx):
        return
    timeout = min(save_timeout(), ctx.remaining())
    if timeout < 1:
        return
    try:
        sock = api.send_get(SAVE_PATH, image_id, timeout=timeout)
    except OSError:
        return
    for_scan(ctx).sent_ahead(image_id, sock)


def for_scan(ctx: ScanContext) -> SaveAhead:
    """The scan's `SaveAhead` (made on first use)."""
    with ctx._lock:
        ahead = ctx.cache.get(KEY)
        if ahead is None:
            ahead = ctx.cache[KEY] = SaveAhead(ctx)
    return ahead


def take(ctx: ScanContext, image_id: str) -> Any:
    """`SaveAhead.take` of the scan's read-ahead, None when it has none."""
    ahead = ctx.cache.get(KEY)
    return ahead.take(image_id) if ahead is not None else None


def read_archive(subject: ImageSubject, ctx: ScanContext) -> Any:
    """`docker save` of `subject` read through (`savestream.read_save`): the `SaveArchive`,
    or the `ImageContents` that says why the layers were not read. A save that stays
    silent sets `ctx.save_unanswered` at once, so no other image of the scan tries again.
    A request `send_first` sent for it is read instead of a new one. Never raises for
    engine trouble. Thread-safe (the worker runs it too).

    On a local socket the parsing thread reads the blocks itself (LOCAL_PREFETCH): each
    is one `recv(MSG_WAITALL)` the kernel fills while the thread waits without the
    interpreter lock, and a reader thread handing them over through a queue cost more
    CPU time (thread wake-ups, the lock handed back and forth) than the overlap saved:
    the engine shares the 2 CPUs while it sends. The 1.1 GB image of `bench/image_bench.py`
    (22,094 entries), 3-4 rounds alternated at load 1.5-2.5: first to last byte 0.76-1.00 s
    against 0.80-1.06 s, user + system CPU 0.20-0.24 s against 0.29-0.31 s (README,
    Benchmarks)."""
    from lockdock.engine.images import ImageContents, _timed_out, budgets_from_env, save_stream
    from lockdock.engine.rawapi import LocalAPI
    from lockdock.engine.savestream import read_save

    ahead = ctx.cache.get(KEY)
    sent = ahead.claim(subject.id) if ahead is not None else None
    try:
        none: list[Any] = [None] * len(subject.diff_ids)
        if ctx.save_unanswered is not None:  # one silent `docker save` is enough per scan
            return ImageContents(none, None, f"layers not read: {ctx.save_unanswered}")
        timeout = min(save_timeout(), ctx.remaining())
        if timeout < 1:
            return ImageContents(none, None, f"layers not read: the scan timeout ({ctx.timeout:g} s) was reached")
        api = ctx.engine.api
        prefetch = LOCAL_PREFETCH if isinstance(api, LocalAPI) else SDK_PREFETCH
        try:
            given, sent = sent, None  # save_stream takes it over
            stream = save_stream(api, subject.id, timeout, sent=given)
            archive = read_save(stream, budgets_from_env(), prefetch=prefetch)
        except Exception as exc:  # noqa: BLE001 - engine refused or died
            if _timed_out(exc):
                ctx.save_unanswered = (f"docker save did not answer within {timeout:.0f} s "
                                       "(not tried again for the other images of this scan)")
                return ImageContents(none, None, f"layers not read: {ctx.save_unanswered}")
            return ImageContents(none, None, f"layers not read: {safe(exc, 160)}")
        if archive.error and "timed out" in archive.error.lower() and not archive.layers:
            ctx.save_unanswered = (f"docker save did not answer within {timeout:.0f} s "
                                   "(not tried again for the other images of this scan)")
        return archive
    finally:
        if sent is not None:
            with contextlib.suppress(OSError):
                sent.close()
