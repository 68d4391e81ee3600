"""Dagster integration for the Captain Data v4 API.

The client (`CaptainDataClient`) is a plain library; the Dagster layer (`CaptainDataResource`, and the
asset, sensor and check factories) builds on it; `captaindata_dagster.simulator` serves the same API
on loopback for demos and tests.
"""

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
from .resource import CaptainDataResource

__all__ = [
    "Action",
    "ActionResult",
    "AuthenticationError",
    "CaptainDataClient",
    "CaptainDataError",
    "CaptainDataResource",
    "Catalog",
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
    "load_catalog",
]
