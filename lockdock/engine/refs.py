"""Image references as the engine reports them: registry, repository, tag, official or not."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from lockdock.imagepolicy import DOCKER_HUB, MOVING_TAGS, is_official, is_trusted, split_reference


@dataclass(frozen=True)
class ImageRef:
    registry: str  # docker.io when none is named
    repository: str  # without registry; "library/x" for official images
    tag: str | None
    digest: str | None

    @property
    def official(self) -> bool:
        return is_official(self.registry, self.repository)

    @property
    def moving(self) -> bool:
        return self.digest is None and (self.tag is None or self.tag.lower() in MOVING_TAGS)


def parse_ref(ref: str) -> ImageRef:
    """Split `registry/repo:tag@digest` the way the docker CLI normalises names."""
    parts = split_reference(ref)
    if parts is None:  # not a reference (spaces, a URL): keep it whole, judged as untagged
        return ImageRef(DOCKER_HUB, ref.strip(), None, None)
    return ImageRef(*parts)


def trusted(ref: ImageRef, trusted_registries: list[str]) -> bool:
    """Official, verified publisher, vendor registry, or listed as trusted in the config."""
    return is_trusted(ref.registry, ref.repository, trusted_registries)


def parse_created(value: str) -> datetime | None:
    """Docker's RFC 3339 timestamps with nanoseconds, as an aware datetime."""
    if not value:
        return None
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", value)
    if not m:
        return None
    try:
        dt = datetime.fromisoformat(m.group(1))
    except ValueError:
        return None
    tz = m.group(3)
    if tz and tz != "Z":
        dt = datetime.fromisoformat(m.group(1) + tz)
        return dt.astimezone(UTC)
    return dt.replace(tzinfo=UTC)
