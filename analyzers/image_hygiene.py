"""Build hygiene read back from an image: its history's RUN commands (unpinned installs,
lone index refreshes, distribution upgrades) and its config (VOLUME and WorkingDir on a
system path).

History commands (`/bin/sh -c ...`, `|2 A=b /bin/sh -c ...`, BuildKit's `RUN ... #
buildkit`) are turned into RUN instructions and judged by the same rules as a
Dockerfile; each finding names the history entry (layer) it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.dockerfile.buildrules import (
    MAX_LISTED,
    history_instruction,
    lone_updates,
    system_path,
    unpinned_installs,
    upgrades,
)
from lockdock.dockerfile.facts import evidence
from lockdock.dockerfile.model import Instruction
from lockdock.engine.images import HistoryEntry, entry_ref
from lockdock.model import Finding, Severity, TargetKind
from lockdock.payloads import PackageUpdate, SystemPath
from lockdock.payloads.engine import PackageManagers
from lockdock.registry import analyzer
from lockdock.sources import ImageSubject
from lockdock.text import safe


def _history_runs(image: ImageSubject) -> Iterator[tuple[HistoryEntry, Instruction]]:
    for h in image.history:
        inst = history_instruction(h.created_by)
        if inst is not None:
            yield h, inst


@analyzer(TargetKind.IMAGE, "build.pinned-packages")
def pinned_packages(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    for h, inst in _history_runs(image):
        loose = unpinned_installs(inst)
        if not loose:
            continue
        items = [u.what for u in loose]
        shown = ", ".join(evidence(i, 60) for i in items[:MAX_LISTED]) + (" ..." if len(items) > MAX_LISTED else "")
        managers = sorted({u.manager for u in loose})
        yield Finding(
            "build.pinned-packages",
            image.target,
            f"a build step installs without pinned versions ({', '.join(managers)}): {shown}",
            image.location(entry_ref(h)),
            payload=PackageManagers(tuple(managers)),
        )


@analyzer(TargetKind.IMAGE, "build.package-update")
def package_update(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    for h, inst in _history_runs(image):
        for u in lone_updates(inst):
            yield Finding(
                "build.package-update",
                image.target,
                f"a build step runs `{u.manager} {u.sub}` with no install after it: its index "
                "was cached in a layer of its own",
                image.location(entry_ref(h)),
                payload=PackageUpdate("lone-update"),
            )
        for u, dist in upgrades(inst):
            yield Finding(
                "build.package-update",
                image.target,
                f"a build step runs `{u.manager} {u.sub}`, upgrading "
                + ("the whole distribution" if dist else "every installed package") + " inside the image",
                image.location(entry_ref(h)),
                severity=None if dist else Severity.LOW,
                payload=PackageUpdate("dist-upgrade" if dist else "upgrade"),
            )


def _entry_for(image: ImageSubject, keyword: str, path: str) -> object:
    pattern = re.compile(rf"(^|#\(nop\)\s*|\s){keyword}\b.*{re.escape(path)}")
    return image.find_entry(pattern) or image.last_ref()


@analyzer(TargetKind.IMAGE, "build.system-paths")
def system_paths(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    cfg = image.config
    volumes = cfg.get("Volumes")
    for path in sorted(volumes) if isinstance(volumes, dict) else []:
        hit = system_path(str(path)) if isinstance(path, str) and path.startswith("/") else None
        if hit is not None:
            yield Finding(
                "build.system-paths",
                image.target,
                f"the image declares VOLUME {safe(path, 80)} on a system directory ({hit})",
                image.location(_entry_for(image, "VOLUME", path)),  # type: ignore[arg-type]
                payload=SystemPath("volume", safe(path, 200)),
            )
    wd = cfg.get("WorkingDir")
    if isinstance(wd, str) and wd.startswith("/"):
        hit = system_path(wd)
        if hit is not None and hit != "/":  # WorkingDir / is the default, not a choice
            yield Finding(
                "build.system-paths",
                image.target,
                f"the image's working directory {safe(wd, 80)} is a system directory ({hit})",
                image.location(_entry_for(image, "WORKDIR", wd)),  # type: ignore[arg-type]
                payload=SystemPath("workdir", safe(wd, 200)),
            )
