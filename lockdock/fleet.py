"""Scanning several engines in one run: docker contexts, `--host` URLs, Podman, Swarm.

Files are scanned once. Each engine is scanned in its own thread with its own timeout
(connect, host settings, images, containers, Swarm services): one engine that is down,
slow or dies mid-scan becomes an error naming it, and the others' results are kept.
Every engine target carries `Target.engine` (the context name or host URL) and a key
prefixed with it, so keys stay unique when two hosts hold the same image or container id.
Image ids are content addresses: an image with the same id and tags on a second engine
reuses the first engine's analysis (cloned onto its own target) instead of re-reading
its layers.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.discovery import Discovery
from lockdock.engine.contexts import Endpoint
from lockdock.model import ScanError, Target, TargetKind
from lockdock.scan import ENGINE_KINDS, ScanResult, TargetResult, analyze_subject, scan
from lockdock.sources.swarm import STACK_FILES
from lockdock.text import safe

DEFAULT_ENGINE_TIMEOUT = 120.0  # seconds per engine (connect + every object on it)
KEY_SEP = "|"


@dataclass
class EngineRun:
    """What happened on one engine; `to_json()` is the JSON report's `engines` entry."""

    endpoint: Endpoint
    version: str | None = None
    kind: str = "docker"  # "docker" or "podman"
    swarm_manager: bool = False
    host_facts: str | None = None
    error: str | None = None
    seconds: float = 0.0
    done: bool = False
    results: list[TargetResult] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    reused_images: int = 0
    not_judged: list[str] = field(default_factory=list)  # host checks this engine cannot answer
    # daemon.json fixes not offered: this engine's host files are not on this machine
    host_fixes_withheld: int = 0
    # With `keep_engines`: the open connection, for fixes routed to this engine (the
    # caller closes it); None when not kept or the engine did not answer in time.
    engine: Any = None
    abandoned: bool = False  # the run outlived its timeout: nothing may be kept any more
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.endpoint.name, "host": self.endpoint.host, "context": self.endpoint.context,
            "kind": self.kind, "version": self.version, "swarm_manager": self.swarm_manager,
            "host_settings": self.host_facts, "not_judged": self.not_judged, "error": self.error, "seconds": round(self.seconds, 3),
            "targets": len(self.results), "reused_image_analyses": self.reused_images,
        }


def tag_target(target: Target, engine: str) -> Target:
    """`target` as it lives on `engine`: the engine set, the key (and parent) prefixed."""
    parent = target.parent
    if parent and parent.split(":", 1)[0] in {k.value for k in ENGINE_KINDS}:
        parent = f"{engine}{KEY_SEP}{parent}"
    return dataclasses.replace(target, engine=engine, key=f"{engine}{KEY_SEP}{target.key}", parent=parent)




class ImageCache:
    """Analyses of images by (id, tags), shared by the engines of one fleet scan."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: dict[tuple[str, tuple[str, ...]], TargetResult] = {}
        # Analyses under way: a second engine waits for the first instead of repeating it.
        self.pending: dict[tuple[str, tuple[str, ...]], threading.Event] = {}

    @staticmethod
    def key(subject: Any) -> tuple[str, tuple[str, ...]] | None:
        image_id = getattr(subject, "id", None)
        if not isinstance(image_id, str) or not image_id.startswith("sha256:"):
            return None
        return image_id, tuple(sorted(getattr(subject, "repo_tags", None) or []))


def _clone(done: TargetResult, subject: Any) -> TargetResult:
    """The findings of an image analysed on another engine, re-targeted to `subject`."""
    target = subject.target
    out = TargetResult(target, subject)
    for f in done.findings:
        g = copy.copy(f)
        g.target = target
        if f.fix is not None:
            g.fix = dataclasses.replace(f.fix, target=target.key)
        out.findings.append(g)
    return out


def engine_sources() -> list[registry.Source]:
    """The sources that read an engine (images, containers, swarm services) and its host."""
    return [s for s in registry.SOURCES if s.needs_engine or s.name == "host"]


def scan_engine(run: EngineRun, base: ScanContext, timeout: float, remote_files: bool,
                 images: ImageCache, on_target: Callable[[TargetResult], None] | None,
                 keep: bool = False) -> None:
    """Connect to `run.endpoint` and analyse every engine target there into `run`.

    Each finished target goes to `on_target` (called from this thread) and into
    `run.results`; images already analysed on another engine come from `images`. Trouble
    (engine down, slower than `timeout` seconds) is recorded in `run.error`, never raised.
    `keep`: leave the connection open in `run.engine` (fix and the TUI use it afterwards)."""
    from lockdock.engine.connect import EngineUnavailable, connect_endpoint
    from lockdock.fleethost import engine_host, is_podman

    start = time.monotonic()
    name = run.endpoint.name
    ctx = ScanContext(cwd=base.cwd, config=base.config, use_engine=True, images=list(base.images), timeout=timeout)
    ctx.cache[STACK_FILES] = base.cache.get(STACK_FILES) or {}
    try:
        try:
            ctx.engine = connect_endpoint(run.endpoint, timeout=min(timeout, 30.0))
        except EngineUnavailable as exc:
            run.error = str(exc)
            return
        run.version = ctx.engine.version
        try:
            podman = is_podman(ctx.engine.api.version(api_version=False))
        except Exception:  # noqa: BLE001 - an engine without /version is judged as dockerd
            podman = False
        run.kind = "podman" if podman else "docker"
        swarm = ctx.engine.info.get("Swarm") if isinstance(ctx.engine.info.get("Swarm"), dict) else {}
        run.swarm_manager = bool(swarm.get("ControlAvailable"))
        host, facts = engine_host(run.endpoint, ctx, remote_files=remote_files, podman=podman)
        run.host_facts = facts.note
        with ctx._lock:
            ctx.cache["engine:host"] = host  # the host source and container checks use this one
        discovery = Discovery(roots=[])
        for src in engine_sources():
            if ctx.out_of_time():
                break
            try:
                for subject in src.fn(discovery, ctx):
                    if ctx.out_of_time():
                        ctx.error(None, f"{subject.target.kind.value} {safe(subject.target.name, 120)} not scanned: "
                                  f"the engine timeout ({timeout:g} s) was reached")
                        continue
                    subject.target = tag_target(subject.target, name)
                    tr = _analyze(subject, ctx, images, run)
                    if tr.target.kind is TargetKind.HOST:
                        run.host_fixes_withheld += _judge_host(tr, facts)
                    run.results.append(tr)
                    if on_target is not None:
                        on_target(tr)
            except Exception as exc:  # noqa: BLE001 - a broken source must not stop the others
                ctx.error(None, f"internal error in source {src.name}: {type(exc).__name__}: {safe(exc)}")
        run.not_judged = sorted(facts.skip_checks)
    except Exception as exc:  # noqa: BLE001 - whatever happens stays on this engine
        run.error = f"engine {safe(name, 120)}: {type(exc).__name__}: {safe(exc, 200)}"
    finally:
        run.errors = [dataclasses.replace(e, message=f"engine {safe(name, 120)}: {e.message}",
                                          target=f"{name}{KEY_SEP}{e.target}" if e.target else None)
                      for e in list(ctx.errors)]
        with run.lock:
            if keep and not run.abandoned and run.error is None and ctx.engine is not None:
                run.engine = ctx.engine
            elif ctx.engine is not None:
                ctx.engine.close()
            run.seconds = time.monotonic() - start
            run.done = True


def _judge_host(tr: TargetResult, facts: Any) -> int:
    """Drop the host findings this engine cannot answer; a daemon.json fix is only offered
    for a file on this machine (never written to another host's path). Returns how many
    fixes were withheld for that reason."""
    tr.findings = [f for f in tr.findings if f.check not in facts.skip_checks]
    withheld = 0
    if facts.source != "files":
        for f in tr.findings:
            withheld += f.fix is not None
            f.fix = None
    return withheld


def _analyze(subject: Any, ctx: ScanContext, images: ImageCache, run: EngineRun) -> TargetResult:
    key = ImageCache.key(subject) if subject.target.kind is TargetKind.IMAGE else None
    if key is None:
        return analyze_subject(subject, ctx)
    with images.lock:
        done = images.done.get(key)
        under_way = images.pending.get(key) if done is None else None
        mine = done is None and under_way is None
        if mine:
            images.pending[key] = threading.Event()
    if under_way is not None:
        under_way.wait(max(0.0, ctx.remaining()))
        with images.lock:
            done = images.done.get(key)
    if done is not None:
        run.reused_images += 1
        return _clone(done, subject)
    try:
        tr = analyze_subject(subject, ctx)
        with images.lock:
            images.done.setdefault(key, tr)
    finally:
        if mine:
            images.pending[key].set()
    return tr


def scan_fleet(
    paths: list[Path],
    ctx: ScanContext,
    endpoints: list[Endpoint],
    *,
    problems: list[str] | None = None,
    remote_host_files: bool = False,
    engine_timeout: float = DEFAULT_ENGINE_TIMEOUT,
    on_target: Callable[[TargetResult], None] | None = None,
) -> ScanResult:
    """Scan the files under `paths` once and every endpoint concurrently.

    `engine_timeout` (seconds) bounds each engine on its own; an engine still busy then
    is reported with what it had finished. `problems` are endpoint errors found while
    resolving the command line (unknown context...), reported as errors."""
    return scan_fleet_runs(paths, ctx, endpoints, problems=problems, remote_host_files=remote_host_files,
                           engine_timeout=engine_timeout, on_target=on_target)[0]


def scan_fleet_runs(
    paths: list[Path],
    ctx: ScanContext,
    endpoints: list[Endpoint],
    *,
    problems: list[str] | None = None,
    remote_host_files: bool = False,
    engine_timeout: float = DEFAULT_ENGINE_TIMEOUT,
    on_target: Callable[[TargetResult], None] | None = None,
    keep_engines: bool = False,
) -> tuple[ScanResult, list[EngineRun]]:
    """`scan_fleet`, also returning each engine's `EngineRun` (in `endpoints` order).

    With `keep_engines` every engine that answered in time stays connected as
    `EngineRun.engine` (for `lockdock fix` to route `docker update` to it); the caller
    closes them. Engines that failed or timed out are closed here."""
    registry.load_plugins()
    wanted, ctx.use_engine = ctx.use_engine, False  # files once, without the local engine
    try:
        result = scan(paths, ctx)
    finally:
        ctx.use_engine = wanted
    stack_files: dict[str, list[str]] = {}
    for tr in result.targets.values():
        if tr.target.kind is TargetKind.COMPOSE_SERVICE and tr.target.path:
            full = str((ctx.cwd / tr.target.path).resolve())
            stack_files.setdefault(tr.target.name, []).append(full)
    ctx.cache[STACK_FILES] = stack_files  # Swarm stacks link to these compose services
    runs = [EngineRun(ep) for ep in endpoints]
    cache = ImageCache()
    threads = [threading.Thread(target=scan_engine,
                                args=(r, ctx, engine_timeout, remote_host_files, cache, on_target, keep_engines),
                                name=f"lockdock-engine-{i}", daemon=True) for i, r in enumerate(runs)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + engine_timeout + 5.0
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    for run in runs:
        with run.lock:
            run.abandoned = not run.done  # a late finish closes its connection itself
        shown = run.endpoint.name
        if not run.done:
            run.error = (f"engine {safe(shown, 120)}: no complete answer within {engine_timeout:g} s; "
                         f"{len(run.results)} targets finished before that are kept")
        for tr in list(run.results):
            result.targets[tr.target.key] = tr
        result.errors.extend(run.errors)
        if run.error:
            msg = run.error if run.error.startswith("engine ") else f"engine {safe(shown, 120)}: {run.error}"
            result.errors.append(ScanError(None, msg))
    for p in problems or []:
        result.errors.append(ScanError(None, p))
    up = [r.endpoint.name for r in runs if r.version is not None]
    result.engine_endpoint = ", ".join(up) if up else None
    down = [r.error for r in runs if r.error]
    result.engine_error = "; ".join(down) if down and not up else None
    result.engines = [r.to_json() for r in runs]
    return result, runs
