"""A share of an engine's containers read and analysed in a forked process (`lockdock scan`).

A scan of a big engine is bound by CPU time on one interpreter lock: each container costs
the client ~0.1 ms to read (HTTP and JSON) and about as much to analyse, while the second
CPU mostly idles (the engine's own work is a fraction of that). So, when a CPU is free
(`lockdock.parallel.workers_wanted`), `start` lists the containers, imports the engine
rules, and forks one child that reads and analyses the last `CHILD_SHARE` of the list with
connections of its own; the scanning process reads the images, the host and the first
containers meanwhile. The child sends back only what a report reads of each finding
(`lockdock.parallel._compact`: no payload, no fix edits) and the errors its work gave;
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

import os
import pickle
import select
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lockdock.model import Finding, ScanError, Target

if TYPE_CHECKING:
    from collections.abc import Iterator

    from lockdock.context import ScanContext

SHARE = "engine.forkscan:share"  # ctx.cache key of the running `Share`
MIN_CONTAINERS = 96  # below this the fork, the second connections and the pickling cost more than they save
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
    from lockdock.parallel import workers_wanted

    return (ctx.engine is not None and isinstance(ctx.engine.api, LocalAPI) and not ctx.images
            and hasattr(os, "fork") and threading.active_count() == 1 and workers_wanted() > 1)


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
    try:
        registry.load_plugins(registry.engine_kinds())
    finally:
        lister.join()
    ids = listed[0] if listed else []
    if len(ids) < MIN_CONTAINERS or threading.active_count() != 1:
        return ids
    keep = len(ids) - int(len(ids) * CHILD_SHARE)
    theirs = ids[keep:]
    rfd, wfd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(rfd)
        os.close(wfd)
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


def _child(ctx: ScanContext, ids: list[str], wfd: int) -> None:
    """Read and analyse `ids`; write (rows per container, errors, ids consumed) to `wfd`."""
    from lockdock.engine.containers import _inspect_stream, make_subject
    from lockdock.parallel import _compact
    from lockdock.scan import analyze_subject

    assert ctx.engine is not None
    ctx.engine.api.after_fork()
    first = len(ctx.errors)
    rows: list[tuple[Target, list[tuple[Any, ...]]]] = []
    consumed = 0
    for data in _inspect_stream(ctx.engine.api, ids, ctx):
        if ctx.out_of_time():
            break  # the rest: the scanning process says they were not scanned, as it would
        consumed += 1
        if data is None:
            continue
        subject = make_subject(data)
        tr = analyze_subject(subject, ctx)
        rows.append((subject.target, [_compact(f, subject.target) for f in tr.findings]))
    blob = pickle.dumps((rows, ctx.errors[first:], consumed), protocol=pickle.HIGHEST_PROTOCOL)
    with open(wfd, "wb", closefd=True) as out:
        out.write(blob)


def _receive(share: Share, ctx: ScanContext) -> tuple[list[Any], list[ScanError], int] | None:
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
        rows, errors, consumed = pickle.loads(b"".join(chunks))
        if not isinstance(consumed, int) or not 0 <= consumed <= len(share.ids):
            return None
        return rows, errors, consumed
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
    from lockdock.parallel import _expand

    got = _receive(share, ctx)
    if got is None:
        yield from stream_containers(ctx, share.ids)
        return
    rows, errors, consumed = got
    with ctx._lock:
        ctx.errors.extend(errors)
    for target, compact in rows:
        yield AnalysedContainer(target, [_expand(r, target) for r in compact])
    if consumed < len(share.ids):
        yield from stream_containers(ctx, share.ids[consumed:])


def abandon(ctx: ScanContext) -> None:
    """End a child whose results will not be collected (the scan stopped early)."""
    share: Share | None = ctx.cache.pop(SHARE, None)
    if share is not None:
        discard(share)
