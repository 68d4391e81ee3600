"""How a send that did not plainly succeed is recorded: failed, unknown (to review) or sent.

A send is never made twice, so the question after a failure is whether the request may have
reached the API and been carried out. Only an answer saying nothing was done settles `failed`
(and, unless the input itself was refused, the next run tries again); anything that may hide a
send settles `unknown` and waits for a person (`needs_review`). What a label means (`ambiguous`:
the upstream timed out or gave up, the invitation may have gone out) is read from the one table,
`api/labels.py`.

Example:
    >>> from captaindata_dagster.api.errors import ServerError
    >>> settlement(ServerError("boom", status_code=502))
    ('unknown', False)
"""

from __future__ import annotations

from typing import Any

from captaindata_dagster.api.errors import (
    SYSTEMIC_ERRORS,
    CaptainDataError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from captaindata_dagster.api.labels import meaning
from captaindata_dagster.storage.outreach_records import FAILED, SENT, UNKNOWN

STOPPED_ERROR: dict[str, Any] = {
    "error_label": "RUN_STOPPED",
    "error_scope": "run",
    "error_ref": None,
    "status_code": None,
    "message": "the run was stopped (terminated, or its process gone) before this was sent",
}
"""A send the client held back because the run was stopping: nothing went out, retried next run."""


def settlement(err: CaptainDataError) -> tuple[str, bool]:
    """How a failed send settles: (`failed`, retryable), (`unknown`, False) or (`sent`, False).

    Only an answer that says nothing was done is `failed`: a local refusal, any 4xx, a 429, or a
    connection that never opened. A timeout, a dropped connection, a 5xx or an upstream label
    meaning "timed out / gave up" may hide a send that happened: `unknown`. A 2xx with a body we
    could not read was done: `sent`.

    Args:
        err: the error a send raised.

    Example:
        >>> from captaindata_dagster.api.errors import ValidationError
        >>> settlement(ValidationError("bad url", field="linkedin_profile_url"))
        ('failed', False)
    """
    if isinstance(err, ValidationError):
        return FAILED, False
    if isinstance(err, RateLimitError) or err.status_code == 429:
        return FAILED, True
    if isinstance(err, MalformedResponseError) and 200 <= (err.status_code or 0) < 300:
        return SENT, False
    if isinstance(err, TransportError):
        return (FAILED, True) if err.maybe_sent is False else (UNKNOWN, False)
    if isinstance(err, ServerError) or (err.status_code or 0) >= 500:
        return UNKNOWN, False
    if meaning(err.error_label).ambiguous:
        return UNKNOWN, False
    if isinstance(err, SYSTEMIC_ERRORS):
        return FAILED, True  # the key or the workspace, not this profile: fix it and re-run
    if (err.status_code or 0) < 400:  # an odd status outside 2xx/4xx/5xx: assume the worst
        return UNKNOWN, False
    permanent = err.error_scope in ("input", "param")
    return FAILED, not permanent
