"""Worker bodies for a session over several engines (`lockdock tui --context/--host`).

The engines are scanned by `lockdock.fleet` (one thread and one timeout each, one cached
analysis per image id shared by all of them); this module only wraps that per engine so
each result and each engine's state reaches the app as it happens. After its scan, every
engine that answered gets the session's own connection (`watch_engine`): its `docker
events` stream keeps that engine's rows live, and fixes, undo, inspect and logs of its
containers go through it. Like `scanner`, everything here runs in worker threads and
talks to the UI only through `post`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lockdock import fleet, registry
from lockdock.context import ScanContext
from lockdock.discovery import Discovery
from lockdock.engine.contexts import Endpoint
from lockdock.model import ScanError, TargetKind
from lockdock.scan import TargetResult, analyze_subject
from lockdock.sources.swarm import STACK_FILES
from lockdock.text import safe
from lockdock.tui import scanner
from lockdock.tui.messages import (
    EngineConnected,
    EngineEvent,
    EngineLive,
    EngineLost,
    EngineRowChanged,
    ScanFinished,
    TargetScanned,
)
from lockdock.tui.scanner import Cancelled, Post

LIVE_CONNECT_TIMEOUT = 30.0  # seconds for the session's own connection to an engine


def stack_files(results: Iterable[TargetResult], cwd: Path) -> dict[str, list[str]]:
    """Compose services by name -> their files (absolute), so Swarm stacks link to them."""
    out: dict[str, list[str]] = {}
    for tr in results:
        if tr.target.kind is TargetKind.COMPOSE_SERVICE and tr.target.path:
            out.setdefault(tr.target.name, []).append(str((cwd / tr.target.path).resolve()))
    return out


def full_fleet_scan(paths: list[Path], ctx: ScanContext, endpoints: list[Endpoint], problems: list[str],
                    post: Post, cancelled: Cancelled, *, remote_host_files: bool = False,
                    engine_timeout: float = fleet.DEFAULT_ENGINE_TIMEOUT) -> None:
    """Scan the files once (`scanner.full_scan` without an engine), then every endpoint
    concurrently; post each target as it is done, each engine's state when it changes,
    and one `ScanFinished` (every key, every error) at the very end.

    An engine still busy after `engine_timeout` seconds is marked "timeout" and what it
    finished is kept; one that cannot be reached is "down" with the reason."""
    started = time.monotonic()
    keys: set[str] = set()
    files: list[TargetResult] = []
    finished: list[ScanFinished] = []

    def files_post(msg: Any) -> None:
        if isinstance(msg, ScanFinished):
            finished.append(msg)  # said once, after the engines
        elif not isinstance(msg, EngineConnected):  # the base context has no engine
            if isinstance(msg, TargetScanned):
                files.append(msg.result)
            post(msg)

    ctx.use_engine = False
    scanner.full_scan(paths, ctx, files_post, cancelled)
    if cancelled():
        return
    keys |= {tr.target.key for tr in files}
    ctx.cache[STACK_FILES] = stack_files(files, ctx.cwd)
    cache = fleet.ImageCache()
    lock = threading.Lock()
    reported: set[str] = set()
    runs = [fleet.EngineRun(ep) for ep in endpoints]

    def on_target(tr: TargetResult) -> None:
        if cancelled():
            return
        with lock:
            keys.add(tr.target.key)
        post(TargetScanned(tr))

    def report(run: fleet.EngineRun, state: str) -> None:
        with lock:
            if run.endpoint.name in reported:
                return
            reported.add(run.endpoint.name)
        if cancelled():
            return
        post(EngineRowChanged(run.endpoint.name, state, engine_reason(run, state, engine_timeout),
                              run.version, run.host_facts))

    def one(run: fleet.EngineRun) -> None:
        fleet.scan_engine(run, ctx, engine_timeout, remote_host_files, cache, on_target)
        report(run, "down" if run.version is None else "up")

    threads = []
    for i, run in enumerate(runs):
        post(EngineRowChanged(run.endpoint.name, "scanning"))
        t = threading.Thread(target=one, args=(run,), name=f"lockdock-tui-engine-{i}", daemon=True)
        t.start()
        threads.append(t)
    deadline = time.monotonic() + engine_timeout + 5.0
    for t in threads:
        while t.is_alive() and not cancelled() and time.monotonic() < deadline:
            t.join(0.2)
    if cancelled():
        return
    errors = list(finished[0].errors) if finished else []
    for run in runs:
        if not run.done:
            report(run, "timeout")
        errors.extend(run.errors)
        reason = engine_reason(run, "timeout" if not run.done else "up", engine_timeout)
        if reason:
            errors.append(ScanError(None, reason if reason.startswith("engine ") else
                                    f"engine {safe(run.endpoint.name, 120)}: {reason}"))
    errors += [ScanError(None, p) for p in problems]
    post(ScanFinished(errors, time.monotonic() - started, set(keys)))


def engine_reason(run: fleet.EngineRun, state: str, timeout: float) -> str | None:
    """Why an engine is down or late, one line (None when it answered)."""
    if state == "timeout":
        return f"no complete answer within {timeout:g} s; {len(run.results)} targets kept"
    return run.error


def watch_engine(endpoint: Endpoint, base: ScanContext, epoch: int, post: Post, cancelled: Cancelled,
                 keep: Callable[[Any], None], *, remote_host_files: bool = False) -> None:
    """Open the session's connection to one engine, post it (`EngineLive`), then follow
    its `docker events` (`scanner.watch_events`) until it ends or the app quits; every
    message carries the engine's name. A lost engine posts `EngineLost` with the reason."""
    from lockdock.engine.connect import EngineUnavailable, connect_endpoint
    from lockdock.fleethost import engine_host, is_podman

    name = endpoint.name
    ctx = ScanContext(cwd=base.cwd, config=base.config, use_engine=True)
    try:
        ctx.engine = connect_endpoint(endpoint, timeout=LIVE_CONNECT_TIMEOUT)
        try:
            podman = is_podman(ctx.engine.api.version(api_version=False))
        except Exception:  # noqa: BLE001 - judged as dockerd, as the scan does
            podman = False
        host, _facts = engine_host(endpoint, ctx, remote_files=remote_host_files, podman=podman)
    except EngineUnavailable as exc:
        if not cancelled():
            post(EngineLost(str(exc), None, name))
        return
    except Exception as exc:  # noqa: BLE001 - whatever breaks stays on this engine's row
        if not cancelled():
            post(EngineLost(f"engine {safe(name, 120)}: {type(exc).__name__}: {safe(exc, 200)}", None, name))
        return
    if cancelled():
        ctx.engine.close()
        return
    post(EngineLive(name, ctx.engine, host, epoch))

    def tagged(msg: Any) -> None:
        if isinstance(msg, (EngineEvent, EngineLost)):
            msg.engine_name = name
        post(msg)

    scanner.watch_events(ctx, tagged, cancelled, keep)


def engine_context(base: ScanContext, engine: Any, host: Any, error: str | None = None) -> ScanContext:
    """A context for work on one engine's objects: the session's settings and files root,
    that engine's connection (None with `error` saying why) and its host facts."""
    ctx = scanner.fresh_context(base)
    ctx.engine, ctx.use_engine, ctx.engine_error = engine, True, error
    if host is not None:
        ctx.cache["engine:host"] = host
    return ctx


def rescan_engine(name: str, ctx: ScanContext, object_ids: set[str], old: list[TargetResult],
                  post: Post, cancelled: Cancelled) -> None:
    """Re-analyse the objects `object_ids` of engine `name` (`ctx` from `engine_context`);
    `old` are that engine's targets only, so the same image id on another engine is left
    alone. Posts one `TargetsRescanned`."""
    from lockdock.tui.messages import TargetsRescanned

    registry.load_plugins()
    dropped = scanner.touched_keys(old, set(), object_ids)
    results: list[TargetResult] = []
    discovery = Discovery(roots=[])
    for src in fleet.engine_sources():
        if src.name == "host":
            continue  # an event never changes the daemon settings
        try:
            for subject in src.fn(discovery, ctx):
                if cancelled():
                    return
                t = fleet.tag_target(subject.target, name)
                if t.key in dropped or scanner._is_object(subject, subject.target.key, object_ids):
                    subject.target = t
                    results.append(analyze_subject(subject, ctx))
        except Exception as exc:  # noqa: BLE001 - a broken source must not stop the others
            ctx.error(None, f"internal error in source {src.name}: {type(exc).__name__}: {safe(exc)}")
    errors = [dataclasses.replace(e, message=f"engine {safe(name, 120)}: {e.message}",
                                  target=f"{name}{fleet.KEY_SEP}{e.target}" if e.target else None)
              for e in ctx.errors]
    post(TargetsRescanned(dropped, results, errors))


def rescan_whole_engine(endpoint: Endpoint, base: ScanContext, old_keys: set[str], post: Post,
                        cancelled: Cancelled, *, remote_host_files: bool = False,
                        engine_timeout: float = fleet.DEFAULT_ENGINE_TIMEOUT) -> None:
    """Scan one engine again (it came back after being down): its old targets are replaced
    by what it holds now (one `TargetsRescanned`), then its row's state is posted."""
    from lockdock.tui.messages import TargetsRescanned

    run = fleet.EngineRun(endpoint)
    fleet.scan_engine(run, base, engine_timeout, remote_host_files, fleet.ImageCache(), None)
    if cancelled():
        return
    state = "down" if run.version is None else "up"
    errors = list(run.errors)
    if run.error:
        errors.append(ScanError(None, run.error if run.error.startswith("engine ") else
                                f"engine {safe(endpoint.name, 120)}: {run.error}"))
    post(TargetsRescanned(set(old_keys), list(run.results), errors))
    post(EngineRowChanged(endpoint.name, state, engine_reason(run, state, engine_timeout), run.version,
                          run.host_facts))
