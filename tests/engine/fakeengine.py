"""A fake Docker engine on a unix socket: canned replies, garbage, HTTP 500, hangs, cut bodies."""

from __future__ import annotations

import json
import re
import socket
import socketserver
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HANG = "hang"
TRUNCATE = "truncate"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    mode: str = "ok"  # ok, hang, truncate
    content_type: str = "application/json"


def ok(data: Any) -> Reply:
    return Reply(200, json.dumps(data).encode())


BASE_ROUTES: dict[str, Reply] = {
    "/_ping": Reply(200, b"OK", content_type="text/plain"),
    "/version": ok({"ApiVersion": "1.41", "Version": "20.10.99", "MinAPIVersion": "1.12"}),
    "/info": ok({"ID": "fake", "LoggingDriver": "json-file", "SecurityOptions": []}),
    "/containers/json": ok([]),
    "/images/json": ok([]),
    "/networks/bridge": ok({"Name": "bridge", "Options": {}}),
}


class FakeEngine:
    """Serve `routes` (path regex without the /vX.Y prefix -> Reply) on `path`."""

    def __init__(self, path: Path, routes: dict[str, Reply] | None = None) -> None:
        self.path = path
        self.routes = {**BASE_ROUTES, **(routes or {})}
        self.stop = threading.Event()
        engine = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while not engine.stop.is_set():
                    line = self.rfile.readline()
                    if not line:
                        return
                    parts = line.decode("latin-1").split()
                    if len(parts) < 2:
                        return
                    length = 0
                    while True:
                        h = self.rfile.readline()
                        if h in (b"\r\n", b"\n", b""):
                            break
                        if h.lower().startswith(b"content-length:"):
                            length = int(h.split(b":")[1])
                    if length:
                        self.rfile.read(length)
                    path = re.sub(r"^/v\d+\.\d+", "", parts[1].split("?")[0])
                    reply = engine.reply_for(path)
                    if reply.mode == HANG:
                        engine.stop.wait(60)
                        return
                    body = reply.body
                    declared = len(body) * 2 + 100 if reply.mode == TRUNCATE else len(body)
                    head = (
                        f"HTTP/1.1 {reply.status} X\r\nContent-Type: {reply.content_type}\r\n"
                        f"Content-Length: {declared}\r\nApi-Version: 1.41\r\n\r\n"
                    ).encode()
                    self.wfile.write(head + body)
                    self.wfile.flush()
                    if reply.mode == TRUNCATE:
                        return

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(str(path), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reply_for(self, path: str) -> Reply:
        for pattern, reply in self.routes.items():
            if re.fullmatch(pattern, path):
                return reply
        return Reply(404, b'{"message": "no such route"}')

    def __enter__(self) -> FakeEngine:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def silent_socket(path: Path) -> socket.socket:
    """A socket that accepts connections and never answers."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(16)
    return s
