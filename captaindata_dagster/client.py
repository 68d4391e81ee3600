"""`CaptainDataClient`: a plain, thread-safe Python client for the Captain Data v4 API.

It knows nothing of Dagster. One live action page is one HTTP call; around it the client validates
the input from the catalog (nothing is sent for a bad one), paces calls (a shared token bucket and one
call at a time per connected account), retries by class (429 after `Retry-After`; 5xx, timeouts and
dropped connections with exponential backoff and jitter; other 4xx never; side-effect actions never
re-sent once they may have reached the server), pages with `X-Pagination-Next`, and turns every
failure into a typed `CaptainDataError`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from .catalog import Action, Catalog, load_catalog
from .errors import (
    CaptainDataError,
    ConnectionFailedError,
    MalformedResponseError,
    RateLimitError,
    RequestTimeoutError,
    TransportError,
    ValidationError,
    error_from_response,
)
from .pacing import AccountSlots, TokenBucket

DEFAULT_BASE_URL = "https://api.captaindata.com/v4"
# Pace a little under the plan's limit: when one process (a Dagster step) hands over to another
# that starts at once, the API's window still holds the first one's last second of calls. 5 % of
# headroom absorbs that hand-over (and clock jitter) instead of discovering it by 429s.
DEFAULT_PACING_MARGIN = 0.05
MANAGED_CREDIT_FACTOR = 1.5
log = logging.getLogger("captaindata_dagster.client")

AccountForm = Literal["integration_users", "identity_ids"]


@dataclass
class ActionResult:
    """One live call's outcome: the results as a list (an enrichment's object as one item)."""

    action_id: str
    results: list[dict[str, Any]]
    next_url: str | None
    status_code: int
    elapsed_s: float
    attempts: int = 1
    rate_limited: int = 0  # 429 answers met (and waited out) on the way
    page: int | None = None
    credits: float = 0.0
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def retries(self) -> int:
        return self.attempts - 1


@dataclass
class _Attempt:
    """What one HTTP exchange gave: a response, or an exception and whether it may have landed."""

    response: requests.Response | None = None
    error: CaptainDataError | None = None
    maybe_sent: bool = True


class CaptainDataClient:
    """Thread-safe client; share one instance across threads so pacing is shared too.

    `requests_per_second` should be the plan's limit (trial 1, low 2, mid 10, high 20, highest 40);
    calls are paced `pacing_margin` (5 %) under it, so steps in several processes never trip it;
    `integration_users` are the default connected accounts for actions that need one.
    `account_form="identity_ids"` sends the later v4 body form (`identity_ids`, `identity_mode`)
    instead of the seed's `integration_users`; one form per body, never both.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_retries: int = 5,
        requests_per_second: float | None = None,
        pacing_margin: float = DEFAULT_PACING_MARGIN,
        integration_users: Sequence[str] | None = None,
        account_form: AccountForm = "integration_users",
        identity_mode: str | None = None,
        account_concurrency: int = 1,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        pool_size: int = 64,
        validate: bool = True,
        catalog: Catalog | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not api_key or not isinstance(api_key, str):
            raise ValidationError(
                "api_key is empty: set CAPTAINDATA_API_KEY (or pass api_key=...)",
                field="api_key",
                error_label="MISSING_API_KEY",
                error_scope="auth",
            )
        if account_form not in ("integration_users", "identity_ids"):
            raise ValueError("account_form must be 'integration_users' or 'identity_ids'")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.connect_timeout = float(min(connect_timeout, timeout))
        self.max_retries = int(max_retries)
        self.integration_users = list(integration_users or [])
        self.account_form: AccountForm = account_form
        self.identity_mode = identity_mode
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_s = max_retry_after_s
        self.validate = validate
        self.catalog = catalog or load_catalog()
        if not 0 <= pacing_margin < 1:
            raise ValueError(f"pacing_margin must be within [0, 1), got {pacing_margin!r}")
        self.bucket = (
            TokenBucket(requests_per_second * (1 - pacing_margin)) if requests_per_second else None
        )
        self.accounts = AccountSlots(account_concurrency)
        self._session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._rng = random.Random()
        self._rng_lock = threading.Lock()
        origin = urlsplit(self.base_url)
        if origin.scheme not in ("http", "https") or not origin.netloc:
            raise ValidationError(
                f"base_url {base_url!r} is not an http(s) URL; use e.g. {DEFAULT_BASE_URL} "
                "(or the simulator's sim.base_url)",
                field="base_url",
                error_label="BAD_SETTING",
                error_scope="config",
            )
        self._origin = (origin.scheme, origin.netloc)

    def __repr__(self) -> str:
        rps = self.bucket.rate if self.bucket else None
        return f"CaptainDataClient(base_url={self.base_url!r}, api_key='***', rps={rps})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> CaptainDataClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ actions

    def action(self, action_id: str) -> Action:
        """The catalog entry for `action_id`, or a `ValidationError` suggesting close ids."""
        return resolve_action(action_id, self.catalog)

    def prepare(
        self,
        action_id: str,
        input: Mapping[str, Any] | None = None,  # noqa: A002 - the API's own word
        *,
        parameters: Mapping[str, Any] | None = None,
        integration_users: Sequence[str] | None = None,
    ) -> tuple[Action, dict[str, Any]]:
        """Validate a call and build its JSON body, without sending anything.

        Aliases are renamed to the catalog's field names. Raises `ValidationError` naming the
        field for an unknown action, a missing or malformed input, or an unknown parameter.
        """
        act = self.action(action_id)
        if self.validate:
            problems = act.input_problems(input)
            if problems:
                raise _validation_error(act, problems, "INVALID_INPUT", "input")
            check_parameters(act, parameters)
        body: dict[str, Any] = {}
        canonical = act.canonical_input(input)
        if act.accepts_input:
            body["input"] = canonical
        elif canonical:
            body["input"] = canonical  # custom_data only
        if act.parameters is not None:
            body["parameters"] = dict(parameters or {})
        users = self._users_for(act, integration_users)
        if users:
            if self.account_form == "identity_ids":
                body["identity_ids"] = users
                if self.identity_mode:
                    body["identity_mode"] = self.identity_mode
            else:
                body["integration_users"] = users
        elif act.uses_account and self.account_form == "identity_ids" and self.identity_mode:
            body["identity_mode"] = self.identity_mode
        return act, body

    def _users_for(self, act: Action, explicit: Sequence[str] | None) -> list[str]:
        if explicit is not None:
            if isinstance(explicit, str) or not all(isinstance(u, str) for u in explicit):
                raise ValidationError(
                    "integration_users must be a list of user uids (strings)",
                    field="integration_users",
                    action_id=act.id,
                )
            if explicit and not act.uses_account:
                raise ValidationError(
                    f"{act.id} runs without a connected account; remove integration_users",
                    field="integration_users",
                    action_id=act.id,
                )
            return list(explicit)
        return list(self.integration_users) if act.uses_account else []

    def run_action(
        self,
        action_id: str,
        input: Mapping[str, Any] | None = None,  # noqa: A002
        *,
        parameters: Mapping[str, Any] | None = None,
        integration_users: Sequence[str] | None = None,
        page: int | None = None,
    ) -> ActionResult:
        """Run one action live for one input (one page of a search); retries included.

        Costs one credit per result returned. Raises a `CaptainDataError` subclass on failure.
        """
        act, body = self.prepare(
            action_id, input, parameters=parameters, integration_users=integration_users
        )
        if page is not None and (not isinstance(page, int) or page < 1):
            raise ValidationError(f"page must be an integer >= 1, got {page!r}", field="page")
        url = self.base_url + act.path
        if act.method == "GET":
            return self._send(act, "GET", url, body, params=body.get("input"), page=None)
        params = {"page": page} if page is not None else None
        return self._send(act, "POST", url, body, params=params, page=page or 1)

    def iter_pages(
        self,
        action_id: str,
        input: Mapping[str, Any] | None = None,  # noqa: A002
        *,
        parameters: Mapping[str, Any] | None = None,
        integration_users: Sequence[str] | None = None,
        max_results: int | None = None,
        max_pages: int | None = None,
        start_url: str | None = None,
        start_page: int = 1,
    ) -> Iterator[ActionResult]:
        """Yield each page's `ActionResult`, following `X-Pagination-Next`.

        Stops on an absent, empty or `null` next header, an empty or short page, `max_pages`, or
        once `max_results` results were seen: a page whose results are not wanted is never fetched.
        `start_url` (a stored `next_url`) and `start_page` resume an interrupted walk there;
        `max_results` and `max_pages` then count from that point.
        """
        if max_results is not None and max_results <= 0:
            return
        act, body = self.prepare(
            action_id, input, parameters=parameters, integration_users=integration_users
        )
        url: str | None = self._follow(start_url) if start_url else self.base_url + act.path
        seen = pages = 0
        page = start_page
        while url is not None:
            result = self._send(act, act.method, url, body, params=None, page=page)
            pages += 1
            seen += len(result.results)
            yield result
            if not act.is_list or not result.results:
                return
            if act.page_size and len(result.results) < act.page_size:
                return
            if max_results is not None and seen >= max_results:
                return
            if max_pages is not None and pages >= max_pages:
                return
            url = self._follow(result.next_url)
            page += 1

    def iter_results(
        self,
        action_id: str,
        input: Mapping[str, Any] | None = None,  # noqa: A002
        *,
        parameters: Mapping[str, Any] | None = None,
        integration_users: Sequence[str] | None = None,
        max_results: int | None = None,
        max_pages: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield results one by one across pages (at most `max_results`); see `iter_pages`."""
        count = 0
        for result in self.iter_pages(
            action_id,
            input,
            parameters=parameters,
            integration_users=integration_users,
            max_results=max_results,
            max_pages=max_pages,
        ):
            for item in result.results:
                if max_results is not None and count >= max_results:
                    return
                count += 1
                yield item

    def _follow(self, next_url: str | None) -> str | None:
        """The next page's URL, re-rooted on our own base so the key never goes to another host."""
        if next_url is None:
            return None
        next_url = next_url.strip()
        if not next_url or next_url.lower() in ("null", "none", "undefined"):
            return None
        try:
            parts = urlsplit(next_url)
        except ValueError:  # e.g. "http://[": not a URL
            raise MalformedResponseError(
                "X-Pagination-Next is not a URL: "
                + repr(next_url[:100]).replace(self._api_key, "***")
            ) from None
        if not parts.scheme and not parts.netloc:
            base = urlsplit(self.base_url)
            if not parts.path.startswith("/"):
                return f"{self.base_url}/{next_url.lstrip('/')}"
            return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
        if (parts.scheme, parts.netloc) != self._origin:
            log.warning(
                "X-Pagination-Next points at %s://%s; following its path on %s://%s instead",
                parts.scheme,
                parts.netloc,
                *self._origin,
            )
        return urlunsplit((*self._origin, parts.path, parts.query, ""))

    # ------------------------------------------------------------------ account management

    def get_workspace(self) -> dict[str, Any]:
        """The workspace: `credits_left`, `credits_used`, `credits_max`, `plan_name`, ..."""
        data = self._request_json("GET", "/workspaces")
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, dict):
            raise MalformedResponseError("GET /workspaces did not answer an object")
        return data

    def create_user(self, email: str, full_name: str, timezone: str = "UTC") -> dict[str, Any]:
        """Create a workspace user (who can then connect a LinkedIn account). Not retried."""
        for name, value in (("email", email), ("full_name", full_name)):
            if not value or not isinstance(value, str):
                raise ValidationError(f"{name} is required to create a user", field=name)
        body = {"email": email, "full_name": full_name, "timezone": timezone}
        return self._request_json("POST", "/users", json_body=body, idempotent=False)

    def list_users(self, query: str | None = None, page: int | None = None) -> list[dict[str, Any]]:
        """Users of the workspace, with their `integrations`."""
        params = {k: v for k, v in (("query", query), ("page", page)) if v is not None}
        data = self._request_json("GET", "/users", params=params or None)
        return data if isinstance(data, list) else []

    def connect_integration(
        self,
        user_uid: str,
        integration: str = "linkedin",
        *,
        li_at: str,
        li_a: str | None = None,
        account_name: str | None = None,
        update: bool = False,
    ) -> dict[str, Any]:
        """Connect (or with `update=True`, refresh) a user's account from its session cookies.

        The cookies are sent once and never logged or kept by the client.
        """
        if not user_uid:
            raise ValidationError("user_uid is required", field="user_uid")
        if not li_at:
            raise ValidationError("li_at cookie is required to connect LinkedIn", field="li_at")
        cookies = {"li_at": li_at} | ({"li_a": li_a} if li_a else {})
        body: dict[str, Any] = {"auth_data": {"cookies": cookies}}
        if account_name:
            body["account_name"] = account_name
        path = f"/users/{user_uid}/integrations/{integration}"
        return self._request_json(
            "PUT" if update else "POST", path, json_body=body, idempotent=update
        )

    # ------------------------------------------------------------------ HTTP

    def _headers(self) -> dict[str, str]:
        return {
            "X-API-Key": self._api_key,
            "Accept": "application/json",
            "User-Agent": "captaindata-dagster",
        }

    def _request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        idem = method in ("GET", "PUT", "DELETE") if idempotent is None else idempotent
        url = self.base_url + path
        attempts = 0
        while True:
            attempts += 1
            if self.bucket:
                self.bucket.acquire()
            att = self._exchange(method, url, params=params, json_body=json_body, action=None)
            err = att.error
            if err is None:
                resp = att.response
                assert resp is not None
                if 200 <= resp.status_code < 300:
                    try:
                        return resp.json() if resp.content else None
                    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
                        err = MalformedResponseError(
                            f"{method} {path}: HTTP {resp.status_code} with a body that is not JSON",
                            status_code=resp.status_code,
                        )
                else:
                    err = self._error(resp, None)
            err.attempts = attempts
            if not self._may_retry(err, att.maybe_sent, side_effects=not idem, attempts=attempts):
                raise err
            self._wait_before_retry(err, attempts)

    def _send(
        self,
        act: Action,
        method: str,
        url: str,
        body: dict[str, Any],
        *,
        params: Mapping[str, Any] | None,
        page: int | None,
    ) -> ActionResult:
        account = None
        if act.uses_account:
            users = body.get("integration_users") or body.get("identity_ids") or ["default"]
            account = users[0]
        attempts = rate_limited = 0
        started = time.monotonic()
        while True:
            attempts += 1
            if account is None:
                att = self._paced_exchange(method, url, params, body, act)
            else:
                with self.accounts.hold(account):
                    att = self._paced_exchange(method, url, params, body, act)
            err = att.error
            if err is None:
                resp = att.response
                assert resp is not None
                if 200 <= resp.status_code < 300:
                    try:
                        return self._result(act, resp, body, page, started, attempts, rate_limited)
                    except MalformedResponseError as exc:
                        err = exc
                else:
                    err = self._error(resp, act.id)
            err.attempts = attempts
            if isinstance(err, RateLimitError):
                rate_limited += 1
            if not self._may_retry(err, att.maybe_sent, act.side_effects, attempts):
                err.rate_limited = rate_limited
                err.maybe_sent = att.maybe_sent  # False: no connection opened, nothing was done
                raise err
            self._wait_before_retry(err, attempts)

    def _paced_exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: dict[str, Any],
        act: Action,
    ) -> _Attempt:
        if self.bucket:
            self.bucket.acquire()
        if method == "GET":
            return self._exchange(method, url, params=params, json_body=None, action=act.id)
        return self._exchange(method, url, params=params, json_body=body, action=act.id)

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json_body: Any,
        action: str | None,
    ) -> _Attempt:
        data = None if json_body is None else json.dumps(json_body)
        headers = self._headers()
        if data is not None:
            headers["Content-Type"] = "application/json"
        t0 = time.monotonic()
        try:
            resp = self._session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=(self.connect_timeout, self.timeout),
                # The API does not redirect; following one would send X-API-Key to its host.
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout as exc:
            return _Attempt(
                error=self._transport(RequestTimeoutError, exc, action), maybe_sent=False
            )
        except requests.exceptions.Timeout as exc:
            return _Attempt(error=self._transport(RequestTimeoutError, exc, action))
        except requests.exceptions.ConnectionError as exc:
            never_connected = _caused_by(exc, NewConnectionError)
            err = self._transport(ConnectionFailedError, exc, action)
            return _Attempt(error=err, maybe_sent=not never_connected)
        except requests.exceptions.RequestException as exc:
            return _Attempt(error=self._transport(TransportError, exc, action))
        except ValueError as exc:  # requests parses a 3xx's Location even when not following it
            return _Attempt(error=self._transport(TransportError, exc, action))
        log.debug(
            "%s %s -> %s in %.3fs",
            method,
            urlsplit(url).path,
            resp.status_code,
            time.monotonic() - t0,
        )
        return _Attempt(response=resp)

    def _transport(
        self, cls: type[TransportError], exc: Exception, action: str | None
    ) -> TransportError:
        text = f"{type(exc).__name__}: {exc}".replace(self._api_key, "***")
        return cls(f"no usable answer from the API ({text})", action_id=action)

    def _error(self, resp: requests.Response, action: str | None) -> CaptainDataError:
        retry_after = _parse_retry_after(resp.headers) if resp.status_code == 429 else None
        return error_from_response(
            resp.status_code,
            resp.content,
            resp.headers,
            action_id=action,
            retry_after=retry_after,
            secrets=(self._api_key,),
        )

    def _result(
        self,
        act: Action,
        resp: requests.Response,
        body: Mapping[str, Any],
        page: int | None,
        started: float,
        attempts: int,
        rate_limited: int,
    ) -> ActionResult:
        elapsed = time.monotonic() - started
        headers = {k: v for k, v in resp.headers.items() if k.lower().startswith("x-")}
        if act.response == "file":
            item = {
                "content": resp.content,
                "content_type": resp.headers.get("Content-Type"),
                "size": len(resp.content),
            }
            return ActionResult(act.id, [item], None, resp.status_code, elapsed, attempts,
                                rate_limited, None, 0.0, headers)  # fmt: skip
        try:
            data = resp.json() if resp.content.strip() else None
        except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
            raise MalformedResponseError(
                f"{act.id}: HTTP {resp.status_code} with a body that is not valid JSON",
                status_code=resp.status_code,
                action_id=act.id,
            ) from None
        if data is None:
            results: list[dict[str, Any]] = []
        elif isinstance(data, list):
            results = data
        elif isinstance(data, dict):
            results = [data]
        else:
            raise MalformedResponseError(
                f"{act.id}: expected a JSON object or array, got {type(data).__name__}",
                status_code=resp.status_code,
                action_id=act.id,
            )
        factor = MANAGED_CREDIT_FACTOR if body.get("identity_mode") == "managed" else 1.0
        next_url = resp.headers.get("X-Pagination-Next") if act.is_list else None
        return ActionResult(
            action_id=act.id,
            results=results,
            next_url=self._follow(next_url),
            status_code=resp.status_code,
            elapsed_s=elapsed,
            attempts=attempts,
            rate_limited=rate_limited,
            page=page,
            credits=len(results) * factor,
            headers=headers,
        )

    # ------------------------------------------------------------------ retries

    def _may_retry(
        self, err: CaptainDataError, maybe_sent: bool, side_effects: bool, attempts: int
    ) -> bool:
        if attempts > self.max_retries:
            return False
        if not err.retryable:
            return False
        if side_effects and maybe_sent and not isinstance(err, RateLimitError):
            # A 5xx, a timeout or a dropped connection may hide a request that was carried out:
            # sending an invitation or a message twice is worse than reporting the failure.
            log.warning(
                "%s failed with %s after the request may have reached the API; not re-sent "
                "because the action has side effects",
                err.action_id,
                err.error_label,
            )
            return False
        return True

    def _wait_before_retry(self, err: CaptainDataError, attempts: int) -> None:
        if isinstance(err, RateLimitError):
            wait = err.retry_after
            if wait is None:
                wait = self._backoff(attempts)
            wait = min(wait, self.max_retry_after_s)
            if self.bucket and err.limit_type != "account":
                self.bucket.pause(wait)  # every thread of this client waits it out, not just us
        else:
            wait = self._backoff(attempts)
        log.info(
            "retrying %s after %s (%s), attempt %d, waiting %.2fs",
            err.action_id or "request",
            err.status_code or type(err).__name__,
            err.error_label,
            attempts + 1,
            wait,
        )
        if wait > 0:
            time.sleep(wait)

    def _backoff(self, attempts: int) -> float:
        cap = min(self.backoff_max_s, self.backoff_base_s * (2 ** (attempts - 1)))
        with self._rng_lock:
            return self._rng.uniform(cap / 2, cap)  # "equal jitter": never zero, never over cap


def resolve_action(action_id: str, catalog: Catalog | None = None) -> Action:
    """The catalog entry for `action_id`, or a `ValidationError` suggesting close ids."""
    catalog = load_catalog() if catalog is None else catalog
    act = catalog.get(action_id)
    if act is None:
        problem = catalog.unknown_action_problem(action_id)
        raise ValidationError(
            problem.message,
            field="action_id",
            problems=[problem],
            error_label="UNKNOWN_ACTION",
            error_scope="action",
            action_id=str(action_id),
        )
    return act


def check_parameters(act: Action, parameters: Mapping[str, Any] | None) -> None:
    """Raise `ValidationError` (BAD_PARAMETERS) naming the first bad parameter, if any.

    Bad parameters fail every input alike, so batches, assets and ops refuse them up front.
    """
    problems = act.parameter_problems(parameters)
    if problems:
        raise _validation_error(act, problems, "BAD_PARAMETERS", "param")


def _validation_error(act: Action, problems: list[Any], label: str, scope: str) -> ValidationError:
    first = problems[0]
    detail = "; ".join(str(p) for p in problems)
    return ValidationError(
        f"{act.id}: {detail}. Nothing was sent; fix the {scope} and run again.",
        field=first.field,
        problems=problems,
        error_label=label,
        error_scope=scope,
        action_id=act.id,
    )


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, kind):
            return True
        stack.extend([e.__cause__, e.__context__, getattr(e, "reason", None)])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return False


def _parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset`."""
    raw = (headers.get("Retry-After") or "").strip()
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - time.time())
    reset = (headers.get("X-RateLimit-Reset") or "").strip()
    if reset:
        try:
            value = float(reset)
        except ValueError:
            return None
        # An epoch timestamp, or a count of seconds: tell them apart by size.
        return max(0.0, value - time.time()) if value > 1e9 else max(0.0, value)
    return None
