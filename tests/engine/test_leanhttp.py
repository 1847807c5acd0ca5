"""lockdock.engine.leanhttp: replies framed every way HTTP/1.1 allows, sent in pieces,
and broken ones; then LocalAPI on it against the real engine (the SDK's answers)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lockdock.engine.leanhttp import MAX_HEAD, BadReply, Connection
from lockdock.engine.rawapi import LocalAPI

CLOSE = object()  # in a script: close the connection here


class Scripted:
    """A unix socket server: for the n-th request on a connection it sends `replies[n]`
    (a list of byte pieces, sent one at a time, or CLOSE; a float in it is a silence of that
    many seconds), then waits for the next."""

    def __init__(self, path: Path, replies: list[Any], *, piece_delay: float = 0.0) -> None:
        self.path, self.replies, self.delay = path, replies, piece_delay
        self.connections = 0
        self.requests: list[bytes] = []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(str(path))
        self.srv.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.index = 0

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                buf = b""
                while self.index < len(self.replies):
                    while b"\r\n\r\n" not in buf:
                        data = conn.recv(4096)
                        if not data:
                            break
                        buf += data
                    if b"\r\n\r\n" not in buf:
                        break
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    self.requests.append(head)
                    reply = self.replies[self.index]
                    self.index += 1
                    if reply is CLOSE:
                        break
                    for piece in reply:
                        if piece is CLOSE:
                            break
                        if isinstance(piece, float):  # stay silent this long
                            time.sleep(piece)
                            continue
                        conn.sendall(piece)
                        if self.delay:
                            time.sleep(self.delay)
                    else:
                        continue
                    break

    def close(self) -> None:
        self.srv.close()


def _bytewise(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


OK_JSON = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"Id": "a"}'
CHUNKED = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nTRANSFER-ENCODING: chunked\r\n\r\n"
           b"5;name=value\r\n{\"Id\"\r\n6\r\n: \"b\"}\r\n0\r\nX-Trailer: 1\r\n\r\n")


def test_length_and_chunked_bodies_in_any_pieces_on_one_kept_connection(sock: Path) -> None:
    server = Scripted(sock, [[OK_JSON], _bytewise(CHUNKED), [OK_JSON[:20], OK_JSON[20:]]])
    conn = Connection(str(sock), 5)
    try:
        assert conn.get("/v1.41/containers/a/json") == (200, b'{"Id": "a"}', True)
        assert conn.get("/v1.41/containers/b/json?size=1") == (200, b'{"Id": "b"}', True)
        assert conn.get("/x") == (200, b'{"Id": "a"}', True)
        assert server.connections == 1
        assert server.requests[1].startswith(b"GET /v1.41/containers/b/json?size=1 HTTP/1.1\r\nHost: localhost")
    finally:
        conn.close()
        server.close()


@pytest.mark.parametrize(("reply", "want"), [
    ([b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"], (200, b"{}", False)),
    ([b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"], (200, b"{}", False)),
    ([b"HTTP/1.1 200 OK\r\n\r\n[1,", b"2]", CLOSE], (200, b"[1,2]", False)),  # ended by the close
    ([b"HTTP/1.1 204 No Content\r\n\r\n"], (204, b"", True)),
    ([b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"], (404, b"{}", True)),
    ([b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"], (200, b"", True)),  # no reason phrase
])
def test_framing_and_whether_the_connection_is_kept(sock: Path, reply: list[Any], want: tuple[int, bytes, bool]) -> None:
    server = Scripted(sock, [reply])
    conn = Connection(str(sock), 5)
    try:
        assert conn.get("/p") == want
        assert (conn.sock is not None) is want[2] or not want[2]
    finally:
        conn.close()
        server.close()


@pytest.mark.parametrize(("reply", "said"), [
    ([b"SSH-2.0-OpenSSH\r\n\r\n"], "not an HTTP reply"),
    ([b"HTTP/1.1 2x0 OK\r\n\r\n"], "not an HTTP reply"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", CLOSE], "cut short"),
    ([b"HTTP/1.1 200 OK\r\nContent-Le", CLOSE], "cut short in its headers"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], "not a chunk size"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nab\r\n0\r\n\r\n"], "not a chunk size"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n"], "does not end with CRLF"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", CLOSE], "cut short"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"], "transfer coding"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"], "Content-Length"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"], "two different Content-Length"),
    ([b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n"], "not an HTTP header line"),
    ([b"HTTP/1.1 200 OK\r\n" + b"X-Long: " + b"a" * MAX_HEAD], "too long"),
])
def test_broken_replies_raise_bad_reply_and_close(sock: Path, reply: list[Any], said: str) -> None:
    server = Scripted(sock, [reply])
    conn = Connection(str(sock), 5)
    try:
        with pytest.raises(BadReply, match=said):
            conn.get("/p")
        assert conn.sock is None
    finally:
        conn.close()
        server.close()


def test_a_close_before_the_reply_is_a_connection_reset_and_a_silent_engine_a_timeout(sock: Path) -> None:
    server = Scripted(sock, [CLOSE, [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{", 3.0]])
    conn = Connection(str(sock), 0.5)
    try:
        with pytest.raises(ConnectionResetError):
            conn.get("/p")
        with pytest.raises(TimeoutError):
            conn.get("/p")  # four body bytes never come
        assert conn.sock is None
    finally:
        conn.close()
        server.close()


@pytest.mark.parametrize("target", ["/a b", "/a\r\nX-Evil: 1", "/caf\u00e9", "/tab\t"])
def test_request_targets_with_spaces_controls_or_non_ascii_are_refused(sock: Path, target: str) -> None:
    with pytest.raises(ValueError):
        Connection(str(sock), 1).get(target)


def test_local_api_retries_once_when_the_engine_dropped_an_idle_connection(sock: Path) -> None:
    body = b'{"ApiVersion": "1.41"}'
    good = [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)]
    server = Scripted(sock, [good, CLOSE, good])  # the kept connection is closed at the second request
    api = LocalAPI(str(sock), 5, lambda _api: None, version="1.41")
    try:
        assert api.get("/version", versioned=False) == {"ApiVersion": "1.41"}
        assert api.get("/version", versioned=False) == {"ApiVersion": "1.41"}
        assert server.connections == 2
    finally:
        api.close()
        server.close()


@pytest.mark.engine
def test_local_api_answers_as_the_sdk_does_on_the_real_engine(docker_api: Any, busybox_image: str) -> None:
    from tests.conftest import SESSION, SESSION_LABEL, TEST_LABEL

    cid = docker_api.create_container(busybox_image, command=["sleep", "5"],
                                      labels={TEST_LABEL: "1", SESSION_LABEL: SESSION})["Id"]
    api = LocalAPI("/var/run/docker.sock", 10, lambda _api: None)
    try:
        for _ in range(3):  # the same kept connection each time
            assert api.inspect_container(cid) == docker_api.inspect_container(cid)
            assert api.inspect_image(busybox_image) == docker_api.inspect_image(busybox_image)
            assert api.history(busybox_image) == docker_api.history(busybox_image)
        assert len(api._idle) == 1
    finally:
        api.close()
        docker_api.remove_container(cid, force=True)
