"""Fixes for image references in Dockerfiles: pin the tag or digest of the image that is
present locally, or switch the final base to the slim/alpine variant of the same image.

Nothing is invented: without a local image (engine) there is no tag or digest to pin,
and a variant is only proposed where the official image's naming is known.
"""

from __future__ import annotations

import re
from typing import Any

from lockdock.context import ScanContext
from lockdock.dockerfile.edit import instruction_at, make_fix
from lockdock.dockerfile.facts import image_ref
from lockdock.dockerfile.model import Dockerfile, Instruction
from lockdock.engine.refs import ImageRef, parse_ref
from lockdock.fixers.servicefacts import refuse
from lockdock.imagepolicy import DOCKER_HUB, MOVING_TAGS
from lockdock.model import Applicability, Finding, Fix, TargetKind, TextEdit
from lockdock.payloads.dockerfile import BaseImage
from lockdock.registry import fixer
from lockdock.sources import DockerfileSubject

VERSION_TAG = re.compile(r"^v?\d+(\.\d+)*([.-][A-Za-z0-9]+)*$")
VERSION_LABELS = ("org.opencontainers.image.version", "version", "org.label-schema.version")
VERSION_ENV = re.compile(r"^([A-Z][A-Z0-9_]*_)?VERSION=(v?\d+(\.\d+)+)$")


def ref_span(inst: Instruction, ref: str) -> tuple[int, int] | None:
    """File offsets of the reference as written in the instruction's logical line."""
    idx = inst.original.find(ref, inst.rest_pos)
    if inst.cmd != "from":
        idx = inst.original.find(f"={ref}")
        idx = idx + 1 if idx >= 0 else -1
    if idx < 0:
        return None
    start = inst.offset(idx)
    end = inst.offset(idx + len(ref) - 1) + 1
    return start, end


def _same_repo(a: ImageRef, b: ImageRef) -> bool:
    return a.registry == b.registry and a.repository == b.repository


def _name_as_written(ref: str) -> str:
    """`alpine:latest` -> `alpine`; `reg:5000/x` -> `reg:5000/x` (port kept)."""
    base = ref.split("@", 1)[0]
    last = base.rsplit("/", 1)[-1]
    if ":" in last:
        base = base[: len(base) - len(last)] + last.split(":", 1)[0]
    return base


def local_version(info: dict[str, Any], ref: ImageRef) -> str | None:
    """A concrete version for the local image: its own tags, then labels, then env."""
    tags = []
    for rt in info.get("RepoTags") or []:
        other = parse_ref(rt)
        if _same_repo(other, ref) and other.tag and other.tag.lower() not in MOVING_TAGS and VERSION_TAG.match(other.tag):
            tags.append(other.tag)
    if tags:
        return max(tags, key=lambda t: (t.count(".") + t.count("-"), len(t)))
    config = info.get("Config") or {}
    labels = config.get("Labels") or {}
    for key in VERSION_LABELS:
        value = str(labels.get(key) or "").strip()
        if VERSION_TAG.match(value):
            return value
    for entry in config.get("Env") or []:
        m = VERSION_ENV.match(str(entry))
        if m:
            return m.group(2)
    return None


def _target(finding: Finding, subject: DockerfileSubject) -> tuple[Instruction, str, ImageRef] | None:
    inst = instruction_at(subject.dockerfile, finding)
    if inst is None or not isinstance(finding.payload, BaseImage):
        return None
    ref = finding.payload.ref
    if "$" in inst.original[inst.rest_pos :].split()[0]:
        return None
    parsed = image_ref(ref)
    if parsed is None or ref.startswith("http://"):
        return None
    return inst, ref, parsed


def _local_target(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> tuple[Instruction, str, ImageRef, dict[str, Any]] | None:
    """The FROM reference of the finding and its local image's inspect data (pins need both)."""
    found = _target(finding, subject)
    if found is None:
        return None
    info = ctx.local_image(found[1])
    return (*found, info) if info else None


@fixer("image.pinned-tag", TargetKind.DOCKERFILE, title="Pin the tag of the local image", applicability=Applicability.SAFE)
def pin_tag(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    found = _local_target(finding, subject, ctx)
    if found is None:
        return None
    inst, ref, parsed, info = found
    version = local_version(info, parsed)
    span = ref_span(inst, ref)
    if version is None or span is None:
        return None
    new = f"{_name_as_written(ref)}:{version}"
    return make_fix(subject, f"Pin {ref} to {new}", Applicability.SAFE, [TextEdit(span[0], span[1], new)])


@fixer("image.pinned-digest", TargetKind.DOCKERFILE, title="Pin the digest of the local image", applicability=Applicability.SAFE)
def pin_digest(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    found = _local_target(finding, subject, ctx)
    if found is None:
        return None
    inst, ref, parsed, info = found
    digest = None
    for rd in info.get("RepoDigests") or []:
        other = parse_ref(rd)
        if _same_repo(other, parsed) and other.digest:
            digest = other.digest
            break
    span = ref_span(inst, ref)
    if digest is None or span is None:
        return None
    new = f"{ref}@{digest}"
    return make_fix(subject, f"Pin {ref} by digest", Applicability.SAFE, [TextEdit(span[0], span[1], new)])


# Official images with a smaller variant, and how their tags name it.
SLIM = frozenset({"python", "node", "debian", "ruby", "rust", "perl", "elixir", "erlang", "openjdk", "haskell"})
ALPINE = frozenset({"golang", "php", "maven", "gradle", "clojure"})
DEBIAN_CODENAMES = frozenset({"buster", "bullseye", "bookworm", "trixie"})


def minimal_variant(parsed: ImageRef) -> str | None:
    """`python:3.12` -> `3.12-slim`; `golang:1.22` -> `1.22-alpine`; None when unknown."""
    if parsed.registry != DOCKER_HUB or not parsed.repository.startswith("library/") or not parsed.tag:
        return None
    name = parsed.repository.split("/", 1)[1]
    tag = parsed.tag
    if name == "debian":
        if re.fullmatch(r"\d+(\.\d+)*", tag) or tag in DEBIAN_CODENAMES:
            return f"{tag}-slim"
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)*)(?:-(buster|bullseye|bookworm|trixie))?", tag)
    if not m:
        return None
    version, codename = m.group(1), m.group(2)
    if name in SLIM:
        return f"{version}-slim-{codename}" if codename else f"{version}-slim"
    if name in ALPINE and not codename:
        return f"{version}-alpine"
    return None


@fixer("image.minimal-base", TargetKind.DOCKERFILE, title="Switch to the slim/alpine variant", applicability=Applicability.UNSAFE)
def minimal_base(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    found = _target(finding, subject)
    if found is None:
        return None
    inst, ref, parsed = found
    variant = minimal_variant(parsed)
    span = ref_span(inst, ref)
    if variant is None or span is None or "@" in ref:
        return None
    new = f"{_name_as_written(ref)}:{variant}"
    why = variant_breaks(subject.dockerfile, inst, variant)
    if why:
        refuse(finding, why, f"switch to {new} by hand and install what the build needs")
        return None
    title = f"Use {new} instead of {ref}"
    if ctx.local_image(new) is None:
        title += " (a known variant of the official image; not checked: the tag is not local)"
    return make_fix(
        subject,
        title,
        Applicability.UNSAFE,
        [TextEdit(span[0], span[1], new)],
        note="the smaller image lacks some packages; rebuild and test",
    )


# Tools the -slim images of Debian-based official images leave out.
NOT_IN_SLIM = re.compile(r"(?<![\w./-])(gcc|g\+\+|cc|make|git|curl|wget|ssh|patch|pkg-config)(?![\w.-])")
_APT = re.compile(r"\b(apt-get|apt|dpkg)\b")
_INSTALLS = re.compile(r"\b(apt-get|apt|apk)\s+(-\S+\s+)*(install|add)\b")


def variant_breaks(df: Dockerfile, inst: Instruction, variant: str) -> str | None:
    """Why the stage FROM `inst` would not build on the smaller variant, or None: an
    alpine variant under apt/dpkg steps, or a -slim variant under RUN steps that call a
    build or download tool the slim image lacks without installing packages first."""
    stage = next((st for st in df.stages if st.from_instruction is inst), None)
    if stage is None:
        return "the stage of this FROM is not known"
    runs = [" ".join(i.args) for i in stage.instructions if i.cmd == "run"]
    if variant.endswith("-alpine") and any(_APT.search(r) for r in runs):
        return "the stage installs Debian packages (apt), which alpine does not have"
    if "-slim" in variant:
        installed = False
        for r in runs:
            if _INSTALLS.search(r):
                installed = True
            m = NOT_IN_SLIM.search(r)
            if m and not installed:
                return f"the stage runs {m.group(1)}, which the -slim image does not ship"
    return None
