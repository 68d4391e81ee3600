"""Typed, labelled errors for every way a Captain Data call can fail.

One hierarchy keyed by HTTP class, every error carrying the API's envelope fields
(`error_label`, `error_scope`, `error_ref`, `message`, `status_code`, `params`) and whether a retry may
help. A body that is not JSON (a proxy's HTML page) still yields the right class and status. No error
ever holds the API key: messages are built from the response body, which is scrubbed of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from captaindata_dagster.api.labels import INPUT_LABELS, TRANSIENT_LABELS, meaning


class CaptainDataError(Exception):
    """Base of every error raised by this package; catch it to handle them all.

    `retryable` says whether sending the same request again later may succeed.

    When an error stops a whole run (a bad key, credits exhausted), the engine hands what the run
    had done with it, in `partial_result`: a `BatchResult` from `run_batch`, an `OutreachResult`
    from `run_outreach` (read it typed with `BatchResult.from_error(err)` or
    `OutreachResult.from_error(err)`). `user_uid` names the connected account(s) whose call failed,
    when the engine knows them.
    """

    default_label: str = "GENERIC_ERROR"
    default_retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        error_label: str | None = None,
        error_scope: str | None = None,
        error_ref: str | None = None,
        status_code: int | None = None,
        params: Mapping[str, Any] | None = None,
        retryable: bool | None = None,
        action_id: str | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_label = error_label or self.default_label
        self.error_scope = error_scope
        self.error_ref = error_ref
        self.status_code = status_code
        self.params: dict[str, Any] = dict(params or {})
        self.retryable = self.default_retryable if retryable is None else retryable
        self.action_id = action_id
        self.retry_after = retry_after
        self.attempts = attempts  # HTTP attempts the client made before giving up
        self.rate_limited = 0  # 429 answers met on the way (set by the client)
        # False when no connection was ever opened: the request cannot have been carried out.
        self.maybe_sent = True
        # Credits the failed attempts may have cost unseen (timeouts after sending, cut answers,
        # malformed 2xx): counted against budgets and shown next to the credits spent.
        self.credits_at_risk = 0.0
        # Set by the engine when this error stopped a run: what the run had done (see the class).
        self.partial_result: object | None = None
        self.user_uid: str | None = None

    def __str__(self) -> str:
        head = " ".join(str(x) for x in (self.status_code, self.error_label) if x not in (None, ""))
        tail = ", ".join(
            f"{k}={v}"
            for k, v in (
                ("scope", self.error_scope),
                ("ref", self.error_ref),
                ("action", self.action_id),
            )
            if v
        )
        return f"[{head}] {self.message}" + (f" ({tail})" if tail else "")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, "
            f"error_label={self.error_label!r}, error_scope={self.error_scope!r}, "
            f"error_ref={self.error_ref!r}, message={self.message!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Every attribute travels (a subclass's own, `retry_after`, `credits_at_risk`...), but
        # not `partial_result`: frames stay with the process that made them.
        state = {k: v for k, v in vars(self).items() if k != "partial_result"}
        return (_rebuild, (type(self), self.message, self.to_dict()), state)

    def envelope(self, retryable: bool | None = None) -> dict[str, Any]:
        """The error's envelope as an error row and a stored record hold it: label, scope, ref,
        message, status code, and whether a later attempt may succeed.

        Args:
            retryable: what the row should say instead of `self.retryable` (a side effect that
                may have happened is not retryable, whatever the status).

        Example:
            >>> NotFoundError("gone", error_label="NOT_FOUND").envelope()["retryable"]
            False
        """
        return {
            "error_label": self.error_label,
            "error_scope": self.error_scope,
            "error_ref": self.error_ref,
            "message": self.message,
            "status_code": self.status_code,
            "retryable": bool(self.retryable if retryable is None else retryable),
        }

    def to_dict(self) -> dict[str, Any]:
        """The envelope fields with the params and action, for metadata, logs and pickling."""
        return {
            **self.envelope(),
            "retryable": self.retryable,
            "params": self.params,
            "action_id": self.action_id,
        }


def _rebuild(cls: type[CaptainDataError], message: str, fields: dict[str, Any]) -> CaptainDataError:
    fields = {k: v for k, v in fields.items() if k != "message"}
    err = cls.__new__(cls)
    CaptainDataError.__init__(err, message, **fields)
    return err


class ValidationError(CaptainDataError, ValueError):
    """Refused locally before any HTTP call: nothing was sent, no credit spent.

    `field` names what to fix; `problems` lists every issue found.
    """

    default_label = "INVALID_INPUT"

    def __init__(self, message: str, *, field: str | None = None, problems: Any = (), **kw: Any):
        kw.setdefault("error_scope", "input")
        kw.setdefault("params", {"field": field} if field else {})
        super().__init__(message, **kw)
        self.field = field
        self.problems = list(problems)


class InvalidInputError(CaptainDataError):
    """400, or any status labelled as bad input: the API refused the input or parameters.

    Fix the input; never retried.
    """

    default_label = "INVALID_INPUT"


class ClientRequestError(CaptainDataError):
    """Another 4xx (405, 406, 409, 413, 415, ...): the API refused the request, not the input.

    The status is kept and the label is the body's, else `STATUS_<code>`. Not retried, except
    408 (the server gave up waiting for the request).
    """

    default_label = "CLIENT_ERROR"


class AuthenticationError(CaptainDataError):
    """401: the API key is missing, wrong or revoked. Systemic: stop and fix the key."""

    default_label = "UNAUTHORIZED"


class CreditsExhaustedError(CaptainDataError):
    """402: the workspace has no credits left (or no access to this action). Systemic."""

    default_label = "NO_CREDITS"


class PermissionDeniedError(CaptainDataError):
    """403: the key's workspace may not do this. Systemic."""

    default_label = "STATUS_403"


class NotFoundError(CaptainDataError):
    """404: unknown action, user or resource."""

    default_label = "STATUS_404"


class UpstreamError(CaptainDataError):
    """424 Failed Dependency: LinkedIn (or another platform) failed for this input.

    Retryable only for labels that describe a passing condition (see TRANSIENT_LABELS); a bad cookie
    or a disconnected account needs a person.
    """

    default_label = "INTEGRATION_ERROR"


class RateLimitError(CaptainDataError):
    """429: over the plan's requests per second or an account's one-at-a-time limit.

    `retry_after` holds the seconds the API asked to wait; `limit_type` the X-RateLimit-Type header.
    """

    default_label = "STATUS_429"
    default_retryable = True

    def __init__(self, message: str, *, limit_type: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.limit_type = limit_type


class ServerError(CaptainDataError):
    """5xx: the API failed. Retried with backoff, except for actions with side effects."""

    default_label = "SERVER_ERROR"
    default_retryable = True


class TransportError(CaptainDataError):
    """No usable HTTP answer: timeout, refused or dropped connection, or an unreadable 2xx body."""

    default_label = "TRANSPORT_ERROR"
    default_retryable = True


class RequestTimeoutError(TransportError):
    """The request timed out; it may or may not have reached the API."""

    default_label = "TIMEOUT"


class ConnectionFailedError(TransportError):
    """The connection was refused or dropped before a complete answer."""

    default_label = "CONNECTION_ERROR"


class MalformedResponseError(TransportError):
    """A 2xx answer whose body is not the JSON the action promises."""

    default_label = "MALFORMED_RESPONSE"


_BY_STATUS: dict[int, type[CaptainDataError]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    402: CreditsExhaustedError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UpstreamError,
    424: UpstreamError,
    429: RateLimitError,
}

SYSTEMIC_ERRORS: tuple[type[CaptainDataError], ...] = (
    AuthenticationError,
    CreditsExhaustedError,
    PermissionDeniedError,
)
"""Errors that will fail every input alike: a batch should stop rather than record them per input."""


def error_class_for_status(status: int, label: str | None = None) -> type[CaptainDataError]:
    """The error class for an HTTP status (and the body's label, which can name bad input)."""
    if label in INPUT_LABELS and 400 <= status < 500 and status not in (401, 402, 403, 429):
        return InvalidInputError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    if 400 <= status < 500:
        return ClientRequestError
    return CaptainDataError


def error_from_response(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
    *,
    action_id: str | None = None,
    retry_after: float | None = None,
    secrets: tuple[str, ...] = (),
) -> CaptainDataError:
    """Build the typed error for one HTTP answer, whatever its body looks like.

    Missing envelope fields are filled from the status; a non-JSON body gives a short excerpt as the
    message. Any of `secrets` found in the body is masked.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body or ""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    envelope: dict[str, Any] = {}
    try:
        parsed = json.loads(text) if text.strip() else None
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        parsed = None
    if isinstance(parsed, dict):
        envelope = parsed
    label = _str_or_none(envelope.get("error_label"))
    cls = error_class_for_status(status, label)
    if cls is ClientRequestError and label is None:
        label = f"STATUS_{status}"
    message = _str_or_none(envelope.get("message"))
    if message is None:
        excerpt = " ".join(text.split())[:200]
        message = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if cls is AuthenticationError:  # the key was refused: say which setting holds it
        message = f"{message} (the API key was refused: {meaning('UNAUTHORIZED').fix})"
    params = envelope.get("params")
    kw: dict[str, Any] = {
        "error_label": label,
        "error_scope": _str_or_none(envelope.get("error_scope")),
        "error_ref": _str_or_none(envelope.get("error_ref")),
        "status_code": status,
        "params": params if isinstance(params, dict) else None,
        "action_id": action_id,
        "retry_after": retry_after,
    }
    if cls is UpstreamError:
        kw["retryable"] = (label or "") in TRANSIENT_LABELS
    if cls is ClientRequestError:
        kw["retryable"] = status == 408
    if cls is RateLimitError:
        kw["limit_type"] = (headers or {}).get("X-RateLimit-Type")
    return cls(message, **kw)


def _str_or_none(v: Any) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) else str(v)
