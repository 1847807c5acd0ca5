"""Applying fixes: check everything first, write, journal, rescan, roll back on doubt.

The rescan is the proof: after writing, the touched files are scanned again; the fixed
finding must be gone and no finding may be new. Otherwise every change of the run is
put back and the user is told why. Engine actions (`docker update`) are verified by
inspecting the container afterwards.

`apply_fixes` runs in steps: triage (unsafe, pending, empty, and the preflight refusals
of `lockdock.fixing.preflight`), batch (merge edits; overlapping fixes wait), plan (what
to rescan, the baseline), write and prove (roll back on doubt, keep the fixes that pass
together), record (journal, report), then a later pass for the fixes that had to wait.
`verify` holds the proof itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.engine import update
from lockdock.files import FileProblem, read_text, sha256_bytes
from lockdock.fixing import edits as edits_mod
from lockdock.fixing import journal, preflight, writer
from lockdock.fixing.preflight import Roots
from lockdock.fixing.rescan import Snapshot, recompute, unproven
from lockdock.model import (
    Applicability,
    EngineAction,
    FileEdit,
    Finding,
    Fix,
    ModeChange,
    NewFile,
)
from lockdock.text import safe


@dataclass
class Skipped:
    fix: Fix
    reason: str
    refused: bool = True  # False: skipped by choice (unsafe without --unsafe, nothing to do)


@dataclass
class ApplyReport:
    applied: list[Fix] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rolled_back: bool = False
    journal_ids: list[str] = field(default_factory=list)
    # Findings of fixes recomputed in later passes (id(fix) -> finding), for messages.
    origins: dict[int, Finding] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def merge(self, other: ApplyReport) -> None:
        self.applied += other.applied
        self.skipped += other.skipped
        self.errors += other.errors
        self.warnings += other.warnings
        self.rolled_back = self.rolled_back or other.rolled_back
        self.journal_ids += other.journal_ids
        self.origins.update(other.origins)


def materialize(finding: Finding, subject: Any, ctx: ScanContext) -> Fix | None:
    """Compute a pending fix now (its fixer measures the engine, so it runs on demand only).

    Returns the computed fix (also stored in `finding.fix`), None when the fixer fails or
    offers nothing, or the finding's fix as it is when no on-demand fixer covers it.
    """
    for fx in registry.fixers_for(finding.check, finding.target.kind):
        if not fx.lazy:
            continue
        try:
            fix = fx.fn(finding, subject, ctx)
        except Exception as exc:  # noqa: BLE001 - a broken fixer only loses its fix
            ctx.warn(finding.location.path, f"fixer {fx.name} failed: {type(exc).__name__}: {safe(exc)}")
            return None
        if fix is not None:
            fix.check = fix.check or finding.check
            fix.target = fix.target or finding.target.key
            finding.fix = fix
        return fix
    return finding.fix


def _scan_paths(fixes: Sequence[Fix], roots: Roots) -> list[Path]:
    """What to rescan: the touched files, plus their root when repository files change."""
    paths: set[Path] = set()
    for fix in fixes:
        for c in fix.changes:
            if isinstance(c, EngineAction):
                continue
            p = roots.abs(c.path)
            if p in roots.extra:
                continue
            root = roots.root_of(c.path)
            if isinstance(c, FileEdit) and (
                p.name not in (".gitignore", ".dockerignore", ".lockdock.toml")
            ):
                paths.add(p)
            elif root is not None:
                paths.add(root)
    return sorted(paths)


def _rescan(
    paths: list[Path], ctx: ScanContext, reload_config: bool = False, *, force: bool = False
) -> Snapshot:
    """Scan `paths` again (files only) and count what is found; `force` scans even no paths."""
    from lockdock.config import ConfigError, load_config
    from lockdock.scan import scan

    snap = Snapshot()
    config = ctx.config
    if reload_config:  # an ignore fix edited .lockdock.toml: judge with the new settings
        try:
            config = load_config(ctx.cwd)
        except ConfigError as exc:
            snap.errors[".lockdock.toml"] += 1
            snap.messages[".lockdock.toml"] = str(exc)
    sub = ScanContext(
        cwd=ctx.cwd,
        config=config,
        engine=ctx.engine,
        use_engine=False,  # file targets only; engine targets are verified by inspect
        daemon_json=ctx.daemon_json,
    )
    if not paths and not force:
        return snap
    snap.take(scan(paths, sub))
    return snap


def _write_all(
    batch: edits_mod.Batch,
    roots: Roots,
    stamps: dict[str, writer.Stamp],
    entry: journal.Entry,
) -> None:
    """Write every merged file edit, new file and mode change; journal each as it lands.

    The journal is written ahead: every edited file's original is saved (once, for the
    whole batch) before the first file is replaced, and every new file or mode change
    before it happens, so an interrupted run (Ctrl-C, kill) can be taken back with
    `lockdock undo` (a change announced but never made is skipped there).
    """
    planned: list[tuple[Path, Path, bytes, str]] = []
    for _real, fe in sorted(batch.files.items()):
        path = fe.path
        p = roots.abs(path)
        root = roots.root_of(path)
        assert root is not None  # preflight checked it
        tf = read_text(p)
        if fe.expected_sha256 and tf.sha256 != fe.expected_sha256:
            raise writer.StaleFile(f"{safe(path)}: changed since preview (content differs)")
        _text, data, _ = edits_mod.render(tf, fe.edits)
        real, _via = writer.resolve_target(p, root)
        st = os.stat(real)
        entry.files.append(
            journal.FileRecord(
                str(real), sha256_bytes(data), tf.raw, st.st_mode & 0o7777, st.st_uid, st.st_gid
            )
        )
        planned.append((p, root, data, tf.sha256))
    if planned:
        journal.save(entry)  # one durable write-ahead for every edited file of the batch
    for p, root, data, sha in planned:
        writer.write_file(p, data, root=root, expected_sha256=sha, stamp=stamps.get(str(p)))
    for fix in batch.fixes:
        for c in fix.changes:
            if isinstance(c, NewFile):
                root = roots.root_of(c.path)
                assert root is not None
                data = c.content.encode("utf-8")
                entry.files.append(journal.FileRecord(str(roots.abs(c.path)), sha256_bytes(data), None, c.mode))
                journal.save(entry)
                try:
                    res = writer.create_file(roots.abs(c.path), data, root=root, mode=c.mode, make_parents=True)
                except BaseException:
                    entry.files.pop()  # not created: whatever is there now is not ours
                    journal.save(entry)
                    raise
                entry.dirs += res.created_dirs
                journal.save(entry)
            elif isinstance(c, ModeChange):
                root = roots.root_of(c.path)
                assert root is not None
                real, _via, raw, _st = writer.check_existing(
                    roots.abs(c.path), root, c.expected_sha256, need_write=False
                )
                entry.modes.append(journal.ModeRecord(str(real), c.old_mode, c.new_mode, sha256_bytes(raw)))
                journal.save(entry)
                writer.change_mode(
                    roots.abs(c.path), c.old_mode, c.new_mode, root=root, expected_sha256=c.expected_sha256
                )


@dataclass
class _Outcome:
    entry: journal.Entry | None = None
    after: Snapshot = field(default_factory=Snapshot)
    problems: list[str] = field(default_factory=list)
    write_error: str | None = None
    rollback_failed: bool = False
    fixes: list[Fix] = field(default_factory=list)  # what this outcome wrote


@dataclass
class _Plan:
    """What every attempt of one pass shares: the roots, what to rescan, the baseline."""

    ctx: ScanContext
    roots: Roots
    scan_paths: list[Path]
    reload: bool
    touches_host: bool
    verify: bool
    before: Snapshot
    run: str
    root0: str

    def attempt(self, fixes: list[Fix], stamps: dict[str, writer.Stamp], report: ApplyReport) -> _Outcome:
        """Write `fixes`, verify by rescan; on any failure put everything back."""
        out = _Outcome(fixes=list(fixes))
        entry = journal.Entry(titles=[f.title for f in fixes], root=self.root0, run=self.run)
        batch = edits_mod.plan(fixes, self.roots.real)
        try:
            _write_all(batch, self.roots, stamps, entry)
            for fix in fixes:
                for c in fix.changes:
                    if isinstance(c, EngineAction):
                        entry.engine.append(
                            journal.EngineRecord(c.object_id, c.object_name, dict(c.current), dict(c.new), c.engine)
                        )
                        journal.save(entry)
                        engine = update.engines_of(self.ctx).require(c.engine)
                        update.update_container_verified(engine, c.object_id, c.new)
        except (writer.WriteRefused, writer.WriteFailed, FileProblem, update.EngineActionFailed) as exc:
            out.write_error = safe(exc, 300)
        if out.write_error is None and self.verify and (self.scan_paths or self.touches_host):
            out.after = _rescan(self.scan_paths, self.ctx, self.reload, force=self.touches_host)
            out.problems = unproven(self.before, out.after, fixes)
        if out.write_error is not None or out.problems:
            try:
                journal.restore(entry, update.engines_of(self.ctx))
                journal.discard(entry)
            except (journal.UndoRefused, writer.WriteRefused, writer.WriteFailed, update.EngineActionFailed) as exc:
                journal.save(entry)
                report.errors.append(
                    f"rollback failed: {safe(exc, 300)}; the changes are in the journal (lockdock undo)"
                )
                out.rollback_failed = True
            return out
        out.entry = entry
        return out


def _accumulate(plan: _Plan, fixes: list[Fix], problems: list[str], report: ApplyReport) -> _Outcome | None:
    """The batch failed verification: keep the fixes that pass together, found by halving.

    A failing set is split in two halves, each tried on top of the fixes kept so far: a
    half that passes is kept whole, a failing half is halved again, down to single fixes,
    which are rolled back and reported. Every attempt starts from the original files (the
    previous kept outcome is put back first), so a fix is only kept when it passes
    together with all fixes kept before it. With k bad fixes among n that is about
    2·k·log2(n/k) attempts (each a write and a rescan) instead of n, one per fix: a
    corpus with a few bad fixes no longer rescans itself once per fix.
    Returns the kept outcome (written, verified), or None when nothing could be kept.
    """
    if len(fixes) == 1:
        report.errors.append(f"rolled back: {safe(fixes[0].title, 100)}: " + "; ".join(problems))
        report.skipped.append(Skipped(fixes[0], "rolled back: " + "; ".join(problems)))
        return None
    accepted: list[Fix] = []
    last: _Outcome | None = None

    def put_back() -> bool:
        """Undo the kept outcome's writes (the next attempt writes them again)."""
        nonlocal last
        if last is not None and last.entry is not None:
            try:
                journal.restore(last.entry, update.engines_of(plan.ctx))
                journal.discard(last.entry)
            except (journal.UndoRefused, writer.WriteRefused, writer.WriteFailed, update.EngineActionFailed) as exc:
                journal.save(last.entry)
                report.errors.append(f"rollback failed: {safe(exc, 300)}; see lockdock undo")
                return False
        last = None
        return True

    def settle(chunk: list[Fix], failed: str | None) -> bool | None:
        """Keep what passes of `chunk` on top of `accepted`; `failed` is why that exact set
        already failed (not tried again). True: all kept; False: not all; None: stop."""
        nonlocal last
        why = failed
        if why is None:
            if not put_back():
                return None
            trial = plan.attempt([*accepted, *chunk], {}, report)
            if trial.rollback_failed:
                return None
            if trial.entry is not None:
                accepted.extend(chunk)
                last = trial
                return True
            why = trial.write_error or "; ".join(trial.problems)
        if len(chunk) == 1:
            report.errors.append(f"rolled back: {safe(chunk[0].title, 100)}: {why}")
            report.skipped.append(Skipped(chunk[0], f"rolled back: {why}"))
            return False
        mid = len(chunk) // 2
        left = settle(chunk[:mid], None)
        if left is None:
            return None
        # All of the left half kept: the right half on top of it is the set that just failed.
        right = settle(chunk[mid:], why if left else None)
        return None if right is None else False

    if settle(list(fixes), "; ".join(problems)) is None:
        return None
    if last is None and accepted:
        last = plan.attempt(accepted, {}, report)
        if last.entry is None:
            report.skipped += [Skipped(f, "rolled back (fails together with other fixes)") for f in accepted]
            return None
    return last


def apply_fixes(
    fixes: Sequence[Fix],
    ctx: ScanContext,
    *,
    root: Path | Sequence[Path],
    allow_unsafe: bool = False,
    stamps: dict[str, writer.Stamp] | None = None,
    verify: bool = True,
    passes: int = 16,
    run: str | None = None,
    _known: tuple[list[Path], Snapshot] | None = None,
) -> ApplyReport:
    """Apply `fixes`, journal them, and prove them by rescanning the touched targets.

    Every fix is checked first (stale, symlink, permissions). The batch is written and
    verified as a whole; when verification fails, fixes are tried again one by one and
    only those that pass together are kept, the others reported with the reason.
    Overlapping fixes wait for a rescan and are recomputed (up to `passes` passes).
    Writes stay inside `root` (one directory or several) and the daemon.json in use.
    A later pass that rescans the same paths takes the previous pass's rescan as its
    baseline instead of scanning again (`_known`: paths and what they held).
    Never raises for a refused or failed fix: the report says what happened to each.
    """
    report = ApplyReport()
    stamps = stamps or {}
    run = run or f"{time.time_ns()}-{os.getpid()}"
    root_list = [Path(root)] if isinstance(root, str | Path) else [Path(r) for r in root]
    daemon_json = ctx.daemon_json or Path("/etc/docker/daemon.json")
    roots = Roots(root_list, ctx.cwd, [daemon_json])

    batch = _batch(_triage(fixes, roots, ctx, stamps, allow_unsafe, report), roots)
    if not batch.fixes:
        return report
    plan = _plan(batch.fixes, roots, ctx, verify, run, str(root_list[0]), known=_known)
    proven = _write_and_prove(plan, batch.fixes, stamps, report)
    if proven is None:
        return report
    outcomes, after = proven
    for outcome in outcomes:
        _record(outcome, ctx, report)
    if batch.deferred:
        if passes > 1 and after.result is not None:
            again = recompute(batch.deferred, after.result)
            report.origins.update({id(fx): f for f, fx in again})
            report.merge(
                apply_fixes(
                    [fx for _f, fx in again], ctx, root=root_list, allow_unsafe=allow_unsafe,
                    verify=verify, passes=passes - 1, run=run, _known=(plan.scan_paths, after),
                )
            )
            left = len(batch.deferred) - len(again)
            if left > 0:
                report.warnings.append(f"{left} overlapping fix(es) no longer apply after the rescan")
        else:
            report.skipped += [
                Skipped(f, "overlaps another fix: run lockdock fix again") for f in batch.deferred
            ]
    return report


def _triage(
    fixes: Sequence[Fix],
    roots: Roots,
    ctx: ScanContext,
    stamps: dict[str, writer.Stamp],
    allow_unsafe: bool,
    report: ApplyReport,
) -> list[Fix]:
    """The fixes that can be written now; the others go to `report.skipped` with the reason."""
    candidates: list[Fix] = []
    for fix in fixes:
        if fix.applicability != Applicability.SAFE and not allow_unsafe:
            report.skipped.append(Skipped(fix, "unsafe (changes behaviour): needs --unsafe", False))
        elif fix.pending:
            report.skipped.append(Skipped(fix, "not computed yet (measures the engine): preview it first"))
        elif not fix.changes:
            report.skipped.append(Skipped(fix, "nothing to change", False))
        else:
            reason = preflight.refusal(fix, roots, ctx, stamps)
            if reason is not None:
                report.skipped.append(Skipped(fix, reason))
            else:
                candidates.append(fix)
    return candidates


def _batch(candidates: list[Fix], roots: Roots) -> edits_mod.Batch:
    """Merge the edits of this pass; overlapping fixes (and a second creator of the same new
    file, which collides like an overlapping edit) wait in `deferred` for the next pass."""
    claimed: set[Path] = set()
    unique: list[Fix] = []
    late: list[Fix] = []
    for fix in candidates:
        new = {roots.abs(c.path) for c in fix.changes if isinstance(c, NewFile)}
        if new & claimed:
            late.append(fix)
            continue
        claimed |= new
        unique.append(fix)
    batch = edits_mod.plan(unique, roots.real)
    batch.deferred += late
    return batch


def _plan(
    fixes: list[Fix], roots: Roots, ctx: ScanContext, verify: bool, run: str, root0: str,
    *, known: tuple[list[Path], Snapshot] | None = None,
) -> _Plan:
    """What to rescan for `fixes`, and the baseline scan before anything is written
    (taken from `known` when it scanned exactly these paths and nothing was written since)."""
    scan_paths = _scan_paths(fixes, roots)
    # daemon.json is judged by the host source, which every scan runs.
    touches_host = any(
        roots.abs(c.path) in roots.extra
        for f in fixes
        for c in f.changes
        if isinstance(c, FileEdit | NewFile | ModeChange)
    )
    reload = any(
        Path(c.path).name == ".lockdock.toml"
        for f in fixes
        for c in f.changes
        if isinstance(c, FileEdit | NewFile)
    )
    if not verify:
        before = Snapshot()
    elif known is not None and known[0] == scan_paths and known[1].result is not None and not reload:
        before = known[1]
    else:
        before = _rescan(scan_paths, ctx, force=touches_host)
    return _Plan(ctx, roots, scan_paths, reload, touches_host, verify, before, run, root0)


def _write_and_prove(
    plan: _Plan, fixes: list[Fix], stamps: dict[str, writer.Stamp], report: ApplyReport
) -> tuple[list[_Outcome], Snapshot] | None:
    """Write the batch and verify it; on doubt keep, per group of files, what passes.

    Returns the written, verified outcomes and a scan of every path after them (for
    recomputing deferred fixes), or None when nothing of the batch was kept (the reasons
    are in `report`).

    A rejected fix only affects its own files: when the batch fails, it is split into
    groups that share no file (`_groups`), and each group is written and proven on its own
    paths; only a failing group is retried fix by fix. So one bad file costs retries of
    that file's fixes, not rewrites and rescans of the whole batch (time stays linear).
    """
    outcome = plan.attempt(fixes, stamps, report)
    if outcome.rollback_failed:
        report.skipped += [Skipped(f, "rollback failed; see errors") for f in fixes]
        return None
    if outcome.write_error is not None:
        report.errors.append(f"nothing changed: {outcome.write_error}")
        report.skipped += [Skipped(f, "not applied: a change of this run failed") for f in fixes]
        report.rolled_back = True
        return None
    if not outcome.problems:
        return [outcome], outcome.after
    report.rolled_back = True
    groups = _groups(fixes, plan.roots)
    if len(groups) == 1:
        kept = _accumulate(plan, fixes, outcome.problems, report)
        return ([kept], kept.after) if kept is not None else None
    kept_all: list[_Outcome] = []
    for n, group in enumerate(groups):
        sub = _plan(group, plan.roots, plan.ctx, plan.verify, plan.run, plan.root0)
        out = sub.attempt(group, {}, report)
        if out.rollback_failed:
            report.skipped += [
                Skipped(f, "rollback failed; see errors") for g in groups[n:] for f in g
            ]
            break
        if out.entry is None:
            why = out.write_error or "; ".join(out.problems)
            kept = _accumulate(sub, group, [why], report)
            if kept is None:
                continue
            out = kept
        kept_all.append(out)
    if not kept_all:
        return None
    # One scan of everything, now that every group is written: the deferred fixes are
    # recomputed from it (a group's own rescan may predate another group's writes).
    after = _rescan(plan.scan_paths, plan.ctx, plan.reload, force=plan.touches_host) if plan.verify else Snapshot()
    return kept_all, after


def _groups(fixes: list[Fix], roots: Roots) -> list[list[Fix]]:
    """Fixes split into groups that share no file (real paths), in their first order.

    Fixes whose proof needs a whole root rescanned (new files, mode changes, ignore files)
    join one group per root, so a root is rescanned once per pass, not once per fix.
    """
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    keys: list[list[str]] = []
    for fix in fixes:
        mine: list[str] = []
        for c in fix.changes:
            if isinstance(c, EngineAction):
                mine.append("engine:" + c.object_id)
                continue
            p = roots.abs(c.path)
            mine.append("file:" + os.path.realpath(p))
            scans = _scan_paths([Fix(fix.title, fix.applicability, [c])], roots)
            if any(sp.is_dir() for sp in scans) or p in roots.extra:
                mine.append(f"root:{roots.root_of(c.path)}")
        if not mine:
            mine.append(f"fix:{id(fix)}")
        for k in mine[1:]:
            parent[find(k)] = find(mine[0])
        keys.append(mine)
    out: dict[str, list[Fix]] = {}
    for fix, mine in zip(fixes, keys, strict=True):
        out.setdefault(find(mine[0]), []).append(fix)
    return list(out.values())


def _record(outcome: _Outcome, ctx: ScanContext, report: ApplyReport) -> None:
    """Keep the journal entry of a verified outcome and report its fixes as applied."""
    entry = outcome.entry
    assert entry is not None
    for fix in outcome.fixes:
        for c in fix.changes:
            if isinstance(c, EngineAction):
                unset = [
                    k for k, v in update.hostconfig(c.current).items() if k in update.CANNOT_UNSET and not v
                ]
                if unset:
                    report.warnings.append(
                        f"container {safe(c.object_name, 80)}: undo cannot remove {', '.join(unset)} "
                        "again (docker update cannot unset a limit)"
                    )
    journal.save(entry)
    report.journal_ids.append(entry.id)
    report.applied += outcome.fixes
    report.warnings += writer.bind_mount_warnings([f.path for f in entry.files], ctx.engine)
