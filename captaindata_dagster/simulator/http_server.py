"""The simulator's listening socket: a threading HTTP server that knows the simulator it serves.

Its handlers (`handler.Handler`) read the routes, the connection tracking and the stop signal from
`server.simulator`, a declared attribute set when the server is built, so they read it typed.
Binding skips the reverse DNS lookup of the host, and a client hanging up mid-request is not
reported: timeouts and dropped connections are faults the simulator injects on purpose.

Example:
    >>> server = SimulatorServer(("127.0.0.1", 0), Handler, simulator)  # doctest: +SKIP
    >>> server.serve_forever()  # doctest: +SKIP
"""

from __future__ import annotations

import socketserver
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from captaindata_dagster.simulator.server import Simulator


class SimulatorServer(ThreadingHTTPServer):
    """One thread per connection, serving `simulator`'s routes."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    simulator: Simulator

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[socketserver.BaseRequestHandler],
        simulator: Simulator,
    ) -> None:
        self.simulator = simulator
        super().__init__(address, handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host (slow on some machines)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: clients that hang up mid-request are expected (timeouts, dropped faults)."""
