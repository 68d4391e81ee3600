"""`CaptainDataClient`: a plain, thread-safe Python client for the Captain Data v4 API.

It knows nothing of Dagster. One live action page is one HTTP call; around it the client validates
the input from the catalog (nothing is sent for a bad one: `request_body`), paces calls (a shared
token bucket and one call at a time per connected account: `pacing`), retries by class
(`retries`, in the loop of `calls`), pages with `X-Pagination-Next` (`paging`), and turns every
failure into a typed `CaptainDataError` (`transport`, `errors`). The workspace endpoints (users,
identities, their accounts) are in `workspace`; bulk mode (async runs, schedules, runs and their
callbacks) is in `bulk`. This module holds the constructor and the public
action methods.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from captaindata_dagster.api import stopping
from captaindata_dagster.api.action_result import ActionResult
from captaindata_dagster.api.bulk import BulkEndpoints
from captaindata_dagster.api.catalog import Action, Catalog, load_catalog
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.api.pacing import AccountSlots, TokenBucket
from captaindata_dagster.api.paging import WalkedPages, is_last_page
from captaindata_dagster.api.request_body import (
    build_body,
    check_input,
    check_parameters,
    query_of,
    resolve_action,
    users_for,
)
from captaindata_dagster.api.retries import Backoff
from captaindata_dagster.api.workspace import WorkspaceEndpoints

DEFAULT_BASE_URL = "https://api.captaindata.com/v4"
# Where the resource and the command line read the key and the base URL (never from arguments).
API_KEY_ENV = "CAPTAINDATA_API_KEY"
BASE_URL_ENV = "CAPTAINDATA_BASE_URL"
# Pace a little under the plan's limit: when one process (a Dagster step) hands over to another
# that starts at once, the API's window still holds the first one's last second of calls. 5 % of
# headroom absorbs that hand-over (and clock jitter) instead of discovering it by 429s.
DEFAULT_PACING_MARGIN = 0.05


def paced_rate(
    requests_per_second: float | None, pacing_margin: float = DEFAULT_PACING_MARGIN
) -> float | None:
    """The calls per second a client paces at under the plan's limit (None: unpaced).

    The one definition: the client's token bucket runs at it, the cost preview times calls by it.

    Args:
        requests_per_second: the plan's limit (None or 0: unpaced).
        pacing_margin: how far under it to pace (5 % by default).

    Example:
        >>> paced_rate(10)
        9.5
    """
    return requests_per_second * (1 - pacing_margin) if requests_per_second else None


AccountForm = Literal["integration_users", "identity_ids"]
# The published spec's form (identity_ids/identity_mode; the only one its bodies allow) by default.
DEFAULT_ACCOUNT_FORM: AccountForm = "identity_ids"


class CaptainDataClient(WorkspaceEndpoints, BulkEndpoints):
    """Thread-safe client; share one instance across threads so pacing is shared too.

    `requests_per_second` should be the plan's limit (trial 1, low 2, mid 10, high 20, highest 40);
    calls are paced `pacing_margin` (5 %) under it, so steps in several processes never trip it;
    `integration_users` are the default connected accounts (identity or user uids) for actions
    that need one. `account_form` picks how a body names them: "identity_ids" (the default: the
    form the published OpenAPI declares, `identity_ids` + `identity_mode`, the only one its bodies
    accept) or "integration_users" (the seed's spring-2025 form, for workspaces still on it); one
    form per body, never both. Every wait (Retry-After, backoff) goes through `sleep` and every
    duration through `clock`, so tests inject both; the default sleep is cut short when the run is
    stopping (see `stopping`). `max_billed_retries` re-sends are allowed after an attempt the API
    may have billed without us seeing the answer (each may be billed again; 0: never).
    `api_key` and `base_url` left unset are read from `CAPTAINDATA_API_KEY` and
    `CAPTAINDATA_BASE_URL` (the API's own root when that is unset too), as the CLI reads them.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
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
        if api_key is None:  # a notebook or a script: the environment, as the CLI reads it
            api_key = os.environ.get(API_KEY_ENV, "").strip()
        if base_url is None:
            base_url = os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
        _check_settings(api_key, base_url, account_form, pacing_margin)
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
        self.max_billed_retries = int(max_billed_retries)
        self._sleep = sleep or stopping.sleep
        self._clock = clock
        self._backoff = Backoff()
        self.validate = validate
        self.catalog = catalog or load_catalog()
        rate = paced_rate(requests_per_second, pacing_margin)
        self.bucket = TokenBucket(rate, clock=clock, sleep=self._sleep) if rate else None
        self.accounts = AccountSlots(account_concurrency)
        self._session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

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
            check_input(act, input)
            check_parameters(act, parameters)
        users = users_for(act, integration_users, self.integration_users)
        body = build_body(
            act,
            input,
            parameters,
            users,
            account_form=self.account_form,
            identity_mode=self.identity_mode,
        )
        return act, body

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
            return self._send(act, "GET", url, body, params=query_of(act, body), page=None)
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
    ) -> Generator[ActionResult, None, None]:
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
        walked = WalkedPages(act, url)
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
            walked.visit(url, page)
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


def _check_settings(api_key: str, base_url: str, account_form: str, pacing_margin: float) -> None:
    """Refuse a client that could never work, before it is used (nothing is sent)."""
    if not api_key or not isinstance(api_key, str):
        raise ValidationError(
            "api_key is empty: set CAPTAINDATA_API_KEY (or pass api_key=...)",
            field="api_key",
            error_label="MISSING_API_KEY",
            error_scope="auth",
        )
    if account_form not in ("integration_users", "identity_ids"):
        raise ValueError("account_form must be 'integration_users' or 'identity_ids'")
    if not 0 <= pacing_margin < 1:
        raise ValueError(f"pacing_margin must be within [0, 1), got {pacing_margin!r}")
    origin = urlsplit(base_url.rstrip("/"))
    if origin.scheme not in ("http", "https") or not origin.netloc:
        raise ValidationError(
            f"base_url {base_url!r} is not an http(s) URL; use e.g. {DEFAULT_BASE_URL} "
            "(or the simulator's sim.base_url)",
            field="base_url",
            error_label="BAD_SETTING",
            error_scope="config",
        )
