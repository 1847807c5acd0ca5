"""Image references (`[registry/]path[:tag][@digest]`) and what compose checks ask of them."""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass

MOVING_TAGS = frozenset({
    "latest", "stable", "edge", "nightly", "dev", "develop", "devel", "lts", "main", "master",
    "current", "mainline", "rolling", "beta", "alpha", "canary", "testing", "unstable", "next",
    "release", "snapshot", "trunk", "rc", "head", "preview", "experimental",
})

# Official images that are full distributions or built on one unless a small variant is named.
FULL_BASES = frozenset({
    "ubuntu", "debian", "centos", "fedora", "amazonlinux", "rockylinux", "almalinux",
    "oraclelinux", "archlinux", "kalilinux/kali-rolling", "opensuse/leap", "opensuse/tumbleweed",
    "buildpack-deps", "python", "node", "golang", "ruby", "openjdk", "php", "perl", "rust", "gcc",
    "maven", "gradle", "elixir", "erlang", "haskell", "julia", "r-base", "swift", "eclipse-temurin",
    "amazoncorretto", "clojure", "groovy", "pypy", "dart", "mono",
})
MINIMAL_WORDS = ("slim", "alpine", "distroless", "minimal", "micro", "busybox", "scratch", "wolfi",
                 "chainguard", "nano", "musl")
MINIMAL_REPOS = frozenset({"alpine", "busybox", "scratch", "distroless"})

# Docker Hub namespaces of well-known verified publishers (a conservative built-in list;
# the config's `trusted-registries` adds more).
VERIFIED_NAMESPACES = frozenset({
    "bitnami", "grafana", "prom", "hashicorp", "docker", "datadog", "newrelic", "elastic",
    "sonarsource", "jetbrains", "circleci", "localstack", "minio", "confluentinc", "rancher",
    "portainer", "traefik", "nginxinc", "redislabs", "mongodb", "couchbase", "atlassian",
})
TRUSTED_PREFIXES = ("mcr.microsoft.com/", "gcr.io/distroless/", "cgr.dev/chainguard/",
                    "registry.k8s.io/", "public.ecr.aws/docker/library/", "docker.elastic.co/")

_DIGEST = re.compile(r"@(sha256:[0-9a-fA-F]{64}|[a-z0-9]+:[0-9a-fA-F]{32,})$")


@dataclass(frozen=True)
class ImageRef:
    raw: str
    registry: str  # "docker.io" when none is named
    path: str  # "library/nginx", "grafana/grafana"
    tag: str | None
    digest: str | None

    @property
    def official(self) -> bool:
        return self.registry == "docker.io" and self.path.startswith("library/") and self.path.count("/") == 1

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


@functools.lru_cache(maxsize=4096)
def parse(ref: str) -> ImageRef | None:
    """Parse an image reference; None when it is not one (empty, spaces, URL scheme)."""
    ref = ref.strip()
    if not ref or any(c.isspace() for c in ref) or "://" in ref:
        return None
    digest = None
    m = _DIGEST.search(ref)
    rest = ref
    if m:
        digest = m.group(1)
        rest = ref[: m.start()]
    elif "@" in ref:
        rest, digest = ref.split("@", 1)
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = "docker.io", rest
    if registry in ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"):
        registry = "docker.io"
    if registry == "docker.io" and "/" not in path:
        path = "library/" + path
    if not path:
        return None
    return ImageRef(ref, registry, path.lower(), tag or None, digest)


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
    if ref.official:
        return True
    full = f"{ref.registry}/{ref.path}"
    for pattern in trusted_registries:
        p = pattern.strip().rstrip("/")
        if not p:
            continue
        if ref.registry == p or full.startswith(p + "/") or full == p or fnmatch.fnmatch(full, p):
            return True
    if ref.registry == "docker.io" and ref.path.split("/", 1)[0] in VERIFIED_NAMESPACES:
        return True
    return any(full.startswith(pfx) or ref.raw.startswith(pfx) for pfx in TRUSTED_PREFIXES)
