"""The simulator as an object: start it on loopback, point a client at it, read what it saw.

`run_simulator(...)` is the usual entry point (a context manager); `Simulator(config).start()` and
`.stop()` are there for fixtures that manage the lifetime themselves.
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields, replace
from typing import Any

from captaindata_dagster.simulator.config import SimulatorConfig
from captaindata_dagster.simulator.handler import Handler
from captaindata_dagster.simulator.http_server import SimulatorServer
from captaindata_dagster.simulator.replies import Call
from captaindata_dagster.simulator.routes import Routes
from captaindata_dagster.simulator.state import RequestRecord, State, number

_FIXED = {"host", "port", "api_key", "fault_seed"}  # cannot change while serving


class Simulator:
    """A Captain Data v4 API on loopback, serving from a background thread."""

    def __init__(self, config: SimulatorConfig | None = None, **overrides: Any) -> None:
        cfg = config or SimulatorConfig()
        if overrides:
            cfg = replace(cfg, **overrides)
        if cfg.api_key is None:
            cfg = replace(cfg, api_key=f"sim-{secrets.token_hex(16)}")
        self.config: SimulatorConfig = cfg
        self.state = State(cfg.seed, cfg.fault_seed)
        self.routes = Routes(self)
        self.stopping = threading.Event()
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    # lifetime

    def start(self) -> Simulator:
        """Bind and serve in a daemon thread; returns self. Prints nothing."""
        if self._server is not None:
            return self
        self.stopping = threading.Event()  # a new one: workers of a previous start stay stopped
        server = SimulatorServer((self.config.host, self.config.port), Handler, self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"captaindata-simulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hanging faults, close open keep-alive connections, and end the
        bulk runs' workers (their runs STOPPED) and the schedule ticker, waiting up to 5 s."""
        server = self._server
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.server_close()
        with self._conns_lock:
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.routes.bulk.stop(timeout_s=5)  # bounded: the bulk workers and the schedule ticker
        self._server = None
        self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def track(self, conn: socket.socket, add: bool) -> None:
        """Remember open connections so `stop()` can close idle keep-alive ones."""
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # where it is

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        if self._server is None:
            return self.config.port
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Where a client points: "http://127.0.0.1:<port>/v4"."""
        return f"http://{self.host}:{self.port}/v4"

    @property
    def api_key(self) -> str:
        return str(self.config.api_key)

    # what it saw

    def log_call(self, call: Call) -> None:
        if not call.logged:
            call.logged = True
            self.state.log(call.record())

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request so far (a copy), oldest first; `/_simulator/*` ones are not included."""
        return self.state.snapshot()

    def calls(self, action_id: str | None = None) -> list[RequestRecord]:
        """Action calls so far, optionally of one action only."""
        return [
            r
            for r in self.state.snapshot()
            if r.action_id is not None and (action_id is None or r.action_id == action_id)
        ]

    @property
    def credits_used(self) -> int | float:
        return number(self.state.credits_used)

    def summary(self) -> dict[str, Any]:
        """What `GET /_simulator/state` answers."""
        return self.state.summary()

    def reset(self) -> None:
        """Clear the request log, the credits spent and the rate window, and bulk mode's runs,
        callbacks and schedules: their workers and the schedule ticker are stopped first (as
        `stop()` does, waiting up to 5 s; a run cut short ends STOPPED, then is forgotten). The
        simulator keeps serving; users, identities and accounts stay."""
        self.stopping.set()
        self.routes.bulk.reset(timeout_s=5)
        self.stopping = threading.Event()  # the next runs and ticker watch a fresh one
        self.state.reset()

    # changing behaviour while running

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Swap settings at runtime (all but host, port and api_key); returns the new config."""
        known = {f.name for f in fields(SimulatorConfig)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown simulator setting(s): {', '.join(unknown)}")
        fixed = sorted(k for k in set(changes) & _FIXED if changes[k] != getattr(self.config, k))
        if fixed:
            raise ValueError(f"cannot change {', '.join(fixed)} while running")
        self.config = replace(self.config, **changes)
        return self.config

    def set_faults(self, faults: Mapping[str, float]) -> None:
        """Replace the fault rates (name -> probability per action call)."""
        self.configure(faults=dict(faults))

    # users and accounts, without HTTP (not logged)

    def add_user(
        self, email: str, full_name: str, *, linkedin: bool = True, timezone: str = "UTC"
    ) -> dict[str, Any]:
        """Create a workspace user, with a connected LinkedIn account unless `linkedin=False`."""
        user = self.state.add_user(email, full_name, timezone)
        if linkedin:
            user["integrations"] = [self.link(user["uid"], "linkedin")[0]]
        return user

    def add_identity(
        self, name: str, *, linkedin: bool = True, timezone: str = "UTC"
    ) -> dict[str, Any]:
        """Create an identity (with a login link), its LinkedIn connected unless `linkedin=False`."""
        identity = self.state.add_identity(name, timezone, self.base_url.removesuffix("/v4"))
        if linkedin:
            identity["integrations"] = [self.link(identity["uid"], "linkedin")[0]]
        return identity

    def link(
        self, user_uid: str, integration: str, name: str | None = None, via: str = "cookies"
    ) -> tuple[dict, bool]:
        """Connect (or refresh) a user's or an identity's account: (account, created?). Fresh
        LinkedIn cookies (or a login link opened) end an expired session, so the uid leaves
        `bad_cookie_users`."""
        account, created = self.state.link(user_uid, integration, name, via)
        bad = self.config.bad_cookie_users
        if integration == "linkedin" and user_uid in bad:
            self.configure(bad_cookie_users=tuple(u for u in bad if u != user_uid))
        return account, created

    def set_fail_inputs(self, fail_inputs: Mapping[str, str]) -> None:
        """Replace the inputs that always fail (input value -> fault name or label)."""
        self.configure(fail_inputs=dict(fail_inputs))


@contextmanager
def run_simulator(config: SimulatorConfig | None = None, **kwargs: Any) -> Iterator[Simulator]:
    """Serve a simulator for the `with` block: `with run_simulator(seed=7) as sim: ...`.

    Every `SimulatorConfig` field is accepted as a keyword.
    """
    sim = Simulator(config, **kwargs).start()
    try:
        yield sim
    finally:
        sim.stop()
