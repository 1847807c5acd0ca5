"""`lockdock fix --apply --verify`: prove fixes by building and starting the fixed stack.

`verify_fixes(roots, fixes, engine)` runs every compose project (with the user's compose
CLI) and standalone Dockerfile the fixes touch, first unfixed (the baseline), then fixed,
each in a throwaway copy of the project, and compares every service: built, running,
restart count, health, exit code, published TCP ports answering on 127.0.0.1. When the
fixed stack does worse, the fixes are bisected to find the one(s) that broke it. Only
fixes proven this way are `verified`; the others are `held back` (with the service and
what went wrong) or `not verified` (with the plain reason: image not local, no compose
CLI, the stack does not work unfixed either...). Everything started is removed again,
also on Ctrl-C or SIGTERM. The caller applies only `report.verified` to the real files.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock.files import FileProblem, within
from lockdock.fixing import edits as edits_mod
from lockdock.fixing import stacks
from lockdock.model import EngineAction, FileEdit, Fix, ModeChange, NewFile
from lockdock.text import safe

VERIFIED, HELD_BACK, NOT_VERIFIED = "verified", "held back", "not verified"
DEFAULT_SECONDS = 20.0


@dataclass
class FixVerdict:
    fix: Fix
    verdict: str  # VERIFIED, HELD_BACK, NOT_VERIFIED
    reason: str = ""
    retry: bool = False  # not tried only because it overlaps another fix: the next pass may


@dataclass
class ServiceRow:
    unit: str  # compose file or Dockerfile, relative to the working directory
    service: str  # "(image)" for a standalone Dockerfile
    before: stacks.ServiceState | None
    after: stacks.ServiceState | None
    verdict: str  # "works", "broken", "not verified", "unchanged"
    reason: str = ""


@dataclass
class VerifyReport:
    """Per-fix verdicts, per-service before/after rows, cleanup problems; JSON-able."""

    fixes: list[FixVerdict] = field(default_factory=list)
    services: list[ServiceRow] = field(default_factory=list)
    compose_cli: str | None = None
    runs: int = 0
    problems: list[str] = field(default_factory=list)  # cleanup that failed, said plainly
    interrupted: bool = False
    after: dict[str, stacks.UnitRun] = field(default_factory=dict)  # stack -> run with the verified fixes

    @property
    def verified(self) -> list[Fix]:
        return [v.fix for v in self.fixes if v.verdict == VERIFIED]

    @property
    def held_back(self) -> list[FixVerdict]:
        return [v for v in self.fixes if v.verdict != VERIFIED]

    def to_json(self, label: Callable[[Fix], str] | None = None) -> dict[str, Any]:
        name = label or (lambda f: safe(f.title, 120))
        return {
            "compose_cli": self.compose_cli,
            "runs": self.runs,
            "interrupted": self.interrupted,
            "fixes": [{"fix": name(v.fix), "check": v.fix.check, "verdict": v.verdict, "reason": v.reason}
                      for v in self.fixes],
            "services": [{"stack": r.unit, "service": safe(r.service, 80),
                          "before": r.before.to_json() if r.before else None,
                          "after": r.after.to_json() if r.after else None,
                          "verdict": r.verdict, "reason": r.reason} for r in self.services],
            "problems": list(self.problems),
        }

    def text(self, label: Callable[[Fix], str] | None = None) -> list[str]:
        """The report as lines: a service table (before / after / verdict), then per fix."""
        name = label or (lambda f: safe(f.title, 120))
        lines = [f"verify: {self.runs} run(s) with {self.compose_cli or 'no compose CLI'}"]
        if self.services:
            rows = [("stack", "service", "before", "after", "verdict")] + [
                (safe(r.unit, 40), safe(r.service, 24), r.before.summary() if r.before else "-",
                 r.after.summary() if r.after else "-", r.verdict + (f": {r.reason}" if r.reason else ""))
                for r in self.services
            ]
            widths = [max(len(row[i]) for row in rows) for i in range(4)]
            for row in rows:
                lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
        for v in self.fixes:
            lines.append(f"  {v.verdict}: {name(v.fix)}" + (f": {v.reason}" if v.reason else ""))
        if self.interrupted:
            lines.append("  interrupted: nothing applied; everything verify started was removed")
        for p in self.problems:
            lines.append(f"  cleanup problem: {p}")
        return lines


def _paths(fix: Fix, cwd: Path) -> list[Path]:
    out = []
    for c in fix.changes:
        if isinstance(c, FileEdit | NewFile | ModeChange):
            p = Path(c.path)
            out.append(Path(os.path.abspath(p if p.is_absolute() else cwd / p)))
    return out


def _seconds(seconds: float | None) -> float:
    if seconds is not None:
        return seconds
    try:
        return max(1.0, float(os.environ.get("LOCKDOCK_VERIFY_SECONDS", DEFAULT_SECONDS)))
    except ValueError:
        return DEFAULT_SECONDS


class _Stop(BaseException):
    """SIGTERM, turned into an exception so `finally` cleans up."""


def run_id() -> str:
    """A fresh id for one verification: names its compose projects, images and labels.

    `LOCKDOCK_VERIFY_TAG` (lowercase letters and digits, at most 12 kept) is put in front, so a
    caller running several verifications side by side (a test suite) can find its own objects.
    """
    tag = "".join(ch for ch in os.environ.get("LOCKDOCK_VERIFY_TAG", "").lower() if ch.isalnum())[:12]
    return tag + uuid.uuid4().hex[:10]


def verify_fixes(
    roots: Path | Sequence[Path],
    fixes: Sequence[Fix],
    engine: Any,
    seconds: float | None = None,
    *,
    cwd: Path | None = None,
    compose: list[str] | bool | None = True,
    baseline: dict[str, stacks.UnitRun] | None = None,
) -> VerifyReport:
    """Run the stacks the fixes touch unfixed and fixed; say which fixes keep them working.

    `roots`: the scanned directories (the copies are made of these). `seconds`: how long
    each run is observed at most (default $LOCKDOCK_VERIFY_SECONDS or 20). `compose`:
    the compose CLI argv, True to find the user's, None for none. `baseline`: runs of the
    unfixed units already known (a previous pass's `report.after`), by stack name. `engine` is a connected
    lockdock Engine (None: nothing can be verified). Never raises for a stack that fails;
    on KeyboardInterrupt or SIGTERM everything started is removed and `interrupted` set.
    """
    cwd = cwd or Path.cwd()
    root_list = [Path(os.path.abspath(r)) for r in ([roots] if isinstance(roots, str | Path) else roots)]
    report = VerifyReport()
    cli = stacks.find_compose_cli() if compose is True else (compose or None)
    report.compose_cli = " ".join(Path(cli[0]).name if i == 0 else a for i, a in enumerate(cli)) if cli else None
    if engine is None:
        report.fixes = [FixVerdict(f, NOT_VERIFIED, "no Docker engine connection") for f in fixes]
        return report
    runner = stacks.Runner(engine, cli, run_id(), _seconds(seconds))
    old_term = signal.getsignal(signal.SIGTERM)

    def on_term(_sig: int, _frame: Any) -> None:
        raise _Stop

    with contextlib.suppress(ValueError):  # not the main thread: Ctrl-C handling only
        signal.signal(signal.SIGTERM, on_term)
    try:
        by_root: dict[Path, list[Fix]] = {}
        for fix in fixes:
            paths = _paths(fix, cwd)
            owner = [r for r in root_list if paths and all(within(p, r) for p in paths)]
            if any(isinstance(c, EngineAction) for c in fix.changes):
                report.fixes.append(FixVerdict(fix, NOT_VERIFIED, "it changes the engine, not the project files"))
            elif not owner:
                report.fixes.append(FixVerdict(fix, NOT_VERIFIED, "it changes files outside the project"))
            else:
                by_root.setdefault(max(owner, key=lambda r: len(str(r))), []).append(fix)
        for root, group in by_root.items():
            _verify_root(root, group, runner, report, cwd, baseline or {})
    except (KeyboardInterrupt, _Stop):
        report.interrupted = True
        seen = {id(v.fix) for v in report.fixes}
        for v in report.fixes:
            v.verdict, v.reason = NOT_VERIFIED, "interrupted"
        report.fixes += [FixVerdict(f, NOT_VERIFIED, "interrupted") for f in fixes if id(f) not in seen]
    finally:
        report.problems += runner.teardown()
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signal.SIGTERM, old_term)
    report.runs = runner._count
    return report


def _rel(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


@dataclass
class _Trial:
    ok: bool
    runs: dict[int, stacks.UnitRun]
    why: str = ""


def _verify_root(
    root: Path, fixes: list[Fix], runner: stacks.Runner, report: VerifyReport, cwd: Path,
    baseline: dict[str, stacks.UnitRun],
) -> None:
    units = stacks.discover_units([root])
    touched: dict[int, set[int]] = {}  # id(fix) -> unit indexes
    candidates: list[Fix] = []
    for fix in fixes:
        idx = {i for i, u in enumerate(units) for p in _paths(fix, cwd) if u.touches(p)}
        if not idx:
            report.fixes.append(FixVerdict(fix, NOT_VERIFIED, "no compose project or Dockerfile uses the files it changes"))
            continue
        touched[id(fix)] = idx
        candidates.append(fix)
    batch = edits_mod.plan(candidates)
    for fix in batch.deferred:
        report.fixes.append(FixVerdict(fix, NOT_VERIFIED, "it overlaps another fix (tried again after it)", True))
    candidates = batch.fixes
    names = [safe(_rel(Path(u.dockerfile or u.files[0]), cwd), 120) for u in units]

    def run(subset: Sequence[Fix], which: set[int]) -> dict[int, stacks.UnitRun]:
        if not which:
            return {}
        try:
            copy, _late = stacks.make_copy(root, subset, cwd)
        except (OSError, FileProblem, edits_mod.EditError) as exc:
            err = stacks.UnitRun(error=f"cannot make the throwaway copy: {safe(exc, 200)}")
            return dict.fromkeys(which, err)
        try:
            out = {}
            for i in sorted(which):
                out[i] = runner.run(units[i], copy, root)
                for problem in runner.teardown():
                    report.problems.append(problem)
            return out
        finally:
            stacks.remove_copy(copy)

    relevant = set().union(*touched.values()) if touched else set()
    known = {i: baseline[names[i]] for i in relevant if names[i] in baseline}
    base = {**known, **run([], relevant - set(known))}
    good_units: set[int] = set()
    for i in relevant:
        b = base[i]
        if b.error:
            continue
        if any(s.works()[0] for s in b.services.values()):
            good_units.add(i)

    def unit_reason(i: int) -> str:
        b = base[i]
        if b.error:
            return f"{names[i]}: {b.error}"
        if not b.services and b.not_verified:
            svc, why = next(iter(sorted(b.not_verified.items())))
            return f"{names[i]}: {safe(svc, 40)}: {why}"
        return f"{names[i]}: no service works before the fixes either, so there is nothing to compare"

    testable: list[Fix] = []
    for fix in candidates:
        idx = touched[id(fix)]
        if idx <= good_units:
            testable.append(fix)
        else:
            bad = min(idx - good_units)
            report.fixes.append(FixVerdict(fix, NOT_VERIFIED, unit_reason(bad)))

    def trial(subset: list[Fix]) -> _Trial:
        which = set().union(*(touched[id(f)] for f in subset))
        runs = run(subset, which)
        for i, r in sorted(runs.items()):
            if r.error:
                return _Trial(False, runs, f"{names[i]}: {r.error}")
            for svc, before in sorted(base[i].services.items()):
                if not before.works()[0]:
                    continue
                after = r.services.get(svc)
                if after is None:
                    return _Trial(False, runs, f"{names[i]}: {safe(svc, 40)}: {r.not_verified.get(svc, 'not started')}")
                works, why = after.works()
                if not works:
                    return _Trial(False, runs, f"{names[i]}: service {safe(svc, 40)} {why} (before: {before.summary()})")
        return _Trial(True, runs)

    accepted: list[Fix] = []
    final: dict[int, stacks.UnitRun] = {}
    failed: dict[int, stacks.UnitRun] = {}
    verdicts: dict[int, FixVerdict] = {}

    def search(subset: list[Fix]) -> None:
        if not subset:
            return
        t = trial(accepted + subset)
        if t.ok:
            accepted.extend(subset)
            final.update(t.runs)
            return
        if len(subset) == 1:
            verdicts[id(subset[0])] = FixVerdict(subset[0], HELD_BACK, t.why)
            for i, r in t.runs.items():
                failed.setdefault(i, r)
            return
        half = len(subset) // 2
        search(subset[:half])
        search(subset[half:])

    search(testable)
    for i in relevant:  # how each unit runs once the verified fixes are applied
        report.after[names[i]] = final.get(i, base[i])
    for fix in testable:
        verdicts.setdefault(id(fix), FixVerdict(fix, VERIFIED))
        report.fixes.append(verdicts[id(fix)])
    broken_by = {i: v for v in verdicts.values() if v.verdict == HELD_BACK for i in touched[id(v.fix)]}
    for i in sorted(relevant):
        b = base[i]
        after_run = final.get(i) or failed.get(i)
        svcs = sorted(set(b.services) | set(b.not_verified) | set(after_run.services if after_run else ()))
        if b.error:
            report.services.append(ServiceRow(names[i], "-", None, None, NOT_VERIFIED, b.error))
        for svc in svcs:
            before = b.services.get(svc)
            after = after_run.services.get(svc) if after_run else None
            if svc in b.not_verified:
                report.services.append(ServiceRow(names[i], svc, None, None, NOT_VERIFIED, b.not_verified[svc]))
            elif before is not None and not before.works()[0]:
                report.services.append(ServiceRow(names[i], svc, before, after, NOT_VERIFIED,
                                                  "does not work before the fixes either"))
            elif after_run is None:
                report.services.append(ServiceRow(names[i], svc, before, None, "unchanged", "no fix of it was tested"))
            elif after is not None and after.works()[0]:
                report.services.append(ServiceRow(names[i], svc, before, after, "works"))
            else:
                why = after.works()[1] if after else "not started"
                held = broken_by.get(i)
                if i in final or held is None:
                    report.services.append(ServiceRow(names[i], svc, before, after, "broken", why))
                else:  # what the held-back fix would have done; the stack itself stays as it was
                    report.services.append(ServiceRow(names[i], svc, before, after, HELD_BACK,
                                                      f"{why} with: {safe(held.fix.title, 80)}"))
