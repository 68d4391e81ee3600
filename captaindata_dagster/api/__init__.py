"""The API client layer: a plain, thread-safe Python library for the Captain Data v4 API.

It knows nothing of Dagster, the engine or the stores above it: a notebook can use it alone.
`client` (the client's public methods), `request_body` (validating a call, building its body),
`calls` (sending, paced and retried), `retries` (retry by class), `paging` (following
`X-Pagination-Next`), `transport` (one HTTP exchange), `action_result` (what a call returns),
`workspace` (the workspace, user and identity endpoints), `bulk` (async and scheduled runs,
their callbacks and schedules: `bulk_body`, `bulk_query`, `bulk_records`, and `bulk_statuses`, the
one table of run statuses), `errors` (typed errors), `json_types` (a JSON value's type, as the
spec names it), `catalog`
(facts about the actions, from the vendor's OpenAPI), `pacing` (requests per second, one call at
a time per account), `accounts` (users and identities of a workspace, as plain functions).

`resolve_action(action_id)` looks an action up in the catalog, or raises a `ValidationError`
that suggests close ids.

Example:
    >>> from captaindata_dagster.api import CaptainDataClient, CaptainDataError
"""

from captaindata_dagster.api.accounts import (
    connect_linkedin,
    connected_users,
    create_identity,
    create_user,
    linkedin_status,
    list_identities,
    list_users,
)
from captaindata_dagster.api.action_result import ActionResult
from captaindata_dagster.api.bulk import SubmissionOutcomeUnknownError
from captaindata_dagster.api.bulk_records import (
    AsyncSubmission,
    CallbackInfo,
    Page,
    RunInfo,
    ScheduleInfo,
    ScheduleSubmission,
)
from captaindata_dagster.api.catalog import Action, Catalog, load_catalog
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import (
    AuthenticationError,
    CaptainDataError,
    ClientRequestError,
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
from captaindata_dagster.api.request_body import resolve_action

__all__ = [
    "Action",
    "ActionResult",
    "AsyncSubmission",
    "AuthenticationError",
    "CallbackInfo",
    "CaptainDataClient",
    "CaptainDataError",
    "Catalog",
    "ClientRequestError",
    "ConnectionFailedError",
    "CreditsExhaustedError",
    "InvalidInputError",
    "MalformedResponseError",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "RunInfo",
    "ScheduleInfo",
    "ScheduleSubmission",
    "ServerError",
    "SubmissionOutcomeUnknownError",
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
    "load_catalog",
    "resolve_action",
]
