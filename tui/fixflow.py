"""The app's side of fixing: preview, apply, ignore, undo, through `lockdock.fixing`.

The fixers framework does the real work (masked diffs, stale checks, atomic writes, the
undo journal, rescan-to-verify); this module turns its reports into what the UI needs:
a `Preview` for the modal, and the set of touched paths and engine objects so that only
those targets are rescanned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock.context import ScanContext
from lockdock.fixing import apply as apply_mod
from lockdock.fixing import journal
from lockdock.fixing import preview as preview_mod
from lockdock.fixing.writer import WriteFailed, WriteRefused
from lockdock.model import Applicability, EngineAction, Finding, Fix
from lockdock.text import safe
from lockdock.tui.diff_screen import Preview


class FixProblem(Exception):
    """A fix, ignore or undo that cannot be done; `str()` is one line for the user."""


@dataclass
class Applied:
    paths: set[str] = field(default_factory=set)  # as ctx.rel() shows them (target paths)
    object_ids: set[str] = field(default_factory=set)
    messages: list[str] = field(default_factory=list)


def paths_of(fixes: Sequence[Fix], ctx: ScanContext) -> set[str]:
    out: set[str] = set()
    for fix in fixes:
        for p in preview_mod.changed_paths(fix):
            full = Path(p) if Path(p).is_absolute() else ctx.cwd / p
            out.add(ctx.rel(full) or p)
    return out


def objects_of(fixes: Sequence[Fix]) -> set[str]:
    return {c.object_id for fix in fixes for c in fix.changes if isinstance(c, EngineAction)}


def materialise(finding: Finding, subject: Any, ctx: ScanContext) -> Fix | None:
    """Compute a pending fix (engine measurements) now; None when it cannot be computed."""
    fix = apply_mod.materialize(finding, subject, ctx)
    if fix is None or fix.pending:
        return None
    return fix


def build_preview(fixes: Sequence[Fix], ctx: ScanContext, *, title: str, engine: str | None = None) -> Preview:
    """The modal's content; refuses when nothing at all can be previewed. `engine` names
    the engine (context or host URL) that runs the `docker update` lines when the session
    has several."""
    p = preview_mod.build_preview(list(fixes), ctx.cwd)
    if not p.text.strip():
        reasons = "; ".join(p.problems) or "the fix changes nothing"
        raise FixProblem(f"cannot preview: {reasons}")
    where = f" on engine {safe(engine, 80)}" if engine else ""
    engine_actions = [
        f"docker update {safe(c.object_name, 60)}{where}: " + ", ".join(sorted(safe(k, 40) for k in c.new))
        for fix in fixes
        for c in fix.changes
        if isinstance(c, EngineAction)
    ]
    notes = [f"cannot preview: {x}" for x in p.problems]
    root = ctx.cwd.resolve()
    outside = []
    for path in (q for fix in fixes for q in preview_mod.changed_paths(fix)):
        full = (Path(path) if Path(path).is_absolute() else ctx.cwd / path).resolve()
        if full != root and root not in full.parents:
            outside.append(str(full))
    if p.deferred:
        notes.append(f"{len(p.deferred)} overlapping fix(es) will be applied after a rescan")
    return Preview(
        title=title,
        diff=p.text,
        files=sorted(paths_of(fixes, ctx)),
        engine_actions=engine_actions,
        changes_behaviour=any(f.applicability is Applicability.UNSAFE for f in fixes),
        notes=notes,
        stamps=p.stamps,
        items=[safe(f.title, 160) for f in fixes],
        outside=sorted(set(outside)),
        verify_why=verify_offer(fixes, ctx),
    )


def apply(fixes: Sequence[Fix], ctx: ScanContext, stamps: dict[str, Any] | None = None) -> Applied:
    """Write the previewed fixes; the user confirmed (twice for unsafe ones)."""
    report = apply_mod.apply_fixes(list(fixes), ctx, root=ctx.cwd, allow_unsafe=True, stamps=stamps)
    if not report.applied:
        reasons = [s.reason for s in report.skipped] + report.errors
        raise FixProblem("not applied: " + safe("; ".join(dict.fromkeys(reasons)) or "unknown reason", 300))
    done = Applied(paths_of(report.applied, ctx), objects_of(report.applied))
    done.messages = [safe(f.title, 100) for f in report.applied] + [safe(w, 160) for w in report.warnings]
    if report.skipped:
        done.messages.append(f"{len(report.skipped)} not applied: " + safe(report.skipped[0].reason, 120))
    return done


def ignore_fix(finding: Finding, ctx: ScanContext, reason: str = "accepted risk", *,
               project: bool = False) -> Fix:
    """The edit that ignores this finding: a `# lockdock: ignore=<id> <reason>` pragma in
    its file, or (`project`, and for targets without a file) an `ignore` entry with the
    reason in the project's .lockdock.toml."""
    from lockdock.fixing import ignore as ignore_mod

    try:
        if project:
            fix = ignore_mod.config_fix(finding, ctx, reason)
            if fix is None:
                raise FixProblem(
                    "cannot add the ignore to .lockdock.toml (already ignored, settings in "
                    "pyproject.toml, or the file does not parse)")
            return fix
        fix = ignore_mod.ignore_fix(finding, ctx, reason)
    except (ValueError, OSError) as exc:
        raise FixProblem(f"cannot add an ignore pragma: {safe(exc, 200)}") from None
    if fix is None:
        raise FixProblem(
            f"cannot add an ignore pragma here ({finding.target.kind.value} has no file); "
            "use the io.lockdock.ignore label or the config file"
        )
    return fix


def undo_entries(ctx: ScanContext, entries: Sequence[Any]) -> Applied:
    """Undo `entries[0]` (the project's newest journal entry) and the earlier passes of
    the same `lockdock fix --apply` run that follow it in `entries` (newest first).

    Refused, with nothing changed, when a file is not what lockdock wrote there."""
    if not entries:
        raise FixProblem("nothing to undo in this project")
    first = entries[0]
    group = [first] + [e for e in entries[1:] if first.run and e.run == first.run]
    done = Applied()
    lines: list[str] = []
    for n, entry in enumerate(group):
        try:
            lines += journal.restore(entry, ctx.engine)
        except journal.UndoRefused as exc:
            if n == 0:
                raise FixProblem(str(exc)) from None
            lines.append(f"earlier pass of this run not undone: {safe(exc, 200)}")
            break
        except (WriteRefused, WriteFailed, OSError) as exc:
            raise FixProblem(f"undo failed: {safe(exc, 200)}") from None
        journal.discard(entry)
        for f in entry.files:
            done.paths.add(ctx.rel(f.path) or f.path)
        for m in entry.modes:
            done.paths.add(ctx.rel(m.path) or m.path)
        done.object_ids |= {e.object_id for e in entry.engine}
    done.messages = lines or [safe(", ".join(first.titles), 200)]
    return done


# ------------------------------------------------------------------ verify by running (issue 11.2)


@dataclass
class Verified:
    """What `v` in the diff modal hands back: the fixes proven by running, and the report.

    `fixes`: the verified subset (applied through the same path as `y`); `lines`: the
    report as `VerifyReport.text()` lines (service before/after, a verdict per fix);
    `held`: (title, verdict, reason) of each fix not written."""

    fixes: list[Fix]
    lines: list[str]
    held: list[tuple[str, str, str]]
    interrupted: bool = False


def verify_offer(fixes: Sequence[Fix], ctx: ScanContext) -> str | None:
    """None when `v` can be offered; otherwise the plain reason it is not.

    Offered only with a connected engine and when a fix edits a compose file or a
    Dockerfile (the units `lockdock.fixing.verify` knows how to run)."""
    if ctx.engine is None:
        return "needs a Docker engine connection (" + safe(ctx.engine_error or "not connected", 80) + ")"
    from lockdock.discovery import is_compose, is_dockerfile

    names = [Path(p).name for fix in fixes for p in preview_mod.changed_paths(fix)]
    if not any(is_compose(n) or is_dockerfile(n) for n in names):
        return "the fix touches no compose file or Dockerfile, so there is nothing to run"
    return None


def verify(fixes: Sequence[Fix], ctx: ScanContext, seconds: float | None = None) -> Verified:
    """Run the touched stacks unfixed and fixed in throwaway copies (`verify_fixes`); blocks
    for up to a few runs of `seconds` each (default $LOCKDOCK_VERIFY_SECONDS or 20), so call
    it from a worker thread. Nothing is written here; everything started is removed."""
    from lockdock.fixing.verify import verify_fixes

    report = verify_fixes([ctx.cwd], list(fixes), ctx.engine, seconds, cwd=ctx.cwd)
    held = [(safe(v.fix.title, 120), v.verdict, safe(v.reason, 200)) for v in report.held_back]
    verified = [] if report.interrupted else report.verified
    return Verified(verified, report.text(), held, report.interrupted)
