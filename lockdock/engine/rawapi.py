"""The Engine API without the docker SDK for a local engine, and every private SDK detail.

Two parts:

- `LocalAPI`: the Docker Engine API over the engine's unix socket with keep-alive
  connections (a small pool, one connection per thread at a time; replies read by
  `leanhttp`, streams by `http.client`). It answers
  the read calls a scan and the TUI make (`containers`, `images`, `inspect_container`,
  `inspect_image`, `history`, `inspect_network`, `top`, `events`, `version`, `info`) with
  the same JSON and arguments as the SDK's `APIClient` methods of those names, and hands every other
  attribute to a real `docker.APIClient` built on first use. A scan of a local engine so
  never imports the SDK (requests, urllib3 and paramiko: ~0.1-0.2 s of start-up) and pays
  a quarter of the SDK's per-request cost. Engine API reference: docs.docker.com/engine/api
  (`GET /containers/json`, `/containers/{id}/json`, `/images/json`, `/images/{name}/json`,
  `/images/{name}/history`, `/networks/{id}`, `/containers/{id}/top`, `/events`, `/version`,
  `/info`).
- `get_stream`, `post_json`, `sdk_socket_path`, `close_stream`: the few places lockdock reaches into the
  SDK's private helpers (the SDK has no public method for them; if a future SDK renames
  them, this module is the one place to change).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from lockdock.engine.leanhttp import Connection

if TYPE_CHECKING:
    from lockdock.engine.streams import BodyStream, EventStream

POOL_SIZE = 4  # idle keep-alive connections kept for reuse
PIPELINE_WINDOW = 32  # requests `get_many` keeps unanswered per connection (~3.5 KB of requests)
PIPELINE_LANES = 3  # connections `get_many` spreads its requests over (the engine's parallel work)

try:  # a declared dependency; the standard library when it is missing
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]


# 20 digits in a row may be an integer beyond 64 bits, which orjson reads as a float: found
# as 20 nines once every digit is a nine (bytes.translate and a substring search: ~2 us on a
# 4 KB reply, a regex search costs ~30 us, twice orjson's parse).
_DIGITS_TO_NINE = bytes.maketrans(b"012345678", b"999999999")
_LONG_NUMBER = b"9" * 20


def decode_json(body: bytes) -> Any:
    """`json.loads(body)`, computed by orjson (a third of the CPU time on an engine's
    replies) when it gives the same value: text with 20 digits in a row (an integer orjson
    would turn into a float) and text orjson refuses (UTF-16/32, invalid UTF-8) are read by
    `json.loads`, so the value is always the standard library's. Raises ValueError."""
    if _orjson is not None and _LONG_NUMBER not in body.translate(_DIGITS_TO_NINE):
        try:
            return _orjson.loads(body)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(body)


class EngineAPIError(Exception):
    """The engine answered an Engine API request with an error status (or an unreadable body).

    `status` is the HTTP status (0: the reply was not JSON), `explanation` the engine's
    `message` (untrusted text: sanitise before showing). `str()` reads like the SDK's
    `APIError`: "404 Client Error: No such container: x"."""

    def __init__(self, status: int, explanation: str, path: str = "") -> None:
        kind = "Client Error" if 400 <= status < 500 else "Server Error" if status >= 500 else "Bad Reply"
        super().__init__(f"{status} {kind}: {explanation}" if status else f"unexpected reply: {explanation}")
        self.status = status
        self.explanation = explanation
        self.path = path


class EngineNotFound(EngineAPIError):
    """HTTP 404: no such container, image or network (e.g. removed since it was listed)."""


def filters_param(filters: dict[str, Any]) -> str:
    """The `filters` query value of the Engine API: JSON of name -> list of strings
    (a bool becomes "true"/"false", a single value a one-item list), as the SDK sends."""
    out: dict[str, list[str]] = {}
    for key, given in filters.items():
        value = ("true" if given else "false") if isinstance(given, bool) else given
        items = value if isinstance(value, list) else [value]
        out[key] = [v if isinstance(v, str) else str(v) for v in items]
    return json.dumps(out)


def _quote(arg: str) -> str:
    """A path argument (an id or reference) as the SDK quotes it: '/' and ':' kept."""
    if not isinstance(arg, str):
        raise ValueError(f"expected a string, got {type(arg).__name__}")
    return urllib.parse.quote(arg, safe="/:")


def _api_error(status: int, body: bytes, path: str) -> EngineAPIError:
    """The error of an engine reply with `status` >= 400: the engine's JSON "message", or
    the start of the body when it has none (EngineNotFound for 404)."""
    try:
        explanation = json.loads(body).get("message")
    except (ValueError, AttributeError):
        explanation = None
    if not isinstance(explanation, str):
        explanation = body[:200].decode("utf-8", "replace").strip()
    return (EngineNotFound if status == 404 else EngineAPIError)(status, explanation, path)


class LocalAPI:
    """A local engine's API over its unix socket (see the module docstring).

    `socket_path`: the socket; `timeout`: seconds per socket operation; `version`: the API
    version prefix (e.g. "1.41"), from `negotiate()` when None. `make_sdk()` returns the
    `docker.APIClient` that serves every other method; it is called at most once, on first
    use. Thread-safe. Raises `EngineNotFound` (404), `EngineAPIError` (other statuses,
    non-JSON bodies) and `OSError` (socket trouble, `leanhttp.BadReply`,
    `TimeoutError` included)."""

    def __init__(self, socket_path: str, timeout: float, make_sdk: Callable[[LocalAPI], Any],
                 version: str | None = None) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._version = version
        self._make_sdk = make_sdk
        self._sdk: Any = None
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ transport

    @property
    def api_version(self) -> str:
        if self._version is None:
            self.negotiate()
        assert self._version is not None
        return self._version

    def negotiate(self) -> dict[str, Any]:
        """`GET /version` without a version prefix; sets the prefix to the engine's
        `ApiVersion` (what the SDK's version="auto" does). Returns the reply."""
        reply = self.get("/version", versioned=False)
        api_version = reply.get("ApiVersion") if isinstance(reply, dict) else None
        if not isinstance(api_version, str) or not api_version[:1].isdigit():
            raise EngineAPIError(0, "the engine's /version reply has no ApiVersion", "/version")
        self._version = api_version
        return reply

    def _take(self) -> Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return Connection(self.socket_path, self.timeout)

    def _give_back(self, conn: Connection) -> None:
        with self._lock:
            if len(self._idle) < POOL_SIZE:
                self._idle.append(conn)
                return
        conn.close()

    def request(self, path: str, query: dict[str, Any] | None = None, *, versioned: bool = True) -> tuple[int, bytes]:
        """GET `path` (already quoted); returns (status, body). Read by `leanhttp.Connection`
        (keep-alive; a connection the engine closed meanwhile is retried once on a fresh one)."""
        if query:
            path += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        if versioned:
            path = f"/v{self.api_version}{path}"
        for attempt in (0, 1):
            conn = self._take()
            reused = conn.sock is not None
            try:
                status, body, reusable = conn.get(path)
            except (BrokenPipeError, ConnectionResetError):  # the connection is closed by get()
                if reused and attempt == 0:
                    continue  # the engine dropped an idle connection: once more, fresh
                raise
            if reusable:
                self._give_back(conn)
            else:
                conn.close()
            return status, body
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, query: dict[str, Any] | None = None, *, versioned: bool = True) -> Any:
        """GET `path` and decode its JSON; raises as the class docstring says."""
        status, body = self.request(path, query, versioned=versioned)
        got = self._decoded(status, body, path)
        if isinstance(got, EngineAPIError):
            raise got
        return got

    def get_many(self, paths: list[str], window: int = PIPELINE_WINDOW, lanes: int = PIPELINE_LANES) -> Iterator[Any]:
        """GET each of `paths` (already quoted; versioned here), the requests pipelined
        (`leanhttp.Connection.send_gets`) on `lanes` connections of their own (path k on
        lane k % lanes, so the engine works on that many at once), at most `window`
        unanswered per lane, the first ones sent before this returns. Yields per path, in
        order, its decoded JSON reply, or the exception `get` would have raised for it (an
        `EngineAPIError`, `OSError` or `ValueError` instance: yielded, not raised).

        No thread: the engine works on the next requests while the caller handles a reply
        (`lockdock scan` reads hundreds of container inspects so at about half the client
        CPU of a request at a time on a few threads). After a connection error, or a reply
        that ends the connection, that lane's paths not yet answered are asked one at a
        time with `get` (its retry included); after a timeout that path gets the error and
        the rest are sent again on a new connection, unless it was that connection's first
        reply (the engine stopped answering): then they all get that error, unasked. A
        lane's connection goes back to the pool when all its replies were read, and is
        closed when the iterator is left early (replies may still be on their way)."""
        full = [f"/v{self.api_version}{p}" for p in paths]
        n = max(1, min(lanes, len(full)))
        own = [_Lane(self, full[i::n], window) for i in range(n)]
        return self._in_order(own, len(full))

    @staticmethod
    def _in_order(lanes: list[_Lane], count: int) -> Iterator[Any]:
        try:
            for k in range(count):
                yield lanes[k % len(lanes)].next()
        finally:
            for lane in lanes:
                lane.end()

    @staticmethod
    def _decoded(status: int, body: bytes, path: str) -> Any:
        """`get`'s answer for a reply: the JSON value, or the error it raises, returned."""
        if status >= 400:
            return _api_error(status, body, path)
        try:
            return decode_json(body)
        except ValueError:
            return EngineAPIError(0, f"HTTP {status}, not JSON", path)

    def after_fork(self) -> None:
        """In a process forked from the one that made this client: drop the pooled
        connections it inherited, so that no request of this process shares a socket with
        the parent's. Each is closed here only (a unix socket stays open while the parent
        still holds it); the next request opens a connection of its own."""
        self._lock = threading.Lock()
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        if self._sdk is not None:
            self._sdk.close()

    # ------------------------------------------------------------------ SDK-shaped calls

    def version(self, api_version: bool = True) -> Any:
        return self.get("/version", versioned=api_version)

    def info(self) -> Any:
        return self.get("/info")

    def containers(self, quiet: bool = False, all: bool = False, filters: dict[str, Any] | None = None) -> Any:
        query: dict[str, Any] = {"all": 1 if all else 0}
        if filters:
            query["filters"] = filters_param(filters)
        listed = self.get("/containers/json", query)
        return [{"Id": c["Id"]} for c in listed] if quiet else listed

    def images(self, name: str | None = None, quiet: bool = False, all: bool = False,
               filters: dict[str, Any] | None = None) -> Any:
        query: dict[str, Any] = {"only_ids": 1 if quiet else 0, "all": 1 if all else 0}
        if name:
            filters = {**(filters or {}), "reference": name}
        if filters:
            query["filters"] = filters_param(filters)
        listed = self.get("/images/json", query)
        return [i["Id"] for i in listed] if quiet else listed

    def inspect_container(self, container: str) -> Any:
        return self.get(f"/containers/{_quote(container)}/json")

    def inspect_image(self, image: str) -> Any:
        return self.get(f"/images/{_quote(image)}/json")

    def history(self, image: str) -> Any:
        return self.get(f"/images/{_quote(image)}/history")

    def inspect_network(self, net_id: str) -> Any:
        return self.get(f"/networks/{_quote(net_id)}")

    def events(self, decode: bool = True, filters: dict[str, Any] | None = None) -> EventStream:
        """`GET /events`: an endless stream of the engine's events, one JSON object each
        (`decode` must be True: the only form lockdock reads). Its own connection, without a
        read timeout (the engine is silent until something happens); `close()` ends it."""
        if not decode:
            raise ValueError("LocalAPI.events() yields decoded events only")
        from lockdock.engine.streams import EventStream, _UnixConnection
        path = f"/v{self.api_version}/events"
        if filters:
            path += "?" + urllib.parse.urlencode({"filters": filters_param(filters)})
        conn = _UnixConnection(self.socket_path, self.timeout)
        try:
            conn.request("GET", path)
            conn.sock.settimeout(None)
            resp = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        if resp.status >= 400:
            body = resp.read()
            conn.close()
            raise (EngineNotFound if resp.status == 404 else EngineAPIError)(
                resp.status, body[:200].decode("utf-8", "replace").strip(), path)
        return EventStream(conn, resp)

    def send_get(self, path: str, *args: str, timeout: float) -> socket.socket:
        """Connect and send the HTTP/1.0 GET of `path` (a `{0}`-style template filled with
        quoted `args`) without reading anything: the socket, for `body_stream(sent=...)`.
        `timeout` (seconds) bounds the connect and the send. Raises `OSError`."""
        full = f"/v{self.api_version}" + path.format(*(_quote(a) for a in args))
        # The bytes are what `http.client` sends for an HTTP/1.0 GET: no headers at all.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(self.socket_path)
            sock.sendall(f"GET {full} HTTP/1.0\r\n\r\n".encode("ascii"))
        except BaseException:
            sock.close()
            raise
        return sock

    def body_stream(self, path: str, *args: str, timeout: float, block: int = 1 << 20,
                    sent: socket.socket | None = None) -> BodyStream:
        """GET `path` (a `{0}`-style template filled with quoted `args`) on its own
        connection and return its body as a `BodyStream` of up to `block` bytes per item.
        `sent`: a socket `send_get` already asked the same `path` on (taken over: closed
        on error, by the stream otherwise). `timeout` bounds every socket operation (the
        wait for the first byte included). Raises like `get` for an error status, `OSError`
        (`TimeoutError`) for the socket."""
        full = f"/v{self.api_version}" + path.format(*(_quote(a) for a in args))
        # The request leaves before `http.client` (with `ssl` and `email`) is imported: the
        # ~20 ms of imports, more while another thread imports too, are spent while the
        # engine prepares its reply (a `docker save` exports the whole image first).
        sock = self.send_get(path, *args, timeout=timeout) if sent is None else sent
        try:
            sock.settimeout(timeout)
            from lockdock.engine.streams import BodyStream, _UnixConnection10

            conn = _UnixConnection10(self.socket_path, timeout)
        except BaseException:
            sock.close()
            raise
        conn.sock = sock  # connected and asked above; `conn.close()` closes it
        try:
            resp = conn.response_class(sock, method="GET")
            resp.begin()
            if resp.status >= 400:
                raise _api_error(resp.status, resp.read(64 * 1024), full)
        except BaseException:
            conn.close()
            raise
        return BodyStream(conn, resp, block)

    def top(self, container: str, ps_args: str | None = None) -> Any:
        return self.get(f"/containers/{_quote(container)}/top", {"ps_args": ps_args} if ps_args is not None else None)

    # ------------------------------------------------------------------ everything else

    @property
    def sdk(self) -> Any:
        """The `docker.APIClient` for every call not answered here (built once)."""
        if self._sdk is None:
            with self._lock:
                if self._sdk is None:
                    self._sdk = self._make_sdk(self)
        return self._sdk

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in _OWN:  # not set yet (copy, pickle): never the SDK's
            raise AttributeError(name)
        return getattr(self.sdk, name)


_OWN = frozenset({"_sdk", "_make_sdk", "_lock", "_idle", "_version", "socket_path", "timeout"})


def local_socket(api: Any) -> str | None:
    """The unix socket path behind `api` (a `LocalAPI` or an SDK client), else None."""
    if isinstance(api, LocalAPI):
        return api.socket_path
    return sdk_socket_path(api)


# --------------------------------------------------------------------------- SDK internals


def sdk_socket_path(api: Any) -> str | None:
    """The unix socket behind an SDK `APIClient`, when it talks to a local engine.

    Why private: the SDK keeps the socket path on its transport adapter only."""
    try:
        path = api.get_adapter(api.base_url).socket_path
    except Exception:  # noqa: BLE001 - tcp, ssh or an SDK without that attribute
        return None
    return path if isinstance(path, str) and path else None


def get_stream(api: Any, path: str, *args: str, timeout: float) -> Any:
    """GET `path` (a `{0}`-style template filled with `args`) as a streamed response.

    Why private: `APIClient.get_image()` streams `docker save` too, but with the client's
    short default timeout; the daemon sends the first byte only after exporting the whole
    image, so the read timeout must be set per request. Raises `docker.errors.APIError`
    (or `requests` errors) when the engine refuses or cannot be reached.
    """
    if isinstance(api, LocalAPI):
        api = api.sdk
    res = api._get(api._url(path, *args), stream=True, timeout=timeout)
    api._raise_for_status(res)
    return res


def post_json(api: Any, path: str, *args: str, data: dict[str, Any]) -> Any:
    """POST `data` as JSON to `path` (a `{0}`-style template filled with `args`).

    Why private: `APIClient.update_container()` has no keyword for `PidsLimit` or
    `NanoCpus`, which the Engine API's `/containers/{id}/update` accepts. Raises
    `docker.errors.APIError` when the engine refuses.
    """
    if isinstance(api, LocalAPI):
        api = api.sdk
    res = api._post_json(api._url(path, *args), data=data)
    api._raise_for_status(res)
    return res


def close_stream(stream: Any) -> None:
    """Close an open event/log stream from any thread, so a read blocked in it returns.

    `stream` is an `EventStream` of `LocalAPI` or the SDK's `CancellableStream`. The SDK
    cannot cancel a stream over `ssh://` (its `close()` raises "Cancellable streams not
    supported for the SSH protocol"): with the system `ssh` client (`use_ssh_client=True`)
    the stream reads the stdout of an `ssh ... docker system dial-stdio` process, reached
    through the SDK's private `response.raw._fp.fp.channel`; ending that process ends the
    read. Never raises (a stream already closed or gone is fine)."""
    try:
        stream.close()
        return
    except Exception:  # noqa: BLE001 - the SDK refuses ssh streams; handled below
        pass
    with contextlib.suppress(Exception):
        fp = stream._response.raw._fp.fp  # the SDK's CancellableStream internals
        channel = getattr(fp, "channel", None)
        proc = getattr(channel, "proc", None)
        if proc is not None:  # docker.transport.sshconn.SSHSocket: the ssh process
            proc.kill()
            with contextlib.suppress(Exception):
                proc.wait(timeout=5)
        elif channel is not None:  # a paramiko channel
            channel.close()


class _Lane:
    """One connection of `LocalAPI.get_many`: its paths, pipelined `window` at a time."""

    def __init__(self, api: LocalAPI, paths: list[str], window: int) -> None:
        self.api = api
        self.paths = paths
        self.window = window
        self.conn = api._take()
        self.sent = 0
        self.done = 0
        self.broken = False  # the rest one at a time
        self.timed_out: TimeoutError | None = None
        self.fresh = False  # reopened after a timeout, no reply read on it yet
        self._send(paths[:window])

    def _send(self, more: list[str]) -> None:
        try:
            self.conn.send_gets(more)
            self.sent += len(more)
        except (OSError, ValueError):
            self.broken = True

    def next(self) -> Any:
        """The answer for this lane's next path (see `LocalAPI.get_many`)."""
        path = self.paths[self.done]
        self.done += 1
        if self.timed_out is not None:
            return self.timed_out
        if not self.broken:
            try:
                status, body, reusable = self.conn.next_reply()
            except TimeoutError as exc:  # the engine is stuck on this path, or stopped answering
                if self.fresh or self.done == len(self.paths):
                    self.timed_out = exc  # stopped: the rest get this error, unasked
                    return exc
                # Stuck on this one (a wedged container): the paths behind it go on a new
                # connection, as they would have without pipelining.
                self.conn = self.api._take()
                self.sent, self.fresh = self.done, True
                self._send(self.paths[self.done:self.done + self.window])
                return exc
            except OSError:
                self.broken = True
            else:
                self.fresh = False
                if not reusable:
                    self.conn.close()
                    self.broken = True
                elif self.sent < len(self.paths) and self.sent - self.done <= self.window // 2:
                    self._send(self.paths[self.sent:self.done + self.window])  # refill, a batch at a time
                return LocalAPI._decoded(status, body, path)
        try:
            return self.api.get(path, versioned=False)
        except (EngineAPIError, OSError, ValueError) as exc:
            return exc

    def end(self) -> None:
        """Give the connection back when every reply was read on it, else close it."""
        if not self.broken and self.timed_out is None and self.done == len(self.paths) \
                and self.conn.sock is not None:
            self.api._give_back(self.conn)
        else:
            self.conn.close()
