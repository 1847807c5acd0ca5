"""The app's full scan without Textual: discover, connect, analyse, and tell a `Sink`.

Nothing here imports textual, so the engine can be read before the app exists
(`HeadStart`): `lockdock tui` connects and reads every image and container while Textual
is still being imported and the first screen drawn. `lockdock.tui.scanner` turns what the
scan tells into the app's messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from lockdock import registry
from lockdock.config import Config
from lockdock.context import ScanContext
from lockdock.discovery import Discovery, discover
from lockdock.model import ScanError, TargetKind
from lockdock.scan import TargetResult, analyze_subject, connect_engine, subject_kinds
from lockdock.text import safe
from lockdock.tui.childscan import CHILD, CHILD_SOURCES, ChildScan

Cancelled = Callable[[], bool]
POOL_SIZE = 4
CONNECTING = "tui.scanflow:connecting"  # ctx.cache: the HeadStart thread connecting and reading


class Sink(Protocol):
    """Where a full scan reports, in this order: `connected` once, then `totals` (from
    another thread, any time after), `analysing` and `scanned` per target, and `finished`
    last unless the scan was cancelled. Called from worker threads."""

    def connected(self, endpoint: str | None, version: str | None, error: str | None) -> None: ...

    def totals(self, images: int | None, containers: int | None) -> None: ...

    def analysing(self, name: str) -> None: ...

    def scanned(self, result: TargetResult) -> None: ...

    def finished(self, errors: list[ScanError], elapsed: float, keys: set[str]) -> None: ...


def scan_root(paths: list[Path]) -> tuple[list[Path], Path]:
    """The app's resolved paths (default: the current directory) and its working root:
    the first path when it is a directory, else its folder."""
    resolved = [Path(p).resolve() for p in (paths or [Path(".")])]
    first = resolved[0]
    return resolved, first if first.is_dir() else first.parent


def new_context(root: Path, config: Config, use_engine: bool) -> ScanContext:
    """A fresh scan context for the app (one per full scan)."""
    return ScanContext(cwd=root, config=config, use_engine=use_engine)


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


def full_scan(paths: list[Path], ctx: ScanContext, sink: Sink, cancelled: Cancelled) -> None:
    """Discover, connect, analyse every subject, telling `sink` of each result as it completes.

    File sources run here, one after the other (they are quick). Engine sources follow,
    containers first so they are not queued behind image layer analysis; engine subjects
    are analysed in a small pool while the next ones are being listed."""
    started = time.monotonic()
    # Connecting and reading the engine wait on the daemon, loading the plugins on imports:
    # overlap them.
    connecting = ctx.cache.pop(CONNECTING, None)  # started already by a HeadStart
    child: ChildScan | None = ctx.cache.pop(CHILD, None)  # forked by a HeadStart
    if connecting is None:
        connecting = threading.Thread(target=connect_engine if child else _connect_and_read, args=(ctx,),
                                      name="lockdock-connect")
        connecting.start()
    if child is None:
        registry.load_plugins()
    drained: list[tuple[set[str], list[ScanError]] | None] = []
    drain = None
    hold = ChildHold(sink)  # the child's results are taken in while this process connects; told after
    if child is not None:
        drain = threading.Thread(target=_from_child, args=(child, hold, drained, cancelled),
                                 name="lockdock-child-results", daemon=True)
        drain.start()
    connecting.join()
    engine = ctx.engine
    if child is not None and engine is None:  # this process could not connect: say so, as without a child
        hold.drop()
        child.close()
        if drain is not None:
            drain.join()
        child, drain, drained = None, None, []
        registry.load_plugins()
    sink.connected(engine.endpoint if engine else None, engine.version if engine else None, ctx.engine_error)
    if not cancelled():
        hold.open()
    if engine is not None and child is None:  # a child says how many objects it listed
        threading.Thread(target=lambda: sink.totals(*engine_totals(ctx)), name="lockdock-totals",
                         daemon=True).start()
    discovery = discover(paths, ctx)
    if child is not None:  # the sources of what is here; rules load with their kind's first subject
        registry.load_sources(subject_kinds(discovery, ctx))
    keys: set[str] = set()
    pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="lockdock-analyse")
    pending: list[Future[Any]] = []

    def feed(src: registry.Source, delivered: set[str]) -> None:
        for subject in run_source(src, discovery, ctx):
            if cancelled():
                return
            if subject.target.key in delivered:
                continue
            keys.add(subject.target.key)
            pending.append(pool.submit(_analyse_and_tell, subject, ctx, sink, cancelled))

    try:
        engine_sources = []
        for src in registry.SOURCES:
            if src.needs_engine:
                if ctx.use_engine:
                    engine_sources.append(src)
                continue
            for subject in run_source(src, discovery, ctx):
                if cancelled():
                    return
                keys.add(subject.target.key)
                sink.scanned(analyze_subject(subject, ctx))
        # Containers first: they are what a busy host has most of, and their analysis is
        # cheap; image layer analysis (docker save) then runs in the pool.
        engine_sources.sort(key=lambda s: (s.name != "containers", s.order))
        delivered: set[str] = set()
        if child is not None and drain is not None:
            drain.join()
            if cancelled():
                return
            delivered, errors = drained[0] if drained else (child.delivered, [])
            keys.update(delivered)
            ctx.errors.extend(errors)
            if child.failure is None and drained:
                engine_sources = [s for s in engine_sources if s.name not in CHILD_SOURCES]
            else:  # the child failed: what it did not deliver is analysed here
                registry.load_plugins()
        for src in engine_sources:
            if cancelled():
                return
            feed(src, delivered)
        for fut in list(pending):
            if cancelled():
                return
            fut.exception()  # wait; analyze_subject already turns analyzer crashes into errors
    finally:
        pool.shutdown(wait=not cancelled(), cancel_futures=True)
    if not cancelled():
        sink.finished(list(ctx.errors), time.monotonic() - started, keys)


class ChildHold:
    """What a child says before `sink.connected` (which the sink hears first): its results
    kept in order, its last totals kept, image names in progress dropped. `open` tells
    them and passes on what follows; after `drop` (this process has no engine) nothing of
    the child's is told. Safe from any thread."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._lock = threading.Lock()
        self._state = "holding"  # holding, open, dropped
        self._held: list[TargetResult] = []
        self._counts: tuple[int | None, int | None] | None = None

    def scanned(self, tr: TargetResult) -> None:
        with self._lock:
            if self._state == "open":
                self.sink.scanned(tr)
            elif self._state == "holding":
                self._held.append(tr)

    def totals(self, images: int | None, containers: int | None) -> None:
        with self._lock:
            if self._state == "open":
                self.sink.totals(images, containers)
            elif self._state == "holding":
                self._counts = (images, containers)

    def analysing(self, name: str) -> None:
        with self._lock:
            if self._state == "open":
                self.sink.analysing(name)

    def open(self) -> None:
        """Tell what was held, and from now on pass everything on."""
        with self._lock:
            if self._state != "holding":
                return
            self._state = "open"
            if self._counts is not None:
                self.sink.totals(*self._counts)
            for tr in self._held:
                self.sink.scanned(tr)
            self._held.clear()

    def drop(self) -> None:
        """Tell nothing of the child's, held or to come."""
        with self._lock:
            self._state = "dropped"
            self._held.clear()


def _from_child(child: ChildScan, tell: Sink | ChildHold, out: list[tuple[set[str], list[ScanError]] | None],
                cancelled: Cancelled) -> None:
    """Tell `tell` (a `Sink`, or the `ChildHold` in front of one) of every result the child
    sends, then put (the keys it delivered, its errors) in `out`; None when the scan was
    cancelled."""
    try:
        for tr in child.results(cancelled, tell.totals, tell.analysing):
            tell.scanned(tr)
    except Exception as exc:  # noqa: BLE001 - the scan then analyses the rest itself
        child.failure = child.failure or f"{type(exc).__name__}: {safe(exc)}"
    out.append(None if cancelled() else (child.delivered, child.errors))


def _connect_and_read(ctx: ScanContext) -> None:
    """Connect, then start reading the engine's containers and images in the background
    (`lockdock.sources.engine.prefetch`): the engine sources take those answers."""
    connect_engine(ctx)
    if ctx.engine is not None:
        from lockdock.sources.engine import prefetch

        prefetch(ctx)


def run_source(src: registry.Source, discovery: Discovery, ctx: ScanContext) -> Iterator[Any]:
    """The subjects of one source; a source that crashes is an error of the scan, not of the app."""
    try:
        yield from src.fn(discovery, ctx)
    except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
        ctx.error(None, f"internal error in source {src.name}: {type(exc).__name__}: {safe(exc)}")


def _analyse_and_tell(subject: Any, ctx: ScanContext, sink: Sink, cancelled: Cancelled) -> None:
    """Analyse one engine object and tell the sink (before the future completes, so
    `finished` is always the last call)."""
    if cancelled():
        return
    if subject.target.kind is TargetKind.IMAGE:
        sink.analysing(subject.target.name)
    result = analyze_subject(subject, ctx)
    if not cancelled():
        sink.scanned(result)


class HeadStart:
    """The engine read (and analysed) before the app and Textual are imported.

    `lockdock tui` builds one first thing (`create_app(..., head_start=True)`). Where a
    child process can be forked (`childscan.wanted`), a child connects, reads and analyses
    every image and container (`childscan.ChildScan`) on another CPU while this process
    imports Textual and draws the first screen; this process connects on its own (for the
    status line, events, fixes and rescans) when the app's first full scan starts, and that
    scan (`full_scan` with this `ctx`) takes the child's results. Connecting here during
    Textual's import cost the first screen more than it saved (README, Benchmarks).
    Without a child, connecting and listing and inspecting every image and container
    (`sources.engine.prefetch`) run in background threads here, and the first scan takes
    those answers; only the reads start early then, as analysing too would compete for the
    interpreter lock with Textual's import and delay the first screen.
    `ctx` and `paths` are the ones the app uses."""

    def __init__(self, paths: list[Path], config: Config, use_engine: bool) -> None:
        self.paths, root = scan_root(paths)
        self.ctx = new_context(root, config, use_engine)
        self.child: ChildScan | None = None
        if use_engine:
            self.child = ChildScan.start(self.ctx)  # first: this process runs no other thread yet
            if self.child is not None:  # this process connects when the first scan starts
                self.ctx.cache[CHILD] = self.child
            else:
                thread = threading.Thread(target=_connect_and_read, args=(self.ctx,), name="lockdock-connect",
                                          daemon=True)
                thread.start()
                self.ctx.cache[CONNECTING] = thread

    def close(self) -> None:
        """Stop the child when the app ends before its first scan took the results."""
        if self.child is not None and self.ctx.cache.pop(CHILD, None) is not None:
            self.child.close()
