"""A fake transport for the client's unit tests: canned answers on the client's own session.

`FakeApi` is a `requests` adapter: the client sends through it exactly as through the network,
but each request gets the next canned answer (or raises the next canned exception), and every
request is recorded. Time is `tests.helpers.FakeClock`, injected as the client's clock and
sleeper: a wait advances the clock and is recorded, and nothing really sleeps. Canned payloads are made from the vendor's response
schemas (the simulator's generator); the tests here check they validate against those schemas.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from captaindata_dagster import CaptainDataClient
from captaindata_dagster.api.catalog import Action, load_catalog
from captaindata_dagster.simulator.data import make_page, make_result, sample_input
from tests.helpers import TEST_KEY, FakeClock
from tests.spec import problems

BASE_URL = "https://api.test/v4"
IDENTITY = "5f0c2a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
PROFILE = "linkedin-extract-people"  # an enrichment: one object per input, no side effect
SEARCH = "linkedin-search-people"  # a search: pages of a list, X-Pagination-Next
CONNECT = "linkedin-connect-profile"  # a side effect: an invitation must never go twice


@dataclass(frozen=True)
class Canned:
    """One answer: a status, headers and a body (bytes)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class FakeApi(BaseAdapter):
    """Answers requests in order from `answers` (a `Canned` or an exception to raise)."""

    def __init__(self, answers: Sequence[Canned | Exception]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        resp = requests.Response()
        resp.status_code = answer.status
        resp.headers = CaseInsensitiveDict(answer.headers)
        resp.raw = io.BytesIO(answer.body)
        resp.url = request.url or ""
        resp.request = request
        resp.encoding = "utf-8"
        return resp

    def close(self) -> None:
        pass

    @property
    def urls(self) -> list[str]:
        return [r.url or "" for r in self.sent]


def action(action_id: str) -> Action:
    act = load_catalog().get(action_id)
    assert act is not None
    return act


def ok(payload: Any, headers: Mapping[str, str] | None = None) -> Canned:
    """A 200 with `payload` as JSON."""
    return Canned(200, {"Content-Type": "application/json", **(headers or {})}, _json(payload))


def error(status: int, label: str, headers: Mapping[str, str] | None = None) -> Canned:
    """An error answer with the spec's envelope."""
    envelope = {"error_label": label, "error_scope": "input", "message": f"{label} (canned)"}
    return Canned(status, {"Content-Type": "application/json", **(headers or {})}, _json(envelope))


def result_of(action_id: str, n: int = 0) -> dict[str, Any]:
    """One answer of an object action, as its response schema declares it."""
    act = action(action_id)
    return make_result(act, seed=7, value=sample_input(act, n))


def page_of(action_id: str, start: int, count: int) -> list[dict[str, Any]]:
    """`count` results of a list action (results `start`.. of its sample search)."""
    act = action(action_id)
    return make_page(act, seed=7, value=sample_input(act), start=start, stop=start + count)


def make_client(api: FakeApi, clock: FakeClock, **settings: Any) -> CaptainDataClient:
    """A client whose session answers from `api` and whose time is `clock` (and its sleeper,
    unless `sleep=` is given)."""
    session = requests.Session()
    session.mount("https://api.test/", api)  # longer than the client's own "https://" mount
    settings.setdefault("integration_users", [IDENTITY])
    settings.setdefault("sleep", clock.sleep)
    return CaptainDataClient(TEST_KEY, BASE_URL, session=session, clock=clock, **settings)


def sent_json(request: requests.PreparedRequest) -> Any:
    """The JSON body a request carried."""
    assert isinstance(request.body, (str, bytes)), request.body
    return json.loads(request.body)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


# ---------------------------------------------------------------------------------------------
# the fake itself: canned payloads are what the spec declares, answers arrive as sent


def test_canned_payloads_validate_against_the_vendors_schemas():
    for action_id in (PROFILE, CONNECT):
        schema = action(action_id).response_schema
        assert schema is not None
        assert problems(schema, result_of(action_id)) == []
    search_schema = action(SEARCH).response_schema
    assert search_schema is not None
    assert problems(search_schema, page_of(SEARCH, 0, 10)) == []
    assert problems(search_schema, []) == []  # an empty page is a valid answer too


def test_the_fake_answers_in_order_and_records_each_request():
    api, clock = FakeApi([ok(result_of(PROFILE))]), FakeClock()
    res = make_client(api, clock).run_action(PROFILE, sample_input(PROFILE))
    assert len(res.results) == 1 and res.status_code == 200 and res.attempts == 1
    (sent,) = api.sent
    assert sent.method == "POST"
    assert sent.url == f"{BASE_URL}/actions/{PROFILE}/run/live"
    assert sent.headers["X-API-Key"] == TEST_KEY
    assert sent_json(sent)["identity_ids"] == [IDENTITY]
    assert clock.waits == [] and res.elapsed_s == 0.0


def test_a_request_the_test_did_not_expect_fails_loudly():
    api = FakeApi([])
    with pytest.raises(AssertionError, match="unexpected request"):
        make_client(api, FakeClock()).run_action(PROFILE, sample_input(PROFILE))
    assert len(api.sent) == 1
