"""The `fix --apply --verify` step of the CLI: verify, apply only what was proven, print.

Kept apart from the argument parsing so the one call in `lockdock.cli.fix.run_fix` is the whole hook.
Overlapping fixes cannot be tried together, so the step runs in passes: verify, apply the
verified fixes, rescan (`again()`), verify the fixes that are new or were waiting, until a
pass applies nothing (at most `MAX_PASSES`). A second run right after then changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lockdock.model import FileEdit, Fix, ModeChange, NewFile
from lockdock.text import safe, sanitize

EXIT_OK, EXIT_HELD_BACK, EXIT_INTERRUPTED = 0, 1, 130
MAX_PASSES = 8


def _key(fix: Fix) -> tuple[Any, ...]:
    """What identifies a fix across rescans (its lines move; its check, title, files do not)."""
    paths = sorted(os.path.abspath(c.path) for c in fix.changes if isinstance(c, FileEdit | NewFile | ModeChange))
    return fix.check, fix.title, fix.target, tuple(paths)


def apply_verified(
    offers: Sequence[tuple[Fix, str]],
    again: Callable[[], Sequence[tuple[Fix, str]]],
    ctx: Any,
    roots: list[Path],
    args: argparse.Namespace,
    out: Any = None,
) -> int:
    """Verify the offered (fix, label) pairs by running the stacks, apply the verified ones.

    `again()` rescans and returns the offers of the next pass. Returns the exit code: 0
    every fix was verified and applied; 1 some were held back or not verified, or applying
    failed; 130 interrupted (the pass's fixes not applied, everything started removed).
    """
    from lockdock.fixing.apply import apply_fixes
    from lockdock.fixing.verify import verify_fixes

    out = out or sys.stdout
    labels: dict[int, str] = {}

    def label(fix: Fix) -> str:
        return labels.get(id(fix)) or safe(fix.title, 120)

    if offers and ctx.engine is None:
        why = ctx.engine_error or "not connected"
        print(f"lockdock fix --verify: needs the Docker engine ({sanitize(why)}); nothing applied", file=sys.stderr)
        return EXIT_HELD_BACK
    seconds = getattr(args, "verify_seconds", None)
    done: set[tuple[Any, ...]] = set()  # decided in an earlier pass: not tried again
    passes: list[Any] = []
    applied: list[Fix] = []
    skipped: list[tuple[Fix, str]] = []
    errors: list[str] = []
    pending = list(offers)
    baseline = None
    run = f"{time.time_ns()}-{os.getpid()}"  # one run for `lockdock undo`, however many passes
    for n in range(MAX_PASSES):
        if n:
            pending = list(again())
        todo = [(f, lb) for f, lb in pending if _key(f) not in done]
        if not todo:
            break
        labels.update((id(f), lb) for f, lb in todo)
        vreport = verify_fixes(roots, [f for f, _ in todo], ctx.engine, seconds, cwd=ctx.cwd, baseline=baseline)
        passes.append(vreport)
        done |= {_key(v.fix) for v in vreport.fixes if not v.retry}
        if vreport.interrupted or not vreport.verified:
            break
        report = apply_fixes(vreport.verified, ctx, root=roots, allow_unsafe=args.unsafe, run=run)
        applied += report.applied
        errors += report.errors
        skipped += [(s.fix, s.reason) for s in report.skipped]
        done |= {_key(s.fix) for s in report.skipped}
        if not report.applied:
            break
        # The stacks as they run now were just observed: the next pass's baseline, unless
        # applying kept back some fix (then the files differ from what was run).
        same = {id(f) for f in report.applied} == {id(f) for f in vreport.verified}
        baseline = vreport.after if same else None
    final = {_key(v.fix): v for p in passes for v in p.fixes}  # the last word on each fix
    held = [v for v in final.values() if v.verdict != "verified"]
    interrupted = any(p.interrupted for p in passes)
    if getattr(args, "format", "text") == "json":
        doc = {
            "passes": [p.to_json(label) for p in passes],
            "applied": [label(f) for f in applied],
            "held_back": [{"fix": label(v.fix), "verdict": v.verdict, "reason": v.reason} for v in held],
            "skipped": [{"fix": label(f), "reason": sanitize(r)} for f, r in skipped],
            "errors": [sanitize(e) for e in errors],
            "interrupted": interrupted,
        }
        out.write(json.dumps(doc, indent=2) + "\n")
    else:
        for i, p in enumerate(passes, 1):
            if len(passes) > 1:
                print(f"pass {i}:", file=out)
            for line in p.text(label):
                print(line, file=out)
        print(f"lockdock fix: {len(applied)} applied (verified by running), {len(held)} held back, "
              f"{len(errors)} error(s)", file=out)
        for f in applied:
            print(f"  applied: {label(f)}", file=out)
        for f, r in skipped:
            print(f"  skipped: {label(f)}: {sanitize(r)}", file=out)
        for e in errors:
            print(f"  error: {sanitize(e)}", file=out)
        if applied:
            print("  undo with: lockdock undo", file=out)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_HELD_BACK if held or errors or skipped else EXIT_OK
