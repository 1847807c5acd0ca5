"""The `fix --apply --verify` step of the CLI: verify, apply only what was proven, print.

Kept apart from the argument parsing so the one call in `cli_fix.run_fix` is the whole hook.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lockdock.model import Fix
from lockdock.text import sanitize

EXIT_OK, EXIT_HELD_BACK, EXIT_INTERRUPTED = 0, 1, 130


def apply_verified(
    fixes: Sequence[Fix],
    ctx: Any,
    roots: list[Path],
    args: argparse.Namespace,
    label: Callable[[Fix], str],
    out: Any = None,
) -> int:
    """Verify `fixes` by running the stacks, apply the verified ones, report; the exit code.

    0: every fix was verified and applied; 1: some were held back or not verified (or an
    apply problem); 130: interrupted (nothing applied, everything started removed).
    """
    from lockdock.fixers.apply import apply_fixes
    from lockdock.fixing.verify import verify_fixes

    out = out or sys.stdout
    as_json = getattr(args, "format", "text") == "json"
    if fixes and ctx.engine is None:
        why = ctx.engine_error or "not connected"
        print(f"lockdock fix --verify: needs the Docker engine ({sanitize(why)}); nothing applied", file=sys.stderr)
        return EXIT_HELD_BACK
    vreport = verify_fixes(roots, fixes, ctx.engine, getattr(args, "verify_seconds", None), cwd=ctx.cwd)
    applied: list[Fix] = []
    skipped: list[tuple[Fix, str]] = []
    errors: list[str] = []
    if vreport.verified and not vreport.interrupted:
        report = apply_fixes(vreport.verified, ctx, root=roots, allow_unsafe=args.unsafe)
        applied, errors = report.applied, report.errors
        skipped = [(s.fix, s.reason) for s in report.skipped]
    if as_json:
        doc = {
            "verify": vreport.to_json(label),
            "applied": [label(f) for f in applied],
            "skipped": [{"fix": label(f), "reason": sanitize(r)} for f, r in skipped],
            "errors": [sanitize(e) for e in errors],
        }
        out.write(json.dumps(doc, indent=2) + "\n")
    else:
        for line in vreport.text(label):
            print(line, file=out)
        held = len(vreport.held_back)
        print(f"lockdock fix: {len(applied)} applied (verified by running), {held} held back, "
              f"{len(errors)} error(s)", file=out)
        for f in applied:
            print(f"  applied: {label(f)}", file=out)
        for f, r in skipped:
            print(f"  skipped: {label(f)}: {sanitize(r)}", file=out)
        for e in errors:
            print(f"  error: {sanitize(e)}", file=out)
        if applied:
            print("  undo with: lockdock undo", file=out)
    if vreport.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_HELD_BACK if vreport.held_back or errors or skipped else EXIT_OK
