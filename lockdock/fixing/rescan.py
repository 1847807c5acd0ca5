"""Rescan-and-verify: what a scan found before and after a write, and what that proves.

A fix is proven when the rescan finds its check gone (or fewer of it) and nothing new:
no new finding and no file that stopped reading cleanly.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lockdock.compose.schema import LIST as LIST_KEYS
from lockdock.model import EngineAction, FileEdit, Finding, Fix, ModeChange, NewFile, TargetKind
from lockdock.text import safe


@dataclass
class Snapshot:
    """What one scan found: (check, target key) -> count, and error entries per path."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    example: dict[tuple[str, str], Finding] = field(default_factory=dict)
    errors: Counter[str | None] = field(default_factory=Counter)  # error entries per path
    emptied: Counter[str] = field(default_factory=Counter)  # "file: service.key" list keys left null
    weight: Counter[str] = field(default_factory=Counter)  # per check: sum of severities
    messages: dict[str | None, str] = field(default_factory=dict)
    result: Any = None  # the ScanResult, for recomputing deferred fixes

    def take(self, result: Any) -> None:
        """Count the active findings and the error entries of a `ScanResult`."""
        from lockdock.scan import severity_of

        self.result = result
        for tr in result.targets.values():
            for f in tr.active:
                key = (f.check, tr.target.key)
                self.counts[key] += 1
                self.example.setdefault(key, f)
                self.weight[f.check] += int(severity_of(f)) + 1
        for tr in result.targets.values():
            project = getattr(tr.subject, "project", None)
            if tr.target.kind is TargetKind.COMPOSE_FILE and project is not None:
                for name, svc in project.services.items():
                    for key in LIST_KEYS:
                        node = svc.get(key)
                        if node is not None and node.kind == "scalar" and node.value is None:
                            self.emptied[f"{node.file}: service {name}, {key}"] += 1
        for err in result.errors:
            if err.kind == "error":
                self.errors[err.path] += 1
                self.messages.setdefault(err.path, err.message)


def unproven(before: Snapshot, after: Snapshot, fixes: Sequence[Fix]) -> list[str]:
    """Why the rescan does not prove the fixes (empty when it does)."""
    problems = [
        f"{safe(path)} no longer reads cleanly: {safe(after.messages.get(path, ''), 200)}"
        for path, n in sorted(after.errors.items(), key=lambda kv: str(kv[0]))
        if n > before.errors.get(path, 0)
    ]
    # Two fixes that each remove one item of the same list can, together, leave the key with
    # nothing (`ports:`): compose rejects that ("should be an array"), so it is no proof.
    problems += [
        f"{safe(where, 200)} would be left empty"
        for where, n in sorted(after.emptied.items())
        if n > before.emptied.get(where, 0)
    ]
    revealed = {(check, f.target) for f in fixes for check in f.reveals}
    problems += [
        f"it would introduce {_describe(after.example[k])}"
        for k, n in sorted(after.counts.items())
        if n > before.counts.get(k, 0) and k not in revealed
    ]
    for check in sorted({f.check for f in fixes if f.check and not _engine_only(f)}):
        was = sum(v for (c, _t), v in before.counts.items() if c == check)
        now = sum(v for (c, _t), v in after.counts.items() if c == check)
        # A finding that stays at a lower severity (a sensitive mount made read-only) is progress.
        if was and now >= was and after.weight[check] >= before.weight[check]:
            problems.append(f"{check} is still reported after the fix")
    return problems


def _describe(f: Finding) -> str:
    where = f.location.path or f.target.path or f.target.name
    line = f":{f.location.line}" if f.location.line else ""
    return f"{f.check} at {safe(where)}{line}"


def _paths(fix: Fix) -> list[str]:
    return [c.path for c in fix.changes if isinstance(c, FileEdit | NewFile | ModeChange)]


def _engine_only(fix: Fix) -> bool:
    return all(isinstance(c, EngineAction) for c in fix.changes)


def recompute(deferred: list[Fix], result: Any) -> list[tuple[Finding, Fix]]:
    """Fresh fixes, from the rescan, for the findings whose fixes had to wait.

    A fix of the same check, with the same title, touching the same files counts; so does
    one of the same check and title for the same target whose edit moved to another file
    (an earlier fix emptied the override that held the value). A deferred ignore fix never
    turns into the check's real fix (the titles differ), nor moves to another target.
    """

    def files(fix: Fix) -> frozenset[str]:
        return frozenset(os.path.abspath(p) for p in _paths(fix))

    want = Counter((f.check, f.title, files(f)) for f in deferred)
    moved = Counter((f.check, f.title, f.target) for f in deferred if f.target)
    # Last resort: the same check on the same target, whatever the title now says. An
    # earlier fix can change what the fresh one does (a secret with the same value already
    # moved to a file: the next service reuses that file, so its title names another secret).
    # Never for a deferred ignore fix (lockdock.fixing.ignore titles start "Ignore "): it must
    # not turn into the check's real fix.
    loose = Counter((f.check, f.target) for f in deferred if f.target and not f.title.startswith("Ignore "))
    candidates: list[tuple[Finding, Fix]] = []
    out: list[tuple[Finding, Fix]] = []

    def take(f: Finding, fix: Fix, check: str) -> None:
        out.append((f, fix))
        moved[(check, fix.title, fix.target)] -= 1
        loose[(check, fix.target)] -= 1

    for tr in result.targets.values():
        for f in tr.active:
            fix = f.fix
            if fix is None or not fix.changes:
                continue
            key = (fix.check or f.check, fix.title, files(fix))
            if want.get(key, 0) > 0:
                want[key] -= 1
                take(f, fix, key[0])
            else:
                candidates.append((f, fix))
    rest: list[tuple[Finding, Fix]] = []
    for f, fix in candidates:
        check = fix.check or f.check
        if fix.target and moved.get((check, fix.title, fix.target), 0) > 0:
            take(f, fix, check)
        else:
            rest.append((f, fix))
    for f, fix in rest:
        check = fix.check or f.check
        if fix.target and loose.get((check, fix.target), 0) > 0:
            take(f, fix, check)
    return out
