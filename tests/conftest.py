"""Shared fixtures: a simulator on loopback per test, and a client pointed at it."""

from __future__ import annotations

import dagster as dg
import pytest

from captaindata_dagster import CaptainDataClient
from captaindata_dagster.simulator import run_simulator
from captaindata_dagster.storage.ledger import Ledger
from tests.postgres_fixtures import pg_url, postgres_server  # noqa: F401 - PostgreSQL fixtures
from tests.scripted import Scripted

TEST_KEY = "cd-test-key-5f0c2a9e-DO-NOT-LEAK"  # distinctive, so a leak is easy to grep for
# Two named LinkedIn people searches, the partitions of most pipeline tests.
SEARCHES = {
    "paris": "https://www.linkedin.com/search/results/people/?keywords=data%20engineer&geo=paris",
    "berlin": "https://www.linkedin.com/search/results/people/?keywords=cto&geo=berlin",
}


@pytest.fixture
def instance():
    """A throwaway DagsterInstance (SQLite storage in a temp dir) for runs, sensors, schedules."""
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def sim():
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


TIERS = ("unit", "integration", "slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from the folder it lives in (`-m unit` runs the fast ones)."""
    for item in items:
        parts = item.path.relative_to(config.rootpath).parts
        tier = next((p for p in parts if p in TIERS), None)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
