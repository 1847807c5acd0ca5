"""Sources from the Docker engine and the host: the host's daemon settings, images, containers.

The host source runs unless the scan is files-only (`--no-engine` without `--daemon-json`);
a `--daemon-json` file is checked without an engine, and `--image` alone leaves the host out. The image and container sources are
no-ops without an engine.
"""

from __future__ import annotations

from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.discovery import Discovery
from lockdock.engine.containers import ContainerSubject, iter_containers
from lockdock.engine.host import HostSubject, host_subject
from lockdock.engine.images import ImageSubject, iter_images
from lockdock.registry import source


@source("images", needs_engine=True, order=90)
def images(discovery: Discovery, ctx: ScanContext) -> Iterator[ImageSubject]:
    if ctx.engine is None:
        return
    yield from iter_images(ctx)


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
        yield from (c for c in iter_containers(ctx) if c.image_id in wanted)
        return
    yield from iter_containers(ctx)
