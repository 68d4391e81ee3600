"""The HTTP side of the simulator: read one request, ask the routes for a `Reply`, log the call,
and write the answer in one write (or, for injected faults, hang, cut the connection, or send half).
"""

from __future__ import annotations

import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from captaindata_dagster.simulator.http_server import SimulatorServer
from captaindata_dagster.simulator.replies import Call, Reply

if TYPE_CHECKING:
    from captaindata_dagster.simulator.server import Simulator


class Handler(BaseHTTPRequestHandler):
    """Serves one connection (HTTP/1.1 keep-alive) with the routes of the server's simulator."""

    protocol_version = "HTTP/1.1"
    server_version = "captaindata-simulator"
    sys_version = ""
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        """Silent: the request log is `Simulator.requests`, not stderr."""

    @property
    def simulator(self) -> Simulator:
        """The simulator whose routes answer: the one the `SimulatorServer` was built for."""
        server = self.server
        if not isinstance(server, SimulatorServer):
            raise TypeError(f"Handler serves a SimulatorServer, not {type(server).__name__}")
        return server.simulator

    def setup(self) -> None:
        super().setup()
        self.simulator.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.simulator.track(self.connection, False)

    def do_GET(self) -> None:
        """Every method goes through `serve` (the routes answer 405 for the wrong one)."""
        self.serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def read_body(self) -> bytes | None:
        """The request body (chunked or by Content-Length), or None when it cannot be read."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            return None
        return self.rfile.read(n) if n > 0 else b""

    def serve(self) -> None:
        """Answer one request and log it (the simulator's own endpoints are not logged)."""
        sim = self.simulator
        t0 = time.monotonic()
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        call = Call(self.command, path, query, time.time(), t0)
        raw = self.read_body()
        if raw is None:
            self.close_connection = True
            reply = sim.routes.error(call, 400, "BAD_INPUT", "input", "unreadable request body")
        else:
            try:
                reply = sim.routes.dispatch(call, self.headers, raw)
            except Exception as e:  # a simulator bug must still answer in the API's shape
                reply = sim.routes.error(
                    call,
                    500,
                    "GENERIC_ERROR",
                    None,
                    f"simulator error: {type(e).__name__}: {e}",
                )
        if not call.logged and not path.startswith("/_simulator/"):
            sim.log_call(call)
        self.send(reply)

    def send(self, reply: Reply) -> None:
        """Write the answer in one write, or hang up as the reply's `mode` says."""
        if reply.mode in ("close", "hang"):
            if reply.hang_s > 0:  # already logged: the client gives up long before we hang up
                self.simulator.stopping.wait(reply.hang_s)
            self.close_connection = True
            return
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        head = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
        ]
        head.extend(f"{k}: {v}" for k, v in reply.headers.items())
        if self.close_connection:
            head.append("Connection: close")
        blob = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        body = reply.body if self.command != "HEAD" else b""
        if reply.mode == "drop":
            blob += body[: len(body) // 2]
            self.close_connection = True
        else:
            blob += body
        try:
            self.wfile.write(blob)
        except OSError:
            self.close_connection = True
