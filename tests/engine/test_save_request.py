"""The `docker save` request of `LocalAPI.body_stream` leaves before `http.client` (with
`ssl` and `email`) is imported, with the bytes `http.client` sends for an HTTP/1.0 GET."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    r'''
    import socket, sys, threading
    assert "http.client" not in sys.modules
    sent, order = [], []

    class Recording(socket.socket):
        def sendall(self, data, *args):
            if bytes(data).startswith(b"GET "):  # the client's (the server's socket is one too)
                sent.append(bytes(data))
            return super().sendall(data, *args)

    class Watch:
        def find_spec(self, name, path=None, target=None):
            if name == "http.client":
                order.append(len(sent))
            return None

    path = sys.argv[1]
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    got = []

    def serve():
        conn, _ = server.accept()
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
        got.append(head)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/x-tar\r\n\r\n" + b"body" * 1000)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    socket.socket = Recording  # what rawapi opens from now on
    sys.meta_path.insert(0, Watch())
    from lockdock.engine.rawapi import LocalAPI

    api = LocalAPI(path, 5.0, lambda _a: None, version="1.41")
    body = b"".join(api.body_stream("/images/{0}/get", "img:1 x", timeout=5, block=4096))
    assert body == b"body" * 1000, len(body)
    assert order and order[0] == 1, (order, sent)
    assert sent == got == [b"GET /v1.41/images/img:1%20x/get HTTP/1.0\r\n\r\n"], (sent, got)
    '''
)


def test_save_request_is_sent_before_http_client_is_imported(tmp_path: Path) -> None:
    sock = Path("/tmp") / f"lockdock-saverq-{tmp_path.name[-12:]}.sock"
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(sock)], capture_output=True, text=True, timeout=60)
    finally:
        sock.unlink(missing_ok=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
