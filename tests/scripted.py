"""A scripted HTTP server: answers requests in order with the exact bytes a test gives.

The simulator answers one way; the real API may answer another. Tests that need an answer the
simulator never gives (a literal `null` next header, a loop, a wrapped object) script it here.
Start one with the `scripted` fixture (tests/conftest.py), which closes it after the test.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = tuple[int, dict[str, str], bytes]  # (status, headers, body bytes)


class Scripted:
    """Answers requests in order from a list of (status, headers, body bytes).

    `answers` may be extended after start (a page's next link needs the server's URL);
    `requests` lists what was asked, in order: {"method", "path", "headers"} each.
    """

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = list(answers)
        self.requests: list[dict] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
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

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # quiet: the test reads `requests`

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v4"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def page(n: int, next_header: str | None, size: int = 10) -> Answer:
    """Page `n` of a people search: `size` profiles, and `next_header` as X-Pagination-Next."""
    items = [{"linkedin_profile_url": f"https://www.linkedin.com/in/p{n}-{i}"} for i in range(size)]
    headers = {"Content-Type": "application/json"}
    if next_header is not None:
        headers["X-Pagination-Next"] = next_header
    return (200, headers, json.dumps(items).encode())
