"""Dockerfile image references: pinned tags and digests, trusted sources, minimal bases,
plain-HTTP registries.

Only real images count: stage aliases (`FROM build`), `scratch` and references whose
variables have no known value are not judged, so a linter-confusing `--platform=` or a
stage name never becomes a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.dockerfile.facts import ImageUse, capped, chain_root, finding, image_uses
from lockdock.dockerfile.model import Stage
from lockdock.engine.refs import trusted
from lockdock.imagepolicy import DOCKER_HUB, FULL_BASES, MOVING_TAGS
from lockdock.model import Finding, TargetKind
from lockdock.payloads.dockerfile import BaseImage
from lockdock.registries import insecure_registries
from lockdock.registry import analyzer
from lockdock.sources import DockerfileSubject
from lockdock.text import safe

SMALL_TAG = re.compile(r"(?i)(alpine|slim|minimal|micro|distroless|busybox|nanoserver|scratch|chiseled)")
SMALL_IMAGES = re.compile(
    r"(?i)(^|/)(alpine|busybox|distroless/.*|chainguard/.*|wolfi-base|static|ubi[0-9]*-(micro|minimal)|"
    r"ubi[0-9]*/ubi-(micro|minimal))$"
)


def short_name(use: ImageUse) -> str:
    repo = use.parsed.repository
    if use.parsed.registry == DOCKER_HUB and repo.startswith("library/"):
        return repo[len("library/") :]
    return repo


@analyzer(TargetKind.DOCKERFILE, "image.pinned-tag")
@capped
def pinned_tag(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    """Missing or moving tags (`latest`, `edge`...) make builds change under you."""
    for use in image_uses(subject.dockerfile):
        ref = use.parsed
        if ref.digest is not None:
            continue
        shown = safe(use.ref, 120)
        if ref.tag is None:
            msg = f"{use.how} {shown} has no tag, so it means :latest and changes without notice"
        elif ref.tag.lower() in MOVING_TAGS:
            msg = f"{use.how} {shown} uses the moving tag :{safe(ref.tag, 40)}; pin a concrete version"
        else:
            continue
        yield finding("image.pinned-tag", subject, use.inst, msg, payload=BaseImage(use.ref))


@analyzer(TargetKind.DOCKERFILE, "image.pinned-digest")
@capped
def pinned_digest(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    """A tag can be re-pushed; only a digest names exactly one image."""
    for use in image_uses(subject.dockerfile):
        if use.parsed.digest is None:
            yield finding(
                "image.pinned-digest",
                subject,
                use.inst,
                f"{use.how} {safe(use.ref, 120)} is not pinned by @sha256 digest",
                payload=BaseImage(use.ref),
            )


@analyzer(TargetKind.DOCKERFILE, "image.trusted-source")
@capped
def trusted_source(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    """Base images from official library images, vendor registries or configured registries."""
    for use in image_uses(subject.dockerfile):
        if trusted(use.parsed, ctx.config.trusted_registries):
            continue
        where = (
            f"Docker Hub namespace {safe(use.parsed.repository.split('/')[0], 60)}"
            if use.parsed.registry == DOCKER_HUB
            else f"registry {safe(use.parsed.registry, 80)}"
        )
        yield finding(
            "image.trusted-source",
            subject,
            use.inst,
            f"{use.how} {safe(use.ref, 120)} comes from {where}, which is neither an official image "
            "nor listed in trusted-registries (verified publishers cannot be confirmed offline)",
            payload=BaseImage(use.ref),
        )


def root_stage(subject: DockerfileSubject) -> Stage | None:
    df = subject.dockerfile
    if not df.stages:
        return None
    return chain_root(df, df.stages[-1])


@analyzer(TargetKind.DOCKERFILE, "image.minimal-base")
@capped
def minimal_base(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    """The final image should start from a small base; only known full distributions count."""
    root = root_stage(subject)
    if root is None or not root.base_is_image or not root.resolved:
        return
    uses = [u for u in image_uses(subject.dockerfile) if u.inst is root.from_instruction]
    if not uses:
        return
    use = uses[0]
    name = short_name(use).lower()
    tag = use.parsed.tag or "latest"
    if SMALL_IMAGES.search(name) or SMALL_TAG.search(tag) or name not in FULL_BASES:
        return
    yield finding(
        "image.minimal-base",
        subject,
        use.inst,
        f"the final image is built on {safe(use.ref, 120)}, a full distribution; "
        "a -slim, -alpine or distroless base ships fewer packages to patch",
        payload=BaseImage(use.ref),
    )


@analyzer(TargetKind.DOCKERFILE, "registry.https")
@capped
def registry_https(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    """Images pulled over plain HTTP can be swapped in transit."""
    insecure = insecure_registries(ctx)
    for use in image_uses(subject.dockerfile):
        reason = insecure.reason(use.parsed.registry)
        if use.ref.lower().startswith("http://"):
            why = "names a plain-HTTP registry (http://)"
        elif reason is not None:
            why = f"comes from {safe(use.parsed.registry, 80)}, {reason}"
        else:
            continue
        yield finding(
            "registry.https", subject, use.inst, f"{use.how} {safe(use.ref, 120)} {why}", payload=BaseImage(use.ref)
        )
