"""Image checks read from the layer contents: secret files, tools, setuid files, caches, base.

Layers are immutable: a file that a later layer deletes is still in the image and anyone
with `docker save` can extract it. Secret files and caches are therefore reported on the
layer that added them; tools and setuid files only when they are in the final filesystem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.engine.images import FactInLayer
from lockdock.model import Finding, TargetKind
from lockdock.registry import analyzer
from lockdock.sources import ImageSubject
from lockdock.text import safe

MINIMAL_IDS = frozenset({"alpine", "wolfi", "chainguard", "distroless"})
MINIMAL_TAG_WORDS = ("slim", "minimal", "micro", "distroless", "alpine", "busybox", "scratch")
SHOWN = 6


def _paths(facts: list[FactInLayer]) -> str:
    shown = ", ".join("/" + safe(f.fact.path, 120) for f in facts[:SHOWN])
    more = len(facts) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _by_layer(facts: list[FactInLayer]) -> dict[int, list[FactInLayer]]:
    groups: dict[int, list[FactInLayer]] = defaultdict(list)
    for f in facts:
        groups[f.layer].append(f)
    return dict(sorted(groups.items()))


@analyzer(TargetKind.IMAGE, "secrets.no-secrets-in-image")
def secret_files(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    if image.load(ctx) is None:
        return
    for placed in image.placed_facts({"secret"}):
        ref = image.layer_ref(placed.layer)
        path = "/" + safe(placed.fact.path, 200)
        if placed.deleted_in is not None:
            later = image.layer_ref(placed.deleted_in).index
            msg = (
                f"secret file {path} was added by layer {ref.index} and deleted by layer {later}, "
                f"but it is still extractable from layer {ref.index} (docker save)"
            )
        elif placed.overwritten:
            msg = (
                f"secret file {path} was added by layer {ref.index} and overwritten later, but "
                f"the original is still extractable from layer {ref.index} (docker save)"
            )
        else:
            msg = f"secret file {path} is in the image (added by layer {ref.index})"
        yield Finding(
            "secrets.no-secrets-in-image",
            image.target,
            msg,
            image.location(ref),
            evidence=f"{path} ({placed.fact.size} bytes)",
        )


@analyzer(TargetKind.IMAGE, "image.no-unneeded-tools")
def unneeded_tools(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    """Intruder tools, and setuid/setgid files (reported here, not under a check of their own)."""
    if image.load(ctx) is None:
        return
    tools = [p for p in image.placed_facts({"tool"}) if p.in_final]
    for layer, facts in _by_layer(tools).items():
        names = sorted({f.fact.path.rsplit("/", 1)[-1] for f in facts})
        yield Finding(
            "image.no-unneeded-tools",
            image.target,
            f"the final filesystem ships tools an intruder would use: {', '.join(safe(n, 40) for n in names)} "
            f"({_paths(facts)})",
            image.location(image.layer_ref(layer)),
        )
    downloaders = sorted(
        {f.fact.path.rsplit("/", 1)[-1]: f for f in tools if f.fact.path.rsplit("/", 1)[-1] in ("curl", "wget")}.items()
    )
    if len(downloaders) == 2:
        newest = max(f.layer for _, f in downloaders)
        yield Finding(
            "image.no-unneeded-tools",
            image.target,
            f"the final filesystem has both curl and wget ({_paths([f for _, f in downloaders])}): "
            "one download tool is one too many, keep at most one",
            image.location(image.layer_ref(newest)),
        )
    special = [p for p in image.placed_facts({"setuid", "setgid"}) if p.in_final]
    for layer, facts in _by_layer(special).items():
        yield Finding(
            "image.no-unneeded-tools",
            image.target,
            f"setuid/setgid files (reported under image.no-unneeded-tools) let a process gain "
            f"privileges: {_paths(facts)}; remove them or clear the bit (chmod u-s,g-s)",
            image.location(image.layer_ref(layer)),
            evidence="; ".join(f"/{safe(f.fact.path, 80)} {f.fact.detail}" for f in facts[:SHOWN]),
        )


@analyzer(TargetKind.IMAGE, "build.no-sudo")
def sudo_installed(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    if image.load(ctx) is None:
        return
    for placed in image.placed_facts({"tool"}):
        if placed.in_final and placed.fact.path.rsplit("/", 1)[-1] in ("sudo", "doas"):
            yield Finding(
                "build.no-sudo",
                image.target,
                f"sudo is installed in the image (/{safe(placed.fact.path, 120)})",
                image.location(image.layer_ref(placed.layer)),
            )


@analyzer(TargetKind.IMAGE, "build.multi-stage")
def toolchain(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    if image.load(ctx) is None:
        return
    compilers = [p for p in image.placed_facts({"compiler"}) if p.in_final]
    for layer, facts in _by_layer(compilers).items():
        yield Finding(
            "build.multi-stage",
            image.target,
            f"the final image carries a toolchain ({_paths(facts)}): build in a separate stage "
            "and copy only the result",
            image.location(image.layer_ref(layer)),
        )


@analyzer(TargetKind.IMAGE, "image.package-cache")
def package_cache(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    contents = image.load(ctx)
    if contents is None:
        return
    for i, lf in enumerate(contents.layers):
        if lf is None:
            continue
        for cache in lf.caches.values():
            yield Finding(
                "image.package-cache",
                image.target,
                f"layer {image.layer_ref(i).index} leaves a package cache behind: {cache.kind} "
                f"({cache.count} files, {cache.size} bytes, e.g. /{safe(cache.example, 120)}); "
                "clean it in the same RUN that creates it",
                image.location(image.layer_ref(i)),
            )


@analyzer(TargetKind.IMAGE, "image.minimal-base")
def minimal_base(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    if image.load(ctx) is None:
        return
    tags = " ".join(image.repo_tags).lower()
    if any(w in tags for w in MINIMAL_TAG_WORDS):
        return
    found = image.os_release()
    pkgmgrs = sorted(
        {p.fact.path.rsplit("/", 1)[-1] for p in image.placed_facts({"pkgmgr"}) if p.in_final}
    )
    if found is None:
        if not pkgmgrs:
            return  # no distribution and no package manager: scratch-like
        distro, layer = "an unidentified distribution", 0
    else:
        release, layer = found
        os_id = release.get("ID", "").lower()
        pretty = release.get("PRETTY_NAME", "")
        if os_id in MINIMAL_IDS or "distroless" in pretty.lower():
            return
        if release.get("VARIANT_ID", "").lower() in ("minimal", "micro"):
            return
        distro = safe(pretty or os_id or "an unnamed distribution", 80)
    extra = f" with package manager {', '.join(pkgmgrs)}" if pkgmgrs else ""
    yield Finding(
        "image.minimal-base",
        image.target,
        f"image is built on a full distribution ({distro}{extra}): a -slim, alpine or "
        "distroless base ships less to attack",
        image.location(image.layer_ref(layer)),
    )


@analyzer(TargetKind.IMAGE, "build.dockerignore")
def context_leftovers(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    """`.git/`, `.aws/`, `.ssh/`, Dockerfiles and compose files a COPY brought in from the
    build context, reported on the layer that added them (also when a later layer deletes them)."""
    if image.load(ctx) is None:
        return
    for layer, facts in _by_layer(image.placed_facts({"context"})).items():
        ref = image.layer_ref(layer)
        yield Finding(
            "build.dockerignore",
            image.target,
            f"layer {ref.index} copied build-context files into the image: {_paths(facts)}; "
            "exclude them in .dockerignore (.git, .aws, .ssh, Dockerfile, compose files)",
            image.location(ref),
        )
