"""Container checks on the image it runs: moving tag, age, source."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from lockdock.context import ScanContext
from lockdock.engine.refs import parse_ref, trusted
from lockdock.model import Finding, TargetKind
from lockdock.registry import analyzer
from lockdock.sources import ContainerSubject
from lockdock.text import safe


@analyzer(TargetKind.CONTAINER, "image.pinned-tag")
def pinned_tag(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    ref = c.image_ref
    if not ref or ref.startswith("sha256:"):
        return
    if parse_ref(ref).moving:
        yield c.finding(ctx, "image.pinned-tag", f"container runs {safe(ref, 120)}, a moving tag: recreate it from a versioned tag")


@analyzer(TargetKind.CONTAINER, "image.trusted-source")
def trusted_source(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    ref = c.image_ref
    if not ref or ref.startswith("sha256:"):
        return
    if not trusted(parse_ref(ref), ctx.config.trusted_registries):
        yield c.finding(ctx, "image.trusted-source", f"container runs {safe(ref, 120)}, neither an official image nor from a trusted registry")


@analyzer(TargetKind.CONTAINER, "image.fresh-base")
def fresh_base(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    created = ctx.image_created(c.image_id) if c.image_id else None
    if created is None:
        return
    age = (datetime.now(UTC) - created).days
    if age > ctx.config.freshness_days:
        yield c.finding(
            ctx, "image.fresh-base",
            f"container's image was built {age} days ago (window {ctx.config.freshness_days} days): rebuild with --pull and recreate",
        )
