"""HTTP/1.1 GET requests on a keep-alive unix socket connection, read without `http.client`.

A scan asks a local engine for hundreds of small JSON documents (one inspect per container
and image). `http.client` spends ~75 us of CPU on each (a buffered file object per reply,
the `email` package's header parser), as much as decoding the JSON and more than the
engine's own answer takes; this reader spends ~15 us. `rawapi.LocalAPI` reads its GET
replies with it; streams (`/events`, `docker save`) stay on `http.client`.

What it reads (RFC 9112): a status line `HTTP/1.x NNN reason` (interim 1xx replies are
skipped); header lines `name: value` (names in any case; obsolete folded lines are refused);
a body framed by `Transfer-Encoding: chunked` (chunk extensions ignored, trailer lines
skipped), by `Content-Length`, or by the end of the connection when the reply has neither
(then the connection is not reused); no body for 204 and 304. The connection is reused only
after an HTTP/1.1 reply without `Connection: close` whose body ended by its framing.

Errors: `ConnectionResetError` when the engine closes the connection before a reply begins
(an idle keep-alive connection it dropped: `LocalAPI.request` retries once on a fresh one);
`BadReply` (a `ConnectionError`) for a reply that is not HTTP, is cut short, or is larger
than `MAX_HEAD`/`MAX_BODY`; `TimeoutError` and other `OSError`s from the socket as they
come. After an error the connection is closed.
"""

from __future__ import annotations

import socket

MAX_HEAD = 64 * 1024  # bytes of status line and headers
MAX_LINE = 4096  # bytes of a chunk-size or trailer line
MAX_BODY = 1 << 30  # bytes of one reply's body
RECV = 256 * 1024  # bytes asked of the socket per read
_GET_TAIL = b" HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: identity\r\n\r\n"


class BadReply(ConnectionError):
    """The engine's reply cannot be read as HTTP (garbage, cut short, too large)."""


class Connection:
    """One keep-alive connection to the HTTP server on unix socket `socket_path`;
    `timeout` seconds bound every socket operation. `sock` is None until the first request
    and after `close()`. Not thread-safe: one request at a time."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self._buf = bytearray()

    def close(self) -> None:
        sock, self.sock = self.sock, None
        self._buf.clear()
        if sock is not None:
            sock.close()

    def get(self, target: str) -> tuple[int, bytes, bool]:
        """GET `target` (a path with its query, already quoted); returns (status, body,
        reusable). Raises as the module docstring says, and ValueError for a target with
        spaces or control or non-ASCII characters."""
        self.send_gets([target])
        return self.next_reply()

    def send_gets(self, targets: list[str]) -> None:
        """Send a GET for each of `targets` back to back, without waiting for replies
        (HTTP/1.1 pipelining, RFC 9112 section 9.3.2: the server answers in order; read each
        with `next_reply`). Raises as `get`; the connection is closed after an error."""
        for target in targets:
            if not target.isascii() or not target.isprintable() or " " in target:
                raise ValueError(f"not a request target: {target!r}")
        try:
            if self.sock is None:
                self._connect()
            assert self.sock is not None
            self.sock.sendall(b"".join(b"GET " + t.encode("ascii") + _GET_TAIL for t in targets))
        except BaseException:
            self.close()
            raise

    def next_reply(self) -> tuple[int, bytes, bool]:
        """The reply to the oldest request sent and not yet answered: (status, body,
        reusable); raises as `get`, closing the connection."""
        try:
            return self._reply()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self._buf.clear()

    # ------------------------------------------------------------------ reading

    def _fill(self) -> bool:
        """Read more bytes into the buffer; False at the end of the connection."""
        assert self.sock is not None
        data = self.sock.recv(RECV)
        if not data:
            return False
        self._buf += data
        return True

    def _take(self, n: int) -> bytes:
        """The next `n` bytes (BadReply when the connection ends first)."""
        while len(self._buf) < n:
            if not self._fill():
                raise BadReply(f"the engine's reply was cut short ({n - len(self._buf)} bytes missing)")
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _line(self) -> bytes:
        """The next CRLF-ended line without its CRLF (chunk sizes, trailers)."""
        while (end := self._buf.find(b"\r\n")) < 0:
            if len(self._buf) > MAX_LINE:
                raise BadReply("a line of the engine's reply is too long")
            if not self._fill():
                raise BadReply("the engine's reply was cut short")
        line = bytes(self._buf[:end])
        del self._buf[:end + 2]
        return line

    def _head(self) -> bytes:
        """Status line and headers, up to the empty line (not included)."""
        started = bool(self._buf)
        while (end := self._buf.find(b"\r\n\r\n")) < 0:
            if len(self._buf) > MAX_HEAD:
                raise BadReply("the engine's reply headers are too long")
            if not self._fill():
                if not started and not self._buf:
                    raise ConnectionResetError("the engine closed the connection without replying")
                raise BadReply("the engine's reply was cut short in its headers")
        head = bytes(self._buf[:end])
        del self._buf[:end + 4]
        return head

    def _reply(self) -> tuple[int, bytes, bool]:
        while True:
            lines = self._head().split(b"\r\n")
            version, _, rest = lines[0].partition(b" ")
            code = rest[:3]
            if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit() \
                    or rest[3:4] not in (b"", b" "):
                raise BadReply(f"not an HTTP reply: {lines[0][:80]!r}")
            status = int(code)
            headers: dict[bytes, bytes] = {}
            for line in lines[1:]:
                name, colon, value = line.partition(b":")
                if not colon or not name or name[:1] in (b" ", b"\t") or name != name.strip():
                    raise BadReply(f"not an HTTP header line: {line[:80]!r}")
                key, value = name.lower(), value.strip()
                if key in headers and key == b"content-length" and headers[key] != value:
                    raise BadReply("the engine's reply has two different Content-Length headers")
                headers[key] = value
            if 100 <= status < 200:
                continue  # an interim reply: the real one follows
            break
        keep = version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
        if status in (204, 304):
            return status, b"", keep
        coding = headers.get(b"transfer-encoding", b"").lower()
        if coding:
            if coding.rsplit(b",", 1)[-1].strip() != b"chunked":
                raise BadReply(f"the engine's reply has a transfer coding this reader cannot read: {coding[:40]!r}")
            return status, self._chunked(), keep
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > MAX_BODY:
                raise BadReply(f"the engine's reply has an unusable Content-Length: {length[:40]!r}")
            return status, self._take(int(length)), keep
        return status, self._until_closed(), False

    def _chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_text = self._line().split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 16 or size_text.strip(b"0123456789abcdefABCDEF"):
                raise BadReply(f"not a chunk size in the engine's reply: {size_text[:40]!r}")
            size = int(size_text, 16)
            if size == 0:
                while self._line():  # trailer lines, then the empty line
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise BadReply("the engine's reply is too large")
            parts.append(self._take(size))
            if self._take(2) != b"\r\n":
                raise BadReply("a chunk of the engine's reply does not end with CRLF")

    def _until_closed(self) -> bytes:
        while self._fill():
            if len(self._buf) > MAX_BODY:
                raise BadReply("the engine's reply is too large")
        data = bytes(self._buf)
        self.close()
        return data
