"""A Captain Data v4 API simulator on loopback, for the demo, the tests and users' own tests.

    from captaindata_dagster.simulator import run_simulator

    with run_simulator(seed=7, faults={"LK_BAD_COOKIE": 0.05}) as sim:
        client = CaptainDataClient(sim.api_key, sim.base_url)
        ...
        assert sim.credits_used == 10

It serves the contract of `../shared/captaindata-v4/API.md` from the catalog: same paths, bodies,
validation, pagination headers, error envelopes, rate limits and credits, with deterministic data.
It imports nothing from the package but the catalog.
"""

from captaindata_dagster.simulator.config import ERROR_LABELS, SimulatorConfig
from captaindata_dagster.simulator.data import sample_input, sample_value
from captaindata_dagster.simulator.server import Simulator, run_simulator
from captaindata_dagster.simulator.state import RequestRecord

__all__ = [
    "ERROR_LABELS",
    "RequestRecord",
    "Simulator",
    "SimulatorConfig",
    "run_simulator",
    "sample_input",
    "sample_value",
]
