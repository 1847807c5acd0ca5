"""Closing a `docker events` stream from another thread ends the read that waits in it, also
over `ssh://` (where the SDK's own `close()` refuses): quitting the TUI never hangs on an
engine that sends no events (`lockdock.engine.rawapi.close_stream`)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from lockdock.engine.connect import connect_endpoint
from lockdock.engine.contexts import resolve
from lockdock.engine.rawapi import close_stream

pytestmark = pytest.mark.engine


def _reader(stream: Any, done: threading.Event) -> None:
    try:
        for _event in stream:
            pass
    except Exception:  # noqa: BLE001 - any end of the read counts: it must not block
        pass
    done.set()


@pytest.mark.parametrize("kind", ["unix", "ssh"])
def test_close_stream_ends_a_blocked_events_read(kind: str, ssh_local: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{ssh_local.bin_dir}:{os.environ['PATH']}")
    url = ssh_local.url if kind == "ssh" else "unix:///var/run/docker.sock"
    (endpoint,), problems = resolve([], [url], False)
    assert not problems
    engine = connect_endpoint(endpoint, timeout=60)
    try:
        # a filter no event matches: the read blocks until the stream is closed
        stream = engine.api.events(decode=True, filters={"type": ["plugin"], "event": ["nothing-ever"]})
        done = threading.Event()
        t = threading.Thread(target=_reader, args=(stream, done), daemon=True)
        t.start()
        time.sleep(1.0)
        assert not done.is_set(), "the read should still be waiting for an event"
        close_stream(stream)
        assert done.wait(10), f"closing the {kind} stream did not end the blocked read"
        close_stream(stream)  # a second close is harmless
    finally:
        engine.close()
