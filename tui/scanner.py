"""The bodies of the app's background workers: full scan, partial rescan, engine events.

They run in worker threads and talk to the UI only through `post` (thread-safe message
posting), so the first screen never waits for discovery, the engine or layer analysis.
The full scan itself is `lockdock.tui.scanflow` (no Textual there, so it can start
before the app); `MessageSink` turns what it tells into the app's messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.message import Message

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.discovery import Discovery, discover
from lockdock.model import ScanError
from lockdock.scan import TargetResult, analyze_subject
from lockdock.text import safe
from lockdock.tui import scanflow
from lockdock.tui.messages import (
    Analysing,
    EngineConnected,
    EngineEvent,
    EngineLost,
    EngineTotals,
    ScanFinished,
    TargetScanned,
    TargetsRescanned,
    TargetsScanned,
)

Post = Callable[[Message], Any]
Cancelled = Callable[[], bool]


class MessageSink:
    """A `scanflow.Sink` that posts the app's messages (thread-safe `post`)."""

    def __init__(self, post: Post) -> None:
        self.post = post

    def connected(self, endpoint: str | None, version: str | None, error: str | None) -> None:
        self.post(EngineConnected(endpoint, version, error))

    def totals(self, images: int | None, containers: int | None) -> None:
        self.post(EngineTotals(images, containers))

    def analysing(self, name: str) -> None:
        self.post(Analysing(name))

    def scanned(self, result: TargetResult) -> None:
        self.post(TargetScanned(result))

    def finished(self, errors: list[ScanError], elapsed: float, keys: set[str]) -> None:
        self.post(ScanFinished(errors, elapsed, keys))


class BatchingSink(MessageSink):
    """A `MessageSink` that posts results in batches (`TargetsScanned`): at most one
    message per `window` seconds while results stream in, instead of one per target
    (each message costs the UI thread a dispatch; a big engine has hundreds of targets).
    A result waits at most `window` seconds; the batch is always posted before
    `ScanFinished`, and dropped once `cancelled()` (a stale scan says nothing more)."""

    def __init__(self, post: Post, cancelled: Cancelled = lambda: False, window: float = 0.05) -> None:
        super().__init__(post)
        self.cancelled = cancelled
        self.window = window
        self._lock = threading.Lock()
        self._batch: list[TargetResult] = []
        self._timer: threading.Timer | None = None

    def scanned(self, result: TargetResult) -> None:
        with self._lock:
            self._batch.append(result)
            if self._timer is None:
                self._timer = threading.Timer(self.window, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Post what is waiting now (in order: under the lock)."""
        with self._lock:
            batch, self._batch = self._batch, []
            timer, self._timer = self._timer, None
            if timer is not None:
                timer.cancel()
            if batch and not self.cancelled():
                self.post(TargetsScanned(batch))

    def finished(self, errors: list[ScanError], elapsed: float, keys: set[str]) -> None:
        self.flush()
        super().finished(errors, elapsed, keys)


def full_scan(paths: list[Path], ctx: ScanContext, post: Post, cancelled: Cancelled) -> None:
    """`scanflow.full_scan` posting the app's messages: `EngineConnected`, `EngineTotals`,
    `Analysing` and `TargetScanned` as they come, `ScanFinished` last."""
    scanflow.full_scan(paths, ctx, MessageSink(post), cancelled)


def _subjects(discovery: Discovery, ctx: ScanContext, *, engine: bool) -> Iterator[Any]:
    """Subjects of every source (engine sources only when `engine`); a broken source is an error."""
    for src in registry.SOURCES:
        if src.needs_engine and (not engine or not ctx.use_engine):
            continue
        yield from scanflow.run_source(src, discovery, ctx)


def fresh_context(ctx: ScanContext) -> ScanContext:
    """A context for a rescan: same settings and engine, empty caches and errors, and its
    own time budget (the scan timeout counts from the rescan, not from the first scan)."""
    return replace(ctx, errors=[], cache={}, started=time.monotonic(), save_unanswered=None)


def touched_keys(
    results: Iterable[TargetResult], paths: set[str], object_ids: set[str], root: Path | None = None
) -> set[str]:
    """Targets a change touched: their file, a file one of their findings names, a file
    inside their directory (the repository target), or their engine object."""
    keys = set()
    for tr in results:
        t = tr.target
        if (
            t.path in paths
            or any(f.location.path in paths for f in tr.findings)
            or (root is not None and t.path and _dir_contains(root, t.path, paths))
            or (object_ids and _is_object(tr.subject, t.key, object_ids))
        ):
            keys.add(t.key)
    return keys


def _dir_contains(root: Path, target_path: str, paths: set[str]) -> bool:
    base = (root / target_path).resolve()
    if not base.is_dir():
        return False
    for p in paths:
        full = (root / p).resolve()
        if full == base or base in full.parents:
            return True
    return False


def _is_object(subject: Any, key: str, object_ids: set[str]) -> bool:
    ident = str(getattr(subject, "id", "") or "")
    return any(oid and (oid == ident or oid in key or (ident and ident.startswith(oid))) for oid in object_ids)


def rescan(
    paths: list[Path],
    base: ScanContext,
    touched_paths: set[str],
    object_ids: set[str],
    old: list[TargetResult],
    post: Post,
    cancelled: Cancelled,
) -> None:
    """Re-analyse only the targets a change touched; post them as one replacement."""
    ctx = fresh_context(base)
    dropped = touched_keys(old, touched_paths, object_ids, ctx.cwd)
    discovery = discover(paths, ctx)
    results: list[TargetResult] = []
    for subject in _subjects(discovery, ctx, engine=bool(object_ids)):
        if cancelled():
            return
        t = subject.target
        if t.key in dropped or t.path in touched_paths or (
            object_ids and _is_object(subject, t.key, object_ids)
        ):
            results.append(analyze_subject(subject, ctx))
    post(TargetsRescanned(dropped, results, list(ctx.errors)))


EVENT_ACTIONS = {
    "container": {"create", "destroy", "start", "stop", "die", "rename", "update", "pause", "unpause"},
    "image": {"pull", "delete", "tag", "untag", "import", "load"},
}


def watch_events(ctx: ScanContext, post: Post, cancelled: Cancelled, keep: Callable[[Any], None]) -> None:
    """Follow `docker events` and post the ones that change the inventory.

    `keep(stream)` hands the open stream to the app so quitting can close it (a blocked
    read would otherwise keep the worker thread alive)."""
    engine = ctx.engine
    if engine is None:
        return
    try:
        stream = engine.api.events(decode=True, filters={"type": ["container", "image"]})
        keep(stream)
        for event in stream:
            if cancelled():
                break
            if not isinstance(event, dict):
                continue
            kind = str(event.get("Type") or "")
            action = str(event.get("Action") or event.get("status") or "").split(":", 1)[0]
            if action not in EVENT_ACTIONS.get(kind, ()):
                continue
            actor = event.get("Actor") if isinstance(event.get("Actor"), dict) else {}
            attrs = actor.get("Attributes") if isinstance(actor.get("Attributes"), dict) else {}
            oid = str(actor.get("ID") or event.get("id") or "")
            name = str(attrs.get("name") or oid[:12])
            post(EngineEvent(kind, action, oid, name))
    except Exception as exc:  # noqa: BLE001 - the engine went away; the UI carries on
        if not cancelled():
            post(EngineLost(f"engine connection lost: {type(exc).__name__}: {safe(exc, 160)}", engine))
        return
    if not cancelled():
        post(EngineLost("engine event stream ended (engine stopped?)", engine))
