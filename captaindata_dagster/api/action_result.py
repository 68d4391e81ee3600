"""`ActionResult`, one live call's outcome, and how a 2xx answer becomes one.

An answer is kept only when it has the shape the action's response schema promises: anything
else is a `MalformedResponseError` and nothing of it is kept (it may still have been billed, which
the call's tally counts as credits at risk).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from captaindata_dagster.api.answer_shape import answer_problem, fill_key
from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.errors import CaptainDataError, MalformedResponseError


@dataclass
class ActionResult:
    """One live call's outcome: the results as a list (an enrichment's object as one item).

    `credits_at_risk` counts what earlier attempts of this call may have cost without an answer
    we could use (a timeout after sending, a connection cut mid-answer, a malformed 2xx): the API
    may have done the work and billed it. `next_error` says why a walk cannot go on after this
    page (a next URL naming another endpoint): `iter_pages` raises it once this page, which was
    paid for, has been handed over.
    """

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
    credits_at_risk: float = 0.0
    next_error: CaptainDataError | None = field(default=None, repr=False)

    @property
    def retries(self) -> int:
        return self.attempts - 1


@dataclass
class CallTally:
    """One call's running count: attempts, 429s waited out, attempts that may have been billed."""

    started: float
    attempts: int = 0
    rate_limited: int = 0
    billed_unseen: int = 0


@dataclass(frozen=True)
class AnsweredCall:
    """What a 2xx answer is read against: the action, the page's URL and body, and the tally."""

    act: Action
    url: str
    body: Mapping[str, Any]
    page: int | None
    tally: CallTally
    elapsed_s: float
    credits_at_risk: float


def read_answer(
    call: AnsweredCall,
    resp: requests.Response,
    follow: Callable[[str | None, str, Action], str | None],
) -> ActionResult:
    """The `ActionResult` of a 2xx answer, or a `MalformedResponseError` for an unusable one.

    Args:
        call: the call answered.
        resp: its 2xx answer.
        follow: resolves the `X-Pagination-Next` header against the page's URL (see
            `paging.next_page_url`); its `MalformedResponseError` is kept as the result's
            `next_error`, raised once the page is handed over.
    """
    act, headers = call.act, {k: v for k, v in resp.headers.items() if k.lower().startswith("x-")}
    if act.response == "file":
        item = {
            "content": resp.content,
            "content_type": resp.headers.get("Content-Type"),
            "size": len(resp.content),
        }
        out = _result(call, resp, [item], act.credits_for(1), headers)
        out.page = None  # a file is no page of anything
        return out
    results = _results(act, resp, call.body)
    out = _result(call, resp, results, act.credits_billed(len(results), call.body), headers)
    if act.is_list:
        try:
            out.next_url = follow(resp.headers.get("X-Pagination-Next"), call.url, act)
        except MalformedResponseError as exc:
            out.next_error = exc
    return out


def _results(act: Action, resp: requests.Response, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The answer's results as a list, once its JSON has the shape the action promises."""
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
        return []
    if act.is_list:
        return data
    return [fill_key(act, data, body.get("input"))]


def _result(
    call: AnsweredCall,
    resp: requests.Response,
    results: list[dict[str, Any]],
    cost: float,
    headers: dict[str, str],
) -> ActionResult:
    return ActionResult(
        action_id=call.act.id,
        results=results,
        next_url=None,
        status_code=resp.status_code,
        elapsed_s=call.elapsed_s,
        attempts=call.tally.attempts,
        rate_limited=call.tally.rate_limited,
        page=call.page,
        credits=cost,
        headers=headers,
        credits_at_risk=call.credits_at_risk,
    )
