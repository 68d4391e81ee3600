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
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from captaindata_dagster.api import stopping
from captaindata_dagster.api.answer_shape import answer_problem, fill_key
from captaindata_dagster.api.catalog import CUSTOM_DATA, Action, Catalog, load_catalog
from captaindata_dagster.api.errors import (
    CaptainDataError,
    ConnectionFailedError,
    MalformedResponseError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    ValidationError,
    error_from_response,
)
from captaindata_dagster.api.pacing import AccountSlots, TokenBucket

DEFAULT_BASE_URL = "https://api.captaindata.com/v4"
# Pace a little under the plan's limit: when one process (a Dagster step) hands over to another
# that starts at once, the API's window still holds the first one's last second of calls. 5 % of
# headroom absorbs that hand-over (and clock jitter) instead of discovering it by 429s.
DEFAULT_PACING_MARGIN = 0.05
log = logging.getLogger("captaindata_dagster.api.client")

AccountForm = Literal["integration_users", "identity_ids"]
# The published spec's form (identity_ids/identity_mode; the only one its bodies allow) by default.
DEFAULT_ACCOUNT_FORM: AccountForm = "identity_ids"
_NULL_HEADER = ("", "null", "none", "undefined")


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
    # Credits earlier attempts of this call may have cost without an answer we could use (a
    # timeout after sending, a connection cut mid-answer, a malformed 2xx): the API may have
    # done the work and billed it.
    credits_at_risk: float = 0.0
    # Why the walk cannot go on after this page (a next URL naming another endpoint): raised
    # by `iter_pages` once this page, which was paid for, has been handed over.
    next_error: CaptainDataError | None = field(default=None, repr=False)

    @property
    def retries(self) -> int:
        return self.attempts - 1


@dataclass
class _Tally:
    """One call's running count: attempts, 429s waited out, attempts that may have been billed."""

    started: float
    attempts: int = 0
    rate_limited: int = 0
    billed_unseen: int = 0


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
    `integration_users` are the default connected accounts (identity or user uids) for actions
    that need one. `account_form` picks how a body names them: "identity_ids" (the default: the
    form the published OpenAPI declares, `identity_ids` + `identity_mode`, the only one its bodies
    accept) or "integration_users" (the seed's spring-2025 form, for workspaces still on it); one
    form per body, never both.
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
        account_form: AccountForm = DEFAULT_ACCOUNT_FORM,
        identity_mode: str | None = None,
        account_concurrency: int = 1,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        max_billed_retries: int = 1,
        pool_size: int = 64,
        validate: bool = True,
        catalog: Catalog | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
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
        # Re-sends allowed after an attempt the API may have billed without us seeing the answer:
        # each such re-send may be billed again, so one by default (0: never).
        self.max_billed_retries = int(max_billed_retries)
        # Every wait (Retry-After, backoff) goes through `sleep` and every duration through
        # `clock`: tests inject both, so none depends on the machine's speed. The default sleep
        # is cut short when the run is stopping (see `stopping`).
        self._sleep = sleep or stopping.sleep
        self._clock = clock
        self.validate = validate
        self.catalog = catalog or load_catalog()
        if not 0 <= pacing_margin < 1:
            raise ValueError(f"pacing_margin must be within [0, 1), got {pacing_margin!r}")
        self.bucket = (
            TokenBucket(requests_per_second * (1 - pacing_margin), clock=clock, sleep=self._sleep)
            if requests_per_second
            else None
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

        Aliases are renamed to the catalog's field names. Only the body fields the action's
        request schema declares are sent (no `input` for an action that takes none), and a
        required parameter left out is sent with the spec's default. Raises `ValidationError`
        naming the field for an unknown action, a missing or malformed input, an unknown
        parameter, or a required parameter with no default.

        Args:
            action_id: the catalog id, e.g. "linkedin-extract-people".
            input: the one input object (aliases and `custom_data` allowed).
            parameters: the action's options.
            integration_users: account uids for this call (default: the client's).

        Example:
            >>> act, body = client.prepare("linkedin-me")  # doctest: +SKIP
            >>> body
            {'identity_ids': ['<identity uid>']}
        """
        act = self.action(action_id)
        if self.validate:
            problems = act.input_problems(input)
            if problems:
                raise _validation_error(act, problems, "INVALID_INPUT", "input")
            check_parameters(act, parameters)
        body: dict[str, Any] = {}
        canonical = act.canonical_input(input)
        if "input" in act.body_fields or act.method == "GET":  # GET: sent as the query string
            if not act.takes_custom_data:
                canonical.pop(CUSTOM_DATA, None)
            body["input"] = canonical
        if "parameters" in act.body_fields:
            body["parameters"] = act.with_defaults(parameters)
        users = self._users_for(act, integration_users)
        if users and self.account_form == "integration_users":
            body["integration_users"] = users  # the seed's form: not in the published spec
        elif users:
            body["identity_ids"] = users
        # identity_mode only where the action's body declares it (linkedin-me does not)
        if self.account_form == "identity_ids" and self.identity_mode:
            if act.uses_account and "identity_mode" in act.body_fields:
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
            return self._send(act, "GET", url, body, params=_query_of(act, body), page=None)
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

        Stops on an absent, empty or `null` next header, an empty page, `max_pages`, or once
        `max_results` results were seen: a page whose results are not wanted is never fetched.
        A short page does not end the walk: the API's `page_size` is a maximum, and a throttled
        page holds fewer results while the search goes on. `start_url` (a stored `next_url`) and
        `start_page` resume an interrupted walk there; `max_results` and `max_pages` then count
        from that point.
        """
        if max_results is not None and max_results <= 0:
            return
        act, body = self.prepare(
            action_id, input, parameters=parameters, integration_users=integration_users
        )
        first = self.base_url + act.path
        url: str | None = self._follow(start_url, first, act) if start_url else first
        seen = pages = 0
        page = start_page
        walked = {_page_identity(url)}
        while url is not None:
            result = self._send(act, act.method, url, body, params=None, page=page)
            pages += 1
            seen += len(result.results)
            yield result
            if is_last_page(act, result, seen, max_results):
                return
            if result.next_error is not None:
                raise result.next_error
            if max_pages is not None and pages >= max_pages:
                return
            url = result.next_url
            if _page_identity(url) in walked:
                raise _pagination_loop(act, url, page)
            walked.add(_page_identity(url))
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

    def _follow(self, next_url: str | None, request_url: str, act: Action) -> str | None:
        """The next page's URL on our own origin, or None at the end of the walk.

        A relative URL resolves against the request's URL. Whatever the header names, the call
        goes to the configured origin (the key never leaves it) and only to this action's own
        path: a next URL naming another path is a `MalformedResponseError`, never a POST to
        whatever path it names.
        """
        if next_url is None or next_url.strip().lower() in _NULL_HEADER:
            return None
        shown = repr(next_url.strip()[:100]).replace(self._api_key, "***")
        try:
            parts = urlsplit(urljoin(request_url, next_url.strip()))
        except ValueError:  # e.g. "http://[": not a URL
            raise _bad_next_url(act, f"X-Pagination-Next is not a URL: {shown}") from None
        # The API names its own path (`/v4/actions/<id>/run/live`); behind a proxy our base URL
        # may have another prefix: what must match is the action's path, kept under our base.
        if not parts.path.rstrip("/").endswith(act.path):
            raise _bad_next_url(
                act,
                f"X-Pagination-Next {shown} does not name {act.id}'s own path ({act.path}); "
                "the walk stops here rather than call another endpoint",
            )
        if (parts.scheme, parts.netloc) != self._origin:
            log.warning(
                "X-Pagination-Next points at %s://%s; following its query on %s instead",
                parts.scheme,
                parts.netloc,
                self.base_url,
            )
        return self.base_url + act.path + (f"?{parts.query}" if parts.query else "")

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
        """One page of the workspace's users (the seed's form), each with its `integrations`.

        Args:
            query: Filter by name or email, on the server.
            page: 1-based page number; None asks for the first page.

        Raises:
            MalformedResponseError: the answer is not a JSON list.

        Example:
            >>> [u["email"] for u in client.list_users(query="ada")]  # doctest: +SKIP
            ['ada@example.com']
        """
        return self._list_accounts("/users", query, page)

    def create_identity(self, name: str, timezone: str = "UTC") -> dict[str, Any]:
        """Create an identity (the published form of a user), who can then connect LinkedIn.

        The answer has `uid`, `name`, `timezone`, `integrations` (empty) and
        `identity_login_links`: `{"linkedin": "<url>"}`, a link valid 48 hours that a person opens
        to connect their own LinkedIn, without handing over a cookie. Not retried.

        Args:
            name: The identity's display name, e.g. "Ada Lovelace".
            timezone: IANA time zone of the person behind it.

        Example:
            >>> ada = client.create_identity("Ada Lovelace", "Europe/Paris")  # doctest: +SKIP
            >>> ada["identity_login_links"]["linkedin"]  # hand it to Ada  # doctest: +SKIP
        """
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("name is required to create an identity", field="name")
        body = {"name": name, "timezone": timezone or "UTC"}
        return self._request_json("POST", "/identities", json_body=body, idempotent=False)

    def list_identities(
        self, query: str | None = None, page: int | None = None
    ) -> list[dict[str, Any]]:
        """One page of the workspace's identities, each with its `integrations`.

        Args:
            query: Filter by name, on the server.
            page: 1-based page number; None asks for the first page.

        Raises:
            MalformedResponseError: the answer is not a JSON list.

        Example:
            >>> [i["name"] for i in client.list_identities(page=1)]  # doctest: +SKIP
            ['Ada Lovelace']
        """
        return self._list_accounts("/identities", query, page)

    def get_identity(self, identity_uid: str) -> dict[str, Any]:
        """One identity by uid, with its `integrations` (a `NotFoundError` if unknown).

        Args:
            identity_uid: The identity's uid (a UUID).

        Example:
            >>> client.get_identity("5f0c2a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")["name"]  # doctest: +SKIP
        """
        path = f"/identities/{self._uuid(identity_uid, 'identity_uid')}"
        data = self._request_json("GET", path)
        if not isinstance(data, dict):
            raise MalformedResponseError(f"GET {path} did not answer an object")
        return data

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

        Args:
            user_uid: The user whose account it is (the seed's form; see `list_users`).
            integration: The platform, "linkedin" by default.
            li_at: LinkedIn's `li_at` session cookie.
            li_a: LinkedIn's `li_a` cookie (Sales Navigator), optional.
            account_name: A label for the account.
            update: True refreshes an existing account (PUT), False connects one (POST).

        Example:
            >>> client.connect_integration(uid, li_at=os.environ["CAPTAINDATA_LI_AT"])  # doctest: +SKIP
        """
        if not user_uid:
            raise ValidationError("user_uid is required", field="user_uid")
        path = f"/users/{user_uid}/integrations/{integration}"
        return self._connect(path, li_at, li_a, account_name, update)

    def connect_identity_integration(
        self,
        identity_uid: str,
        integration: str = "linkedin",
        *,
        li_at: str,
        li_a: str | None = None,
        account_name: str | None = None,
        update: bool = False,
    ) -> dict[str, Any]:
        """Connect (or with `update=True`, refresh) an identity's account from session cookies.

        `connect_integration` for identities (same arguments, the identity's uid, a UUID, first).
        The answer has `uid`, `auth_type`, `setup_source`, `is_shared`, `name`,
        `integration_permalink`, `level`, `identity_uid`, `meta`. Without cookies, hand the
        person the identity's login link instead (`create_identity`).

        Example:
            >>> client.connect_identity_integration(ada["uid"], li_at=li_at)  # doctest: +SKIP
        """
        uid = self._uuid(identity_uid, "identity_uid")
        path = f"/identities/{uid}/integrations/{integration}"
        return self._connect(path, li_at, li_a, account_name, update)

    @staticmethod
    def _uuid(value: Any, name: str) -> str:
        """`value` as a canonical UUID (what the API's uids are), or a `ValidationError`."""
        import uuid  # here, not at the top: this section is the only user

        try:
            return str(uuid.UUID(str(value).strip()))
        except ValueError:
            raise ValidationError(
                f"{name} must be a uid (a UUID such as 5f0c2a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b), "
                f"got {value!r}",
                field=name,
            ) from None

    def _list_accounts(
        self, path: str, query: str | None, page: int | None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("query", query), ("page", page)) if v is not None}
        data = self._request_json("GET", path, params=params or None)
        if not isinstance(data, list):
            raise MalformedResponseError(
                f"GET {path} did not answer a JSON list (got {type(data).__name__})"
            )
        return data

    def _connect(
        self, path: str, li_at: str, li_a: str | None, account_name: str | None, update: bool
    ) -> dict[str, Any]:
        """POST (connect) or PUT (refresh) an account's cookies; they are neither logged nor kept."""
        if not li_at:
            raise ValidationError("li_at cookie is required to connect LinkedIn", field="li_at")
        cookies = {"li_at": li_at} | ({"li_a": li_a} if li_a else {})
        body: dict[str, Any] = {"auth_data": {"cookies": cookies}}
        if account_name:
            body["account_name"] = account_name
        return self._request_json(
            "PUT" if update else "POST", path, json_body=body, idempotent=update
        )

    # ------------------------------------------------------------------ HTTP

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        return {
            "X-API-Key": self._api_key,
            "Accept": accept,
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
            account = params.get("identity_id") if act.method == "GET" and params else users[0]
        tally = _Tally(started=self._clock())
        while True:
            tally.attempts += 1
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
                        return self._result(act, resp, url, body, page, tally)
                    except MalformedResponseError as exc:
                        err = exc
                else:
                    err = self._error(resp, act.id)
            if _maybe_billed(err, att.maybe_sent):
                tally.billed_unseen += 1
            err.attempts = tally.attempts
            if isinstance(err, RateLimitError):
                tally.rate_limited += 1
            if (
                not self._may_retry(err, att.maybe_sent, act.side_effects, tally.attempts)
                or tally.billed_unseen > self.max_billed_retries
            ):
                err.rate_limited = tally.rate_limited
                err.maybe_sent = att.maybe_sent  # False: no connection opened, nothing was done
                err.credits_at_risk = tally.billed_unseen * _page_credits(act, body)
                raise err
            self._wait_before_retry(err, tally.attempts)

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
        stopping.check()  # a stopping run sends nothing more, not even a retry
        if method == "GET":
            accept = "application/octet-stream" if act.response == "file" else "application/json"
            return self._exchange(
                method, url, params=params, json_body=None, action=act.id, accept=accept
            )
        return self._exchange(method, url, params=params, json_body=body, action=act.id)

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json_body: Any,
        action: str | None,
        accept: str = "application/json",
    ) -> _Attempt:
        data = None if json_body is None else json.dumps(json_body)
        headers = self._headers(accept)
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
        # 429 and 503 may say when to come back; other answers' Retry-After is not for retries.
        waits = resp.status_code in (429, 503)
        retry_after = _parse_retry_after(resp.headers) if waits else None
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
        url: str,
        body: Mapping[str, Any],
        page: int | None,
        tally: _Tally,
    ) -> ActionResult:
        elapsed = self._clock() - tally.started
        attempts, rate_limited = tally.attempts, tally.rate_limited
        at_risk = tally.billed_unseen * _page_credits(act, body)
        headers = {k: v for k, v in resp.headers.items() if k.lower().startswith("x-")}
        if act.response == "file":
            item = {
                "content": resp.content,
                "content_type": resp.headers.get("Content-Type"),
                "size": len(resp.content),
            }
            return ActionResult(act.id, [item], None, resp.status_code, elapsed, attempts,
                                rate_limited, None, act.credits_for(1), headers,
                                at_risk)  # fmt: skip
        try:
            data = resp.json() if resp.content.strip() else None
        except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
            raise MalformedResponseError(
                f"{act.id}: HTTP {resp.status_code} with a body that is not valid JSON",
                status_code=resp.status_code,
                action_id=act.id,
            ) from None
        problem = answer_problem(act, data)
        if problem is not None:
            raise MalformedResponseError(
                f"{act.id}: HTTP {resp.status_code} answer {problem}; nothing of it is kept",
                status_code=resp.status_code,
                action_id=act.id,
            )
        if data is None:
            results: list[dict[str, Any]] = []
        elif act.is_list:
            results = data
        else:
            results = [fill_key(act, data, body.get("input"))]
        managed = body.get("identity_mode") == "managed"
        next_url, next_error = None, None
        if act.is_list:
            try:
                next_url = self._follow(resp.headers.get("X-Pagination-Next"), url, act)
            except MalformedResponseError as exc:
                next_error = exc
        return ActionResult(
            action_id=act.id,
            results=results,
            next_url=next_url,
            next_error=next_error,
            credits_at_risk=at_risk,
            status_code=resp.status_code,
            elapsed_s=elapsed,
            attempts=attempts,
            rate_limited=rate_limited,
            page=page,
            credits=act.credits_for(len(results), managed=managed),
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
        if is_long_ban(err, self.max_retry_after_s):
            # Waiting it out here would hold the step (and its account) for the whole ban: the
            # caller ends that scope for the batch and a later run picks the inputs up.
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
        elif err.retry_after is not None:  # a 503 that said when to come back (not a long ban)
            wait = err.retry_after
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
            self._sleep(wait)  # stopping.sleep by default: cut short when the run stops

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


def is_last_page(
    act: Action, result: ActionResult, seen: int, max_results: int | None = None
) -> bool:
    """True when a walk ends after `result` (`seen` results so far, this page included).

    The end is an empty page, an absent/empty/`null` `X-Pagination-Next` (already None in
    `result.next_url`), or `max_results` reached. A short page is not the end: `page_size` is a
    maximum the API may undershoot (throttling) in the middle of a search.
    """
    if not act.is_list or not result.results:
        return True
    if max_results is not None and seen >= max_results:
        return True
    return not result.next_url and result.next_error is None


def _query_of(act: Action, body: Mapping[str, Any]) -> dict[str, Any]:
    """The GET action's query string: its input fields, and the account as `identity_id`."""
    query = {k: v for k, v in (body.get("input") or {}).items() if k != CUSTOM_DATA}
    users = body.get("identity_ids") or body.get("integration_users")
    if users and "identity_id" in ((act.request_schema or {}).get("properties") or {}):
        query["identity_id"] = users[0]
    return query


def is_long_ban(err: CaptainDataError, max_wait_s: float) -> bool:
    """True for a 429 or 503 whose `Retry-After` is longer than `max_wait_s`: not waited out in
    a step (a 503 naming no time is retried with backoff as usual).

    Args:
        err: the error a call ended with.
        max_wait_s: the longest wait a step does (the client's `max_retry_after_s`).

    Example:
        >>> is_long_ban(RateLimitError("slow down", retry_after=3600.0), 120.0)
        True
    """
    limited = isinstance(err, (RateLimitError, ServerError))
    return limited and err.retry_after is not None and err.retry_after > max_wait_s


def _maybe_billed(err: CaptainDataError, maybe_sent: bool) -> bool:
    """True for a failure after which the API may have done (and billed) the work: a timeout or
    a cut connection once the request was sent, or a 2xx answer we could not use."""
    if isinstance(err, MalformedResponseError):
        return err.status_code is not None and 200 <= err.status_code < 300
    return maybe_sent and isinstance(err, TransportError)


def _page_credits(act: Action, body: Mapping[str, Any]) -> float:
    """The most one answer of `act` can cost: a full page for a list action, else one result."""
    results = (act.page_size or 1) if act.is_list else 1
    return act.credits_for(results, managed=body.get("identity_mode") == "managed")


def _page_identity(url: str | None) -> tuple[str, frozenset[tuple[str, str]]]:
    """What makes two page URLs the same page: the path and the query (`page=1` is no page)."""
    parts = urlsplit(url or "")
    query = frozenset((k, v) for k, v in parse_qsl(parts.query) if (k, v) != ("page", "1"))
    return parts.path.rstrip("/"), query


def _pagination_loop(act: Action, url: str | None, page: int) -> MalformedResponseError:
    path = urlsplit(url or "")
    shown = f"{path.path}?{path.query}" if path.query else path.path
    return MalformedResponseError(
        f"{act.id}: page {page}'s X-Pagination-Next ({shown}) points back to a page already "
        "fetched in this walk; stopping rather than pay for it again. The search is recorded "
        "as failed, not complete, and is walked again on the next run.",
        action_id=act.id,
        error_label="PAGINATION_LOOP",
        retryable=True,  # for a later run: the ledger does not keep it as the input's answer
    )


def _bad_next_url(act: Action, message: str) -> MalformedResponseError:
    # retryable for a later run (the ledger keeps it as a failure to retry, not an answer);
    # within the call it is never retried: it is raised after the page's results are handed over
    return MalformedResponseError(message, action_id=act.id, error_label="BAD_PAGINATION_URL")


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
    """Seconds to wait from `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset`.

    A value that is not a finite number of seconds >= 0 (`nan`, `-5`, `inf`) is treated as
    absent: the retry then backs off as for any retryable error, never at once.
    """
    raw = (headers.get("Retry-After") or "").strip()
    if raw:
        try:
            seconds = float(raw)
        except ValueError:
            seconds = None
        else:
            return seconds if math.isfinite(seconds) and seconds >= 0 else None
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
        if not math.isfinite(value) or value < 0:
            return None
        # An epoch timestamp, or a count of seconds: tell them apart by size.
        return max(0.0, value - time.time()) if value > 1e9 else max(0.0, value)
    return None
