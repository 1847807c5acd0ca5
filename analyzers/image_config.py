"""Image checks read from the image config: tag, source, age, user, healthcheck, env secrets.

Each finding names the history entry (image layer) that set what it is about: the USER or
HEALTHCHECK entry when there is one, else the newest entry (the image as built).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

from lockdock.checks import CATALOGUE
from lockdock.context import ScanContext
from lockdock.engine.refs import parse_created, parse_ref, trusted
from lockdock.model import Finding, ImageLayerRef, TargetKind
from lockdock.registry import analyzer
from lockdock.secrets import check_assignment, find_in_text, lowered
from lockdock.sources import ImageSubject
from lockdock.text import safe

ROOT_USERS = frozenset({"", "root", "0"})
_USER_ENTRY = re.compile(r"(^|\s|#\(nop\)\s*)USER\s")
_HEALTH_ENTRY = re.compile(r"(^|\s|#\(nop\)\s*)HEALTHCHECK\s")


def is_root_user(user: str | None) -> bool:
    """`""`, `root`, `0`, `0:0`, `root:root` run as root."""
    name = (user or "").strip().split(":", 1)[0]
    return name in ROOT_USERS


@analyzer(TargetKind.IMAGE, "image.pinned-tag")
def pinned_tag(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    loc = image.location(image.last_ref())
    if not image.repo_tags:
        yield Finding("image.pinned-tag", image.target, "image has no tag (dangling): nothing says which version it is", loc)
        return
    refs = [parse_ref(t) for t in image.repo_tags]
    if all(r.moving for r in refs):
        tags = ", ".join(safe(t, 80) for t in image.repo_tags[:5])
        yield Finding(
            "image.pinned-tag",
            image.target,
            f"image is only tagged with moving tags ({tags}): tag it with its version",
            loc,
        )


@analyzer(TargetKind.IMAGE, "image.trusted-source")
def trusted_source(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    names = image.repo_tags or [d.split("@", 1)[0] for d in image.repo_digests]
    if not names:
        return
    refs = [parse_ref(n) for n in names]
    if any(trusted(r, ctx.config.trusted_registries) for r in refs):
        return
    yield Finding(
        "image.trusted-source",
        image.target,
        f"image {safe(names[0], 120)} is neither an official library image nor from a registry "
        "listed as trusted in the config (trusted_registries)",
        image.location(image.layer_ref(0) if image.diff_ids else image.last_ref()),
    )


@analyzer(TargetKind.IMAGE, "image.fresh-base")
def fresh_base(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    created = parse_created(str(image.inspect.get("Created") or ""))
    if created is None:
        return
    age = (datetime.now(UTC) - created).days
    window = ctx.config.freshness_days
    if age > window:
        yield Finding(
            "image.fresh-base",
            image.target,
            f"image was built {age} days ago (window {window} days): rebuild it with "
            "`docker build --pull` to pick up base image fixes",
            image.location(image.last_ref()),
        )


@analyzer(TargetKind.IMAGE, "container.non-root")
def non_root(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    user = image.config.get("User")
    if not is_root_user(user if isinstance(user, str) else None):
        return
    ref = image.find_entry(_USER_ENTRY) or image.last_ref()
    shown = f"user {safe(user, 60)!r}" if user else "no USER (root)"
    yield Finding(
        "container.non-root",
        image.target,
        f"image runs as root: {shown}; containers from it run as root unless overridden",
        image.location(ref),
    )


@analyzer(TargetKind.IMAGE, "runtime.healthcheck")
def healthcheck(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    hc = image.config.get("Healthcheck")
    test = hc.get("Test") if isinstance(hc, dict) else None
    if isinstance(test, list) and test and test[0] != "NONE":
        return
    if isinstance(test, list) and test and test[0] == "NONE":
        ref = image.find_entry(_HEALTH_ENTRY) or image.last_ref()
        yield Finding("runtime.healthcheck", image.target, "image disables its health check (HEALTHCHECK NONE)", image.location(ref))
        return
    yield Finding("runtime.healthcheck", image.target, "image has no HEALTHCHECK", image.location(image.last_ref()))


def env_entry_ref(image: ImageSubject, name: str) -> ImageLayerRef:
    """The history entry that set ENV `name` (newest), else the newest entry."""
    pattern = re.compile(r"(^|\s|#\(nop\)\s*)ENV\s.*\b" + re.escape(name) + r"[=\s]")
    return image.find_entry(pattern) or image.last_ref()


@analyzer(TargetKind.IMAGE, "secrets.no-secrets-in-image")
def env_secrets(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    env = image.config.get("Env")
    if not isinstance(env, list):
        return
    for item in env:
        if not isinstance(item, str) or "=" not in item:
            continue
        name, _, value = item.partition("=")
        match = check_assignment(name, value)
        if match is None:
            continue
        yield Finding(
            "secrets.no-secrets-in-image",
            image.target,
            f"image config holds a secret in ENV {safe(name, 80)} ({match.kind}): anyone who can "
            "pull the image can read it",
            image.location(env_entry_ref(image, name)),
            evidence=f"{safe(name, 80)}={match.masked}",
            severity=lowered(CATALOGUE["secrets.no-secrets-in-image"].severity, match) if match.placeholder else None,
        )


@analyzer(TargetKind.IMAGE, "secrets.no-secrets-in-image")
def label_secrets(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    """Image labels with a secret name and a literal value, or a credential format."""
    image.load(ctx)
    labels = image.config.get("Labels")
    if not isinstance(labels, dict):
        return
    for name, value in labels.items():
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        match = check_assignment(name, value)
        if match is None:
            found = find_in_text(value)
            match = found[0] if found else None
        if match is None:
            continue
        pattern = re.compile(r"(^|\s|#\(nop\)\s*)LABEL\s.*" + re.escape(name))
        yield Finding(
            "secrets.no-secrets-in-image",
            image.target,
            f"image label {safe(name, 80)} holds a {safe(match.kind, 80)}: anyone who can pull the image "
            "can read it with docker inspect",
            image.location(image.find_entry(pattern) or image.last_ref()),
            evidence=f"{safe(name, 80)}={match.masked}",
            severity=lowered(CATALOGUE["secrets.no-secrets-in-image"].severity, match) if match.placeholder else None,
        )
