"""The loops every request of `CaptainDataClient` goes through: paced, retried by class.

`_send` makes one action call: it holds the connected account's slot (one call at a time per
account), waits for the shared pace, stops sending once the run is stopping, and retries by class
(see `retries`), counting what unseen answers may have cost. `_request_json` does the same for the
workspace endpoints, which hold no account. Neither is public: call the client's methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import requests

from captaindata_dagster.api import stopping
from captaindata_dagster.api.action_result import ActionResult, AnsweredCall, CallTally, read_answer
from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.errors import CaptainDataError, MalformedResponseError, RateLimitError
from captaindata_dagster.api.pacing import AccountSlots, TokenBucket
from captaindata_dagster.api.paging import next_page_url
from captaindata_dagster.api.request_body import account_of
from captaindata_dagster.api.retries import (
    Backoff,
    may_retry,
    maybe_billed,
    page_credits,
    wait_before_retry,
)
from captaindata_dagster.api.transport import Attempt, Exchange, answer_error, api_headers, exchange


class ApiCalls:
    """Sending requests, paced and retried; the settings are the client's (set in its `__init__`)."""

    base_url: str
    timeout: float
    connect_timeout: float
    max_retries: int
    max_retry_after_s: float
    max_billed_retries: int
    backoff_base_s: float
    backoff_max_s: float
    bucket: TokenBucket | None
    accounts: AccountSlots
    _api_key: str
    _session: requests.Session
    _sleep: Callable[[float], None]
    _clock: Callable[[], float]
    _backoff: Backoff

    def _follow(self, next_url: str | None, request_url: str, act: Action) -> str | None:
        """The next page's URL, kept on our origin and the action's path (see `paging`)."""
        return next_page_url(
            next_url, request_url, act, base_url=self.base_url, api_key=self._api_key
        )

    # ------------------------------------------------------------------ HTTP

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
        request = Exchange(method, self.base_url + path, params, json_body, self._headers())
        attempts = 0
        while True:
            attempts += 1
            if self.bucket:
                self.bucket.acquire()
            att = self._exchange(request, action=None)
            resp, err = att.response, att.error
            if resp is not None and 200 <= resp.status_code < 300:
                try:
                    return resp.json() if resp.content else None
                except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
                    err = MalformedResponseError(
                        f"{method} {path}: HTTP {resp.status_code} with a body that is not JSON",
                        status_code=resp.status_code,
                    )
            elif resp is not None:
                err = answer_error(resp, None, self._api_key)
            assert err is not None
            err.attempts = attempts
            if not self._may_retry(err, att.maybe_sent, side_effects=not idem, attempts=attempts):
                err.maybe_sent = att.maybe_sent  # False: no connection opened, nothing was done
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
        """One action call, retried by class; a failure raised with its tally on the error."""
        account = account_of(act, body, params)
        request = self._action_request(act, method, url, params, body)
        tally = CallTally(started=self._clock())
        while True:
            tally.attempts += 1
            if account is None:
                att = self._paced_exchange(request, act)
            else:
                with self.accounts.hold(account):
                    att = self._paced_exchange(request, act)
            resp, err = att.response, att.error
            if resp is not None and 200 <= resp.status_code < 300:
                try:
                    return self._answered(act, resp, url, body, page, tally)
                except MalformedResponseError as exc:
                    err = exc
            elif resp is not None:
                err = answer_error(resp, act.id, self._api_key)
            assert err is not None
            if maybe_billed(err, att.maybe_sent):
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
                err.credits_at_risk = tally.billed_unseen * page_credits(act, body)
                raise err
            self._wait_before_retry(err, tally.attempts)

    def _action_request(
        self,
        act: Action,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: dict[str, Any],
    ) -> Exchange:
        """What a call of `act` sends: a GET's input goes in its query string, not a body."""
        if method == "GET":
            accept = "application/octet-stream" if act.response == "file" else "application/json"
            return Exchange(method, url, params, None, self._headers(accept))
        return Exchange(method, url, params, body, self._headers())

    def _paced_exchange(self, request: Exchange, act: Action) -> Attempt:
        if self.bucket:
            self.bucket.acquire()
        stopping.check()  # a stopping run sends nothing more, not even a retry
        return self._exchange(request, action=act.id)

    def _exchange(self, request: Exchange, *, action: str | None) -> Attempt:
        timeout = (self.connect_timeout, self.timeout)
        return exchange(
            self._session, request, timeout=timeout, action=action, api_key=self._api_key
        )

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        return api_headers(self._api_key, accept)

    def _answered(
        self,
        act: Action,
        resp: requests.Response,
        url: str,
        body: Mapping[str, Any],
        page: int | None,
        tally: CallTally,
    ) -> ActionResult:
        elapsed = self._clock() - tally.started
        at_risk = tally.billed_unseen * page_credits(act, body)
        call = AnsweredCall(act, url, body, page, tally, elapsed, at_risk)
        return read_answer(call, resp, self._follow)

    # ------------------------------------------------------------------ retries

    def _may_retry(
        self, err: CaptainDataError, maybe_sent: bool, side_effects: bool, attempts: int
    ) -> bool:
        return may_retry(
            err,
            maybe_sent=maybe_sent,
            side_effects=side_effects,
            attempts=attempts,
            max_retries=self.max_retries,
            max_wait_s=self.max_retry_after_s,
        )

    def _wait_before_retry(self, err: CaptainDataError, attempts: int) -> None:
        wait_before_retry(
            err,
            attempts,
            backoff=self._backoff_s,
            max_wait_s=self.max_retry_after_s,
            bucket=self.bucket,
            sleep=self._sleep,
        )

    def _backoff_s(self, attempts: int) -> float:
        return self._backoff.delay(attempts, base_s=self.backoff_base_s, max_s=self.backoff_max_s)
