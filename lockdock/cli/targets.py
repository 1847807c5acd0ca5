"""What a command was asked to scan, and whether each asked-for target really was scanned.

A security scan must not pass silently (issue 14.3). The rules, shared by `scan` and `fix`:

- A path named on the command line that does not exist (or is not a file or directory) is an
  error: exit 2, the message printed before any report. The other targets are still scanned;
  when nothing asked for is left, nothing is scanned at all (not the engine either).
- `--image REF` scans that local image and the containers running it, not the current
  directory or the daemon's settings (unless paths or `--daemon-json` are given too). A REF
  that is not a local image, or any REF while the engine cannot be reached, is an error;
  lockdock never pulls. `--image` with `--no-engine` is a usage error.
- The engine of the default scope (no `--image`) that cannot be reached is said in the
  summary line of every report; `--require-engine` (or `[scan] require-engine = true`) makes
  that, and any error the engine answers while it is scanned, an error (exit 2).
- An image asked for that the scan's timeout left unscanned is an error.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lockdock.cli.options import UsageError, config_for
from lockdock.config import Config
from lockdock.model import ScanError, TargetKind
from lockdock.text import safe

if TYPE_CHECKING:
    from lockdock.context import ScanContext
    from lockdock.scan import ScanResult


@dataclass
class Plan:
    """What to scan: existing `paths`, the `ctx` to scan them with, and `problems` (asked-for
    targets that cannot be scanned, one plain sentence each)."""

    paths: list[Path]
    ctx: ScanContext
    config: Config
    require_engine: bool
    asked_images: list[str]
    problems: list[str] = field(default_factory=list)
    missing_paths: list[str] = field(default_factory=list)

    @property
    def nothing_left(self) -> bool:
        """True when every asked-for target failed, so there is nothing to scan."""
        return not self.paths and not self.ctx.images and bool(self.problems)


def plan(args: argparse.Namespace) -> Plan:
    """Check the asked-for targets of `args` (a `scan` or `fix` namespace) before scanning.

    Connects to the engine early when `--image` is given (to look the refs up). Raises
    `UsageError` for contradicting options and `ConfigError` for a bad config.
    """
    from lockdock.context import ScanContext
    from lockdock.scan import connect_engine

    images = list(args.image or [])
    if any(not r.strip() for r in images):
        raise UsageError("--image needs an image reference (name:tag, name@digest or an id)")
    if images and args.no_engine:
        raise UsageError("--image needs the Docker engine; it cannot be combined with --no-engine")
    if args.require_engine and args.no_engine:
        raise UsageError("--require-engine and --no-engine contradict each other")
    asked = list(args.paths or [])
    paths = asked or ([] if images else [Path(".")])
    problems: list[str] = []
    missing: list[str] = []
    existing: list[Path] = []
    for p in paths:
        if not os.path.lexists(p):
            problems.append(f"{safe(p, 300)}: no such file or directory; not scanned")
            missing.append(str(p))
        elif not (p.is_file() or p.is_dir()):
            problems.append(f"{safe(p, 300)}: not a file or directory; not scanned")
            missing.append(str(p))
        else:
            existing.append(p)
    start = next((p if p.is_dir() else p.parent for p in existing), Path("."))
    config = config_for(args, start)
    require = bool(args.require_engine or config.require_engine) and not args.no_engine
    ctx = ScanContext(
        cwd=Path.cwd(),
        config=config,
        use_engine=not args.no_engine,
        daemon_json=args.daemon_json,
        images=list(images),
        timeout=args.timeout,
    )
    result = Plan(existing, ctx, config, require, images, problems, missing)
    if images:
        connect_engine(ctx)
        found: list[str] = []
        for ref in images:
            if ctx.engine is None:
                problems.append(f"image {safe(ref, 200)}: not scanned: {safe(ctx.engine_error or 'no engine', 300)}")
            elif ctx.local_image(ref) is None:
                problems.append(f"image {safe(ref, 200)}: not found locally (lockdock never pulls; "
                                "`docker pull` or build it first)")
            else:
                found.append(ref)
        ctx.images = found
        if not found:
            ctx.use_engine = False  # the engine's scope was these images only
    if not existing and (asked or images):
        ctx.use_engine = ctx.use_engine and bool(ctx.images)
    return result


def after_scan(p: Plan, result: ScanResult) -> None:
    """Add to `p.problems` what the scan showed could not be scanned (see module doc), and put
    every problem into `result.errors` so that machine reports carry it too."""
    if p.require_engine and p.ctx.use_engine and not p.asked_images and p.ctx.engine is None:
        p.problems.append(f"the engine is required (--require-engine) but was not scanned: "
                          f"{safe(p.ctx.engine_error or 'no engine', 300)}")
    engine_keys = tuple(f"{k.value}:" for k in (TargetKind.IMAGE, TargetKind.CONTAINER))
    derived = []  # problems that restate an error the report already carries
    for e in result.errors:
        if e.kind != "error":
            continue
        if p.asked_images and e.target and e.target.startswith(f"{TargetKind.IMAGE.value}:"):
            derived.append(f"asked-for {e.message}")
        elif p.require_engine and p.ctx.engine is not None and e.path is None and (
            e.target is None or e.target.startswith(engine_keys)
        ):
            derived.append(f"the engine is required (--require-engine): {e.message}")
    known = {e.message for e in result.errors}
    result.errors = [ScanError(None, m) for m in p.problems if m not in known] + result.errors
    p.problems.extend(derived)
