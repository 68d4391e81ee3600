"""The receiver served by uvicorn: in the foreground until Ctrl-C, or in a thread for tests.

`serve_receiver` is what `captaindata-dagster receiver` runs; `ReceiverServer` starts the same
server in a background thread (port 0 picks a free one) and stops it by setting uvicorn's
`should_exit`, so a test or a notebook can post to it on loopback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import uvicorn

from captaindata_dagster.receiver.app import build_receiver_app
from captaindata_dagster.receiver.settings import ReceiverSettings
from captaindata_dagster.storage.callbacks import CallbackStore


def _config(settings: ReceiverSettings, store: CallbackStore | None) -> uvicorn.Config:
    app = build_receiver_app(settings, store=store)
    # Per post, uvicorn's defaults add work nothing here reads: the proxy headers' rewrite of the
    # client address (the receiver never reads it), and the Server and Date headers.
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=False,
    )


def serve_receiver(settings: ReceiverSettings, *, store: CallbackStore | None = None) -> None:
    """Serve the receiver in the foreground until SIGINT (Ctrl-C) or SIGTERM.

    Example:
        >>> serve_receiver(ReceiverSettings(port=8787, public_url="https://hooks.example.com"))  # doctest: +SKIP
    """
    uvicorn.Server(_config(settings, store)).run()


class ReceiverServer:
    """The receiver on a background thread; a context manager that stops it on exit.

    Args:
        settings: where to listen (port 0: a free port) and the rest.
        store: the callback store (default: the one the settings name).
        start_timeout_s: how long `start()` waits for the socket to listen.
        clock: the monotonic clock that deadline is read on (default `time.monotonic`).
        sleep: how `start()` waits between two looks (default `time.sleep`).

    Example:
        >>> with ReceiverServer(ReceiverSettings(port=0, store=tmp / "cb.sqlite")) as server:  # doctest: +SKIP
        ...     httpx.post(server.callback_url, json=payload, headers=headers)
    """

    def __init__(
        self,
        settings: ReceiverSettings,
        *,
        store: CallbackStore | None = None,
        start_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.server = uvicorn.Server(_config(settings, store))
        self.start_timeout_s = start_timeout_s
        self._clock, self._sleep = clock, sleep
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (once started)."""
        (server,) = self.server.servers
        return int(server.sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        """`http://host:port` of the bound socket (loopback, not the public URL)."""
        return f"http://{self.settings.host}:{self.port}"

    @property
    def callback_url(self) -> str:
        """The `callback.url` the settings give (the public URL, else the bound address)."""
        return self.settings.callback_url(port=self.port)

    def start(self) -> ReceiverServer:
        """Start serving and wait until the socket listens."""
        self._thread = threading.Thread(
            target=self.server.run, name="captaindata-receiver", daemon=True
        )
        self._thread.start()
        deadline = self._clock() + self.start_timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or self._clock() > deadline:
                self.stop()
                raise RuntimeError("the receiver did not start (is the port taken?)")
            self._sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask uvicorn to finish the requests in flight and stop; wait for its thread."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ReceiverServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
