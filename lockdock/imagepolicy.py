"""What lockdock believes about image names, in one place for every kind of target.

Dockerfiles, compose services, local images and containers are judged with the same lists,
so one reference never gets two verdicts: which tags move, which bases are full
distributions, which sources are trusted without configuration.
"""

from __future__ import annotations

import fnmatch
import functools
import re

MOVING_TAGS = frozenset({
    "latest", "stable", "edge", "nightly", "dev", "develop", "devel", "lts", "main", "master",
    "current", "mainline", "rolling", "beta", "alpha", "canary", "testing", "unstable", "next",
    "release", "snapshot", "trunk", "rc", "head", "preview", "experimental",
})

# Official images that are a full distribution, or built on one unless a small variant is named.
FULL_BASES = frozenset({
    "ubuntu", "debian", "centos", "fedora", "amazonlinux", "rockylinux", "almalinux",
    "oraclelinux", "archlinux", "kalilinux/kali-rolling", "opensuse/leap", "opensuse/tumbleweed",
    "buildpack-deps", "python", "node", "golang", "ruby", "openjdk", "php", "perl", "rust", "gcc",
    "maven", "gradle", "elixir", "erlang", "haskell", "julia", "r-base", "swift", "eclipse-temurin",
    "amazoncorretto", "clojure", "groovy", "pypy", "dart", "mono",
})

# Docker Hub namespaces of well-known verified publishers (a conservative built-in list; the
# config's `trusted-registries` adds more).
VERIFIED_NAMESPACES = frozenset({
    "bitnami", "grafana", "prom", "hashicorp", "docker", "datadog", "newrelic", "elastic",
    "sonarsource", "jetbrains", "circleci", "localstack", "minio", "confluentinc", "rancher",
    "portainer", "traefik", "nginxinc", "redislabs", "mongodb", "couchbase", "atlassian",
})
# Registries and paths whose images their vendor maintains.
TRUSTED_PREFIXES = (
    "mcr.microsoft.com/", "gcr.io/distroless/", "cgr.dev/chainguard/", "registry.k8s.io/",
    "public.ecr.aws/docker/library/", "docker.elastic.co/", "registry.access.redhat.com/",
    "registry.redhat.io/",
)
DOCKER_HUB = "docker.io"


def is_official(registry: str, path: str) -> bool:
    """A Docker official library image (`nginx`, `library/nginx`, `docker.io/library/nginx`)."""
    return registry == DOCKER_HUB and path.startswith("library/") and path.count("/") == 1


def is_trusted(registry: str, path: str, trusted_registries: list[str]) -> bool:
    """Official image, verified publisher, vendor registry, or listed in the config."""
    if is_official(registry, path):
        return True
    full = f"{registry}/{path}"
    for pattern in trusted_registries:
        p = pattern.strip().rstrip("/")
        if p and (p in (registry, full) or full.startswith(p + "/") or fnmatch.fnmatch(full, p)):
            return True
    if registry == DOCKER_HUB and path.split("/", 1)[0] in VERIFIED_NAMESPACES:
        return True
    return any(full.startswith(prefix) for prefix in TRUSTED_PREFIXES)


_DIGEST = re.compile(r"@(sha256:[0-9a-fA-F]{64}|[a-z0-9]+:[0-9a-fA-F]{32,})$")
_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


@functools.lru_cache(maxsize=4096)
def split_reference(ref: str) -> tuple[str, str, str | None, str | None] | None:
    """`[registry/]path[:tag][@digest]` -> (registry, path, tag, digest) as the docker CLI
    normalises them (`nginx` -> docker.io, library/nginx); None when `ref` is not one."""
    ref = ref.strip()
    if not ref or any(c.isspace() for c in ref) or "://" in ref:
        return None
    digest = None
    rest = ref
    m = _DIGEST.search(ref)
    if m:
        digest, rest = m.group(1), ref[: m.start()]
    elif "@" in ref:
        rest, digest = ref.split("@", 1)
    tag = None
    if ":" in rest.rsplit("/", 1)[-1]:
        rest, tag = rest.rsplit(":", 1)
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = "library/" + path
    if not path:
        return None
    return registry, path.lower(), tag or None, digest
