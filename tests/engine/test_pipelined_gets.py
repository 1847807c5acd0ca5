"""`LocalAPI.get_many`: GET requests pipelined on a few keep-alive connections (how a scan
reads its container inspects), against a threaded fake engine that answers each path on
its own terms, and against the real engine."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lockdock.engine.rawapi import EngineAPIError, EngineNotFound, LocalAPI

Answer = Callable[[str, int], bytes | None]  # (path, n-th request on its connection) -> reply bytes, None: close


def reply(status: int, body: bytes, *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return (f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
            + extra + b"\r\n" + body)


def doc(path: str) -> bytes:
    return json.dumps({"Id": path.split("/")[3], "Path": path}).encode()


class Engine:
    """A unix socket server, one thread per connection, reading requests as they come
    (pipelined or not) and answering each with `answer(path, n)`. Records per connection
    the most requests it had read and not yet answered."""

    def __init__(self, path: Path, answer: Answer) -> None:
        self.path, self.answer = path, answer
        self.connections = 0
        self.most_waiting: list[int] = []
        self.closed = 0
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(str(path))
        self.srv.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            self.connections += 1
            self.most_waiting.append(0)
            threading.Thread(target=self._serve, args=(conn, len(self.most_waiting) - 1), daemon=True).start()

    def _serve(self, conn: socket.socket, me: int) -> None:
        buf, n = b"", 0
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        self.closed += 1
                        return
                    buf += data
                    time.sleep(0.001)  # let pipelined requests arrive together
                self.most_waiting[me] = max(self.most_waiting[me], buf.count(b"\r\n\r\n"))
                head, buf = buf.split(b"\r\n\r\n", 1)
                path = head.split(b" ")[1].decode()
                out = self.answer(path, n)
                n += 1
                if out is None:
                    self.closed += 1
                    return
                if out:
                    try:
                        conn.sendall(out)
                    except OSError:  # the client went away
                        self.closed += 1
                        return

    def close(self) -> None:
        self.srv.close()


def api_for(path: Path, timeout: float = 5.0) -> LocalAPI:
    return LocalAPI(str(path), timeout, make_sdk=lambda api: None, version="1.41")


PATHS = [f"/containers/{i:064x}/json" for i in range(100)]


def test_replies_come_in_order_from_pipelined_lanes(sock: Path) -> None:
    engine = Engine(sock, lambda path, n: reply(200, doc(path)))
    api = api_for(sock)
    got = list(api.get_many(PATHS, window=8, lanes=3))
    assert [g["Path"] for g in got] == [f"/v1.41{p}" for p in PATHS]
    assert engine.connections == 3
    assert max(engine.most_waiting) > 1, "the requests were not pipelined"
    assert len(api._idle) == 3  # every lane's connection back in the pool, reused next
    api.get(PATHS[0])
    assert engine.connections == 3
    engine.close()


def test_an_error_reply_is_that_path_s_error_only(sock: Path) -> None:
    def answer(path: str, n: int) -> bytes:
        i = int(path.split("/")[3], 16)
        if i == 10:
            return reply(404, b'{"message": "No such container"}')
        if i == 11:
            return reply(500, b'{"message": "boom"}')
        if i == 12:
            return reply(200, b"not json")
        return reply(200, doc(path))

    engine = Engine(sock, answer)
    got = list(api_for(sock).get_many(PATHS, window=4, lanes=2))
    assert isinstance(got[10], EngineNotFound) and "No such container" in str(got[10])
    assert isinstance(got[11], EngineAPIError) and got[11].status == 500
    assert isinstance(got[12], EngineAPIError) and "not JSON" in str(got[12])
    assert all(isinstance(g, dict) for i, g in enumerate(got) if i not in (10, 11, 12))
    assert [g["Id"] for g in got[13:]] == [f"{i:064x}" for i in range(13, 100)]
    engine.close()


@pytest.mark.parametrize("how", ["dropped", "connection-close"])
def test_a_connection_that_ends_midway_is_finished_one_request_at_a_time(sock: Path, how: str) -> None:
    def answer(path: str, n: int) -> bytes | None:
        if n == 5:
            return None if how == "dropped" else reply(200, doc(path), close=True)
        return reply(200, doc(path))

    engine = Engine(sock, answer)
    got = list(api_for(sock).get_many(PATHS, window=8, lanes=2))
    assert [g["Path"] for g in got] == [f"/v1.41{p}" for p in PATHS]
    engine.close()


def test_a_silent_engine_times_the_rest_out_at_once(sock: Path) -> None:
    def answer(path: str, n: int) -> bytes:
        # the first two connections answer three requests each; then silence, on new ones too
        return reply(200, doc(path)) if n < 3 and engine.connections <= 2 else b""

    engine = Engine(sock, answer)
    start = time.monotonic()
    got = list(api_for(sock, timeout=0.5).get_many(PATHS, window=8, lanes=2))
    took = time.monotonic() - start
    assert all(isinstance(g, dict) for g in got[:6])
    assert all(isinstance(g, TimeoutError) for g in got[6:]), got[6:8]
    assert engine.connections == 4  # each lane tried a new connection once
    assert took < 3.0, took  # two timeouts per lane, not one per path
    engine.close()


def test_leaving_early_closes_the_lanes(sock: Path) -> None:
    engine = Engine(sock, lambda path, n: reply(200, doc(path)))
    api = api_for(sock)
    it = api.get_many(PATHS, window=8, lanes=3)
    first = [next(it) for _ in range(5)]
    it.close()
    assert [g["Path"] for g in first] == [f"/v1.41{p}" for p in PATHS[:5]]
    assert api._idle == []  # replies still on their way: none of these connections is reused
    deadline = time.monotonic() + 5
    while engine.closed < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.closed == 3
    engine.close()


def test_nothing_answering_at_all_gives_each_path_its_error(sock: Path) -> None:
    got = list(api_for(sock).get_many(PATHS[:4], lanes=2))  # no server on the socket
    assert len(got) == 4 and all(isinstance(g, OSError) for g in got)


@pytest.mark.engine
def test_the_real_engine_answers_pipelined_as_one_at_a_time(docker_api: Any, busybox_image: str) -> None:
    from tests.conftest import SESSION, SESSION_LABEL, TEST_LABEL

    made = [docker_api.create_container(busybox_image, command=["true"], labels={TEST_LABEL: "1", SESSION_LABEL: SESSION})["Id"]
            for _ in range(6)]
    try:
        api = LocalAPI("/var/run/docker.sock", 30, make_sdk=lambda api: None)
        paths = [f"/containers/{cid}/json" for cid in made] + ["/containers/" + "f" * 64 + "/json"]
        got = list(api.get_many(paths, window=2, lanes=2))
        assert [g["Id"] for g in got[:-1]] == made
        assert got[:-1] == [api.get(p) for p in paths[:-1]]
        assert isinstance(got[-1], EngineNotFound)
    finally:
        for cid in made:
            with contextlib.suppress(Exception):
                docker_api.remove_container(cid, force=True)


def test_one_stalled_reply_times_out_that_path_only(sock: Path) -> None:
    """The engine is stuck on one object (as `docker inspect` on a wedged container): that
    path times out, as it did when each inspect was its own request; the paths pipelined
    behind it on the same connection are still asked, on a fresh one."""
    def answer(path: str, n: int) -> bytes:
        if int(path.split("/")[3], 16) == 10:
            time.sleep(3.0)  # this connection answers nothing meanwhile
        return reply(200, doc(path))

    engine = Engine(sock, answer)
    got = list(api_for(sock, timeout=1.0).get_many(PATHS, window=8, lanes=3))
    assert isinstance(got[10], TimeoutError)
    assert [g["Path"] for i, g in enumerate(got) if i != 10] == [f"/v1.41{p}" for i, p in enumerate(PATHS) if i != 10]
    engine.close()
