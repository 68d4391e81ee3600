"""Dagster integration for the Captain Data v4 API.

The client (`CaptainDataClient`) is a plain library; the Dagster layer (`CaptainDataResource`, and the
asset, sensor and check factories) builds on it; `captaindata_dagster.simulator` serves the same API
on loopback for demos and tests.
"""

from .accounts import (
    connect_linkedin,
    connected_users,
    create_identity,
    create_user,
    linkedin_status,
    list_identities,
    list_users,
)
from .catalog import Action, Catalog, load_catalog
from .client import ActionResult, CaptainDataClient
from .errors import (
    AuthenticationError,
    CaptainDataError,
    ConnectionFailedError,
    CreditsExhaustedError,
    InvalidInputError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    UpstreamError,
    ValidationError,
)
from .idempotency import OutreachStore

# The Dagster layer is imported on first use, so `from captaindata_dagster import
# CaptainDataClient` in a notebook (or the simulator's CLI) does not pay for importing Dagster.
_DAGSTER_LAYER = {
    "CaptainDataActionsComponent": ".components",
    "CaptainDataResource": ".resource",
    "build_action_asset": ".assets",
    "build_people_search_asset": ".assets",
    "build_profile_extraction_asset": ".assets",
    "build_company_extraction_asset": ".assets",
    "build_action_op": ".ops",
    "build_captaindata_error_sensor": ".sensors",
    "build_captaindata_run_failure_sensor": ".sensors",
    "extract_profiles_job": ".ops",
    "build_outreach_asset": ".outreach",
    "build_search_schedule": ".schedules",
    "build_outreach_op": ".outreach",
    "run_outreach": ".outreach",
    "create_captaindata_user_op": ".account_ops",
    "connect_linkedin_op": ".account_ops",
    "list_captaindata_users_op": ".account_ops",
    "connect_linkedin_job": ".account_ops",
    "create_captaindata_identity_op": ".account_ops",
    "connect_identity_linkedin_op": ".account_ops",
    "list_captaindata_identities_op": ".account_ops",
    "connect_identity_linkedin_job": ".account_ops",
}


def __getattr__(name: str):
    if name in _DAGSTER_LAYER:
        import importlib

        value = getattr(importlib.import_module(_DAGSTER_LAYER[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # dg lists this package (our `dagster_dg_cli.registry_modules` entry point) each time any dg
    # project in the environment loads, importing every name listed: list the component it must
    # find, not the whole lazy Dagster layer (that stays in __all__).
    return sorted({*globals(), "CaptainDataActionsComponent"})


__all__ = [
    "Action",
    "ActionResult",
    "AuthenticationError",
    "CaptainDataActionsComponent",
    "CaptainDataClient",
    "CaptainDataError",
    "CaptainDataResource",
    "Catalog",
    "ConnectionFailedError",
    "CreditsExhaustedError",
    "InvalidInputError",
    "MalformedResponseError",
    "NotFoundError",
    "OutreachStore",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "TransportError",
    "UpstreamError",
    "ValidationError",
    "build_action_asset",
    "build_action_op",
    "build_captaindata_error_sensor",
    "build_captaindata_run_failure_sensor",
    "build_company_extraction_asset",
    "build_outreach_asset",
    "build_outreach_op",
    "build_people_search_asset",
    "build_profile_extraction_asset",
    "build_search_schedule",
    "connect_identity_linkedin_job",
    "connect_identity_linkedin_op",
    "connect_linkedin",
    "connect_linkedin_job",
    "connect_linkedin_op",
    "connected_users",
    "create_captaindata_identity_op",
    "create_captaindata_user_op",
    "create_identity",
    "create_user",
    "extract_profiles_job",
    "linkedin_status",
    "list_captaindata_identities_op",
    "list_captaindata_users_op",
    "list_identities",
    "list_users",
    "load_catalog",
    "run_outreach",
]
