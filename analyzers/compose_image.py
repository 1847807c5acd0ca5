"""Compose checks on the image a service runs: pinned tag and digest, minimal base,
trusted source, plain-HTTP registries.

Services that `build:` name their own result in `image:`; its base image is the
Dockerfile analyzer's business, so image checks skip them.
"""

from __future__ import annotations

from collections.abc import Iterator

from lockdock.compose import imageref, views
from lockdock.compose.findings import service_finding
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.payloads.compose import ImageValue
from lockdock.registries import insecure_registries
from lockdock.registry import analyzer
from lockdock.sources import ComposeService
from lockdock.text import safe


def _ref(subject: ComposeService) -> tuple[views.Node, imageref.ImageRef] | None:
    svc = subject.service
    if views.builds(svc):
        return None
    node = views.image_node(svc)
    if node is None:
        return None
    ref = imageref.parse(str(node.value))
    return (node, ref) if ref is not None else None


@analyzer(TargetKind.COMPOSE_SERVICE, "image.pinned-tag")
def pinned_tag(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    found = _ref(subject)
    if found is None:
        return
    node, ref = found
    if ref.digest or not ref.moving:
        return
    what = "has no tag (means `latest`)" if ref.tag is None else f"uses the moving tag `{safe(ref.tag, 60)}`"
    yield service_finding(
        subject, ctx, "image.pinned-tag",
        f"service {safe(subject.name, 60)}: image {safe(ref.raw, 120)} {what}; pin a version",
        node, evidence=safe(ref.raw, 120), payload=ImageValue(ref),
    )


@analyzer(TargetKind.COMPOSE_SERVICE, "image.pinned-digest")
def pinned_digest(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    found = _ref(subject)
    if found is None:
        return
    node, ref = found
    if ref.digest:
        return
    yield service_finding(
        subject, ctx, "image.pinned-digest",
        f"service {safe(subject.name, 60)}: image {safe(ref.raw, 120)} is not pinned by @sha256 digest",
        node, evidence=safe(ref.raw, 120), payload=ImageValue(ref),
    )


@analyzer(TargetKind.COMPOSE_SERVICE, "image.minimal-base")
def minimal_base(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    found = _ref(subject)
    if found is None:
        return
    node, ref = found
    if imageref.is_minimal(ref) is False:
        yield service_finding(
            subject, ctx, "image.minimal-base",
            f"service {safe(subject.name, 60)}: image {safe(ref.raw, 120)} is a full distribution; "
            "a -slim or -alpine variant ships less to attack",
            node, evidence=safe(ref.raw, 120),
        )


@analyzer(TargetKind.COMPOSE_SERVICE, "image.trusted-source")
def trusted_source(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    found = _ref(subject)
    if found is None:
        return
    node, ref = found
    if imageref.trusted(ref, ctx.config.trusted_registries):
        return
    where = "Docker Hub user image" if ref.registry == "docker.io" else f"registry {safe(ref.registry, 80)}"
    yield service_finding(
        subject, ctx, "image.trusted-source",
        f"service {safe(subject.name, 60)}: image {safe(ref.raw, 120)} comes from a {where} that is "
        "neither official nor listed in trusted-registries",
        node, evidence=safe(ref.raw, 120),
    )


def _insecure(value: str, ctx: ScanContext) -> str | None:
    """Why `value` (an image ref or build option) reaches a registry over plain HTTP."""
    v = value.strip().lower()
    if v.startswith("http://"):
        return "plain-HTTP registry (http://)"
    if "registry.insecure=true" in v or ",insecure=true" in v:
        return "registry marked insecure"
    if "://" in v or v.startswith((".", "/")):
        return None  # a build context path or URL, not an image reference
    insecure = insecure_registries(ctx)
    if not insecure.names and not insecure.networks:
        return None  # no registry is configured insecure (the usual case): nothing to look up
    ref = imageref.parse(value.strip())
    return insecure.reason(ref.registry) if ref is not None else None


@analyzer(TargetKind.COMPOSE_SERVICE, "registry.https")
def registry_https(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    svc = subject.service
    candidates: list[tuple[str, views.Node]] = []
    img = views.image_node(svc)
    if img is not None:
        candidates.append(("image", img))
    build = svc.get("build")
    if build is not None:
        if build.kind == "scalar":
            candidates.append(("build", build))
        elif build.kind == "map":
            ctx_node = build.get("context")
            if ctx_node is not None:
                candidates.append(("build context", ctx_node))
            for key in ("cache_from", "cache_to"):
                candidates += [(f"build {key}", n) for _, n in views.string_list(build.get(key))]
    for what, node in candidates:
        value = views.text(node)
        reason = _insecure(value, ctx) if value else None
        if reason:
            yield service_finding(
                subject, ctx, "registry.https",
                f"service {safe(subject.name, 60)}: {what} uses a plain-HTTP / insecure registry "
                f"({safe(value, 120)}: {reason})",
                node, evidence=safe(value, 120),
            )
