"""Sources from the Docker engine and the host: the host's daemon settings, images, containers.

The host source runs unless the scan is files-only (`--no-engine` without `--daemon-json`);
a `--daemon-json` file is checked without an engine, and `--image` alone leaves the host out. The image and container sources are
no-ops without an engine.

`prefetch(ctx)` starts reading the images and containers right after connecting, in
background threads, so the engine answers while the scan is still importing its analyzers;
the sources then take those answers instead of asking again, each subject as soon as it is
read (the first images are analysed while the engine answers for the last containers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from lockdock.context import ScanContext
from lockdock.discovery import Discovery
from lockdock.registry import source

if TYPE_CHECKING:  # imported by the sources and `prefetch` when they run (see `prefetch`)
    from lockdock.engine.containers import ContainerSubject
    from lockdock.engine.host import HostSubject
    from lockdock.engine.images import ImageSubject

PREFETCH = "sources.engine:prefetch"  # ctx.cache key: {"images"|"containers": Future[Iterator]}
SHARE_KEY = "engine.forkscan:share"  # = lockdock.engine.forkscan.SHARE (not imported unless a scan splits)


def prefetch(ctx: ScanContext, *, split: bool = False) -> None:
    """Start listing and inspecting the engine's images and containers in the background.

    `split` (`lockdock scan` only): the end of a long container list may go to a forked
    process (`lockdock.engine.forkscan`), whose findings the containers source hands on
    after this process's own containers.

    No-op without an engine or when already started. Each answer (an iterator of subjects
    whose reads are under way) is taken once, by the source of its kind; errors land in
    `ctx` as they would in the source itself. The containers' reads start before the image
    code (with the Dockerfile and layer helpers it needs) is imported: the engine lists the
    containers meanwhile. Imports stay in the calling thread (two threads importing modules
    that import each other can deadlock)."""
    if ctx.engine is None or PREFETCH in ctx.cache:
        return
    if ctx.images:  # `--image REF`: its `docker save`, when the layers come from there, leaves first
        from lockdock.engine.saveahead import send_first

        send_first(ctx)
    from lockdock.engine.containers import stream_containers

    ids = None
    if split:  # before any thread starts: forking is safe only then
        from lockdock.engine.forkscan import start

        ids = start(ctx)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lockdock-prefetch")
    try:
        started = {"containers": pool.submit(stream_containers, ctx, ids)}
        from lockdock.engine.images import stream_images

        started["images"] = pool.submit(stream_images, ctx)
        ctx.cache[PREFETCH] = started
    finally:
        pool.shutdown(wait=False)


def _stream_images(ctx: ScanContext) -> Iterator[ImageSubject]:
    from lockdock.engine.images import stream_images

    return stream_images(ctx)


def _stream_containers(ctx: ScanContext) -> Iterator[ContainerSubject]:
    from lockdock.engine.containers import stream_containers

    return stream_containers(ctx)


def _read(ctx: ScanContext, name: str, read: Callable[[ScanContext], Iterator]) -> Iterable:
    """The prefetched answer of `name` (waiting for the list), else `read(ctx)` now."""
    started: dict[str, Future[Iterator]] = ctx.cache.get(PREFETCH) or {}
    future = started.pop(name, None)
    return future.result() if future is not None else read(ctx)


@source("images", needs_engine=True, order=90)
def images(discovery: Discovery, ctx: ScanContext) -> Iterator[ImageSubject]:
    if ctx.engine is None:
        return
    yield from _read(ctx, "images", _stream_images)


@source("host", order=80)
def host(discovery: Discovery, ctx: ScanContext) -> Iterator[HostSubject]:
    """daemon.json (also `--daemon-json` without an engine), client config, auditd."""
    if not ctx.use_engine and ctx.daemon_json is None:
        return  # --no-engine: the scanned files only, not this machine's settings
    if ctx.images and ctx.daemon_json is None:
        return  # --image REF: those images only, not this machine's settings
    from lockdock.engine.host import host_subject

    yield host_subject(ctx)


@source("containers", needs_engine=True, order=95)
def containers(discovery: Discovery, ctx: ScanContext) -> Iterator[ContainerSubject]:
    if ctx.engine is None:
        return
    if ctx.images:
        # `--image REF`: only the containers that run those images.
        from lockdock.engine.containers import wanted_image_ids

        wanted = wanted_image_ids(ctx)
        yield from (c for c in _read(ctx, "containers", _stream_containers) if c.image_id in wanted)
        return
    yield from _read(ctx, "containers", _stream_containers)
    if SHARE_KEY in ctx.cache:  # the end of the list, analysed in a forked process
        from lockdock.engine.forkscan import collect

        yield from collect(ctx)
