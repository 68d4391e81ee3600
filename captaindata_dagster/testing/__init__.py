"""Helpers for testing your own Captain Data pipelines with no key and no network.

The simulator itself is `captaindata_dagster.simulator` (a Captain Data v4 API on loopback, with
deterministic synthetic data, a request log and injectable faults); this package builds on it and
on the Dagster layer:

- `simulated_resource(sim, **resource_fields)`: a `CaptainDataResource` aimed at a running
  simulator, its ledger in a temporary folder unless given.
- `captaindata_dagster.testing.pytest_plugin`: pytest fixtures (`captaindata_simulator`,
  `captaindata_resource`, `captaindata_client`, `captaindata_env`), not registered
  automatically: opt in from your top-level `conftest.py` with
  `pytest_plugins = ["captaindata_dagster.testing.pytest_plugin"]`.

Importing this package does not import Dagster; building a resource does.

Example:
    >>> import dagster as dg
    >>> from captaindata_dagster.simulator import run_simulator
    >>> from captaindata_dagster.testing import simulated_resource
    >>> with run_simulator(seed=7) as sim:  # doctest: +SKIP
    ...     result = dg.materialize([my_asset], resources={"captaindata": simulated_resource(sim)})
    ...     assert result.success and sim.calls("linkedin-extract-people")
"""

from captaindata_dagster.testing.resources import simulated_resource

__all__ = ["simulated_resource"]
