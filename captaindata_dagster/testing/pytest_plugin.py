"""pytest fixtures for testing your own Captain Data pipelines: no key, no network, no cost.

Not registered automatically: opt in from your top-level `conftest.py` with

    pytest_plugins = ["captaindata_dagster.testing.pytest_plugin"]

Fixtures (each test gets its own, stopped or undone after it):

- `captaindata_simulator`: a started `Simulator` on loopback. Read what your code asked with
  `sim.requests` / `sim.calls(action_id)`, what it cost with `sim.credits_used`; inject failures
  with `sim.set_faults(...)`, `sim.set_fail_inputs(...)` or `sim.configure(...)`.
- `captaindata_resource`: a `CaptainDataResource` calling that simulator, its ledger in the
  test's `tmp_path` (see `simulated_resource`).
- `captaindata_client`: a `CaptainDataClient` calling that simulator, with short retry waits.
- `captaindata_env`: the environment a step or a `Definitions` reads (`CAPTAINDATA_API_KEY`,
  `CAPTAINDATA_BASE_URL`, `CAPTAINDATA_LEDGER` in `tmp_path`; no sandbox, no PostgreSQL ledger).
- `captaindata_simulator_settings`: the `SimulatorConfig` fields the simulator starts with (none:
  the defaults). Override this fixture in a conftest for a whole folder, or mark one test:

      @pytest.mark.captaindata_simulator(seed=7, fail_inputs={URL: "LK_BAD_COOKIE"})
      def test_bad_cookie_is_reported(captaindata_simulator, captaindata_resource): ...

Example:
    >>> # conftest.py
    >>> pytest_plugins = ["captaindata_dagster.testing.pytest_plugin"]
    >>> # test_companies.py
    >>> def test_companies(captaindata_simulator, captaindata_resource):  # doctest: +SKIP
    ...     result = dg.materialize([companies], resources={"captaindata": captaindata_resource})
    ...     assert result.success
    ...     assert len(captaindata_simulator.calls("linkedin-extract-company")) == 2
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from captaindata_dagster.api import CaptainDataClient
from captaindata_dagster.simulator import Simulator
from captaindata_dagster.testing.resources import simulated_resource

if TYPE_CHECKING:
    from captaindata_dagster.orchestration.resource import CaptainDataResource

MARKER = "captaindata_simulator"
BACKOFF_BASE_S = 0.01  # retry waits in a test: milliseconds, not the client's seconds
BACKOFF_MAX_S = 0.05


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker, so `--strict-markers` suites accept it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): SimulatorConfig fields for this test's captaindata_simulator",
    )


@pytest.fixture
def captaindata_simulator_settings() -> dict[str, Any]:
    """The simulator's settings (`SimulatorConfig` fields); override it in a conftest.

    Example:
        >>> @pytest.fixture  # doctest: +SKIP
        ... def captaindata_simulator_settings():
        ...     return {"seed": 7, "search_total": 40}
    """
    return {}


@pytest.fixture
def captaindata_simulator(
    request: pytest.FixtureRequest, captaindata_simulator_settings: dict[str, Any]
) -> Iterator[Simulator]:
    """A started simulator for this test, stopped after it.

    Its settings are `captaindata_simulator_settings`, updated by the keywords of a
    `@pytest.mark.captaindata_simulator(...)` on the test.
    """
    settings = dict(captaindata_simulator_settings)
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keywords only, e.g. seed=7")
        settings.update(marker.kwargs)
    sim = Simulator(**settings).start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def captaindata_resource(captaindata_simulator: Simulator, tmp_path: Path) -> CaptainDataResource:
    """A `CaptainDataResource` calling this test's simulator; its ledger in `tmp_path`.

    Build others with `simulated_resource(captaindata_simulator, ...)` for other settings.
    """
    return simulated_resource(
        captaindata_simulator, ledger_path=tmp_path / "captaindata" / "ledger.sqlite"
    )


@pytest.fixture
def captaindata_client(captaindata_simulator: Simulator) -> Iterator[CaptainDataClient]:
    """A `CaptainDataClient` calling this test's simulator (retry waits of 10-50 ms), closed after."""
    client = CaptainDataClient(
        captaindata_simulator.api_key,
        captaindata_simulator.base_url,
        backoff_base_s=BACKOFF_BASE_S,
        backoff_max_s=BACKOFF_MAX_S,
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def captaindata_env(
    captaindata_simulator: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Simulator:
    """The environment code under test reads, aimed at this test's simulator; undone after.

    For what builds its own `CaptainDataResource()` (a `Definitions` module, a component, the
    CLI): the key and URL of the simulator, a ledger in `tmp_path`, and neither the sandbox nor a
    PostgreSQL ledger or outreach store from the machine's environment. Returns the simulator.
    """
    from captaindata_dagster.api.client import API_KEY_ENV, BASE_URL_ENV
    from captaindata_dagster.simulator.sandbox import SANDBOX_ENV
    from captaindata_dagster.storage.locations import LEDGER_ENV, LEDGER_URL_ENV, STORE_ENV

    monkeypatch.setenv(API_KEY_ENV, captaindata_simulator.api_key)
    monkeypatch.setenv(BASE_URL_ENV, captaindata_simulator.base_url)
    monkeypatch.setenv(LEDGER_ENV, str(tmp_path / "captaindata" / "ledger.sqlite"))
    for name in (SANDBOX_ENV, LEDGER_URL_ENV, STORE_ENV):
        monkeypatch.delenv(name, raising=False)
    return captaindata_simulator
