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


class _UnixConnection10(_UnixConnection):
    """The same, speaking HTTP/1.0 (http.client's version attributes, as its own
    HTTP/1.0 handling reads them): the reply body comes unchunked, ended by the close."""

    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"


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
    (`images.save_stream` checks the tar end-of-archive blocks)."""

    def __init__(self, conn: _UnixConnection, resp: http.client.HTTPResponse, block: int) -> None:
        self._conn = conn
        self._resp = resp
        self._block = block

    def __iter__(self) -> Any:
        try:
            while True:
                data = self._resp.read(self._block)
                if not data:
                    return
                yield data
        finally:
            self.close()

    def close(self) -> None:
        self._conn.close()
