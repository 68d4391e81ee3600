"""Dagster integration for the Captain Data v4 API.

The top level holds the seventeen names most users need; everything else is reachable from the layer
that owns it (the folder listing is the map):

- `captaindata_dagster.api`: the client, typed errors, the action catalog, pacing, accounts;
- `captaindata_dagster.engine`: runs a batch of inputs (fetch, search walk, side effect);
- `captaindata_dagster.storage`: the ledger and the outreach records on one store;
- `captaindata_dagster.orchestration`: the Dagster layer (resource, factories, sensors, component);
- `captaindata_dagster.simulator`: the API's stand-in on loopback, for demos and tests;
- `captaindata_dagster.testing`: pytest fixtures and test resources wired to the simulator.

Example:
    >>> from captaindata_dagster import CaptainDataClient, CaptainDataError
"""

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from captaindata_dagster.api.action_result import ActionResult
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.lazy_exports import lazy_exports

if TYPE_CHECKING:  # imported on first use below; a type checker sees them now
    from captaindata_dagster.orchestration import (
        CaptainDataActionsComponent,
        CaptainDataAssetProps,
        CaptainDataResource,
        DagsterCaptainDataTranslator,
        DuckDBWarehouseIOManager,
        build_action_asset,
        build_action_op,
        build_captaindata_error_sensor,
        build_captaindata_run_failure_sensor,
        build_company_extraction_asset,
        build_outreach_asset,
        build_people_search_asset,
        build_profile_extraction_asset,
        captaindata_assets,
    )

__all__ = [
    "ActionResult",
    "CaptainDataActionsComponent",
    "CaptainDataAssetProps",
    "CaptainDataClient",
    "CaptainDataError",
    "CaptainDataResource",
    "DagsterCaptainDataTranslator",
    "DuckDBWarehouseIOManager",
    "build_action_asset",
    "build_action_op",
    "build_captaindata_error_sensor",
    "build_captaindata_run_failure_sensor",
    "build_company_extraction_asset",
    "build_outreach_asset",
    "build_people_search_asset",
    "build_profile_extraction_asset",
    "captaindata_assets",
]

# The Dagster layer is imported on first use, so `from captaindata_dagster import
# CaptainDataClient` in a notebook (or the simulator's CLI) does not pay for importing Dagster.
_dagster_layer, _ = lazy_exports(
    __name__,
    {name: "captaindata_dagster.orchestration" for name in __all__ if name not in globals()},
)

# A name this package exported before the top level kept to seventeen still reads, from the layer
# whose `__all__` lists it now, with a DeprecationWarning that says where (see "Upgrading" in
# docs/python-api.md); such names are not in `__all__`, `dir()` or what a type checker sees.
_LAYERS = ("api", "storage", "engine", "orchestration")


def __getattr__(name: str) -> Any:
    if name in __all__ or name.startswith("_"):
        return _dagster_layer(name)
    for layer in _LAYERS:
        package = importlib.import_module(f"{__name__}.{layer}")
        if name in package.__all__:
            warnings.warn(
                f"captaindata_dagster.{name} has moved: `from {package.__name__} import {name}` "
                "(the top level keeps the seventeen names most code needs; see 'Upgrading' in "
                "docs/python-api.md)",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(package, name)
    return _dagster_layer(name)  # AttributeError: no such name


def __dir__() -> list[str]:
    # dg lists this package (our `dagster_dg_cli.registry_modules` entry point) each time any dg
    # project in the environment loads, importing every name listed: list the component it must
    # find, not the whole lazy Dagster layer (that stays in __all__).
    return sorted({*globals(), "CaptainDataActionsComponent"})
