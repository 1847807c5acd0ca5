"""The bodies of the app's background workers: full scan, partial rescan, engine events.

They run in worker threads and talk to the UI only through `post` (thread-safe message
posting), so the first screen never waits for discovery, the engine or layer analysis.
Engine objects (images, containers) are analysed in a small thread pool because each
one waits mostly on the daemon.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.message import Message

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.discovery import Discovery, discover
from lockdock.model import TargetKind
from lockdock.scan import TargetResult, analyze_subject, connect_engine
from lockdock.text import safe
from lockdock.tui.messages import (
    Analysing,
    EngineConnected,
    EngineEvent,
    EngineLost,
    EngineTotals,
    ScanFinished,
    TargetScanned,
    TargetsRescanned,
)

Post = Callable[[Message], Any]
Cancelled = Callable[[], bool]
POOL_SIZE = 4


def _subjects(discovery: Discovery, ctx: ScanContext, *, engine: bool) -> Iterator[Any]:
    """Subjects of every source (engine sources only when `engine`); a broken source is an error."""
    for src in registry.SOURCES:
        if src.needs_engine and (not engine or not ctx.use_engine):
            continue
        yield from _run_source(src, discovery, ctx)


def engine_totals(ctx: ScanContext) -> tuple[int | None, int | None]:
    """How many images and containers there are, for 'image 3/100' progress."""
    if ctx.engine is None:
        return None, None
    try:
        images = len(ctx.engine.api.images(quiet=True))
        containers = len(ctx.engine.api.containers(all=True, quiet=True))
    except Exception:  # noqa: BLE001 - progress only; the scan itself reports engine trouble
        return None, None
    return images, containers


def full_scan(paths: list[Path], ctx: ScanContext, post: Post, cancelled: Cancelled) -> None:
    """Discover, connect, analyse every subject, posting each result as it completes.

    File sources run here, one after the other (they are quick). Engine sources follow,
    containers first so they are not queued behind image layer analysis; engine subjects
    are analysed in a small pool while the next ones are being listed."""
    started = time.monotonic()
    # Connecting and reading the engine wait on the daemon, loading the plugins on imports:
    # overlap them.
    connecting = threading.Thread(target=_connect_and_read, args=(ctx,), name="lockdock-connect")
    connecting.start()
    registry.load_plugins()
    connecting.join()
    engine = ctx.engine
    post(
        EngineConnected(
            engine.endpoint if engine else None,
            engine.version if engine else None,
            ctx.engine_error,
        )
    )
    if engine is not None:
        threading.Thread(
            target=lambda: post(EngineTotals(*engine_totals(ctx))), name="lockdock-totals", daemon=True
        ).start()
    discovery = discover(paths, ctx)
    keys: set[str] = set()
    pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="lockdock-analyse")
    pending: list[Future[Any]] = []

    def feed(src: registry.Source) -> None:
        for subject in _run_source(src, discovery, ctx):
            if cancelled():
                return
            keys.add(subject.target.key)
            pending.append(pool.submit(_analyse_and_post, subject, ctx, post, cancelled))

    try:
        engine_sources = []
        for src in registry.SOURCES:
            if src.needs_engine:
                if ctx.use_engine:
                    engine_sources.append(src)
                continue
            for subject in _run_source(src, discovery, ctx):
                if cancelled():
                    return
                keys.add(subject.target.key)
                post(TargetScanned(analyze_subject(subject, ctx)))
        # Containers first: they are what a busy host has most of, and their analysis is
        # cheap; image layer analysis (docker save) then runs in the pool.
        engine_sources.sort(key=lambda s: (s.name != "containers", s.order))
        for src in engine_sources:
            if cancelled():
                return
            feed(src)
        for fut in list(pending):
            if cancelled():
                return
            fut.exception()  # wait; analyze_subject already turns analyzer crashes into errors
    finally:
        pool.shutdown(wait=not cancelled(), cancel_futures=True)
    if not cancelled():
        post(ScanFinished(list(ctx.errors), time.monotonic() - started, keys))


def _connect_and_read(ctx: ScanContext) -> None:
    """Connect, then start reading the engine's containers and images in the background
    (`lockdock.sources.engine.prefetch`): the engine sources take those answers."""
    connect_engine(ctx)
    if ctx.engine is not None:
        from lockdock.sources.engine import prefetch

        prefetch(ctx)


def _run_source(src: registry.Source, discovery: Discovery, ctx: ScanContext) -> Iterator[Any]:
    try:
        yield from src.fn(discovery, ctx)
    except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
        ctx.error(None, f"internal error in source {src.name}: {type(exc).__name__}: {safe(exc)}")


def _analyse_and_post(subject: Any, ctx: ScanContext, post: Post, cancelled: Cancelled) -> None:
    """Analyse one engine object and post it (before the future completes, so the
    final ScanFinished is always the last message)."""
    if cancelled():
        return
    if subject.target.kind is TargetKind.IMAGE:
        post(Analysing(subject.target.name))
    result = analyze_subject(subject, ctx)
    if not cancelled():
        post(TargetScanned(result))


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
