"""`streams.BodyStream`, the reader of a local `docker save` body: whole blocks taken from
the socket itself (MSG_WAITALL), no byte lost behind the headers, every framing of the
reply (until the close, Content-Length, chunked), and the timeouts."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lockdock.engine.rawapi import EngineNotFound, LocalAPI

BLOCK = 64 * 1024


def serve(path: Path, script: Callable[[socket.socket], None]) -> threading.Thread:
    """Accept one connection on `path`, read the request head, then run `script` on it."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def run() -> None:
        conn, _ = server.accept()
        server.close()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                more = conn.recv(4096)
                if not more:
                    return
                head += more
            script(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def body_bytes(n: int) -> bytes:
    return bytes((i * 7 + i // 251) % 256 for i in range(n))


def api(path: Path) -> LocalAPI:
    return LocalAPI(str(path), 5.0, lambda _a: None, version="1.41")


def test_body_after_the_close_arrives_whole_in_full_blocks(sock: Path) -> None:
    """The first body bytes travel in the same write as the headers (nothing may stay in
    a read buffer), the rest in small pieces with pauses: the reader still hands on full
    blocks (the kernel waits for each whole block) and every byte, in order."""
    body = body_bytes(5 * BLOCK + 1234)

    def script(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/x-tar\r\n\r\n" + body[:777])
        pos = 777
        while pos < len(body):
            conn.sendall(body[pos : pos + 5000])
            pos += 5000
            if pos % 50000 < 5000:
                time.sleep(0.01)

    serve(sock, script)
    blocks = list(api(sock).body_stream("/images/{0}/get", "x", timeout=5, block=BLOCK))
    assert b"".join(blocks) == body
    assert [len(b) for b in blocks] == [BLOCK] * 5 + [1234]


def test_content_length_body_stops_at_its_length(sock: Path) -> None:
    """A reply with a Content-Length on a connection the server keeps open ends at that
    length (no wait for a close that does not come)."""
    body = body_bytes(3 * BLOCK + 10)
    done = threading.Event()

    def script(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        done.wait(10)  # the connection stays open

    serve(sock, script)
    start = time.monotonic()
    blocks = list(api(sock).body_stream("/x", timeout=5, block=BLOCK))
    done.set()
    assert b"".join(blocks) == body
    assert time.monotonic() - start < 3


def test_a_body_shorter_than_its_length_is_an_incomplete_read(sock: Path) -> None:
    import http.client

    def script(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)

    serve(sock, script)
    with pytest.raises(http.client.IncompleteRead):
        list(api(sock).body_stream("/x", timeout=5, block=BLOCK))


def test_chunked_body_is_decoded(sock: Path) -> None:
    body = body_bytes(70000)

    def script(conn: socket.socket) -> None:
        out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        for i in range(0, len(body), 30000):
            part = body[i : i + 30000]
            out += b"%x\r\n" % len(part) + part + b"\r\n"
        conn.sendall(out + b"0\r\n\r\n")

    serve(sock, script)
    assert b"".join(api(sock).body_stream("/x", timeout=5, block=BLOCK)) == body


def test_a_body_that_stops_coming_times_out(sock: Path) -> None:
    """After the headers and some of the body, silence: `TimeoutError` after about the
    timeout (SO_RCVTIMEO on the blocking socket), not a hang and not a short body."""
    stop = threading.Event()

    def script(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"y" * 100)
        stop.wait(10)

    serve(sock, script)
    start = time.monotonic()
    got = []
    with pytest.raises(TimeoutError):
        for block in api(sock).body_stream("/x", timeout=0.5, block=BLOCK):
            got.append(block)
    stop.set()
    assert b"".join(got) == b"y" * 100  # what had come is handed on before the timeout
    assert 0.4 < time.monotonic() - start < 3


def test_no_first_byte_times_out(sock: Path) -> None:
    """The engine's export wait: nothing at all within the timeout raises `TimeoutError`."""
    stop = threading.Event()
    serve(sock, lambda conn: stop.wait(10))
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        api(sock).body_stream("/x", timeout=0.5, block=BLOCK)
    stop.set()
    assert time.monotonic() - start < 3


def test_error_status_reads_the_message(sock: Path) -> None:
    def script(conn: socket.socket) -> None:
        msg = b'{"message":"No such image: nope"}'
        conn.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n\r\n" + msg)

    serve(sock, script)
    with pytest.raises(EngineNotFound, match="No such image: nope"):
        api(sock).body_stream("/images/{0}/get", "nope", timeout=5, block=BLOCK)
