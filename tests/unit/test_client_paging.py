"""Paging with `X-Pagination-Next`, on a fake transport (no server): where a walk goes and ends.

A walk ends on an empty page or an absent, empty or `null` next header, never on a short page; the
next URL is followed only on the client's origin and the action's own path; a URL pointing back
at a page already fetched stops the walk instead of paying for it again.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from captaindata_dagster.api import ActionResult, MalformedResponseError
from captaindata_dagster.api.paging import is_last_page, next_page_url, page_identity
from captaindata_dagster.simulator.data import sample_input
from tests.helpers import FakeClock
from tests.unit.test_client_transport import (
    BASE_URL,
    PROFILE,
    SEARCH,
    FakeApi,
    action,
    make_client,
    ok,
    page_of,
    sent_json,
)

SEARCH_INPUT = sample_input(SEARCH)
SEARCH_PATH = f"/v4/actions/{SEARCH}/run/live"
PAGE_SIZE = action(SEARCH).page_size or 10


def nxt(page: int) -> dict[str, str]:
    """The next header the API sends: its own absolute URL, with a page token."""
    return {"X-Pagination-Next": f"https://api.captaindata.com{SEARCH_PATH}?page={page}"}


def walk(api: FakeApi, **kw) -> list[ActionResult]:
    client = make_client(api, FakeClock())
    return list(client.iter_pages(SEARCH, SEARCH_INPUT, **kw))


def pages_asked(api: FakeApi) -> list[str | None]:
    return [(parse_qs(urlsplit(u).query).get("page") or [None])[0] for u in api.urls]


@pytest.mark.parametrize("end", [None, "", "null", " NULL ", "undefined"])
def test_a_walk_ends_on_an_absent_empty_or_null_next_header(end):
    last = {} if end is None else {"X-Pagination-Next": end}
    api = FakeApi([ok(page_of(SEARCH, 0, PAGE_SIZE), nxt(2)), ok(page_of(SEARCH, 10, 10), last)])
    pages = walk(api)
    assert [len(p.results) for p in pages] == [PAGE_SIZE, 10]
    assert pages_asked(api) == [None, "2"]
    assert [p.page for p in pages] == [1, 2]
    assert pages[-1].next_url is None and api.answers == []


def test_a_short_page_does_not_end_the_walk():
    api = FakeApi(
        [
            ok(page_of(SEARCH, 0, 3), nxt(2)),  # throttled: 3 of 10, the search goes on
            ok(page_of(SEARCH, 3, 1), nxt(3)),
            ok(page_of(SEARCH, 4, PAGE_SIZE)),
        ]
    )
    pages = walk(api)
    assert [len(p.results) for p in pages] == [3, 1, PAGE_SIZE]
    assert pages_asked(api) == [None, "2", "3"]


def test_an_empty_page_ends_the_walk_even_with_a_next_header():
    api = FakeApi([ok(page_of(SEARCH, 0, PAGE_SIZE), nxt(2)), ok([], nxt(3))])
    pages = walk(api)
    assert [len(p.results) for p in pages] == [PAGE_SIZE, 0]
    assert len(api.sent) == 2


def test_next_urls_are_followed_on_our_own_origin_with_the_same_body():
    api = FakeApi([ok(page_of(SEARCH, 0, PAGE_SIZE), nxt(2)), ok(page_of(SEARCH, 10, 2))])
    walk(api)
    first_url = f"{BASE_URL}/actions/{SEARCH}/run/live"
    assert api.urls == [first_url, f"{first_url}?page=2"]
    first, second = (sent_json(r) for r in api.sent)
    assert first == second  # every page repeats the search's body


def test_a_next_url_on_another_path_is_refused_after_the_paid_page():
    other = {"X-Pagination-Next": f"{BASE_URL}/actions/{PROFILE}/run/live?page=2"}
    api = FakeApi([ok(page_of(SEARCH, 0, PAGE_SIZE), other), ok(page_of(SEARCH, 10, 1))])
    client = make_client(api, FakeClock())
    pages = client.iter_pages(SEARCH, SEARCH_INPUT)
    first = next(pages)
    assert len(first.results) == PAGE_SIZE  # the page paid for is handed over first
    with pytest.raises(MalformedResponseError) as caught:
        next(pages)
    assert caught.value.error_label == "BAD_PAGINATION_URL"
    assert f"does not name {SEARCH}'s own path" in str(caught.value)
    assert len(api.sent) == 1  # nothing was sent to the other path


def test_a_next_url_pointing_back_stops_the_walk_as_a_loop():
    api = FakeApi(
        [
            ok(page_of(SEARCH, 0, PAGE_SIZE), nxt(2)),
            ok(page_of(SEARCH, 10, PAGE_SIZE), nxt(2)),  # page 2 names itself again
            ok(page_of(SEARCH, 20, PAGE_SIZE)),
        ]
    )
    with pytest.raises(MalformedResponseError) as caught:
        walk(api)
    assert caught.value.error_label == "PAGINATION_LOOP" and caught.value.retryable
    assert len(api.sent) == 2


def test_no_page_is_fetched_past_max_results_or_max_pages():
    api = FakeApi([ok(page_of(SEARCH, 0, PAGE_SIZE), nxt(2)), ok(page_of(SEARCH, 10, 10), nxt(3))])
    assert len(walk(api, max_results=PAGE_SIZE)) == 1 and len(api.sent) == 1
    api = FakeApi([ok(page_of(SEARCH, 0, PAGE_SIZE), nxt(2)), ok(page_of(SEARCH, 10, 10), nxt(3))])
    assert len(walk(api, max_pages=2)) == 2 and len(api.sent) == 2
    assert walk(FakeApi([]), max_results=0) == []


def test_a_walk_resumes_at_a_stored_next_url():
    api = FakeApi([ok(page_of(SEARCH, 30, 2))])
    pages = walk(api, start_url=nxt(4)["X-Pagination-Next"], start_page=4)
    assert pages_asked(api) == ["4"] and pages[0].page == 4


# ---------------------------------------------------------------------------------------------
# the rules as functions


def test_next_page_url_keeps_the_query_and_moves_it_to_our_origin(caplog):
    act = action(SEARCH)
    here = f"{BASE_URL}/actions/{SEARCH}/run/live"
    with caplog.at_level(logging.WARNING, logger="captaindata_dagster.api.client"):
        url = next_page_url(
            "https://elsewhere.example/v4" + act.path + "?page=2&t=x", here, act, base_url=BASE_URL
        )
    assert url == f"{BASE_URL}{act.path}?page=2&t=x"
    assert "elsewhere.example" in caplog.text  # followed on our origin, and said so
    assert next_page_url("?page=3", here, act, base_url=BASE_URL) == f"{here}?page=3"
    assert next_page_url("null", here, act, base_url=BASE_URL) is None
    with pytest.raises(MalformedResponseError, match="not a URL"):
        next_page_url("http://[", here, act, base_url=BASE_URL)


def test_is_last_page_reads_the_page_not_its_size():
    act = action(SEARCH)

    def result(n: int, next_url: str | None) -> ActionResult:
        return ActionResult(SEARCH, page_of(SEARCH, 0, n), next_url, 200, 0.0)

    assert not is_last_page(act, result(1, "u"), seen=1)  # short, with a next page: go on
    assert is_last_page(act, result(0, "u"), seen=0)  # empty
    assert is_last_page(act, result(PAGE_SIZE, None), seen=PAGE_SIZE)  # no next header
    assert is_last_page(act, result(5, "u"), seen=25, max_results=25)  # enough seen
    assert is_last_page(action(PROFILE), result(1, "u"), seen=1)  # not a list action


def test_page_identity_treats_page_1_as_no_page():
    assert page_identity(f"{BASE_URL}/a?page=1") == page_identity(f"{BASE_URL}/a/")
    assert page_identity(f"{BASE_URL}/a?page=2") != page_identity(f"{BASE_URL}/a")
