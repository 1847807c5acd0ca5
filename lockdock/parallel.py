"""Dockerfile analysis in worker processes, for big trees on machines with several CPUs.

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
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockdock.files import recording_reads
from lockdock.model import Finding, ScanError

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


def can_fork() -> bool:
    """True where a forked worker starts in a consistent state: POSIX fork, one thread."""
    return hasattr(os, "fork") and threading.active_count() == 1


# What forked workers analyse with: set in the scanning process just before the pool forks.
_STATE: dict[str, Any] = {}


def _init_worker() -> None:
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
