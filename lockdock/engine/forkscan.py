"""A share of an engine's containers read and analysed in a forked process (`lockdock scan`).

A scan of a big engine is bound by CPU time on one interpreter lock: each container costs
the client ~0.1 ms to read (HTTP and JSON) and about as much to analyse, while the second
CPU mostly idles (the engine's own work is a fraction of that). So, when a CPU is free
(`cpu_free`), `start` lists the containers, imports the engine
rules, and forks one child that reads and analyses the last `CHILD_SHARE` of the list with
connections of its own; the scanning process reads the images, the host and the first
containers meanwhile. The child sends back only what a report reads of each finding
(the fields of `lockdock.parallel._compact`: no payload, no fix edits) and the errors its work gave;
`collect` hands them on as already-analysed subjects, in list order, after the scanning
process's own containers: the report is the one a scan in one process gives.

Only `lockdock scan` splits (never `fix` or the TUI, which need payloads and fix edits),
only for a local engine served by `rawapi.LocalAPI` (plain sockets: the child drops the
inherited ones), only from `MIN_CONTAINERS` containers on, not with `--image`, and only
while the process runs one thread (forking a threaded process is unsafe). A child that
fails (dies, sends garbage, outlasts the scan's timeout) is killed and its share is read
and analysed in the scanning process instead: nothing is lost, it is only slower.
"""

from __future__ import annotations

import marshal
import os
import select
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lockdock.model import (
    Applicability,
    Finding,
    Fix,
    Location,
    ScanError,
    Severity,
    Suppression,
    Target,
    TargetKind,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from lockdock.context import ScanContext

SHARE = "engine.forkscan:share"  # ctx.cache key of the running `Share`
MIN_CONTAINERS = 96  # below this the fork, the second connections and the pickling cost more than they save
PRELIST_WAIT = 0.5  # s the image list read before the fork may take past the container list
CHILD_SHARE = 0.7  # of the containers, from the end of the list: the parent also reads the images and the host
WAIT_GRACE = 5.0  # seconds past the scan's timeout (and one engine call) before a silent child is killed


@dataclass
class Share:
    """A running child: its pid, the read end of its pipe, the container ids it analyses."""

    pid: int
    fd: int
    ids: list[str]
    collected: bool = field(default=False)


@dataclass
class AnalysedContainer:
    """A container the child analysed: its target and findings (`report_findings`, read by
    `lockdock.scan.analyze_subject` as they are), with no inspect data."""

    target: Target
    report_findings: list[Finding]


def can_split(ctx: ScanContext) -> bool:
    """True when this scan may fork a child for containers (see the module docstring)."""
    from lockdock.engine.rawapi import LocalAPI

    return (ctx.engine is not None and isinstance(ctx.engine.api, LocalAPI) and not ctx.images
            and hasattr(os, "fork") and threading.active_count() == 1 and cpu_free())


def cpu_free(loadavg: str = "/proc/loadavg") -> bool:
    """Whether a second process would get a CPU of its own now: `LOCKDOCK_JOBS` when set
    (1: never split); else more than one usable CPU and, from the kernel's count of tasks
    runnable at this moment (the fourth field of `loadavg`, this process included), at most
    one CPU's worth of other work. The instant count rather than the one-minute load
    average (`lockdock.parallel.workers_wanted`): an engine scan lasts a fraction of a
    second, and the minute after a busy one says little about it. Without that file, the
    load average decides (`workers_wanted`)."""
    from lockdock.parallel import workers_wanted

    raw = os.environ.get("LOCKDOCK_JOBS", "").strip()
    if raw.isdigit():
        return int(raw) > 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    if cpus < 2:
        return False
    try:
        with open(loadavg, encoding="ascii") as fh:
            runnable = int(fh.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return workers_wanted() > 1
    return runnable <= cpus


def start(ctx: ScanContext) -> list[str] | None:
    """List the containers and, when worth it, fork the child for the end of the list.

    Returns the ids this process reads itself (all of them when no child was forked), or
    None when `can_split` says no (nothing listed yet). The running child is kept in
    `ctx.cache[SHARE]` for `collect`."""
    if not can_split(ctx):
        return None
    from lockdock import registry
    from lockdock.engine.containers import list_container_ids

    # The engine lists the containers while the rules are imported (once, before the fork: the
    # child inherits them); the listing thread has ended when the process forks.
    listed: list[list[str]] = []
    lister = threading.Thread(target=lambda: listed.append(list_container_ids(ctx)), name="lockdock-list")
    lister.start()
    # The images are listed meanwhile too: the scanning process takes that list for its image
    # reads (`images.list_image_ids`), and both processes know each image's creation time
    # from it (`ScanContext.image_created`), so the child asks nothing about images.
    # An engine slow to list its images (or stuck) holds up nothing: after PRELIST_WAIT the
    # scan goes on without that list, in one process (no fork while the thread runs).
    image_lister = threading.Thread(target=prelist_images, args=(ctx,), name="lockdock-list-images", daemon=True)
    image_lister.start()
    try:
        registry.load_plugins(registry.engine_kinds())
    finally:
        lister.join()
        image_lister.join(PRELIST_WAIT)
    if not listed:  # the listing thread died without an answer: the source lists them itself
        return None
    ids = listed[0]
    if len(ids) < MIN_CONTAINERS or threading.active_count() != 1:
        return ids
    keep = len(ids) - int(len(ids) * CHILD_SHARE)
    theirs = ids[keep:]
    from lockdock.parallel import fork_or_close

    rfd, wfd = os.pipe()
    pid = fork_or_close(rfd, wfd)
    if pid is None:
        return ids
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(rfd)
            _child(ctx, theirs, wfd)
            code = 0
        except BaseException:  # noqa: BLE001 - any failure: exit 1, the parent redoes the share
            pass
        finally:
            os._exit(code)
    os.close(wfd)
    ctx.cache[SHARE] = Share(pid, rfd, theirs)
    return ids[:keep]


def prelist_images(ctx: ScanContext) -> None:
    """List the engine's images into `ctx` (`images.PRELISTED` and `context.LISTED_CREATED`);
    on any failure nothing is stored (the image source lists them itself, and says why not)."""
    from lockdock.engine.images import remember_listed

    assert ctx.engine is not None
    try:
        listed = ctx.engine.api.images()
    except Exception:  # noqa: BLE001 - the image source asks again and reports it
        return
    remember_listed(ctx, listed)


def _child(ctx: ScanContext, ids: list[str], wfd: int) -> None:
    """Read and analyse `ids`; write their `_encode`d results to `wfd`."""
    from lockdock.engine.containers import _inspect_stream, make_subject
    from lockdock.scan import analyze_subject

    assert ctx.engine is not None
    ctx.engine.api.after_fork()
    first = len(ctx.errors)
    done: list[tuple[Target, list[Finding]]] = []
    consumed = 0
    for data in _inspect_stream(ctx.engine.api, ids, ctx):
        if ctx.out_of_time():
            break  # the rest: the scanning process says they were not scanned, as it would
        consumed += 1
        if data is None:
            continue
        subject = make_subject(data)
        done.append((subject.target, analyze_subject(subject, ctx).findings))
    blob = _encode(done, ctx.errors[first:], consumed)
    with open(wfd, "wb", closefd=True) as out:
        out.write(blob)


# --------------------------------------------------------------------------- the child's reply
#
# `marshal` of plain tuples, strings and numbers: what a report reads of each finding (the
# fields of `lockdock.parallel._compact`: no payload, no fix edits), with enums as their
# values. Unpickling the same findings as objects cost the scanning process ~50 us each (an
# enum or dataclass rebuilt per field); these load in a fraction of that.


def _target_row(t: Target) -> tuple[Any, ...]:
    return (t.kind.value, t.name, t.path, t.key, t.parent, t.engine)


def _finding_row(f: Finding, own: Target) -> tuple[Any, ...]:
    loc, fix, sup = f.location, f.fix, f.suppressed
    if loc.image_layer is not None:  # never on a container's finding
        raise ValueError("an image layer in a container's finding")
    return (f.check, None if f.target == own else _target_row(f.target), f.message,
            (loc.path, loc.line, loc.end_line, loc.column), f.evidence,
            None if f.severity is None else int(f.severity),
            None if fix is None else (fix.title, fix.applicability.value, fix.check, fix.note, fix.target,
                                      fix.pending, tuple(fix.reveals)),
            None if sup is None else (sup.reason, sup.source), tuple(f.scope_lines))


def _encode(done: list[tuple[Target, list[Finding]]], errors: list[ScanError], consumed: int) -> bytes:
    """The child's results as bytes for `_decode` (raises ValueError for what it cannot carry)."""
    return marshal.dumps((
        [(_target_row(t), [_finding_row(f, t) for f in findings]) for t, findings in done],
        [(e.path, e.message, e.target, e.kind) for e in errors],
        consumed,
    ))


def _target(row: tuple[Any, ...]) -> Target:
    return Target(TargetKind(row[0]), row[1], row[2], key=row[3], parent=row[4], engine=row[5])


def _decode(blob: bytes) -> tuple[list[tuple[Target, list[Finding]]], list[ScanError], int]:
    """`_encode`'s results as objects; a location or fix of the same fields is one object."""
    rows, errors, consumed = marshal.loads(blob)
    locations: dict[tuple[Any, ...], Location] = {}
    severities = {int(s): s for s in Severity}
    done = []
    for target_row, finding_rows in rows:
        own = _target(target_row)
        findings = []
        for check, other, message, where, evidence, severity, how, sup, scope in finding_rows:
            loc = locations.get(where)
            if loc is None:
                loc = locations[where] = Location(*where)
            fix = None if how is None else Fix(how[0], Applicability(how[1]), [], check=how[2], note=how[3],
                                               target=how[4], pending=how[5], reveals=how[6])
            findings.append(Finding(check, own if other is None else _target(other), message, loc, evidence,
                                    None if severity is None else severities[severity], fix,
                                    None if sup is None else Suppression(sup[0], sup[1]), scope_lines=scope))
        done.append((own, findings))
    return done, [ScanError(*e) for e in errors], consumed


def _receive(share: Share, ctx: ScanContext) -> tuple[list[tuple[Target, list[Finding]]], list[ScanError], int] | None:
    """The child's results, or None when it failed (then it is killed and reaped)."""
    timeout = ctx.engine.api.timeout if ctx.engine is not None else 10.0
    deadline = time.monotonic() + max(ctx.remaining(), 0.0) + timeout + WAIT_GRACE
    chunks: list[bytes] = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the container share's process did not answer in time")
            ready, _, _ = select.select([share.fd], [], [], left)
            if not ready:
                continue
            data = os.read(share.fd, 1 << 20)
            if not data:
                break
            chunks.append(data)
        _, status = os.waitpid(share.pid, 0)
        share.pid = 0
        if os.waitstatus_to_exitcode(status) != 0:
            return None
        done, errors, consumed = _decode(b"".join(chunks))
        if not isinstance(consumed, int) or not 0 <= consumed <= len(share.ids):
            return None
        return done, errors, consumed
    except Exception:  # noqa: BLE001 - timeout, a broken pipe, garbage: the share is redone here
        return None
    finally:
        discard(share)


def discard(share: Share) -> None:
    """Close the pipe and end the child if it still runs (idempotent)."""
    if share.fd >= 0:
        os.close(share.fd)
        share.fd = -1
    if share.pid:
        try:
            os.kill(share.pid, 9)
            os.waitpid(share.pid, 0)
        except OSError:  # already reaped
            pass
        share.pid = 0


def collect(ctx: ScanContext) -> Iterator[Any]:
    """The child's containers, in list order, as subjects that carry their findings; the
    ones it could not do (it failed, or the scan ran out of time) read and yielded here as
    ordinary subjects. Its errors are recorded in `ctx` first. Nothing without a child."""
    share: Share | None = ctx.cache.pop(SHARE, None)
    if share is None:
        return
    from lockdock.engine.containers import stream_containers

    got = _receive(share, ctx)
    if got is None:
        yield from stream_containers(ctx, share.ids)
        return
    done, errors, consumed = got
    with ctx._lock:
        ctx.errors.extend(errors)
    for target, findings in done:
        yield AnalysedContainer(target, findings)
    if consumed < len(share.ids):
        yield from stream_containers(ctx, share.ids[consumed:])


def abandon(ctx: ScanContext) -> None:
    """End a child whose results will not be collected (the scan stopped early)."""
    share: Share | None = ctx.cache.pop(SHARE, None)
    if share is not None:
        discard(share)
