"""Preflight of `lockdock fix`: why a fix cannot be applied now, decided before anything is
written (a path outside the scanned roots, a file changed since the preview, a symlink, no
write permission, a container changed since its `docker update` was planned).

`apply_fixes` (`lockdock.fixing.apply`) calls `refusal` for every fix; a fix with a reason
is skipped with that reason and the others are written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.engine import update
from lockdock.files import FileProblem, read_text, within
from lockdock.fixing import edits as edits_mod
from lockdock.fixing import writer
from lockdock.model import EngineAction, FileEdit, Fix, ModeChange, NewFile
from lockdock.text import safe


class Roots:
    """Which scanned root a path belongs to (writes never leave it)."""

    def __init__(self, roots: Sequence[Path], cwd: Path, extra: Sequence[Path]) -> None:
        self.roots = [Path(os.path.abspath(r)) for r in roots]
        self.cwd = cwd
        self.extra = [Path(os.path.abspath(p)) for p in extra]  # daemon.json: its own dir

    def abs(self, path: str) -> Path:
        p = Path(path)
        return Path(os.path.abspath(p if p.is_absolute() else self.cwd / p))

    def real(self, path: str) -> str:
        """The file behind `path` (symlinks resolved): the key a file is planned under."""
        return os.path.realpath(self.abs(path))

    def root_of(self, path: str) -> Path | None:
        p = self.abs(path)
        if p in self.extra:
            return p.parent
        best = None
        for r in self.roots:
            if within(p.parent, r) and (best is None or len(str(r)) > len(str(best))):
                best = r
        return best


def refusal(fix: Fix, roots: Roots, ctx: ScanContext, stamps: dict[str, writer.Stamp]) -> str | None:
    """Why this fix cannot be applied now, or None."""
    for c in fix.changes:
        if isinstance(c, EngineAction):
            reason = _engine_refusal(c, ctx)
        else:
            reason = _file_refusal(c, roots, stamps)
        if reason is not None:
            return reason
    return None


def _engine_refusal(c: EngineAction, ctx: ScanContext) -> str | None:
    """Why `docker update` cannot run now: no engine, or the container changed since preview."""
    engine = update.engines_of(ctx).get(c.engine)  # the engine that owns the container
    if engine is None:
        return "needs the engine (not connected)" if c.engine is None else f"engine {safe(c.engine, 120)} is not connected"
    if c.action != "container.update":
        return f"unknown engine action {safe(c.action)}"
    try:
        got = engine.api.inspect_container(c.object_id).get("HostConfig") or {}
    except Exception as exc:  # noqa: BLE001 - gone, or engine trouble
        return f"container {safe(c.object_name, 80)}: cannot inspect: {safe(exc, 200)}"
    for key, want in update.hostconfig(c.current).items():
        if update.normalise(key, got.get(key)) != update.normalise(key, want):
            return f"container {safe(c.object_name, 80)}: changed since preview ({safe(key)})"
    return None


def _file_refusal(
    c: FileEdit | NewFile | ModeChange, roots: Roots, stamps: dict[str, writer.Stamp]
) -> str | None:
    """Why a file change cannot be written now (outside the roots, stale, symlink, rights)."""
    root = roots.root_of(c.path)
    if root is None:
        return f"{safe(c.path)}: outside the scanned paths"
    p = roots.abs(c.path)
    try:
        if isinstance(c, FileEdit):
            writer.check_existing(p, root, c.expected_sha256, stamps.get(str(p)))
            tf = read_text(p)
            edits_mod.check_range(tf.text, c.edits)
            _t, deferred = edits_mod.apply_edits(tf.text, c.edits)
            if deferred:
                return "its own edits overlap"
        elif isinstance(c, NewFile):
            return _new_file_refusal(c, p, root)
        elif isinstance(c, ModeChange):
            _r, _v, _raw, st = writer.check_existing(p, root, c.expected_sha256, need_write=False)
            if (st.st_mode & 0o7777) != c.old_mode:
                return f"{safe(c.path)}: changed since preview (mode is {st.st_mode & 0o7777:04o})"
    except (writer.WriteRefused, FileProblem, edits_mod.EditError) as exc:
        return str(exc) if isinstance(exc, writer.WriteRefused) else f"{safe(c.path)}: {safe(exc)}"
    return None


def _new_file_refusal(c: NewFile, p: Path, root: Path) -> str | None:
    if os.path.lexists(p):
        return f"{safe(c.path)}: already exists (changed since preview)"
    base = writer.existing_ancestor(p)
    if not within(base, root) or not os.path.isdir(base) or os.path.islink(base):
        return f"{safe(c.path)}: {safe(base)} is not a directory of the scanned root"
    if not os.access(base, os.W_OK | os.X_OK):
        return f"{safe(c.path)}: permission denied: directory {safe(base)} is not writable"
    return None
