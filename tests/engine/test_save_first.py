"""`lockdock scan --image REF` sends the first image's `docker save` request before the
rest of the scan starts (`saveahead.send_first`): the read takes that socket, nothing is
asked twice, a request that will not be read is closed, a cached image is never asked,
a forked child closes its copy, and the reports are those of a scan that asks later."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from lockdock.cli.entry import main
from lockdock.context import ScanContext
from lockdock.engine import saveahead
from lockdock.engine.images import iter_images

from .test_save_ahead import IDS, SavingEngine, _contents, _ctx

FIRST = IDS[0]


def _wait_saved(engine: SavingEngine, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(engine.saved) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def _sent(ctx: ScanContext) -> dict[str, Any]:
    return ctx.cache[saveahead.KEY]._sent if saveahead.KEY in ctx.cache else {}


def test_the_request_sent_first_is_the_one_read(sock: Path, tmp_path: Path,  # noqa: F811
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with SavingEngine(sock, save_delay=0.2) as engine:
        ctx = _ctx(sock, tmp_path, monkeypatch)
        ctx.images = [FIRST]
        saveahead.send_first(ctx)
        _wait_saved(engine, 1)
        assert engine.saved == [FIRST]  # asked before any image was listed or read
        assert list(_sent(ctx)) == [FIRST]
        first = _contents(iter_images(ctx), ctx)
        assert engine.saved == [FIRST]  # the read took the sent request: not asked again
        assert _sent(ctx) == {}
        monkeypatch.setattr(saveahead, "send_first", lambda _ctx: None)
        later = _ctx(sock, tmp_path, monkeypatch)
        later.images = [FIRST]
        again = _contents(iter_images(later), later)
        assert engine.saved == [FIRST, FIRST]
    assert first == again
    assert first[0][3] is None and first[0][1][0]["files"]


def test_a_cached_image_is_not_asked(sock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Cached contents answer: no export is started for nothing."""
    with SavingEngine(sock) as engine:
        ctx = _ctx(sock, tmp_path, monkeypatch)
        ctx.images = [FIRST]
        _contents(iter_images(ctx), ctx)
        assert engine.saved == [FIRST]
        again = ScanContext(cwd=tmp_path, engine=ctx.engine, images=[FIRST])  # the same cache
        saveahead.send_first(again)
        assert _sent(again) == {}
        _contents(iter_images(again), again)
        time.sleep(0.2)
        assert engine.saved == [FIRST]


def test_a_request_that_will_not_be_read_is_closed(sock: Path, tmp_path: Path,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The image's contents became readable another way after the request left (here:
    `will_save` says no when its subject is made): its list entry closes the socket."""
    with SavingEngine(sock) as engine:
        ctx = _ctx(sock, tmp_path, monkeypatch)
        ctx.images = [FIRST]
        saveahead.send_first(ctx)
        sent = _sent(ctx)[FIRST]
        monkeypatch.setattr(saveahead, "will_save", lambda _s, _c: False)
        (subject,) = iter_images(ctx)
        assert sent.fileno() == -1 and _sent(ctx) == {}
        assert subject.id == FIRST
        _wait_saved(engine, 1)
        assert engine.saved == [FIRST]


def test_a_read_that_stops_before_asking_closes_the_sent_socket(sock: Path, tmp_path: Path,  # noqa: F811
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with SavingEngine(sock):
        ctx = _ctx(sock, tmp_path, monkeypatch)
        ctx.images = [FIRST]
        saveahead.send_first(ctx)
        sent = _sent(ctx)[FIRST]
        monkeypatch.setattr(saveahead, "will_save", lambda _s, _c: False)  # no read ahead
        (subject,) = iter_images(ctx)
        ctx.cache[saveahead.KEY]._sent[FIRST] = sent = ctx.engine.api.send_get(
            saveahead.SAVE_PATH, FIRST, timeout=5)
        ctx.save_unanswered = "an earlier save stayed silent"
        got = saveahead.read_archive(subject, ctx)
        assert "an earlier save stayed silent" in got.error
        assert sent.fileno() == -1 and _sent(ctx) == {}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_a_forked_child_closes_its_copy(sock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """`lockdock scan` may fork after the request left (`engine.forkscan`): the child's
    copy of the socket is closed at once, the parent's read is whole."""
    with SavingEngine(sock, save_delay=0.2):
        ctx = _ctx(sock, tmp_path, monkeypatch)
        ctx.images = [FIRST]
        saveahead.send_first(ctx)
        sent = _sent(ctx)[FIRST]
        pid = os.fork()
        if pid == 0:  # the child: exit 0 when its copy is closed
            os._exit(0 if sent.fileno() == -1 and not saveahead._SENT else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert sent.fileno() != -1
        (got,) = _contents(iter_images(ctx), ctx)
    assert got[3] is None and got[1][0]["files"]


@pytest.mark.engine
def test_real_engine_reports_are_the_same_sent_first_or_not(docker_api: Any, load_image_tar: Any, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`lockdock scan --image REF` through `docker save`: the JSON, text and SARIF reports
    are byte for byte those of a scan whose read asks for the stream itself, read by a
    prefetch thread as before."""
    from .images_fixture import risky_image

    data, tag = risky_image()
    load_image_tar(data)
    monkeypatch.setenv("LOCKDOCK_LAYER_SOURCE", "save")
    monkeypatch.chdir(tmp_path)
    sent: list[str] = []
    real = saveahead.send_first

    def counting(ctx: ScanContext) -> None:
        real(ctx)
        sent.extend(_sent(ctx))

    try:
        reports: dict[tuple[str, bool], tuple[int, str]] = {}
        for first in (True, False):
            monkeypatch.setattr(saveahead, "send_first", counting if first else (lambda _ctx: None))
            monkeypatch.setattr(saveahead, "LOCAL_PREFETCH", 0 if first else 8)
            for fmt in ("json", "text", "sarif"):
                monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / f"cache-{first}-{fmt}"))
                capsys.readouterr()
                code = main(["scan", "--image", tag, "--format", fmt])
                reports[fmt, first] = (code, capsys.readouterr().out)
        assert len(sent) == 3  # one request sent first per scan
        for fmt in ("json", "text", "sarif"):
            assert reports[fmt, True] == reports[fmt, False]
        assert "usr/bin/passwd" in reports["json", True][1]  # a layer finding: read from the stream
    finally:
        docker_api.remove_image(tag, force=True)


def test_the_worker_ends_with_its_last_read(sock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Every image of the list offered and read: the worker thread ends at once instead of
    idling IDLE_SECONDS (a `lockdock scan` with a thread left skips its lean exit)."""
    import threading

    monkeypatch.setattr(saveahead, "IDLE_SECONDS", 30.0)
    with SavingEngine(sock) as engine:
        ctx = _ctx(sock, tmp_path, monkeypatch)
        got = _contents(iter_images(ctx), ctx)
        assert engine.saved == IDS and all(g[3] is None for g in got)
        deadline = time.monotonic() + 5
        while any(t.name == "lockdock-save-ahead" for t in threading.enumerate()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert time.monotonic() < deadline
        assert ctx.cache[saveahead.KEY]._thread is None
        # A later list of the same scan starts a worker again.
        again = [s for s in iter_images(ctx)]
        assert [s.id for s in again] == IDS
