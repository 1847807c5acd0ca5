"""lockdock demo app: a tiny HTTP server, just so the Dockerfile has something to copy."""

import argparse
from http.server import BaseHTTPRequestHandler, HTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello from the lockdock demo\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    HTTPServer(("0.0.0.0", parser.parse_args().port), Hello).serve_forever()
