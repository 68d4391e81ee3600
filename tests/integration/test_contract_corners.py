"""The inferred corners of the contract (API.md), served by a tiny scripted server of our own.

The simulator answers one way; the real API may answer another. Each test here scripts the exact
bytes of the answers so the client is proven on every form: a literal `null` next header, an HTTP
date in `Retry-After`, error bodies with only some envelope fields, empty and HTML bodies.
"""

from __future__ import annotations

import email.utils
import json
import time

import pytest

from captaindata_dagster import CaptainDataClient
from captaindata_dagster.api import (
    AuthenticationError,
    InvalidInputError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    UpstreamError,
)
from captaindata_dagster.api.errors import ClientRequestError
from tests.scripted import page

SEARCH = "linkedin-search-people"
SEARCH_INPUT = {"linkedin_people_search_url": "https://www.linkedin.com/search/results/people/?k=1"}
PROFILE = "linkedin-extract-people"
PROFILE_INPUT = {"linkedin_profile_url": "https://www.linkedin.com/in/ada"}
PROFILE_BODY = json.dumps(PROFILE_INPUT).encode()  # a well-shaped profile answer
NOW = 1_800_000_000.0  # a frozen wall clock (epoch seconds) for Retry-After dates and resets


def client_for(server, **kw):
    kw.setdefault("backoff_base_s", 0.01)
    return CaptainDataClient("corner-key", server.base_url, **kw)


@pytest.mark.parametrize("end", ["null", "", "  ", None])
def test_pagination_ends_on_null_empty_or_absent_next(scripted, end):
    s = scripted([])
    s.answers += [page(1, f"{s.base_url}/actions/{SEARCH}/run/live?page=2"), page(2, end)]
    results = list(client_for(s).iter_results(SEARCH, SEARCH_INPUT))
    assert len(results) == 20 and len(s.requests) == 2
    assert s.requests[1]["path"].endswith("page=2")


def test_next_url_on_another_host_is_followed_on_our_own(scripted):
    s = scripted([])
    evil = f"https://evil.example.com/v4/actions/{SEARCH}/run/live?page=2"
    s.answers += [page(1, evil), page(2, None)]
    results = list(client_for(s).iter_results(SEARCH, SEARCH_INPUT))
    assert len(results) == 20
    assert s.requests[1]["path"] == f"/v4/actions/{SEARCH}/run/live?page=2"  # our host


@pytest.mark.parametrize(
    "next_header",
    [
        "https://evil.example.com/collect?page=2",  # another host, not an action path
        "https://evil.example.com/v4/actions/linkedin-send-message/run/live?page=2",
        "/v4/workspaces?page=2",  # our host, another endpoint
        "/",  # the API root
    ],
)
def test_next_url_naming_another_path_stops_with_a_typed_error(scripted, next_header):
    """Never a POST to whatever path a header names: the walk stops, typed, not retried."""
    s = scripted([page(1, next_header), page(2, None)])
    with pytest.raises(MalformedResponseError) as info:
        list(client_for(s).iter_results(SEARCH, SEARCH_INPUT))
    assert info.value.error_label == "BAD_PAGINATION_URL"
    assert len(s.requests) == 1


@pytest.mark.parametrize(
    "relative",
    ["?page=2", "live?page=2", "../run/live?page=2", f"/v4/actions/{SEARCH}/run/live?page=2"],
)
def test_relative_next_url_resolves_against_the_request_url(scripted, relative):
    s = scripted([page(1, relative), page(2, None)])
    assert len(list(client_for(s).iter_results(SEARCH, SEARCH_INPUT))) == 20
    assert s.requests[1]["path"] == f"/v4/actions/{SEARCH}/run/live?page=2"


def test_a_short_page_does_not_end_the_walk(scripted):
    """`page_size` is a maximum: a throttled page of 3 in the middle of a search is not its end."""
    s = scripted([])
    nxt = f"{s.base_url}/actions/{SEARCH}/run/live?page="
    s.answers += [page(1, nxt + "2"), page(2, nxt + "3", size=3), page(3, None)]
    results = list(client_for(s).iter_results(SEARCH, SEARCH_INPUT))
    assert len(results) == 23 and len(s.requests) == 3


def test_an_empty_page_ends_the_walk_whatever_the_header_says(scripted):
    s = scripted([])
    nxt = f"{s.base_url}/actions/{SEARCH}/run/live?page="
    s.answers += [page(1, nxt + "2"), page(2, nxt + "3", size=0), page(3, None)]
    assert len(list(client_for(s).iter_results(SEARCH, SEARCH_INPUT))) == 10
    assert len(s.requests) == 2


def test_max_results_fetches_no_unwanted_page(scripted):
    s = scripted([])
    nxt = f"{s.base_url}/actions/{SEARCH}/run/live?page="
    s.answers += [page(1, nxt + "2"), page(2, nxt + "3")]
    assert len(list(client_for(s).iter_results(SEARCH, SEARCH_INPUT, max_results=10))) == 10
    assert len(s.requests) == 1


def test_retry_after_on_a_503_is_honoured(scripted):
    waits = []
    s = scripted(
        [
            (503, {"Retry-After": "7", "Content-Type": "application/json"}, b'{"message": "m"}'),
            (200, {"Content-Type": "application/json"}, PROFILE_BODY),
        ]
    )
    res = client_for(s, sleep=waits.append).run_action(PROFILE, PROFILE_INPUT)
    assert res.attempts == 2 and waits == [7.0]  # the server's wait, not the 0.01 s backoff


@pytest.mark.parametrize(
    ("status", "body", "cls", "label"),
    [
        (405, b"", ClientRequestError, "STATUS_405"),
        (406, b'{"message": "not acceptable"}', ClientRequestError, "STATUS_406"),
        (409, b'{"error_label": "CONFLICT", "message": "busy"}', ClientRequestError, "CONFLICT"),
        (413, b"<html>too large</html>", ClientRequestError, "STATUS_413"),
        (415, b"", ClientRequestError, "STATUS_415"),
        (422, b'{"error_label": "ACTION_ABORTED", "message": "m"}', UpstreamError, "ACTION_ABORTED"),
        (409, b'{"error_label": "INVALID_INPUT", "message": "m"}', InvalidInputError, "INVALID_INPUT"),
    ],
)  # fmt: skip
def test_other_4xx_keep_their_status_and_are_not_bad_input(scripted, status, body, cls, label):
    """Only what the API labels as bad input is bad input; the rest keeps its status."""
    s = scripted([(status, {}, body), (200, {}, b"{}")])
    with pytest.raises(cls) as info:
        client_for(s).run_action(PROFILE, PROFILE_INPUT)
    assert type(info.value) is cls
    assert info.value.status_code == status and info.value.error_label == label
    assert len(s.requests) == 1  # never retried


def test_download_asks_for_a_file_and_names_the_account(scripted):
    s = scripted([(200, {"Content-Type": "application/octet-stream"}, b"%PDF-1.4 ...")])
    client = client_for(s, integration_users=["0b8e5f9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"])
    url = "https://www.linkedin.com/dms/prv/attachment/abc"
    res = client.run_action("linkedin-download-attachment", {"url": url})
    assert res.results[0]["content"] == b"%PDF-1.4 ..."
    [req] = s.requests
    assert req["method"] == "GET" and req["headers"]["Accept"] == "application/octet-stream"
    assert "identity_id=0b8e5f9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b" in req["path"]


def test_retry_after_as_an_http_date(scripted, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: NOW)  # the wall clock the date is read against
    when = email.utils.formatdate(NOW + 2, usegmt=True)
    s = scripted(
        [
            (
                429,
                {"Retry-After": when, "Content-Type": "application/json"},
                b'{"message": "slow"}',
            ),
            (200, {"Content-Type": "application/json"}, json.dumps(PROFILE_INPUT).encode()),
        ]
    )
    waits = []
    res = client_for(s, sleep=waits.append).run_action(PROFILE, PROFILE_INPUT)
    assert res.attempts == 2 and res.rate_limited == 1
    assert waits == [2.0]  # the date is 2 s ahead of the (frozen) wall clock


def test_retry_after_beyond_the_cap_is_not_waited_out(scripted):
    """A ban longer than `max_retry_after_s` ends the call with the time to retry (the batch
    then ends that account or the batch: tests/slow/reliability/test_money.py)."""
    s = scripted(
        [
            (429, {"Retry-After": "86400"}, b""),
            (200, {"Content-Type": "application/json"}, PROFILE_BODY),
        ]
    )
    with pytest.raises(RateLimitError) as info:
        client_for(s, max_retry_after_s=0.2).run_action(PROFILE, PROFILE_INPUT)
    assert info.value.retry_after == 86400 and len(s.requests) == 1


def test_rate_limit_reset_header_when_retry_after_is_missing(scripted, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: NOW)  # the wall clock the reset is read against
    s = scripted(
        [
            (429, {"X-RateLimit-Reset": str(NOW + 1), "X-RateLimit-Type": "rps"}, b""),
            (200, {"Content-Type": "application/json"}, PROFILE_BODY),
        ]
    )
    waits = []
    client_for(s, sleep=waits.append).run_action(PROFILE, PROFILE_INPUT)
    assert waits == [1.0]  # the reset is an epoch time 1 s ahead of the (frozen) wall clock


@pytest.mark.parametrize(
    ("status", "body", "cls", "label", "message"),
    [
        (400, b'{"message": "bad url"}', InvalidInputError, "INVALID_INPUT", "bad url"),
        (424, b'{"error_label": "LK_ERROR", "message": null}', UpstreamError, "LK_ERROR", "HTTP 424"),
        (401, b"<html><body><h1>401 Authorization Required</h1></body></html>", AuthenticationError, "UNAUTHORIZED", "401 Authorization Required"),
        (502, b"", ServerError, "SERVER_ERROR", "HTTP 502"),
        (503, b'{"error_label": null, "error_scope": "server", "params": "not-a-dict"}', ServerError, "SERVER_ERROR", "HTTP 503"),
        (429, b"[1, 2]", RateLimitError, "STATUS_429", "HTTP 429"),
    ],
)  # fmt: skip
def test_partial_and_non_json_error_bodies(scripted, status, body, cls, label, message):
    s = scripted([(status, {"Content-Type": "text/html"}, body)])
    with pytest.raises(cls) as info:
        client_for(s, max_retries=0).run_action(PROFILE, PROFILE_INPUT)
    err = info.value
    assert err.status_code == status and err.error_label == label
    assert message in err.message
    assert isinstance(err.params, dict)


def test_an_empty_success_body_is_no_answer_except_for_a_receipt(scripted):
    """An empty 200 for a profile says nothing of anyone: malformed (the API says NO_RESULT
    with a 424). For a side-effect action it is a receipt: the action happened."""
    s = scripted([(200, {}, b""), (200, {}, b"null"), (200, {}, b"")])
    with pytest.raises(MalformedResponseError):
        client_for(s).run_action(PROFILE, PROFILE_INPUT)
    assert len(s.requests) == 2  # re-sent once: the API may have billed it
    res = client_for(s).run_action("linkedin-connect-profile", PROFILE_INPUT)
    assert res.results == []


def test_a_profile_without_its_key_field_is_about_the_input(scripted):
    s = scripted([(200, {"Content-Type": "application/json"}, b'{"full_name": "Ada"}')])
    res = client_for(s).run_action(PROFILE, PROFILE_INPUT)
    assert res.results == [{"full_name": "Ada", **PROFILE_INPUT}]


def test_object_wrapped_page_is_kept(scripted):
    answer = {"full_name": "Ada", **PROFILE_INPUT}
    s = scripted([(201, {"Content-Type": "application/json"}, json.dumps(answer).encode())])
    res = client_for(s).run_action(PROFILE, PROFILE_INPUT)
    assert res.status_code == 201 and res.results == [answer]


def test_behind_a_proxy_prefix_the_next_page_stays_under_our_base(scripted):
    s = scripted([])
    nxt = f"https://api.captaindata.com/v4/actions/{SEARCH}/run/live?page=2"
    s.answers += [page(1, nxt), page(2, None)]
    proxied = CaptainDataClient("corner-key", s.base_url.replace("/v4", "/proxy/v4"))
    assert len(list(proxied.iter_results(SEARCH, SEARCH_INPUT))) == 20
    assert s.requests[1]["path"] == f"/proxy/v4/actions/{SEARCH}/run/live?page=2"
