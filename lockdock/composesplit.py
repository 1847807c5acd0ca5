"""Compose projects loaded and analysed in two processes: a files-only scan of many projects.

Loading the projects (reading, parsing, merging, interpolating) is about a sixth of the CPU
time of a compose scan, and workers forked after it (`lockdock.parallel`) leave it serial:
analysis needs every project loaded first, as some facts span projects. Here the scanning
process forks one child *before* loading. Each loads its own share of the projects (the
child the later ones), they swap the few facts that span projects, and each analyses the
subjects of its own projects. The child sends its results in `lockdock.parallel`'s compact
form; the report, its order and its errors are the ones one process gives (tested:
tests/core/test_compose_split.py).

The facts that span projects, and how the split keeps each:

- Load problems: a file several projects read reports its problems once, for the first of
  them. The child's load problems follow the parent's, less the ones the parent reported.
- Consumed files: a project whose main file another project reads (an override, `extends`,
  `include`) is not analysed on its own. Each side sends the other what its projects read.
- Env files several services load are reported once, by the first service
  (analyzers/compose_secrets.py): the parent sends the env files its services load
  (`ENV_FILES_BEFORE`); the child's services leave those to the parent's.
- Repository facts read from the projects: the non-root readers of secret files
  (`lockdock.compose.secretreaders`) and the build contexts (`build_contexts`). The child
  sends its projects' share; the parent merges it after its own.

Nothing is lost when the child fails: if it dies, hangs past the scan's time, or sends
something unreadable, the scanning process loads the child's share itself and analyses it,
only slower. The split is made only where forking is safe (`parallel.can_fork`) and for a
scan `lockdock.scan` allows it (`ALLOWED`: files only, several CPUs free).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import socket
import struct
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from lockdock.compose.project import (
    BUILD_REFS_ELSEWHERE,
    ENV_FILES_BEFORE,
    SCANNED_PROJECTS,
    SPLIT_PROJECTS,
    Project,
    consumed_by,
    load_project,
    not_consumed,
    project_file_sets,
    projects_key,
    said_once,
    scan_projects,
)
from lockdock.context import ScanContext
from lockdock.model import Finding, ScanError, Target, TargetKind

ALLOWED = "compose-split-allowed"  # ctx.cache: set by lockdock.scan where a split may be made
RUNNING = "compose-split"  # ctx.cache: the scan's Split once made (lockdock.scan analyses here then)
MIN_PROJECTS = 48  # projects before a split pays for its fork and the exchange (~10-20 ms)
# The child's share of the projects' bytes: above half, as the scanning process also does
# the rest of the scan (other files, merging the child's results, the report).
CHILD_SHARE = 0.55
_HEADER = 8  # bytes of the length before each pickled message


# ------------------------------------------------------------------ the socket pair


def _send(sock: socket.socket, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(len(data).to_bytes(_HEADER, "big") + data)


def _spool() -> int:
    """A file for the child's results, readable only by us and already unlinked (an fd)."""
    fd, path = tempfile.mkstemp(prefix="lockdock-split-")
    os.unlink(path)
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("the other process closed the connection")
        got += k
    return bytes(buf)


def _recv(sock: socket.socket, timeout: float | None) -> Any:
    """The next message; raises OSError (TimeoutError) or EOFError when none comes."""
    sock.settimeout(timeout)
    size = int.from_bytes(_recv_exactly(sock, _HEADER), "big")
    return pickle.loads(_recv_exactly(sock, size))


# ------------------------------------------------------------------ the claims


class Claims:
    """Which of the child's projects is analysed where: the child takes them from the front,
    the scanning process (done with its own share) from the back, until they meet. Two
    counters in a shared anonymous mapping, under a lock that is a byte in a pipe (whoever
    read it holds it). Made before the fork; both processes use the same object."""

    def __init__(self, count: int) -> None:
        import mmap

        self._mem = mmap.mmap(-1, 8)
        struct.pack_into("=ii", self._mem, 0, 0, count)
        self._r, self._w = os.pipe()
        os.write(self._w, b"x")

    def claim(self, from_front: bool, wait: float) -> int | None:
        """The next project index, or None when none is left (or the lock stayed held
        `wait` seconds: its holder died in it)."""
        ready, _, _ = select.select([self._r], [], [], wait)
        if not ready:
            return None
        os.read(self._r, 1)
        try:
            front, back = struct.unpack_from("=ii", self._mem, 0)
            if front >= back:
                return None
            if from_front:
                struct.pack_into("=ii", self._mem, 0, front + 1, back)
                return front
            struct.pack_into("=ii", self._mem, 0, front, back - 1)
            return back - 1
        finally:
            os.write(self._w, b"x")

    def close(self) -> None:
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._mem.close()


# ------------------------------------------------------------------ shared steps


def _subjects(projects: list[Project], ctx: ScanContext) -> list[Any]:
    from lockdock.sources.compose import subjects_for

    return [s for p in projects for s in subjects_for(p, ctx)]


def _env_files(projects: list[Project]) -> set[Path]:
    from lockdock.compose.views import env_file_entries

    return {path for p in projects for svc in p.services.values() for path, _ in env_file_entries(svc)}


def _build_refs(projects: list[Project]) -> dict[str, list[str]]:
    return {os.path.abspath(lf.path): lf.build_refs for p in projects for lf in p.loaded.values()
            if lf.build_refs is not None}


# ------------------------------------------------------------------ the child


def _end_with(parent: int) -> None:
    """Have the kernel end this process when `parent` (the scanning process) ends, however it
    ends (SIGTERM, SIGKILL, an interrupt): its results would go nowhere. Linux only
    (prctl PR_SET_PDEATHSIG); elsewhere the child ends when it next writes to the socket."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1 (linux/prctl.h)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it ended before the request was made
        os._exit(1)


def _child(sock: socket.socket, spool: int, groups: list[Any], claims: Claims, ctx: ScanContext,
           parent: int) -> NoReturn:
    """Load `groups`, swap facts, analyse the projects it claims, send the results, exit
    (never returns)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the child at once
        _end_with(parent)
        ctx._lock = threading.Lock()  # never a lock some parent thread held at fork time
        mark = len(ctx.errors)
        projects = [load_project(files, ctx, env) for files, env in groups]
        loaded_errors = ctx.errors[mark:]
        del ctx.errors[mark:]
        consumed = consumed_by(projects)
        _send(sock, ("loaded", loaded_errors, consumed))
        kind, parent_consumed, env_before = _recv(sock, None)
        if kind != "go":
            raise EOFError("no go-ahead")
        everything = consumed | parent_consumed
        kept = not_consumed(projects, everything)
        ctx.cache[SCANNED_PROJECTS] = kept
        ctx.cache[ENV_FILES_BEFORE] = env_before
        per_project = [_subjects([p], ctx) if str(p.main) not in everything else [] for p in projects]
        _send(sock, ("targets", [len(subjects) for subjects in per_project],
                     [_env_files([p]) if str(p.main) not in everything else set() for p in projects]))
        from lockdock.compose.secretreaders import secret_readers
        from lockdock.parallel import _compact
        from lockdock.scan import analyze_subject

        entries = ctx.report_entries
        # Each project's results pickled and written to the spool file as soon as they are
        # made (in parallel with the scanning process): the last message only says where.
        blobs: dict[int, tuple[int, int]] = {}
        at = 0
        while (k := claims.claim(True, 60.0)) is not None:
            out = []
            for subject in per_project[k]:
                first = len(ctx.errors)
                tr = analyze_subject(subject, ctx)
                out.append((subject.target, [_compact(f, subject.target) for f in tr.findings], ctx.errors[first:],
                            entries(tr.findings) if entries is not None else None))
                del ctx.errors[first:]
            data = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
            _write_all(spool, data)
            blobs[k] = (at, len(data))
            at += len(data)
        _send(sock, ("done", blobs, secret_readers(kept, ctx), _build_refs(kept)))
        code = 0
    except BaseException:  # noqa: BLE001 - the parent redoes this share; a broken pipe is its exit
        pass
    finally:
        os._exit(code)


# ------------------------------------------------------------------ the parent


class RemoteSubject:
    """A compose subject of the child's share: number `index` of it. Its target is known
    once its results are (`results()`); until then a stand-in of the same kind family."""

    def __init__(self, split: Split, index: int) -> None:
        self.split = split
        self.index = index
        self._target: Target | None = None

    @property
    def target(self) -> Target:
        if self._target is None:
            return Target(TargetKind.COMPOSE_SERVICE, "", key=f"compose-split:{self.index}")
        return self._target

    def results(self) -> tuple[list[Finding], list[ScanError], bytes | None]:
        """(findings, errors, report entries or None) as `parallel.analyze_in_workers` gives
        them for a subject (findings without payloads and fix edits); sets `target`."""
        self._target, findings, errors, entries = self.split.result(self.index)
        return findings, errors, entries


class Split:
    """The scanning process's side of one split (made by `begin`)."""

    def __init__(self, compose_files: list[Path], ctx: ScanContext, groups: list[Any], cut: int,
                 first_error: int) -> None:
        self.files = compose_files
        self.ctx = ctx
        self.groups = groups
        self.cut = cut
        self.first_error = first_error
        self.pid: int | None = None
        self.sock: socket.socket | None = None
        self.claims: Claims | None = None
        self.own: list[Project] = []
        self.consumed: set[str] = set()
        self.counts: list[int] = []  # per project of the child's share: how many subjects
        self.where: list[tuple[int, int]] = []  # per subject of the child's share: (project, position)
        self.env_files: list[set[Path]] = []  # per project of the child's share: the env files it loads
        self.own_env_files: set[Path] = set()  # the env files this process's projects load
        self.done: list[Any] | None = None  # per subject of the child's share: its results, once known
        self.spool: int | None = None  # fd of the (unlinked) file the child writes its results to
        self.blobs: dict[int, tuple[int, int]] = {}  # where in it each project's results are
        self.local: list[Any] | None = None  # the child's share loaded here (the child failed)

    def fork(self) -> bool:
        """Fork the child; False (nothing started) when the system refuses."""
        try:
            claims = Claims(len(self.groups) - self.cut)
        except OSError:
            return False
        try:
            self.spool = _spool()
        except OSError:
            claims.close()
            return False
        try:
            mine, theirs = socket.socketpair()
        except OSError:
            claims.close()
            self._close_spool()
            return False
        from lockdock.parallel import fork_or_close

        parent = os.getpid()
        pid = fork_or_close(mine, theirs, claims, self.spool)
        if pid is None:
            self.spool = None
            return False
        if pid == 0:  # the child
            mine.close()
            _child(theirs, self.spool, self.groups[self.cut:], claims, self.ctx, parent)
        theirs.close()
        self.pid, self.sock, self.claims = pid, mine, claims
        return True

    def _message(self, kind: str) -> Any:
        """The child's next message, which must be `kind`; None when the child failed (it is
        then ended). Waits at most what is left of the scan's time."""
        if self.sock is None:
            return None
        try:
            msg = _recv(self.sock, max(1.0, self.ctx.remaining()))
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError):
            msg = None
        if not isinstance(msg, tuple) or not msg or msg[0] != kind:
            self._end_child()
            return None
        return msg

    def close(self) -> None:
        """End the child if it still works (the scan stopped before it asked for the child's
        results: an interrupt, an exception), and free the spool file and the claims.
        Harmless once the results were read."""
        self._end_child()
        self._close_spool()
        if self.claims is not None:
            self.claims.close()
            self.claims = None

    def _close_spool(self) -> None:
        if self.spool is not None:
            with contextlib.suppress(OSError):
                os.close(self.spool)
            self.spool = None

    def _end_child(self) -> None:
        """Stop the child (when alive) and reap it; the connection is closed."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.pid is not None:
            pid, self.pid = self.pid, None
            with contextlib.suppress(OSError):  # ended already
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)

    def subjects(self) -> Iterator[Any]:
        """Every compose subject of the scan, in the order one process gives them: this
        process's own, then the child's as `RemoteSubject`s (or real subjects, analysed here,
        when the child failed before it said which)."""
        ctx = self.ctx
        self.own = [load_project(files, ctx, env) for files, env in self.groups[:self.cut]]
        from lockdock import registry
        from lockdock.model import TargetKind

        registry.load_plugins((TargetKind.COMPOSE_FILE, TargetKind.COMPOSE_SERVICE))  # while the child loads
        msg = self._message("loaded")
        if msg is None:  # no child after all: everything here, as without a split
            ctx.cache.pop(RUNNING, None)
            rest = [load_project(files, ctx, env) for files, env in self.groups[self.cut:]]
            said_once(ctx, self.first_error)
            everything = self.own + rest
            kept = not_consumed(everything, consumed_by(everything))
            ctx.cache[projects_key(self.files)] = kept
            ctx.cache[SCANNED_PROJECTS] = kept
            yield from _subjects(kept, ctx)
            return
        _, child_errors, child_consumed = msg
        ctx.errors.extend(child_errors)  # after this side's, less what it said already
        said_once(ctx, self.first_error)
        own_consumed = consumed_by(self.own)
        self.consumed = own_consumed | set(child_consumed)
        self.own = not_consumed(self.own, self.consumed)
        ctx.cache[SCANNED_PROJECTS] = self.own
        ctx.cache[SPLIT_PROJECTS + "own"] = self.own
        self.own_env_files = _env_files(self.own)
        try:
            if self.sock is not None:
                _send(self.sock, ("go", own_consumed, self.own_env_files))
        except OSError:
            self._end_child()
        yield from _subjects(self.own, ctx)
        msg = self._message("targets")
        if msg is None:
            yield from self._here()
            return
        _, self.counts, self.env_files = msg
        self.where = [(k, i) for k, count in enumerate(self.counts) for i in range(count)]
        for n in range(len(self.where)):
            yield RemoteSubject(self, n)
        if not self.where:
            self._collect()  # no subject will ask: the child's facts now

    def _collect(self) -> None:
        """The child's results (once): the projects this process takes from the back of the
        child's share (`Claims`) analysed here, the child's own from its message; all of it
        here when the child failed."""
        if self.done is not None:
            return
        from lockdock.compose.secretreaders import secret_readers

        ctx = self.ctx
        own_readers = secret_readers(self.own, ctx)  # while the child finishes
        done: list[Any] = [None] * len(self.where)
        first = {}
        for n, (k, i) in enumerate(self.where):
            if i == 0:
                first[k] = n
        if self.claims is not None:
            while (k := self.claims.claim(False, 5.0)) is not None:
                for i, got in enumerate(self._steal(k)):
                    done[first[k] + i] = got
        msg = self._message("done")
        if msg is not None:
            _, blobs, readers, refs = msg
            self._end_child()
            self._gather(own_readers, readers, refs)
            self.blobs = {k: where for k, where in blobs.items() if self.counts[k]}
            for k in self.blobs:  # read from the spool as results are asked for (`result`)
                for i in range(self.counts[k]):
                    done[first[k] + i] = k
        if not self.blobs:
            self._close_spool()
        if any(x is None for x in done):  # the child failed: what it did not send, here
            from lockdock.scan import _analyze_with_entries

            here = self._here()
            for n, x in enumerate(done):
                if x is None:
                    subject = here[n]
                    done[n] = (subject.target, *_analyze_with_entries(subject, ctx))
        if self.claims is not None:
            self.claims.close()
            self.claims = None
        self.done = done

    def _steal(self, k: int) -> list[Any]:
        """Project `k` of the child's share loaded (quietly: the child reported its load) and
        analysed here, with the env files that earlier projects load left to them."""
        ctx = self.ctx
        files, env = self.groups[self.cut + k]
        if str(files[0]) in self.consumed or not self.counts[k]:
            return []
        quiet = ctx.quiet()
        project = load_project(files, quiet, env)
        before = self.own_env_files.union(*self.env_files[:k])
        saved = ctx.cache.get(SCANNED_PROJECTS), ctx.cache.get(ENV_FILES_BEFORE)
        ctx.cache[SCANNED_PROJECTS], ctx.cache[ENV_FILES_BEFORE] = [project], before
        from lockdock.scan import _analyze_with_entries

        try:
            return [(subject.target, *_analyze_with_entries(subject, ctx)) for subject in _subjects([project], ctx)]
        finally:
            ctx.cache[SCANNED_PROJECTS], ctx.cache[ENV_FILES_BEFORE] = saved

    def _gather(self, own_readers: dict[str, list[str]], readers: dict[str, list[str]],
                refs: dict[str, list[str]]) -> None:
        """The repository facts of the whole scan: this process's share, then the child's."""
        from lockdock.compose.secretreaders import GATHERED, merged

        self.ctx.cache[GATHERED] = (projects_key(self.files), merged(own_readers, readers))
        self.ctx.cache[BUILD_REFS_ELSEWHERE] = refs

    def _here(self) -> list[Any]:
        """The child's share loaded here (its load problems were merged from its message),
        its subjects to analyse here."""
        if self.local is None:
            ctx = self.ctx
            quiet = ctx.quiet()
            rest = not_consumed([load_project(files, quiet, env) for files, env in self.groups[self.cut:]], self.consumed)
            ctx.cache[SCANNED_PROJECTS] = self.own + rest  # env file owners over both shares
            ctx.cache[SPLIT_PROJECTS + "here"] = rest
            ctx.cache.pop(ENV_FILES_BEFORE, None)
            from lockdock.compose.secretreaders import secret_readers

            self._gather(secret_readers(self.own + rest, ctx), {}, {})
            self.local = _subjects(rest, ctx)
        return self.local

    def result(self, index: int) -> tuple[Target, list[Finding], list[ScanError], bytes | None]:
        """(target, findings, errors, report entries) of the child's subject `index`."""
        from lockdock.parallel import _expand

        self._collect()
        assert self.done is not None
        got = self.done[index]
        if isinstance(got, int):  # in the child's pickled results of project `got`
            k = got
            at, size = self.blobs.pop(k)
            assert self.spool is not None
            rows = pickle.loads(os.pread(self.spool, size, at))
            if not self.blobs:
                self._close_spool()
            start = index - self.where[index][1]
            for i, (target, compact, errors, entries) in enumerate(rows):
                self.done[start + i] = (target, [_expand(r, target) for r in compact], errors, entries)
            got = self.done[index]
        return got


def begin(compose_files: list[Path], ctx: ScanContext) -> Iterator[Any]:
    """The scan's compose subjects (`sources.compose`), loaded and analysed in two processes
    when `lockdock.scan` allows it (`ALLOWED`), there are MIN_PROJECTS projects or more and
    forking is safe; else loaded here as one process does (`scan_projects`)."""
    from lockdock.parallel import can_fork
    from lockdock.sources.compose import subjects_for

    first_error = len(ctx.errors)
    groups = project_file_sets(compose_files, ctx)
    split = None
    if ctx.cache.get(ALLOWED) and len(groups) >= MIN_PROJECTS and can_fork():
        split = Split(compose_files, ctx, groups, _cut(groups), first_error)
        if not split.fork():
            split = None
    if split is None:
        for project in scan_projects(compose_files, ctx, groups=groups, first_error=first_error):
            yield from subjects_for(project, ctx)
        return
    ctx.cache[RUNNING] = split
    yield from split.subjects()


def _cut(groups: list[Any]) -> int:
    """Where the child's share begins: CHILD_SHARE of the projects' bytes (file sizes)."""
    sizes = []
    for files, _env in groups:
        total = 0
        for f in files:
            with contextlib.suppress(OSError):
                total += os.stat(f).st_size
        sizes.append(total)
    whole = sum(sizes) or 1
    done = 0
    for i, size in enumerate(sizes):
        if done >= whole * (1 - CHILD_SHARE):
            return max(1, i)
        done += size
    return max(1, len(groups) - 1)
