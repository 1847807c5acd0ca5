"""The engine's images and containers read and analysed in a forked child process.

`lockdock tui` forks one (`ChildScan.start`) before Textual is imported: the child
connects to the engine on its own, reads and analyses every image and container (the work
of `lockdock scan` on an engine) on the second CPU while the app imports Textual and
draws, and sends the results back over a pipe in batches. Nothing here imports textual.

What crosses the pipe is compact (pickled tuples, about a tenth of whole results): per
target its `Target`, a `Sketch` of the subject (what the screens read: id, labels, image
reference, tags, layer history) and its findings in `lockdock.parallel._compact` form (no
payload, fixes without edits); the scan's errors and warnings come last. The app builds
`TargetResult`s from them; a target whose fix is previewed (or whose payloads a screen
needs) is read and analysed again in the app (`full_result`), so fixes are always decided
from a fresh inspect of the object.

When fork cannot be used (no `os.fork`, threads already running, `LOCKDOCK_JOBS=1`), the
app reads the engine in its own threads as before; when the child fails (it dies, sends
something unreadable, cannot connect while the app can), the app analyses in process
whatever the child has not delivered (`scanflow.full_scan`). Self-contained: it shares no
state with `lockdock.parallel`'s worker pools.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from lockdock.model import ScanError, Target, TargetKind

if TYPE_CHECKING:
    from lockdock.context import ScanContext
    from lockdock.scan import TargetResult

CHILD = "tui.childscan:child"  # ctx.cache key: the ChildScan of the app's first full scan
CHILD_SOURCES = ("containers", "images")  # the engine sources the child runs, in this order
BATCH_SECONDS = 0.03  # a batch is sent at least this often while results come
BATCH_ROWS = 64  # ... or when it holds this many targets
_HEADER = struct.Struct("!I")
PIPE_BYTES = 1 << 20  # the pipe's buffer (Linux's default limit for an unprivileged process)
SWITCH_INTERVAL = 0.0005  # as `lockdock scan`: readers get the interpreter lock back sooner


class Layer(NamedTuple):
    """One entry of an image's history as the Layers view reads it (`HistoryEntry` fields)."""

    index: int
    created_by: str
    empty: bool
    layer: int | None
    size: int | None


@dataclass
class Sketch:
    """What the app's screens read of an image or container the child analysed: `id`,
    `labels`, `image_ref` (a container's `Config.Image`), `repo_tags`/`repo_digests` and
    `history` (an image's, oldest first). Not a subject the fixers can use: `full_result`
    reads the object again for that."""

    target: Target
    id: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    image_ref: str = ""
    image_id: str = ""
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    history: list[Layer] = field(default_factory=list)


def wanted() -> bool:
    """True when a child may be forked here: POSIX fork, this process runs one thread (a
    lock held by another thread at fork time would stay held in the child), and
    `LOCKDOCK_JOBS` is not 1."""
    return (hasattr(os, "fork") and threading.active_count() == 1
            and os.environ.get("LOCKDOCK_JOBS", "").strip() != "1")


# ------------------------------------------------------------------------- the child


def _sketch(subject: Any) -> tuple[Any, ...]:
    target = subject.target
    history = [(h.index, h.created_by, h.empty, h.layer, h.size) for h in getattr(subject, "history", None) or []]
    ref = subject.image_ref if target.kind is TargetKind.CONTAINER else ""
    image_id = subject.image_id if target.kind is TargetKind.CONTAINER else ""
    return ((target.kind.value, target.name, target.path, target.key, target.parent, target.engine),
            str(subject.id), str(getattr(subject, "name", "") or target.name), dict(subject.labels), ref,
            image_id, list(getattr(subject, "repo_tags", []) or []),
            list(getattr(subject, "repo_digests", []) or []), history)


_SEND = threading.Lock()  # the child's main thread and its engine readers (totals) send


def _send(fd: int, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    with _SEND:
        while view:
            view = view[os.write(fd, view):]


def _count_lists(api: Any, fd: int) -> None:
    """Send ("totals", "images"|"containers", n) when the engine sources list the objects
    (their first `images()`/`containers()` call, before any other in the child: the app's
    'containers 3/800' progress), so the app need not list them again."""
    for name in ("images", "containers"):
        listing = getattr(api, name)

        def counted(*args: Any, _listing: Any = listing, _name: str = name, **kwargs: Any) -> Any:
            setattr(api, _name, _listing)  # once: later calls (other filters) are not the totals
            out = _listing(*args, **kwargs)
            with contextlib.suppress(TypeError):
                _send(fd, ("totals", _name, len(out)))
            return out

        setattr(api, name, counted)  # this process's client only: the child exits after the scan


def _child_main(ctx: ScanContext, fd: int) -> None:
    """In the child: connect, read and analyse the engine's objects, send batches, then
    ("done", errors); ("failed", why) when it cannot."""
    from lockdock import registry
    from lockdock.parallel import _compact
    from lockdock.scan import analyze_subject, connect_engine
    from lockdock.sources.engine import prefetch

    sys.setswitchinterval(SWITCH_INTERVAL)
    connect_engine(ctx)
    if ctx.engine is None:
        _send(fd, ("failed", ctx.engine_error or "no engine"))
        return
    _count_lists(ctx.engine.api, fd)
    prefetch(ctx)
    registry.load_plugins((TargetKind.IMAGE, TargetKind.CONTAINER))
    by_name = {s.name: s for s in registry.SOURCES}
    sources = [by_name[name] for name in CHILD_SOURCES if name in by_name]
    rows: list[tuple[Any, ...]] = []
    sent = time.monotonic()
    for src in sources:
        try:
            for subject in src.fn(None, ctx):  # the engine sources read no discovery
                if subject.target.kind is TargetKind.IMAGE:  # its layers may take a while: say which
                    _send(fd, ("analysing", subject.target.name))
                tr = analyze_subject(subject, ctx)
                rows.append((_sketch(subject), [_compact(f, tr.target) for f in tr.findings]))
                if len(rows) >= BATCH_ROWS or time.monotonic() - sent >= BATCH_SECONDS:
                    _send(fd, ("batch", rows))
                    rows, sent = [], time.monotonic()
        except Exception as exc:  # noqa: BLE001 - as `scanflow.run_source`: an error of the scan
            from lockdock.text import safe

            ctx.error(None, f"internal error in source {src.name}: {type(exc).__name__}: {safe(exc)}")
    if rows:
        _send(fd, ("batch", rows))
    _send(fd, ("done", list(ctx.errors)))


def _run_child(ctx: ScanContext, read_fd: int, write_fd: int) -> None:
    """The forked process's whole life: never returns (no atexit handler of the parent,
    no test runner, no Textual runs here)."""
    code = 0
    try:
        os.close(read_fd)
        try:
            _child_main(ctx, write_fd)
        except BaseException as exc:  # noqa: BLE001 - say why, the app then analyses in process
            code = 1
            with contextlib.suppress(BaseException):
                _send(write_fd, ("failed", f"{type(exc).__name__}: {exc}"))
        with contextlib.suppress(OSError):
            os.close(write_fd)
    finally:
        os._exit(code)


# ------------------------------------------------------------------------- the app's side


def _rebuild(row: tuple[Any, Any]) -> TargetResult:
    from lockdock.parallel import _expand
    from lockdock.scan import TargetResult

    sketch, findings = row
    (kind, name, path, key, parent, engine), ident, oname, labels, ref, image_id, tags, digests, history = sketch
    target = Target(TargetKind(kind), name, path, key, parent, engine)
    subject = Sketch(target, ident, oname, labels, ref, image_id, tags, digests, [Layer(*h) for h in history])
    return TargetResult(target, subject, [_expand(r, target) for r in findings])


class ChildScan:
    """A forked child analysing the engine (module docstring). `start` forks it and a
    thread of this process drains the pipe at once (raw frames, unpickled later by
    `results`), so the child never waits for the app; the app's first full scan calls
    `results` once; `close` stops the child early (the app quits first)."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.delivered: set[str] = set()  # keys of the targets received
        self.errors: list[ScanError] = []
        self.failure: str | None = None  # why the child did not finish, once it did not
        self.status: int | None = None  # its wait status once reaped
        self.cpu_s: float | None = None  # its CPU time (user + system) once reaped
        self._lock = threading.Lock()
        self._done = False  # "done" received
        self._frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._pump = threading.Thread(target=self._drain, args=(fd,), name="lockdock-childscan", daemon=True)
        self._pump.start()

    @classmethod
    def start(cls, ctx: ScanContext) -> ChildScan | None:
        """Fork a child that analyses the engine for `ctx` (a fresh context: the child uses
        its own copy); None when forking is not wanted or fails."""
        if not wanted():
            return None
        try:
            read_fd, write_fd = os.pipe()
        except OSError:
            return None
        with contextlib.suppress(ImportError, AttributeError, OSError):  # Linux: room for a big engine
            import fcntl

            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        from lockdock.parallel import fork_or_close

        pid = fork_or_close(read_fd, write_fd)
        if pid is None:
            return None
        if pid == 0:  # pragma: no cover - the child (coverage does not follow it)
            _run_child(ctx, read_fd, write_fd)
        os.close(write_fd)
        return cls(pid, read_fd)

    def _drain(self, fd: int) -> None:
        """The pump thread: every frame as bytes into the queue, then None (end of pipe)."""
        try:
            with os.fdopen(fd, "rb", buffering=PIPE_BYTES) as pipe:
                while True:
                    head = pipe.read(_HEADER.size)
                    if len(head) < _HEADER.size:
                        break
                    (size,) = _HEADER.unpack(head)
                    data = pipe.read(size)
                    if len(data) < size:
                        break
                    self._frames.put(data)
        except (OSError, ValueError):
            pass
        finally:
            self._frames.put(None)

    def results(self, cancelled: Callable[[], bool],
                totals: Callable[[int | None, int | None], None] | None = None,
                analysing: Callable[[str], None] | None = None) -> Iterator[TargetResult]:
        """The child's results as they arrive. Ends when the child is done (its errors are
        then in `errors`) or has failed (`failure` says why; the caller analyses what is
        not in `delivered`); a cancelled scan stops the child. `totals(images, containers)`
        is called when the child has listed either (None: not listed yet), `analysing(name)`
        when it starts on an image."""
        counts: dict[str, int] = {}
        try:
            while not cancelled():
                try:
                    data = self._frames.get()
                    if data is None:
                        raise EOFError("the engine scan process ended without its results")
                    message = pickle.loads(data)
                    tag = message[0]
                    if tag == "analysing":
                        if analysing is not None:
                            analysing(str(message[1]))
                        continue
                    if tag == "totals":
                        counts[message[1]] = int(message[2])
                        if totals is not None:
                            totals(counts.get("images"), counts.get("containers"))
                        continue
                    if tag == "batch":
                        got = [_rebuild(row) for row in message[1]]
                    elif tag == "done":
                        self.errors = [e for e in message[1] if isinstance(e, ScanError)]
                        self._done = True
                        return
                    else:
                        self.failure = str(message[1])
                        return
                except Exception as exc:  # noqa: BLE001 - EOF, garbage: the app takes over
                    self.failure = f"{type(exc).__name__}: {exc}"
                    return
                for tr in got:
                    self.delivered.add(tr.target.key)
                    yield tr
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child if it still runs and reap it (idempotent; any thread). The pump
        thread then sees the end of the pipe and closes it."""
        with self._lock:
            if self.status is not None:
                return
            pid, status, usage = 0, 0, None
            with contextlib.suppress(ChildProcessError, OSError):
                # Done: it is closing its end and exiting; else it is stopped.
                pid, status, usage = os.wait4(self.pid, 0 if self._done else os.WNOHANG)
                if pid == 0:
                    os.kill(self.pid, signal.SIGTERM)
                    pid, status, usage = os.wait4(self.pid, 0)
            self.status = status
            if usage is not None:
                self.cpu_s = usage.ru_utime + usage.ru_stime
            if status and self.failure is None:
                self.failure = f"the engine scan process ended with wait status {status}"


def full_result(tr: TargetResult, ctx: ScanContext) -> TargetResult | None:
    """`tr` analysed again in this process from a fresh inspect of its object (subject and
    findings with payloads and fix edits); `tr` itself when it is not a `Sketch`; None when
    the object is gone or the engine cannot be read."""
    sketch = tr.subject
    if not isinstance(sketch, Sketch):
        return tr
    engine = ctx.engine
    if engine is None:
        return None
    from lockdock.scan import analyze_subject

    try:
        if tr.target.kind is TargetKind.CONTAINER:
            from lockdock.engine.containers import make_subject

            subject: Any = make_subject(engine.api.inspect_container(sketch.id))
        else:
            from lockdock.engine.images import make_subject as make_image

            subject = make_image(engine.api, engine.api.inspect_image(sketch.id), ctx)
    except Exception:  # noqa: BLE001 - removed meanwhile, the engine went away
        return None
    subject.target = tr.target
    return analyze_subject(subject, ctx)


def same_finding(a: Any, b: Any) -> bool:
    """The child's compact finding `a` and the fresh one `b` say the same thing."""
    return (a.check, a.message, a.location, a.evidence) == (b.check, b.message, b.location, b.evidence)
