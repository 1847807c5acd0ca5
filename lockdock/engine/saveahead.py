"""`docker save` streams started as soon as an image is inspected, ahead of its analysis.

The engine exports a whole image before it sends the first byte of `docker save` (Docker
20.10: ~4 s for 1 GiB, the bulk of reading an image's layers that way). `stream_images`
offers each image subject here as soon as its inspect is in; one worker thread per scan
reads the images whose layers will come from `docker save` (no cached contents, no
readable local layer store), one at a time, in the scan's image order. The export so
runs while lockdock imports its rules, reads the history and the containers and analyses
the image before; `images.load_contents` takes the result (`take`) instead of asking again.

One read ahead at a time: the worker never starts more exports than one. It reads with
`read_archive`, the function the analysis uses, so a silent engine is asked once per scan
either way (`ScanContext.save_unanswered`) and the scan's timeout bounds each read. An
image whose read has not started when its analysis asks is read by the analysis itself
(the queued read is cancelled; at most two streams then run at once), so nothing waits
on an order the worker has not reached.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from lockdock.engine.graphdriver import layer_dirs
from lockdock.text import safe

if TYPE_CHECKING:
    from lockdock.context import ScanContext
    from lockdock.engine.images import ImageSubject

KEY = "engine.saveahead"  # ctx.cache key: the scan's SaveAhead
IDLE_SECONDS = 1.0  # the worker thread ends after this long with nothing to read


class SaveAhead:
    """The read-ahead of one scan: image readers `offer` subjects through a `sequence()`
    (any thread, any order); one daemon thread (ended when idle) reads them in each
    sequence's order; `take(id)` hands a read to the analysis."""

    def __init__(self, ctx: ScanContext) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._jobs: dict[str, Future[Any]] = {}
        self._queue: queue.SimpleQueue[tuple[ImageSubject, Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def sequence(self) -> Callable[[int, ImageSubject | None], None]:
        """An `offer(index, subject)` for one list of images: image number `index` is known
        (`None`: not read, or its layers will not come from `docker save`). Reads start in
        index order, so the analysis, which takes the images in that order, waits least."""
        waiting: dict[int, ImageSubject | None] = {}
        following = [0]

        def offer(index: int, subject: ImageSubject | None) -> None:
            with self._lock:
                waiting[index] = subject
                while following[0] in waiting:
                    item = waiting.pop(following[0])
                    following[0] += 1
                    if item is not None and item.id not in self._jobs:
                        self._start(item)

        return offer

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
                subject, job = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            if not job.set_running_or_notify_cancel():
                continue
            try:
                job.set_result(read_archive(subject, self._ctx))
            except BaseException as exc:  # noqa: BLE001 - handed to the analysis, raised there
                job.set_exception(exc)


def will_save(subject: ImageSubject, ctx: ScanContext) -> bool:
    """True when `load_contents` would read `subject`'s layers from `docker save`: no
    contents cached for it and no readable local layer store."""
    from lockdock.engine.images import _cache_file

    if ctx.engine is None:
        return False
    cached = _cache_file(subject.id)
    if cached is None or cached.exists():
        return False
    return layer_dirs(subject.inspect, ctx.engine.endpoint) is None


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
    Never raises for engine trouble. Thread-safe (the worker runs it too)."""
    from lockdock.engine.images import (
        ImageContents,
        _timed_out,
        budgets_from_env,
        save_stream,
        save_timeout,
    )
    from lockdock.engine.savestream import read_save

    none: list[Any] = [None] * len(subject.diff_ids)
    if ctx.save_unanswered is not None:  # one silent `docker save` is enough per scan
        return ImageContents(none, None, f"layers not read: {ctx.save_unanswered}")
    timeout = min(save_timeout(), ctx.remaining())
    if timeout < 1:
        return ImageContents(none, None, f"layers not read: the scan timeout ({ctx.timeout:g} s) was reached")
    try:
        stream = save_stream(ctx.engine.api, subject.id, timeout)
        archive = read_save(stream, budgets_from_env())
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
