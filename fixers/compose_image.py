"""Compose fixes for image pinning, from what the local engine knows about the image.

Only values the local image proves are written: one of its own version tags, or its
repo digest. Without an engine, or when the image is not local, there is no fix.
A reference built by `${VAR}` interpolation is never rewritten (the variable decides).
"""

from __future__ import annotations

import re
from typing import Any

from lockdock.compose import imageref
from lockdock.compose.edit import Editor
from lockdock.compose.fixkit import make_fix
from lockdock.compose.yamlread import Node
from lockdock.context import ScanContext
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.payloads.compose import ImageValue
from lockdock.registry import fixer
from lockdock.sources import ComposeService


def _same_repo(a: imageref.ImageRef, other: str) -> bool:
    b = imageref.parse(other)
    return b is not None and (a.registry, a.path) == (b.registry, b.path)


def _written(node: Node) -> str | None:
    raw = node.raw if node.raw is not None else str(node.value)
    return None if "$" in raw else raw


def _requote(node: Node, value: str) -> str:
    if node.style in ('"', "'"):
        return f"{node.style}{value}{node.style}"
    return value


_VERSION = re.compile(r"^v?\d+\.\d+(\.\d+)?$")


def derived_version(data: dict[str, Any]) -> str | None:
    """A plain x.y[.z] version from the image's version label or `*_VERSION` env."""
    config = data.get("Config") or {}
    labels = config.get("Labels") or {}
    candidates = [labels.get("org.opencontainers.image.version")]
    for entry in config.get("Env") or []:
        name, _, value = str(entry).partition("=")
        if name.endswith("_VERSION"):
            candidates.append(value)
    for c in candidates:
        if isinstance(c, str) and _VERSION.match(c.strip()):
            return c.strip()
    return None


def version_tag(ref: imageref.ImageRef, data: dict[str, Any]) -> str | None:
    """A concrete version tag of this repository that the local image carries."""
    tags = []
    for t in data.get("RepoTags") or []:
        parsed = imageref.parse(t)
        if parsed and _same_repo(ref, t) and parsed.tag and not parsed.moving:
            tags.append(parsed.tag)
    if not tags:
        return None
    # The most specific version: most dots, then longest.
    return sorted(tags, key=lambda t: (t.count("."), len(t)), reverse=True)[0]


def _local_image(finding: Finding, ctx: ScanContext) -> tuple[Node, imageref.ImageRef, dict[str, Any]] | None:
    """The image value of the finding and its local image's inspect data (pins need both)."""
    if not isinstance(finding.payload, ImageValue) or finding.payload.node is None:
        return None
    node, ref = finding.payload.node, finding.payload.ref
    raw = _written(node)
    if raw is None or ref.digest:
        return None
    data = ctx.local_image(raw)
    return (node, ref, data) if data else None


@fixer("image.pinned-tag", TargetKind.COMPOSE_SERVICE, title="Pin the image to its local version tag",
       applicability=Applicability.SAFE)
def fix_pinned_tag(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    found = _local_image(finding, ctx)
    if found is None:
        return None
    node, ref, data = found
    tag = version_tag(ref, data)
    applicability, note = Applicability.SAFE, None
    if tag is None:
        # No local version tag: the version the image declares (label or *_VERSION env).
        # The registry may not carry that tag, so a pull could fail: not a safe fix.
        tag = derived_version(data)
        if tag is None:
            return None
        applicability = Applicability.UNSAFE
        note = "version read from the image's label/env; check that the registry has this tag"
    new = f"{ref.repository}:{tag}"

    def build(ed: Editor) -> None:
        ed.replace(node, _requote(node, new))

    return make_fix(subject, f"Pin the image to {tag} (the version present locally)",
                    applicability, build, touched=node, note=note)


@fixer("image.pinned-digest", TargetKind.COMPOSE_SERVICE, title="Pin the image by its local digest",
       applicability=Applicability.SAFE)
def fix_pinned_digest(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    found = _local_image(finding, ctx)
    if found is None:
        return None
    node, ref, data = found
    digests = [d.split("@", 1)[1] for d in data.get("RepoDigests") or []
               if "@" in d and _same_repo(ref, d.split("@", 1)[0])]
    if not digests:
        return None

    def build(ed: Editor) -> None:
        ed.replace(node, _requote(node, f"{_written(node)}@{digests[0]}"))

    return make_fix(subject, "Append the digest of the local image (same content)",
                    Applicability.SAFE, build, touched=node)
