"""Sources from the Docker engine and the host: the host's daemon settings, images, containers.

The host source runs unless the scan is files-only (`--no-engine` without `--daemon-json`);
a `--daemon-json` file is checked without an engine, and `--image` alone leaves the host out. The image and container sources are
no-ops without an engine.

`prefetch(ctx)` starts reading the images and containers right after connecting, in two
background threads, so the engine answers while the scan is still importing its analyzers;
the sources then take those answers instead of asking again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from lockdock.context import ScanContext
from lockdock.discovery import Discovery
from lockdock.engine.containers import ContainerSubject, iter_containers
from lockdock.engine.host import HostSubject, host_subject
from lockdock.engine.images import ImageSubject, iter_images
from lockdock.registry import source

PREFETCH = "sources.engine:prefetch"  # ctx.cache key: {"images"|"containers": Future[list]}


def prefetch(ctx: ScanContext) -> None:
    """Start listing and inspecting the engine's images and containers in the background.

    No-op without an engine or when already started. Each answer is taken once, by the
    source of its kind; errors land in `ctx` as they would in the source itself."""
    if ctx.engine is None or PREFETCH in ctx.cache:
        return
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lockdock-prefetch")
    try:
        ctx.cache[PREFETCH] = {"images": pool.submit(iter_images, ctx), "containers": pool.submit(iter_containers, ctx)}
    finally:
        pool.shutdown(wait=False)


def _read(ctx: ScanContext, name: str, read: Callable[[ScanContext], list]) -> list:
    """The prefetched answer of `name` (waiting for it), else `read(ctx)` now."""
    started: dict[str, Future[list]] = ctx.cache.get(PREFETCH) or {}
    future = started.pop(name, None)
    return future.result() if future is not None else read(ctx)


@source("images", needs_engine=True, order=90)
def images(discovery: Discovery, ctx: ScanContext) -> Iterator[ImageSubject]:
    if ctx.engine is None:
        return
    yield from _read(ctx, "images", iter_images)


@source("host", order=80)
def host(discovery: Discovery, ctx: ScanContext) -> Iterator[HostSubject]:
    """daemon.json (also `--daemon-json` without an engine), client config, auditd."""
    if not ctx.use_engine and ctx.daemon_json is None:
        return  # --no-engine: the scanned files only, not this machine's settings
    if ctx.images and ctx.daemon_json is None:
        return  # --image REF: those images only, not this machine's settings
    yield host_subject(ctx)


@source("containers", needs_engine=True, order=95)
def containers(discovery: Discovery, ctx: ScanContext) -> Iterator[ContainerSubject]:
    if ctx.engine is None:
        return
    if ctx.images:
        # `--image REF`: only the containers that run those images.
        wanted = {str(d.get("Id")) for d in (ctx.local_image(r) for r in ctx.images) if d}
        yield from (c for c in _read(ctx, "containers", iter_containers) if c.image_id in wanted)
        return
    yield from _read(ctx, "containers", iter_containers)
