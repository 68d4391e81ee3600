"""Shared fixtures and the tiers: each test is marked unit, integration or slow by its folder.

Fixtures: `sim` (a simulator on loopback), `make_sim` (simulators with custom settings),
`make_client` (clients aimed at a simulator), `scripted` (servers answering given bytes),
`instance` (a throwaway DagsterInstance), `ledger` (a SQLite ledger), `api_env` (the environment
a CLI or a step reads), `pg_url` (a PostgreSQL database). Plain helpers are in tests/helpers.py.

A unit test may use none of the server fixtures, and a socket it opens to listen fails the test:
move such a test to tests/integration.
"""

from __future__ import annotations

import socket

import pytest

from captaindata_dagster import CaptainDataClient
from captaindata_dagster.simulator import run_simulator
from captaindata_dagster.storage.ledger import Ledger
from tests.helpers import TEST_KEY
from tests.postgres_fixtures import pg_url, postgres_server  # noqa: F401 - PostgreSQL fixtures
from tests.scripted import Scripted

TIERS = ("unit", "integration", "slow")
# What starts a server (or a Dagster instance): none of it belongs in tests/unit.
SERVER_FIXTURES = frozenset(
    {"sim", "make_sim", "make_client", "scripted", "instance", "api_env", "pg_url", "receiver"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from the folder it lives in (`-m unit` runs the fast ones)."""
    misplaced = []
    for item in items:
        parts = item.path.relative_to(config.rootpath).parts
        tier = next((p for p in parts if p in TIERS), None)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
        servers = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if tier == "unit" and servers:
            misplaced.append(f"{item.nodeid} uses {', '.join(sorted(servers))}")
    if misplaced:
        raise pytest.UsageError(
            "unit tests start no server; move these to tests/integration:\n" + "\n".join(misplaced)
        )


@pytest.fixture(autouse=True)
def _unit_tests_listen_on_nothing(request: pytest.FixtureRequest, monkeypatch) -> None:
    """In tests/unit, a socket that would listen (any server) fails the test at once."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(self, *args):
        raise RuntimeError("a unit test started a server: move it to tests/integration")

    monkeypatch.setattr(socket.socket, "listen", refuse)


@pytest.fixture
def instance():
    """A throwaway DagsterInstance (SQLite storage in a temp dir) for runs, sensors, schedules."""
    import dagster as dg

    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def sim():
    """A simulator on loopback (seed 7, key `TEST_KEY`), stopped after the test."""
    with run_simulator(seed=7, api_key=TEST_KEY) as s:
        yield s


@pytest.fixture
def make_sim():
    """Start simulators with custom settings; all are stopped at the end of the test."""
    started = []

    def start(**kwargs):
        kwargs.setdefault("seed", 7)
        kwargs.setdefault("api_key", TEST_KEY)
        cm = run_simulator(**kwargs)
        s = cm.__enter__()
        started.append(cm)
        return s

    yield start
    for cm in reversed(started):
        cm.__exit__(None, None, None)


@pytest.fixture
def make_client():
    """Build clients for a simulator (`make_client(sim, **settings)`) with short backoffs; closed
    at the end. Pass `sleep=FakeClock().sleep` (tests/helpers.py) to record waits, not sleep."""
    clients = []

    def build(sim, **kwargs):
        kwargs.setdefault("backoff_base_s", 0.01)
        kwargs.setdefault("backoff_max_s", 0.05)
        c = CaptainDataClient(sim.api_key, sim.base_url, **kwargs)
        clients.append(c)
        return c

    yield build
    for c in clients:
        c.close()


@pytest.fixture
def scripted():
    """Start scripted servers (`scripted([(status, headers, body), ...])`); closed at the end."""
    servers = []

    def start(answers):
        s = Scripted(answers)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def ledger(tmp_path):
    """A SQLite ledger in the test's temporary folder."""
    with Ledger(tmp_path / "ledger.sqlite") as led:
        yield led


@pytest.fixture
def api_env(sim, monkeypatch):
    """The environment a CLI or a step reads: the simulator's key and URL, no sandbox."""
    monkeypatch.setenv("CAPTAINDATA_API_KEY", sim.api_key)
    monkeypatch.setenv("CAPTAINDATA_BASE_URL", sim.base_url)
    monkeypatch.delenv("CAPTAINDATA_SANDBOX", raising=False)


@pytest.fixture
def store(tmp_path):
    """The callback store of a test (`callbacks.sqlite` in its temporary folder), closed after."""
    from captaindata_dagster.storage.callbacks import CallbackStore

    with CallbackStore(tmp_path / "callbacks.sqlite") as s:
        yield s


@pytest.fixture
def receiver(store):
    """A callback receiver on a free loopback port, landing in `store`; stopped after the test."""
    from captaindata_dagster.receiver import ReceiverServer, ReceiverSettings

    with ReceiverServer(ReceiverSettings(port=0), store=store) as server:
        yield server
