"""Image references (`[registry/]path[:tag][@digest]`) and what compose checks ask of them."""

from __future__ import annotations

from dataclasses import dataclass

from lockdock.imagepolicy import FULL_BASES, MOVING_TAGS, is_official, is_trusted, split_reference

MINIMAL_WORDS = ("slim", "alpine", "distroless", "minimal", "micro", "busybox", "scratch", "wolfi",
                 "chainguard", "nano", "musl")
MINIMAL_REPOS = frozenset({"alpine", "busybox", "scratch", "distroless"})




@dataclass(frozen=True)
class ImageRef:
    raw: str
    registry: str  # "docker.io" when none is named
    path: str  # "library/nginx", "grafana/grafana"
    tag: str | None
    digest: str | None

    @property
    def official(self) -> bool:
        return is_official(self.registry, self.path)

    @property
    def short_name(self) -> str:
        return self.path[len("library/"):] if self.official else self.path

    @property
    def repository(self) -> str:
        """The reference without tag and digest, as written."""
        return self.raw.split("@", 1)[0].rsplit(":", 1)[0] if self.tag else self.raw.split("@", 1)[0]

    @property
    def moving(self) -> bool:
        return self.tag is None or self.tag.lower() in MOVING_TAGS


def parse(ref: str) -> ImageRef | None:
    """Parse an image reference; None when it is not one (empty, spaces, URL scheme)."""
    parts = split_reference(ref)
    return ImageRef(ref.strip(), *parts) if parts is not None else None


def is_minimal(ref: ImageRef) -> bool | None:
    """True/False when known; None when lockdock cannot tell (not an official full base)."""
    name = ref.short_name
    tag = (ref.tag or "").lower()
    if name in MINIMAL_REPOS or any(w in name for w in ("distroless", "chainguard", "wolfi")):
        return True
    if any(w in tag for w in MINIMAL_WORDS):
        return True
    if ref.official and name in FULL_BASES:
        return False
    return None


def trusted(ref: ImageRef, trusted_registries: list[str]) -> bool:
    """Official, verified publisher, vendor registry, or listed as trusted in the config."""
    return is_trusted(ref.registry, ref.path, trusted_registries)
