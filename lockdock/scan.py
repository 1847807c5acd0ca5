"""The scan pipeline: discover -> sources -> analyzers -> suppressions -> fix summaries.

One function per stage so the CLI runs them all in a row and the TUI can run the same
stages per target in background workers (and rescan only what a fix touched).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock import checks, registry
from lockdock.cache import CACHED_KINDS, Entry, ResultCache
from lockdock.context import ScanContext
from lockdock.discovery import Discovery, discover
from lockdock.files import recording_reads
from lockdock.model import Finding, Fix, ScanError, Severity, Target, TargetKind
from lockdock.suppress import apply_suppressions
from lockdock.text import safe


@dataclass
class TargetResult:
    target: Target
    subject: Any
    findings: list[Finding] = field(default_factory=list)
    # (the findings as they were, their compact JSON report entries joined by commas), made
    # ahead where the subject was analysed (`ScanContext.report_entries`); the report uses
    # them while `findings` still holds exactly those findings.
    encoded: tuple[list[Finding], bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def active(self) -> list[Finding]:
        """Findings that are not suppressed."""
        return [f for f in self.findings if f.suppressed is None]

    @property
    def level(self) -> int:
        return level_reached(self.active)

    @property
    def worst(self) -> Severity | None:
        sev = [severity_of(f) for f in self.active]
        return max(sev) if sev else None


@dataclass
class ScanResult:
    targets: dict[str, TargetResult] = field(default_factory=dict)
    errors: list[ScanError] = field(default_factory=list)
    engine_endpoint: str | None = None
    engine_error: str | None = None
    # One entry per engine of a fleet scan (`lockdock.fleet.EngineRun.to_json`); empty otherwise.
    engines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for t in self.targets.values() for f in t.findings]


def severity_of(finding: Finding) -> Severity:
    if finding.severity is not None:
        return finding.severity
    return checks.get(finding.check).severity


def level_reached(findings: Iterable[Finding]) -> int:
    """Highest N such that no check of level <= N fails (0 when a level-1 check fails)."""
    failing = [checks.get(f.check).level for f in findings]
    return (min(failing) - 1) if failing else 4


ENGINE_KINDS = frozenset({TargetKind.IMAGE, TargetKind.CONTAINER, TargetKind.HOST, TargetKind.SWARM_SERVICE})
COMPOSE_KINDS = frozenset({TargetKind.COMPOSE_FILE, TargetKind.COMPOSE_SERVICE})  # analysed in workers when many


def connect_engine(ctx: ScanContext) -> None:
    """Fill `ctx.engine` (or `ctx.engine_error`) when the engine is wanted."""
    if not ctx.use_engine or ctx.engine is not None:
        return
    from lockdock.engine.connect import EngineUnavailable, connect

    try:
        timeout = float(os.environ.get("LOCKDOCK_ENGINE_TIMEOUT", "10"))
    except ValueError:
        timeout = 10.0
    timeout = max(1.0, min(timeout, ctx.remaining()))  # every engine call, within the scan's budget
    try:
        ctx.engine = connect(timeout=timeout)
    except EngineUnavailable as exc:
        ctx.engine_error = str(exc)


def analyze_subject(subject: Any, ctx: ScanContext) -> TargetResult:
    """Run every analyzer of the subject's kind; a crashing analyzer becomes an error entry."""
    target: Target = subject.target
    result = TargetResult(target, subject)
    premade = getattr(subject, "report_findings", None)
    if premade is not None:  # read back from a JSON report (lockdock.reportfile): shown as it was
        result.findings = list(premade)
        return result
    for analyzer in registry.analyzers_for(target.kind):
        try:
            for finding in analyzer.fn(subject, ctx):
                result.findings.append(finding)
        except Exception as exc:  # noqa: BLE001 - one broken check must not stop the scan
            ctx.error(
                target.path,
                f"internal error in {analyzer.name} on {safe(target.name, 80)}: "
                f"{type(exc).__name__}: {safe(exc, 200)}",
                target=target.key,
            )
    keeps = getattr(subject, "keeps", None)  # a subject may narrow what applies to it
    if keeps is not None:
        result.findings = [f for f in result.findings if keeps(f)]
    finish_findings(result, ctx)
    return result


def finish_findings(result: TargetResult, ctx: ScanContext) -> None:
    """Severity overrides, suppressions and fix summaries, in that order."""
    for f in result.findings:
        if f.check in ctx.config.severity:
            f.severity = ctx.config.severity[f.check]
    apply_suppressions(result.findings, result.subject, ctx)
    for f in result.findings:
        if f.fix is None:
            f.fix = fix_summary(f, result.subject, ctx)
    result.findings.sort(
        key=lambda f: (
            checks.LAYER_INDEX[f.layer],
            -severity_of(f),
            f.location.line or 0,
            f.check,
        )
    )


def fix_summary(finding: Finding, subject: Any, ctx: ScanContext) -> Fix | None:
    """The fix of a finding, computed now unless its fixer is lazy (engine measurements)."""
    for fx in registry.fixers_for(finding.check, finding.target.kind):
        if fx.lazy:
            return Fix(fx.title, fx.applicability, [], check=finding.check, pending=True, target=finding.target.key)
        try:
            fix = fx.fn(finding, subject, ctx)
        except Exception as exc:  # noqa: BLE001 - a broken fixer only loses its fix
            ctx.warn(finding.location.path, f"fixer {fx.name} failed: {type(exc).__name__}: {safe(exc)}")
            continue
        if fix is not None:
            fix.check = fix.check or finding.check
            fix.target = fix.target or finding.target.key
            return fix
    return None


def subject_kinds(discovery: Discovery, ctx: ScanContext) -> set[TargetKind]:
    """The kinds the sources can find subjects of in this scan: those of the files discovery
    found, and the engine's unless the scan is of files only (`--no-engine` without
    `--daemon-json`). Only their source modules are imported (`registry.load_sources`)."""
    kinds: set[TargetKind] = set()
    if discovery.dockerfiles:
        kinds.add(TargetKind.DOCKERFILE)
    if discovery.compose_files:
        kinds.update((TargetKind.COMPOSE_FILE, TargetKind.COMPOSE_SERVICE))
    if discovery.repo_roots:
        kinds.add(TargetKind.REPO)
    if ctx.use_engine or ctx.daemon_json is not None:
        kinds.update(ENGINE_KINDS)
    return kinds


def iter_subjects(discovery: Discovery, ctx: ScanContext) -> Iterable[Any]:
    """All subjects from every registered source of `subject_kinds`, files first, engine last."""
    registry.load_sources(subject_kinds(discovery, ctx))
    # A copy: the rules of a kind, imported with its first subject, may import another kind's
    # source module, which registers itself (a kind with nothing to find: loaded above if not).
    for src in tuple(registry.SOURCES):
        if src.needs_engine and not ctx.use_engine:
            continue
        try:
            yield from src.fn(discovery, ctx)
        except Exception as exc:  # noqa: BLE001 - a broken source must not stop the others
            ctx.error(None, f"internal error in source {src.name}: {type(exc).__name__}: {safe(exc)}")


BATCH_SIZE = 256  # subjects of one kind handed together to the kind's batch hooks (ShellCheck)


def scan(
    paths: list[Path],
    ctx: ScanContext,
    *,
    on_target: Callable[[TargetResult], None] | None = None,
    use_cache: bool = False,
    selection: str = "",
    throughput: bool = False,
    recording: Any = None,
) -> ScanResult:
    """Scan files under `paths` and (when wanted) the engine; the headless entry point.

    Consecutive subjects of a kind with batch hooks are analysed in batches of BATCH_SIZE
    (results keep the sources' order). With `use_cache`, a Dockerfile whose cached result
    is still valid is not analysed again (lockdock.cache; `selection` says which checks the
    caller keeps, part of the key); its findings then carry what reports read, without
    payloads or fix edits, so a caller that fixes scans without the cache. `throughput` is
    for one-shot commands (`lockdock scan`): a files-only scan of many Dockerfiles analyses
    them in worker processes (lockdock.parallel) while this one reads the next files (the
    command also runs the garbage collector rarely: `lockdock.cli.scan.fewer_collections`);
    the result, its order and its errors are those of a plain scan. `recording`
    (lockdock.scanrecord.Recorder) lends its result cache and is told what discovery found."""
    return _scan(paths, ctx, on_target, use_cache, selection, throughput, recording)


def _scan(
    paths: list[Path],
    ctx: ScanContext,
    on_target: Callable[[TargetResult], None] | None,
    use_cache: bool,
    selection: str,
    throughput: bool,
    recording: Any = None,
) -> ScanResult:
    # Files only: the engine client, its sources and the image/container analyzers stay unimported.
    files_only = not ctx.use_engine and ctx.daemon_json is None
    connect_engine(ctx)
    if ctx.engine is not None:  # the engine answers while the plugins are imported
        from lockdock.sources.engine import prefetch

        prefetch(ctx, split=throughput)
    if ctx.engine is not None:  # rules load per kind with its first subject; the engine's while it answers
        registry.load_plugins(registry.engine_kinds())
    result = ScanResult(engine_error=ctx.engine_error)
    if ctx.engine is not None:
        result.engine_endpoint = ctx.engine.endpoint
    result_cache = None
    if use_cache:
        result_cache = recording.cache if recording is not None else ResultCache.open(ctx, selection=selection)
    if result_cache is not None:  # Dockerfile sources replay their load records from it
        ctx.cache["result_cache"] = result_cache
    discovery = discover(paths, ctx)
    if recording is not None:
        recording.discovery = discovery
    batch: list[Any] = []
    workers = _workers(throughput and files_only)
    if workers > 1:  # compose projects may be loaded in two processes (lockdock.composesplit)
        ctx.cache["compose-split-allowed"] = True
    pool: Any = None  # lockdock.parallel.FilePool, started by the first batch big enough
    # Batches handed to the pool, recorded in order by drain(): (subjects, cache entries,
    # the submitted analysis, len(ctx.errors) when submitted: where their errors go).
    pending: list[tuple[list[Any], list[Entry | None], Any, int]] = []

    def done(tr: TargetResult) -> None:
        result.targets[tr.target.key] = tr
        if on_target is not None:
            on_target(tr)

    def flush() -> None:
        nonlocal pool
        if not batch:
            return
        cache = result_cache if result_cache is not None and batch[0].target.kind in CACHED_KINDS else None
        entries = [cache.get(s) if cache is not None else None for s in batch]
        misses = [s for s, e in zip(batch, entries, strict=True) if e is None]
        if pool is None and workers > 1 and len(misses) >= _parallel().MIN_FILES and _parallel().can_fork() \
                and batch[0].target.kind == TargetKind.DOCKERFILE:
            pool = _parallel().FilePool(ctx, workers, record_reads=cache is not None)
        if pool is not None and batch[0].target.kind == TargetKind.DOCKERFILE:
            pending.append((list(batch), entries, pool.submit([s.path for s in misses]), len(ctx.errors)))
            batch.clear()
            return
        run_batch_hooks(misses, ctx)
        for subject, entry in zip(batch, entries, strict=True):
            done(analyze_cached(subject, ctx, cache, entry=entry, looked_up=True))
        batch.clear()

    def drain() -> None:
        """Record the batches the pool analysed, in order, their errors where serial put them."""
        inserted = 0
        for subjects, entries, submitted, mark in pending:
            cache = result_cache
            results = iter(submitted.results() or _analyze_here(subjects, entries, ctx, cache is not None))
            errors: list[ScanError] = []
            for subject, entry in zip(subjects, entries, strict=True):
                if entry is not None:
                    errors.extend(entry.errors)
                    done(TargetResult(subject.target, subject, list(entry.findings)))
                    continue
                got = next(results)
                if got is None:  # the worker could not read it again: analyse it here
                    got = _analyze_here([subject], [None], ctx, cache is not None)[0]
                assert got is not None
                findings, errs, reads = got
                errors.extend(errs)
                if cache is not None:
                    cache.put(subject, findings, errs, reads)
                done(TargetResult(subject.target, subject, findings))
            inserted += _put_errors_back(ctx, mark + inserted, errors)
        pending.clear()

    # Compose subjects held for worker processes: (subject, len(ctx.errors) when it came).
    held: list[tuple[Any, int]] = []

    def release() -> None:
        """Analyse the held compose subjects (in workers when enough and forking is safe),
        recorded in order, their errors where a serial scan puts them."""
        if not held:
            return
        subjects = [s for s, _ in held]
        split = ctx.cache.get("compose-split")  # lockdock.composesplit.RUNNING: a child has its share
        if split is not None:  # this process's own share here, then the child's results
            got = [s.results() if hasattr(s, "split") else _analyze_with_entries(s, ctx) for s in subjects]
        elif len(held) >= _parallel().MIN_SUBJECTS and _parallel().can_fork():
            got = _parallel().analyze_in_workers(subjects, ctx, workers)
        else:
            got = [(*_analyze_taking_errors(s, ctx), None) for s in subjects]
        inserted = 0
        for (subject, mark), (findings, errs, entries) in zip(held, got, strict=True):
            inserted += _put_errors_back(ctx, mark + inserted, errs)
            done(TargetResult(subject.target, subject, findings,
                              encoded=None if entries is None else (list(findings), entries)))
        held.clear()

    try:
        batched: dict[TargetKind, bool] = {}
        for subject in iter_subjects(discovery, ctx):
            kind = subject.target.kind
            if workers > 1 and kind in COMPOSE_KINDS:
                flush()
                drain()
                held.append((subject, len(ctx.errors)))
                continue
            release()
            if kind not in batched:
                # A cached kind is batched without asking the registry: a scan whose every
                # result is a hit then imports none of that kind's plugin modules.
                batched[kind] = kind not in ENGINE_KINDS and (
                    (result_cache is not None and kind in CACHED_KINDS) or bool(registry.batch_hooks_for(kind)))
            if batched[kind]:
                if batch and batch[0].target.kind != kind:
                    flush()
                batch.append(subject)
                if len(batch) >= BATCH_SIZE:
                    flush()
                continue
            flush()
            drain()
            if ctx.out_of_time() and kind in ENGINE_KINDS:
                # Bounded scan: an engine object left after the timeout is an error, not a pass.
                ctx.error(None, f"{subject.target.kind.value} {safe(subject.target.name, 120)} not scanned: "
                          f"the scan timeout ({ctx.timeout:g} s) was reached", target=subject.target.key)
                continue
            done(analyze_cached(subject, ctx, result_cache))
        flush()
        drain()
        release()
    finally:
        ctx.cache.pop("result_cache", None)
        if pool is not None:
            pool.close()
        split = ctx.cache.get("compose-split")  # lockdock.composesplit.RUNNING
        if split is not None:  # a scan stopped early: the compose child is ended, not left working
            split.close()
        if "engine.forkscan:share" in ctx.cache:  # a container share never collected (the scan stopped)
            from lockdock.engine.forkscan import abandon

            abandon(ctx)
    result.errors = list(ctx.errors)
    return result


def _parallel() -> Any:
    from lockdock import parallel

    return parallel


def _workers(wanted: bool) -> int:
    """Worker processes for this scan: 0 unless `wanted` and more than one is available."""
    if not wanted:
        return 0
    n = _parallel().workers_wanted()
    return n if n > 1 else 0


def _analyze_here(subjects: list[Any], entries: list[Entry | None], ctx: ScanContext,
                  record_reads: bool) -> list[Any]:
    """What a worker would have sent for the misses of `subjects` (lockdock.parallel.FileResult),
    computed in this process; the errors are taken out of `ctx.errors` like a worker's."""
    misses = [s for s, e in zip(subjects, entries, strict=True) if e is None]
    run_batch_hooks(misses, ctx)
    out = []
    for subject in misses:
        first = len(ctx.errors)
        with recording_reads() as reads:
            tr = analyze_subject(subject, ctx)
        with ctx._lock:
            errs = ctx.errors[first:]
            del ctx.errors[first:]
        out.append((tr.findings, errs, list(reads) if record_reads else []))
    return out


def _put_errors_back(ctx: ScanContext, at: int, errors: list[ScanError]) -> int:
    """Insert errors of work done out of order (worker processes) at `at`, where a serial scan
    would have recorded them; returns how many, for the next insertion's offset."""
    if not errors:
        return 0
    with ctx._lock:
        ctx.errors[at:at] = errors
    return len(errors)


def _analyze_taking_errors(subject: Any, ctx: ScanContext) -> tuple[list[Any], list[ScanError]]:
    """`analyze_subject` in this process, its errors taken out of `ctx.errors` (as a worker's)."""
    first = len(ctx.errors)
    tr = analyze_subject(subject, ctx)
    with ctx._lock:
        errs = ctx.errors[first:]
        del ctx.errors[first:]
    return tr.findings, errs


def _analyze_with_entries(subject: Any, ctx: ScanContext) -> tuple[list[Any], list[ScanError], bytes | None]:
    """`_analyze_taking_errors`, with the report entries when the scan asks for them."""
    findings, errs = _analyze_taking_errors(subject, ctx)
    return findings, errs, ctx.report_entries(findings) if ctx.report_entries is not None else None


def run_batch_hooks(subjects: list[Any], ctx: ScanContext) -> None:
    """Call the batch hooks of the subjects' kinds (they only warm caches; a failure is a warning)."""
    by_kind: dict[TargetKind, list[Any]] = {}
    for s in subjects:
        by_kind.setdefault(s.target.kind, []).append(s)
    for kind, group in by_kind.items():
        for hook in registry.batch_hooks_for(kind):
            try:
                hook(group, ctx)
            except Exception as exc:  # noqa: BLE001 - a broken batch step only loses its speed-up
                ctx.warn(None, f"internal error in batch step {getattr(hook, '__qualname__', hook)}: "
                         f"{type(exc).__name__}: {safe(exc, 200)}")


def analyze_cached(
    subject: Any, ctx: ScanContext, cache: ResultCache | None, *, entry: Entry | None = None, looked_up: bool = False
) -> TargetResult:
    """`analyze_subject`, served from `cache` when it holds a valid result (and stored there).

    `entry`/`looked_up`: the caller already asked the cache (batches look up first, so only
    the misses go to the batch hooks)."""
    if cache is None or subject.target.kind not in CACHED_KINDS:
        return analyze_subject(subject, ctx)
    if not looked_up:
        entry = cache.get(subject)
    if entry is not None:
        with ctx._lock:
            ctx.errors.extend(entry.errors)  # the warnings its analysis gave, in the same place
        return TargetResult(subject.target, subject, list(entry.findings))
    first_error = len(ctx.errors)
    with recording_reads() as reads:
        tr = analyze_subject(subject, ctx)
    cache.put(subject, tr.findings, ctx.errors[first_error:], reads)
    return tr
