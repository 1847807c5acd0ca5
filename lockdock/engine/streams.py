"""The engine's streamed replies (`GET /events`, `docker save`) for `rawapi.LocalAPI`, on
`http.client` connections over the unix socket. Imported only when a stream is opened: a
scan's plain reads go through `leanhttp` and never import `http.client` (nor `ssl` and
`email`, which it imports).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
from typing import Any


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket (the `Host` header is the SDK's: localhost)."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _UnbufferedResponse(http.client.HTTPResponse):
    """An `HTTPResponse` that reads its status line and headers straight from the socket
    (one byte per read: a few hundred), so that no byte of the body waits in a read buffer:
    `BodyStream` can then take the body from `self.socket` itself. After the headers, `fp`
    is a fresh buffered reader again for `http.client`'s own reads (chunks, error bodies)."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.socket = sock
        self.fp.close()  # the buffered reader made above: nothing was read through it
        self.fp = sock.makefile("rb", buffering=0)

    def begin(self) -> None:
        super().begin()
        raw, self.fp = self.fp, self.socket.makefile("rb")
        raw.close()


class _UnixConnection10(_UnixConnection):
    """The same, speaking HTTP/1.0 (http.client's version attributes, as its own
    HTTP/1.0 handling reads them): the reply body comes unchunked, ended by the close."""

    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"
    response_class = _UnbufferedResponse


class EventStream:
    """Decoded engine events as they come (an iterator of dicts); `close()` from any thread
    ends the iteration (the socket is shut down, which wakes a blocked read)."""

    def __init__(self, conn: _UnixConnection, resp: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._resp = resp

    def __iter__(self) -> Any:
        while True:
            try:
                line = self._resp.readline()
            except (OSError, ValueError, AttributeError, http.client.HTTPException):
                # AttributeError: close() from another thread emptied the reply mid-read
                # (http.client sets its file to None), which is the end asked for.
                if self._conn.sock is None:
                    return  # closed by close()
                raise
            if not line:
                return
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not an event: skipped, as the SDK's decoder never yields it either
            yield event

    def close(self) -> None:
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already gone
                sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()


class BodyStream:
    """The body of one HTTP/1.0 reply as blocks of bytes (an iterator); `close()` ends it.

    HTTP/1.0 is asked for so that the engine sends the body as it is, ended by closing the
    connection, instead of in HTTP/1.1 chunks (about 32 KiB each from Docker's Go server,
    every one decoded in Python by `http.client`: a third of the CPU time of reading a
    `docker save` stream). The price: the end of the connection is the end of the body, so
    a cut connection looks like a short body; the caller must check the content's own end
    (`images.save_stream` checks the tar end-of-archive blocks).

    Each block of an unchunked body is one `recv(block, MSG_WAITALL)` on a blocking socket
    (`SO_RCVTIMEO` bounds each wait): the kernel fills the whole block while the reading
    thread waits without the interpreter lock, so a thread parsing the blocks already read
    holds the reader (and, through its ~200 KiB send buffer, the engine) back at most once
    per block, where reads of whatever had arrived needed the lock again every ~60 KiB.
    `SO_RCVTIMEO` counts per receive call: a call that times out after part of a block
    returns that part; one that times out with nothing read raises `TimeoutError`. A body
    shorter than its Content-Length raises `http.client.IncompleteRead`. A chunked reply is
    read through `http.client`."""

    def __init__(self, conn: _UnixConnection, resp: http.client.HTTPResponse, block: int) -> None:
        self._conn = conn
        self._resp = resp
        self._block = block

    def __iter__(self) -> Any:
        try:
            if self._resp.chunked:
                while data := self._resp.read(self._block):
                    yield data
                return
            yield from self._blocks()
        finally:
            self.close()

    def _blocks(self) -> Any:
        # The response's own socket: `http.client` drops `conn.sock` once a reply that ends
        # with the connection is in; the file descriptor stays open until `close()`.
        sock = getattr(self._resp, "socket", None) or self._conn.sock
        left = self._resp.length  # None: until the engine closes the connection
        flags = _wait_all(sock, self._conn.timeout)
        while left is None or left > 0:
            want = self._block if left is None else min(self._block, left)
            try:
                data = sock.recv(want, flags)
            except BlockingIOError as exc:  # SO_RCVTIMEO ran out with nothing read
                raise TimeoutError("timed out") from exc
            if not data:
                if left:
                    raise http.client.IncompleteRead(b"", left)
                return
            if left is not None:
                left -= len(data)
            yield data

    def close(self) -> None:
        self._resp.close()
        self._conn.close()


def _wait_all(sock: socket.socket, timeout: float | None) -> int:
    """Make `sock` blocking with `timeout` seconds per receive (`SO_RCVTIMEO`) and return
    the recv flags that wait for a whole block (`MSG_WAITALL`); 0, and the socket left as
    it was, where the platform refuses either."""
    flag = getattr(socket, "MSG_WAITALL", 0)
    if not flag or timeout is None or timeout <= 0:
        return 0
    seconds = int(timeout)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                        struct.pack("@ll", seconds, int((timeout - seconds) * 1_000_000)))
    except (OSError, struct.error):
        return 0
    sock.settimeout(None)  # blocking: recv waits in the kernel, bounded by SO_RCVTIMEO
    return flag
