"""A scripted HTTP server: answers requests in order with the exact bytes a test gives.

The simulator answers one way; the real API may answer another. Tests that need an answer the
simulator never gives (a literal `null` next header, a loop, a wrapped object) script it here.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Scripted:
    """Answers requests in order from a list of (status, headers, body bytes)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.seen = []  # (time, method, path)
        self.requests = []  # {"method", "path", "headers"} of each request, in order
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                scripted.seen.append((time.monotonic(), self.command, self.path))
                scripted.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers)}
                )
                status, headers, body = scripted.answers.pop(0)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v4"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def page(n, next_header, size=10):
    items = [{"linkedin_profile_url": f"https://www.linkedin.com/in/p{n}-{i}"} for i in range(size)]
    headers = {"Content-Type": "application/json"}
    if next_header is not None:
        headers["X-Pagination-Next"] = next_header
    return (200, headers, json.dumps(items).encode())
