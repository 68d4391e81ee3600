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

from typing import TYPE_CHECKING

from captaindata_dagster.lazy_exports import lazy_exports

if TYPE_CHECKING:  # imported on first use below; a type checker sees them now
    from captaindata_dagster.simulator.config import ERROR_LABELS, SimulatorConfig
    from captaindata_dagster.simulator.data import sample_input, sample_value
    from captaindata_dagster.simulator.server import Simulator, run_simulator
    from captaindata_dagster.simulator.state import RequestRecord

# The resource reads `simulator.sandbox` (is the sandbox on?) in every process that loads a code
# location: that must not pay for the simulator's data and server, imported on first use instead.
_MODULE_OF = {
    "ERROR_LABELS": "config",
    "SimulatorConfig": "config",
    "sample_input": "data",
    "sample_value": "data",
    "Simulator": "server",
    "run_simulator": "server",
    "RequestRecord": "state",
}


__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF)

__all__ = [
    "ERROR_LABELS",
    "RequestRecord",
    "Simulator",
    "SimulatorConfig",
    "run_simulator",
    "sample_input",
    "sample_value",
]
