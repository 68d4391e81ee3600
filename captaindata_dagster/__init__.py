"""Dagster integration for the Captain Data v4 API.

The top level holds the fifteen names most users need; everything else is reachable from the layer
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

from typing import TYPE_CHECKING, Any

from captaindata_dagster.api.action_result import ActionResult
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import CaptainDataError

if TYPE_CHECKING:  # imported on first use below; a type checker sees them now
    from captaindata_dagster.orchestration import (
        CaptainDataActionsComponent,
        CaptainDataResource,
        DuckDBWarehouseIOManager,
        build_action_asset,
        build_action_op,
        build_captaindata_error_sensor,
        build_captaindata_run_failure_sensor,
        build_company_extraction_asset,
        build_outreach_asset,
        build_people_search_asset,
        build_profile_extraction_asset,
        build_search_schedule,
    )

# The Dagster layer is imported on first use, so `from captaindata_dagster import
# CaptainDataClient` in a notebook (or the simulator's CLI) does not pay for importing Dagster.
_DAGSTER_LAYER = frozenset(
    {
        "CaptainDataActionsComponent",
        "CaptainDataResource",
        "DuckDBWarehouseIOManager",
        "build_action_asset",
        "build_action_op",
        "build_captaindata_error_sensor",
        "build_captaindata_run_failure_sensor",
        "build_company_extraction_asset",
        "build_outreach_asset",
        "build_people_search_asset",
        "build_profile_extraction_asset",
        "build_search_schedule",
    }
)


# Names the top level exported before it kept to fifteen: each now lives in its layer. Reading one
# here still works, with a DeprecationWarning that says where it lives now (see "Upgrading" in
# docs/python-api.md); they are not in `__all__`, `dir()` or what a type checker sees.
_MOVED_TO = {
    **dict.fromkeys(
        (
            "Action",
            "Catalog",
            "load_catalog",
            "AuthenticationError",
            "ConnectionFailedError",
            "CreditsExhaustedError",
            "InvalidInputError",
            "MalformedResponseError",
            "NotFoundError",
            "PermissionDeniedError",
            "RateLimitError",
            "RequestTimeoutError",
            "ServerError",
            "TransportError",
            "UpstreamError",
            "ValidationError",
            "connect_linkedin",
            "connected_users",
            "create_identity",
            "create_user",
            "linkedin_status",
            "list_identities",
            "list_users",
        ),
        "captaindata_dagster.api",
    ),
    "OutreachStore": "captaindata_dagster.storage",
    "run_outreach": "captaindata_dagster.engine",
    **dict.fromkeys(
        (
            "build_outreach_op",
            "connect_identity_linkedin_job",
            "connect_identity_linkedin_op",
            "connect_linkedin_job",
            "connect_linkedin_op",
            "create_captaindata_identity_op",
            "create_captaindata_user_op",
            "extract_profiles_job",
            "list_captaindata_identities_op",
            "list_captaindata_users_op",
        ),
        "captaindata_dagster.orchestration",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _DAGSTER_LAYER:
        import importlib

        value = getattr(importlib.import_module("captaindata_dagster.orchestration"), name)
        globals()[name] = value
        return value
    if name in _MOVED_TO:
        import importlib
        import warnings

        warnings.warn(
            f"captaindata_dagster.{name} has moved: `from {_MOVED_TO[name]} import {name}` "
            "(the top level keeps the fifteen names most code needs; see 'Upgrading' in "
            "docs/python-api.md)",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_MOVED_TO[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # dg lists this package (our `dagster_dg_cli.registry_modules` entry point) each time any dg
    # project in the environment loads, importing every name listed: list the component it must
    # find, not the whole lazy Dagster layer (that stays in __all__).
    return sorted({*globals(), "CaptainDataActionsComponent"})


__all__ = [
    "ActionResult",
    "CaptainDataActionsComponent",
    "CaptainDataClient",
    "CaptainDataError",
    "CaptainDataResource",
    "DuckDBWarehouseIOManager",
    "build_action_asset",
    "build_action_op",
    "build_captaindata_error_sensor",
    "build_captaindata_run_failure_sensor",
    "build_company_extraction_asset",
    "build_outreach_asset",
    "build_people_search_asset",
    "build_profile_extraction_asset",
    "build_search_schedule",
]
