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

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names too, though they are imported on first use (`dir()`, tab completion)."""
    return sorted({*globals(), *__all__})


__all__ = [
    "ERROR_LABELS",
    "RequestRecord",
    "Simulator",
    "SimulatorConfig",
    "run_simulator",
    "sample_input",
    "sample_value",
]
