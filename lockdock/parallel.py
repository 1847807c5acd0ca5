"""Dockerfile and compose analysis in worker processes, for big trees on machines with
several CPUs.

`lockdock.scan` hands a batch of Dockerfile subjects (already read and parsed, their read
warnings already recorded) to `FilePool.submit()`; worker processes read and parse the
same paths again, run the batch hooks (ShellCheck) and every analyzer, and send back per
file the findings (fix summaries made, suppressions applied, sorted), the errors and
warnings the analysis gave, and the files it read (for the result cache). The scan then
records them in submission order, so the report is the one a serial scan gives.

Workers are forked from the scanning process (POSIX `fork`: they start with its loaded
plugins, configuration and context, with no import or pickling of them), so a pool is made
only where forking is safe: a files-only scan (no engine client) in a process that runs
no other thread. A batch whose workers fail (a crash, a result that cannot be pickled) is
analysed in the scanning process instead; nothing is lost, it is only slower.

`LOCKDOCK_JOBS=N` sets the number of worker processes (1: none); the default is the number
of CPUs this process may run on, none when the load average shows no idle CPU. Below `MIN_FILES` Dockerfiles in a batch the fork and the
second parse cost more than they save (~3 ms of analysis per file against ~30 ms to start a
pool), and the scan stays in one process.

Compose subjects (`analyze_in_workers`, from `MIN_SUBJECTS` on) are not read again: the
workers inherit the loaded projects and analyse subjects by index, sharing the list with
the scanning process through a task counter, and send back each finding in a compact form
that keeps what a report reads (see `_compact`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockdock.files import recording_reads
from lockdock.model import Finding, Fix, Location, ScanError, Target

if TYPE_CHECKING:
    from concurrent.futures import Future

    from lockdock.context import ScanContext

MIN_FILES = 64  # Dockerfiles to analyse in a batch before a pool is worth starting
CHUNK = 24  # files per task: small enough to balance the workers, large enough to batch ShellCheck

# (findings, errors and warnings of the analysis, files read with their sha256) of one file;
# None when the worker could not read or parse it (the scanning process already did).
FileResult = tuple[list[Finding], list[ScanError], list[tuple[Path, str | None]]] | None


def workers_wanted() -> int:
    """Worker processes to use: LOCKDOCK_JOBS when set to a number; else the usable CPUs,
    or 1 (no pool) when the load average says they are all busy already.

    Measured on a shared 2-core machine (load 6-8, 1,000 Dockerfiles): workers cost 30-40%
    more CPU time (a second parse, results pickled, a ShellCheck process each) and the wall
    time did not improve, as there was no idle CPU to run them on; on idle CPUs the parent
    spends 1.1 s where a lone process spends 3.1 s."""
    raw = os.environ.get("LOCKDOCK_JOBS", "").strip()
    if raw.isdigit():
        return max(1, min(int(raw), 64))
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0] >= cpus
    except OSError:
        busy = False
    return 1 if busy else cpus


def fork_or_close(*held: Any) -> int | None:
    """`os.fork()`: the child's pid here, 0 in the child; None when the system refuses, after
    closing what the caller opened for the child (`held`: file descriptors, or objects with
    `close()`)."""
    try:
        return os.fork()
    except OSError:
        for h in held:
            with contextlib.suppress(OSError):
                os.close(h) if isinstance(h, int) else h.close()
        return None


def can_fork() -> bool:
    """True where a forked worker starts in a consistent state: POSIX fork, one thread."""
    return hasattr(os, "fork") and threading.active_count() == 1


# What forked workers analyse with: set in the scanning process just before the pool forks.
_STATE: dict[str, Any] = {}


def _init_worker() -> None:
    import signal

    # Ctrl-C ends a worker at once and quietly (not with a traceback of the queue it waits
    # on): the scanning process, interrupted too, says so and shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    ctx = _STATE["ctx"]
    ctx._lock = threading.Lock()  # never a lock some parent thread held at fork time


def _analyze_paths(paths: list[str], record_reads: bool) -> tuple[int, list[FileResult]]:
    """In a worker: (its pid, one FileResult per path) for `paths`, in order."""
    from lockdock.scan import analyze_subject, run_batch_hooks
    from lockdock.sources.dockerfiles import load_subject

    ctx: ScanContext = _STATE["ctx"]
    subjects = []
    for p in paths:
        first = len(ctx.errors)
        subjects.append(load_subject(Path(p), ctx))
        del ctx.errors[first:]  # said already by the scanning process, which read it first
    run_batch_hooks([s for s in subjects if s is not None], ctx)
    out: list[FileResult] = []
    for subject in subjects:
        if subject is None:
            out.append(None)
            continue
        first = len(ctx.errors)
        if record_reads:
            with recording_reads() as reads:
                tr = analyze_subject(subject, ctx)
        else:
            reads = []
            tr = analyze_subject(subject, ctx)
        out.append((tr.findings, ctx.errors[first:], list(reads)))
        del ctx.errors[first:]
    return os.getpid(), out


@dataclass
class Submitted:
    """The tasks of one submitted batch; `results()` waits for them."""

    futures: list[Future[tuple[int, list[FileResult]]]]
    count: int
    pool: FilePool
    failed: bool = False  # the pool refused the tasks (broken by a worker that died)

    def results(self) -> list[FileResult] | None:
        """One result per submitted path, in order; None when a worker failed (the caller
        then analyses the batch itself)."""
        if self.failed:
            return None
        out: list[FileResult] = []
        for fut in self.futures:
            try:
                pid, part = fut.result()
            except Exception:  # noqa: BLE001 - broken pool, unpicklable result...: analyse here
                return None
            self.pool.pids.add(pid)
            out.extend(part)
        return out if len(out) == self.count else None


class FilePool:
    """Worker processes analysing Dockerfiles for one scan (see the module docstring)."""

    def __init__(self, ctx: ScanContext, workers: int, *, record_reads: bool) -> None:
        import multiprocessing  # here: a scan that starts no pool does not import them
        from concurrent.futures import ProcessPoolExecutor

        _STATE["ctx"] = ctx
        self.record_reads = record_reads
        self.pids: set[int] = set()  # the workers that answered (tests check they exist)
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker
        )

    def submit(self, paths: list[Path]) -> Submitted:
        """Start the analysis of `paths` (in CHUNK-sized tasks) and return at once."""
        names = [str(p) for p in paths]
        try:
            futures = [
                self._executor.submit(_analyze_paths, names[i : i + CHUNK], self.record_reads)
                for i in range(0, len(names), CHUNK)
            ]
        except Exception:  # noqa: BLE001 - BrokenProcessPool, shut down...: the scan analyses them
            return Submitted([], len(names), self, failed=True)
        return Submitted(futures, len(names), self)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        _STATE.clear()


# Compose subjects: projects are loaded (with their .env, overrides, extends and include
# targets) once, before the first subject is yielded, and every check and fixer reads them
# read-only; a forked worker inherits them as they are, so it analyses a subject by its index
# in the list handed over at fork time and sends back what the report needs (`_compact`).
MIN_SUBJECTS = 256  # compose subjects (files and services) before forking pays (~30 ms a pool)
SUBJECT_CHUNK = 64  # subjects per task
CLAIM_TIMEOUT = 10.0  # seconds to wait for the task counter's lock (held for microseconds)

# (findings with their fix summaries, errors and warnings of the analysis, their report
# entries when the scan asks for them: `ScanContext.report_entries`) of one subject
SubjectResult = tuple[list[Finding], list[ScanError], bytes | None]
# The same in the form a worker sends: one tuple per finding (`_compact`).
CompactResult = tuple[list[tuple[Any, ...]], list[ScanError], bytes | None]


def _analyze_indexes(start: int, stop: int) -> list[SubjectResult]:
    """The results of the inherited subjects[start:stop], in order."""
    from lockdock.scan import analyze_subject

    ctx: ScanContext = _STATE["ctx"]
    entries = ctx.report_entries
    out: list[SubjectResult] = []
    for subject in _STATE["subjects"][start:stop]:
        first = len(ctx.errors)
        tr = analyze_subject(subject, ctx)
        # The report's share of the work, done here in parallel too (when it asks).
        out.append((tr.findings, ctx.errors[first:], entries(tr.findings) if entries is not None else None))
        del ctx.errors[first:]
    return out


def _compact(f: Finding, target: Target) -> tuple[Any, ...]:
    """What a report of `lockdock scan` reads of a finding, as plain tuples (a tenth of the
    pickled size of the finding): no payload and no fix edits, which only `fix` and the TUI
    use; the target only when it is not the subject's own."""
    loc = f.location
    where: Any = (loc.path, loc.line, loc.end_line, loc.column) if loc.image_layer is None else loc
    fix = f.fix
    how = None if fix is None else (fix.title, fix.applicability, fix.check, fix.note, fix.target,
                                    fix.pending, fix.reveals)
    return (f.check, None if f.target == target else f.target, f.message, where, f.evidence, f.severity,
            how, f.suppressed, f.scope_lines)


def _expand(row: tuple[Any, ...], target: Target) -> Finding:
    """The finding `_compact` gave `row` for (payload None, fix without edits)."""
    check, other, message, where, evidence, severity, how, suppressed, scope = row
    loc = where if isinstance(where, Location) else Location(*where)
    fix = None if how is None else Fix(how[0], how[1], [], check=how[2], note=how[3], target=how[4],
                                       pending=how[5], reveals=how[6])
    return Finding(check, other if other is not None else target, message, loc, evidence, severity, fix,
                   suppressed, scope_lines=scope)


def _analyze_compact(start: int, stop: int) -> list[CompactResult]:
    """In a worker: `_analyze_indexes`, each finding in its `_compact` form."""
    subjects = _STATE["subjects"]
    return [([_compact(f, subjects[i].target) for f in findings], errors, entries)
            for i, (findings, errors, entries) in enumerate(_analyze_indexes(start, stop), start)]


def _claim(from_front: bool) -> int | None:
    """The next unclaimed task (workers take from the front, the scanning process from the
    back), or None when they have met: a counter pair in shared memory, under its lock.
    A task claimed by a worker that then fails has no result and is analysed again by the
    scanning process (`analyze_in_workers`), so nothing is lost or reported twice."""
    edges = _STATE["edges"]
    lock = edges.get_lock()
    if not lock.acquire(timeout=CLAIM_TIMEOUT):
        return None  # held by a process that died in it: claim nothing more (the rest is redone here)
    try:
        front, back = edges[0], edges[1]
        if front >= back:
            return None
        if from_front:
            edges[0] = front + 1
            return front
        edges[1] = back - 1
        return back - 1
    finally:
        lock.release()


def _worker_task() -> list[tuple[int, list[CompactResult]]]:
    """What a worker runs (its own name: tests replace it to watch or break it): tasks from
    the front until none is left, as (task number, its compact results)."""
    out = []
    while (k := _claim(from_front=True)) is not None:
        out.append((k, _analyze_compact(*_STATE["bounds"][k])))
    return out


def analyze_in_workers(subjects: list[Any], ctx: ScanContext, workers: int) -> list[SubjectResult]:
    """Analyse `subjects` (already loaded, shared read-only) in `workers - 1` forked processes
    and in this one, in SUBJECT_CHUNK tasks: the workers take tasks from the front, this
    process from the back (its results need no pickling) until they meet, so the share of
    each follows how fast each really runs (about half each on idle CPUs, most of it here
    when the workers get little CPU).

    Returns one (findings, errors, report entries or None) per subject, in order: what
    `analyze_subject` gives in one process (the errors taken out of `ctx.errors`), except that the findings analysed in a
    worker carry no payload and their fixes no edits (`_compact`): for a command that reports
    the scan (`lockdock scan`), never for one that applies fixes. Tasks whose worker failed
    (it died, a result could not be pickled) are analysed in this process instead."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    fork = multiprocessing.get_context("fork")
    bounds = [(i, min(i + SUBJECT_CHUNK, len(subjects))) for i in range(0, len(subjects), SUBJECT_CHUNK)]
    parts: list[list[SubjectResult] | None] = [None] * len(bounds)
    _STATE.update(ctx=ctx, subjects=subjects, bounds=bounds)
    try:
        _STATE["edges"] = fork.Array("i", [0, len(bounds)])
        with ProcessPoolExecutor(max_workers=max(workers - 1, 1), mp_context=fork,
                                 initializer=_init_worker) as executor:
            futures = [executor.submit(_worker_task) for _ in range(max(workers - 1, 1))]
            while (k := _claim(from_front=False)) is not None:
                parts[k] = _analyze_indexes(*bounds[k])
            for fut in futures:
                try:
                    done = fut.result()
                except Exception:  # noqa: BLE001 - broken pool, unpicklable result...: redone below
                    continue
                for k, got in done:
                    a, b = bounds[k]
                    if parts[k] is None and len(got) == b - a:
                        parts[k] = [([_expand(r, subject.target) for r in rows], errors, entries)
                                    for subject, (rows, errors, entries) in zip(subjects[a:b], got, strict=True)]
    except Exception:  # noqa: BLE001 - no shared memory, no pool: the rest is analysed here
        pass
    try:
        for k, part in enumerate(parts):
            if part is None:  # its worker failed, or there was none
                parts[k] = _analyze_indexes(*bounds[k])
    finally:
        _STATE.clear()
    return [result for part in parts if part is not None for result in part]
