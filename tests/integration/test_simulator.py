"""The simulator serves the v4 contract: auth, validation, shapes, paging, credits, limits, faults.

Plain `requests` against a simulator on loopback; nothing here uses the project's client.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from captaindata_dagster.api.catalog import load_catalog
from captaindata_dagster.simulator import (
    ERROR_LABELS,
    RequestRecord,
    Simulator,
    SimulatorConfig,
    run_simulator,
    sample_input,
)

CATALOG = load_catalog()
KEY = "sim-test-key"
PEOPLE_SEARCH = "linkedin-search-people"
SEARCH_URL = "https://www.linkedin.com/search/results/people/?keywords=data%20engineer"
PROFILE = "https://www.linkedin.com/in/ada-lovelace-1815"
ENVELOPE_KEYS = {"error_label", "error_scope", "error_ref", "message", "status_code", "params"}


def run(sim, action_id, body=None, *, key=KEY, session=None, timeout=10, **kwargs):
    """POST one live run; `body` defaults to the action's sample input."""
    if body is None:
        action = CATALOG.get(action_id)
        body = spec_body(action, sample_input(action)) if action else {}
    headers = {"X-API-Key": key} if key is not None else {}
    http = session or requests
    url = kwargs.pop("url", None) or f"{sim.base_url}/actions/{action_id}/run/live"
    return http.post(url, json=body, headers=headers, timeout=timeout, **kwargs)


def spec_body(action, inp):
    """The body the spec declares: `input` only where the action takes one, required
    parameters with their defaults."""
    body = {"input": inp} if action.accepts_input else {}
    if action.required_parameters:
        body["parameters"] = action.with_defaults(None)
    return body


def assert_envelope(resp, status, label, scope=None):
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == ENVELOPE_KEYS
    assert body["status_code"] == status
    assert body["error_label"] == label
    assert re.fullmatch(r"ERR-\d{5}", body["error_ref"])
    assert body["message"]
    if scope is not None:
        assert body["error_scope"] == scope
    return body


@pytest.fixture(scope="module")
def shared():
    with run_simulator(seed=7, api_key=KEY) as s:
        yield s


@pytest.fixture
def fresh():
    started = []

    def start(**kwargs):
        kwargs.setdefault("seed", 7)
        kwargs.setdefault("api_key", KEY)
        sim = Simulator(**kwargs).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


# ---------------------------------------------------------------------------------------------
# start, auth, routing


def test_run_simulator_exposes_the_documented_surface(capsys):
    with run_simulator(seed=3) as sim:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v4", sim.base_url)
        assert sim.port > 0
        assert re.fullmatch(r"sim-[0-9a-f]{32}", sim.api_key)
        assert isinstance(sim.config, SimulatorConfig) and sim.config.seed == 3
        assert sim.requests == [] and sim.credits_used == 0
    assert capsys.readouterr() == ("", "")  # starting and stopping print nothing


def test_config_refuses_bad_settings():
    with pytest.raises(ValueError, match="rate"):
        SimulatorConfig(faults={"LK_BAD_COOKIE": 1.5})
    with pytest.raises(ValueError, match="unknown fault"):
        SimulatorConfig(faults={"timout": 0.1})
    with pytest.raises(ValueError):
        SimulatorConfig(rps=0)
    with pytest.raises(ValueError):
        SimulatorConfig(account_concurrency=0)


def test_missing_or_wrong_key_is_401(shared):
    assert_envelope(run(shared, PEOPLE_SEARCH, key=None), 401, "UNAUTHORIZED", "config")
    assert_envelope(run(shared, PEOPLE_SEARCH, key="sim-wrong"), 401, "UNAUTHORIZED", "config")
    r = requests.get(f"{shared.base_url}/workspaces", timeout=5)
    assert_envelope(r, 401, "UNAUTHORIZED", "config")
    refused = [r for r in shared.calls(PEOPLE_SEARCH) if r.status == 401]
    assert len(refused) == 2 and not any(r.performed for r in refused)
    r = requests.get(f"{shared.base_url}/workspaces", headers={"x-api-key": KEY}, timeout=5)
    assert r.status_code == 200  # header name is case-insensitive


def test_unknown_action_and_unknown_path_are_404(shared):
    body = assert_envelope(run(shared, "linkedin-extract-peple"), 404, "STATUS_404")
    assert "linkedin-extract-people" in body["message"]  # suggestion
    r = requests.get(f"{shared.base_url}/nothing/here", headers={"X-API-Key": KEY}, timeout=5)
    assert_envelope(r, 404, "STATUS_404")


# ---------------------------------------------------------------------------------------------
# every action answers its shape


@pytest.mark.parametrize("action", list(CATALOG), ids=lambda a: a.id)
def test_sample_input_is_valid_for_every_action(action):
    inp = sample_input(action)
    assert action.input_problems(inp) == []
    assert sample_input(action.id, 3) != inp or not action.accepts_input


def test_sample_input_makes_distinct_valid_inputs():
    action = CATALOG.get("linkedin-extract-people")
    values = {sample_input(action, n)["linkedin_profile_url"] for n in range(5)}
    assert len(values) == 5
    assert all(not action.input_problems({"linkedin_profile_url": v}) for v in values)


@pytest.mark.parametrize("action", list(CATALOG), ids=lambda a: a.id)
def test_every_action_answers_its_shape(shared, action):
    inp = sample_input(action)
    if action.method == "GET":
        r = requests.get(
            f"{shared.base_url}{action.path}", params=inp, headers={"X-API-Key": KEY}, timeout=10
        )
    else:
        r = run(shared, action.id, spec_body(action, inp))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Length"] == str(len(r.content))
    if action.response == "file":
        assert r.headers["Content-Type"] == "application/octet-stream"
        assert r.content.startswith(b"%PDF")
        return
    assert r.headers["Content-Type"] == "application/json"
    payload = r.json()
    if action.response == "object":
        assert isinstance(payload, dict)
        assert set(action.output_fields) <= set(payload)
        for name in action.input_fields:
            if name in payload and name in inp:
                # the input is echoed where it is an output, in the answer's declared type (an id
                # sent as text comes back an integer where the response schema says integer)
                assert str(payload[name]) == str(inp[name])
    else:
        assert isinstance(payload, list) and payload
        assert len(payload) <= (action.page_size or 10)
        for item in payload:
            assert set(action.output_fields) <= set(item)
    for item in [payload] if isinstance(payload, dict) else payload:
        lost = {
            name: item[name]
            for name, kind in action.output_types.items()
            if item.get(name) is not None and not _lands_as(item[name], kind)
        }
        assert lost == {}, f"values the warehouse tables would lose (declared type): {lost}"


def _lands_as(value, kind: str) -> bool:
    """Would `frames` keep this value in a column of the declared type? (Text keeps anything.)"""
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            return False
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return False
        if not isinstance(value, (int, float)):
            return False
        return kind == "number" or float(value).is_integer()
    return True


def test_people_extraction_is_realistic_and_chains_to_company(shared):
    r = run(shared, PEOPLE_SEARCH, {"input": {"linkedin_people_search_url": SEARCH_URL}})
    found = r.json()[0]
    r = run(
        shared,
        "linkedin-extract-people",
        {"input": {"url": found["linkedin_profile_url"], "custom_data": {"row": 1}}},
    )
    person = r.json()
    assert person["linkedin_profile_url"] == found["linkedin_profile_url"]
    assert (
        person["full_name"]
        == found["full_name"]
        == (f"{person['first_name']} {person['last_name']}")
    )
    assert person["custom_data"] == {"row": 1}
    assert re.fullmatch(
        r"https://www\.linkedin\.com/company/[a-z0-9-]+/", person["linkedin_company_url"]
    )
    assert person["experiences"][0]["company_name"] == person["company_name"]
    r = run(
        shared,
        "linkedin-extract-company",
        {"input": {"linkedin_company_url": person["linkedin_company_url"]}},
    )
    company = r.json()
    assert company["company_name"] == person["company_name"]
    assert company["linkedin_company_url"] == person["linkedin_company_url"]
    assert isinstance(company["number_employees"], int) and company["website"].startswith(
        "https://"
    )


def test_same_seed_same_data_other_seed_other_data(fresh):
    a, b, c = fresh(seed=1), fresh(seed=1), fresh(seed=2)
    body = {"input": {"linkedin_profile_url": PROFILE}}
    one, two, three = (run(s, "linkedin-extract-people", body).json() for s in (a, b, c))
    assert one == two
    assert one["full_name"] != three["full_name"] or one["job_title"] != three["job_title"]


# ---------------------------------------------------------------------------------------------
# validation


def test_invalid_input_names_the_field(shared):
    r = run(
        shared, "linkedin-extract-people", {"input": {"linkedin_profile_url": "https://x.com/a"}}
    )
    body = assert_envelope(r, 400, "INVALID_INPUT", "input")
    assert body["params"] == {"field": "linkedin_profile_url"}
    assert "linkedin_profile_url" in body["message"]
    r = run(shared, "linkedin-extract-people", {"input": {}})
    body = assert_envelope(r, 400, "INVALID_INPUT", "input")
    assert body["params"]["field"] == "linkedin_profile_url"


def test_body_shape_problems_are_400(shared):
    r = run(shared, "linkedin-extract-people", {"input": {"url": PROFILE}, "inputs": []})
    body = assert_envelope(r, 400, "BAD_INPUT", "input")
    assert body["params"] == {"field": "inputs"}
    both = {"input": {"url": PROFILE}, "integration_users": ["u1"], "identity_ids": ["u1"]}
    assert_envelope(run(shared, "linkedin-extract-people", both), 400, "BAD_INPUT", "input")
    mode = {"input": {"url": PROFILE}, "integration_users": ["u1"], "identity_mode": "auto"}
    assert_envelope(run(shared, "linkedin-extract-people", mode), 400, "BAD_INPUT", "input")
    r = requests.post(
        f"{shared.base_url}/actions/linkedin-extract-people/run/live",
        data=b"[1, 2",
        headers={"X-API-Key": KEY, "Content-Type": "application/json"},
        timeout=5,
    )
    assert_envelope(r, 400, "BAD_INPUT", "input")
    place = {"input": sample_input("googlemaps-extract-place"), "integration_users": ["u1"]}
    assert_envelope(run(shared, "googlemaps-extract-place", place), 400, "BAD_INPUT", "input")
    place = {"input": sample_input("googlemaps-extract-place"), "identity_mode": "auto"}
    assert_envelope(run(shared, "googlemaps-extract-place", place), 400, "BAD_INPUT", "input")
    place = {"input": sample_input("googlemaps-extract-place"), "parameters": {}}
    assert run(shared, "googlemaps-extract-place", place).status_code == 200


def test_actions_without_input_take_an_empty_body(shared):
    assert run(shared, "linkedin-me", {}).status_code == 200
    # the spec's body for linkedin-me declares no `input`: not even custom_data can ride along
    r = run(shared, "linkedin-me", {"input": {"custom_data": {"a": 1}}})
    assert assert_envelope(r, 400, "BAD_INPUT", "input")["params"] == {"field": "input"}
    r = run(shared, "linkedin-me", {"input": {"linkedin_profile_url": PROFILE}})
    assert_envelope(r, 400, "BAD_INPUT", "input")


def test_parameter_problems_are_bad_parameters(shared):
    body = {"input": {"url": PROFILE}, "parameters": {"skillz": True}}
    r = run(shared, "linkedin-extract-people", body)
    assert assert_envelope(r, 400, "BAD_PARAMETERS", "param")["params"] == {"field": "skillz"}
    body = {"input": {"url": PROFILE}, "parameters": {"skills": "yes"}}
    assert_envelope(run(shared, "linkedin-extract-people", body), 400, "BAD_PARAMETERS", "param")
    body = {"input": {"url": PROFILE}, "parameters": {"skills": True, "experiences": True}}
    assert run(shared, "linkedin-extract-people", body).status_code == 200


# ---------------------------------------------------------------------------------------------
# pagination


def follow(sim, action_id, inp, session):
    pages, url = [], None
    while True:
        r = run(sim, action_id, spec_body(CATALOG.get(action_id), inp), session=session, url=url)
        assert r.status_code == 200, r.text
        pages.append(r)
        url = r.headers.get("X-Pagination-Next")
        if not url:
            return pages
        assert len(pages) < 100


def test_people_search_pages_until_the_end(fresh):
    sim = fresh(search_total=37)
    with requests.Session() as s:
        pages = follow(sim, PEOPLE_SEARCH, {"linkedin_people_search_url": SEARCH_URL}, s)
    assert [len(p.json()) for p in pages] == [10, 10, 10, 7]
    assert pages[0].headers["X-Pagination-Next"] == (
        f"{sim.base_url}/actions/{PEOPLE_SEARCH}/run/live?page=2"
    )
    assert "X-Pagination-Previous" not in pages[0].headers
    assert pages[2].headers["X-Pagination-Previous"].endswith("?page=2")
    people = [p for page in pages for p in page.json()]
    urls = [p["linkedin_profile_url"] for p in people]
    assert len(urls) == 37 == len(set(urls))
    assert all(
        re.fullmatch(r"https://www\.linkedin\.com/in/[a-z]+-[a-z]+-[0-9a-f]{10}", u) for u in urls
    )
    again = run(
        sim,
        PEOPLE_SEARCH,
        {"input": {"linkedin_people_search_url": SEARCH_URL}},
        url=(f"{sim.base_url}/actions/{PEOPLE_SEARCH}/run/live?page=3"),
    )
    assert again.json() == pages[2].json()  # the same (seed, input, index) gives the same item
    past = run(
        sim,
        PEOPLE_SEARCH,
        {"input": {"linkedin_people_search_url": SEARCH_URL}},
        url=(f"{sim.base_url}/actions/{PEOPLE_SEARCH}/run/live?page=9"),
    )
    assert past.status_code == 200 and past.json() == []
    assert "X-Pagination-Next" not in past.headers
    assert sim.credits_used == 37 + 10  # page 3 twice, the empty page is free


def test_search_total_by_default_depends_on_input(shared):
    totals = set()
    with requests.Session() as s:
        for q in ("cto", "data"):
            url = f"https://www.linkedin.com/search/results/groups/?keywords={q}"
            pages = follow(shared, "linkedin-search-groups", {"linkedin_group_search_url": url}, s)
            total = sum(len(p.json()) for p in pages)
            assert 15 <= total <= 400
            totals.add(total)
    assert len(totals) == 2


def test_token_pagination_and_bad_page(fresh):
    sim = fresh(search_total=45)
    with requests.Session() as s:
        pages = follow(sim, "linkedin-extract-conversations", {}, s)
    assert [len(p.json()) for p in pages] == [20, 20, 5]
    assert re.search(r"\?token=[\w-]+$", pages[0].headers["X-Pagination-Next"])
    ids = [c["linkedin_thread_id"] for p in pages for c in p.json()]
    assert len(ids) == 45
    base = f"{sim.base_url}/actions/linkedin-extract-conversations/run/live"
    r = run(sim, "linkedin-extract-conversations", {}, url=f"{base}?token=forged")
    assert assert_envelope(r, 400, "BAD_PARAMETERS", "param")["params"] == {"field": "token"}
    r = run(sim, PEOPLE_SEARCH, url=f"{sim.base_url}/actions/{PEOPLE_SEARCH}/run/live?page=0")
    assert_envelope(r, 400, "BAD_PARAMETERS", "param")


def test_unpaginated_list_is_one_short_page(shared):
    r = run(shared, "linkedin-extract-similar-companies")
    items = r.json()
    assert 3 <= len(items) <= 8 and "X-Pagination-Next" not in r.headers
    original = sample_input("linkedin-extract-similar-companies")["linkedin_company_url"]
    assert all(i["original_linkedin_company_url"] == original for i in items)
    assert len({i["linkedin_company_url"] for i in items}) == len(items)


# ---------------------------------------------------------------------------------------------
# credits and state


def test_credits_one_per_result_and_managed_costs_more(fresh):
    sim = fresh(search_total=25)
    headers = {"X-API-Key": KEY}
    assert run(sim, "linkedin-extract-people").status_code == 200  # 1
    assert len(run(sim, PEOPLE_SEARCH).json()) == 10  # 10
    assert_envelope(run(sim, "linkedin-extract-people", {"input": {}}), 400, "INVALID_INPUT")
    managed = {"input": {"url": PROFILE}, "identity_mode": "managed"}
    assert run(sim, "linkedin-extract-people", managed).status_code == 200  # 1.5
    assert sim.credits_used == 12.5
    ws = requests.get(f"{sim.base_url}/workspaces", headers=headers, timeout=5).json()
    assert set(ws) == {
        "uid", "name", "plan_name", "credits_left", "credits_max", "credits_used",
        "current_month_start", "current_month_end", "seats_used", "seats_max",
    }  # fmt: skip
    assert ws["credits_used"] == 12.5 and ws["credits_left"] == ws["credits_max"] - 12.5
    state = requests.get(f"{sim.base_url.removesuffix('/v4')}/_simulator/state", timeout=5).json()
    assert state == {
        "credits_used": 12.5,
        "calls": 4,
        "calls_by_action": {"linkedin-extract-people": 3, PEOPLE_SEARCH: 1},
        "status_counts": {"200": 4, "400": 1},
        "requests": 5,
    }
    records = sim.calls("linkedin-extract-people")
    assert [(r.status, r.results, r.credits, r.performed) for r in records] == [
        (200, 1, 1, True),
        (400, 0, 0, False),
        (200, 1, 1.5, True),
    ]
    assert isinstance(records[0], RequestRecord) and records[0].account == "default"
    assert records[2].input == {"linkedin_profile_url": PROFILE}  # aliases renamed
    sim.reset()
    assert sim.requests == [] and sim.credits_used == 0
    assert run(sim, "linkedin-extract-people").status_code == 200
    root = sim.base_url.removesuffix("/v4")
    (logged,) = requests.get(f"{root}/_simulator/requests", timeout=5).json()
    assert (logged["action_id"], logged["status"], logged["credits"]) == (
        "linkedin-extract-people", 200, 1,
    )  # fmt: skip
    assert requests.post(f"{root}/_simulator/reset", timeout=5).json() == {"reset": True}
    assert sim.credits_used == 0
    assert requests.get(f"{root}/_simulator/state", timeout=5).json()["requests"] == 0


def test_credits_run_out(fresh):
    sim = fresh(credits=12, search_total=40)
    assert len(run(sim, PEOPLE_SEARCH).json()) == 10
    assert run(sim, "linkedin-extract-people").status_code == 200
    assert run(sim, "linkedin-extract-people").status_code == 200
    assert_envelope(run(sim, "linkedin-extract-people"), 402, "NO_CREDITS", "config")
    ws = requests.get(f"{sim.base_url}/workspaces", headers={"X-API-Key": KEY}, timeout=5).json()
    assert (ws["credits_max"], ws["credits_used"], ws["credits_left"]) == (12, 12, 0)


# ---------------------------------------------------------------------------------------------
# rate limits


def test_rps_limit_answers_429_with_headers(fresh):
    sim = fresh(rps=5)
    with requests.Session() as s:
        rs = [run(sim, "googlemaps-extract-place", session=s) for _ in range(15)]
    limited = [r for r in rs if r.status_code == 429]
    assert 5 <= sum(r.status_code == 200 for r in rs) <= 7 and limited
    body = assert_envelope(limited[0], 429, "LIMIT_REACHED", "config")
    assert "5" in body["message"]
    h = limited[0].headers
    assert h["X-RateLimit-Type"] == "requests_per_second"
    assert int(h["Retry-After"]) >= 1
    assert time.time() < int(h["X-RateLimit-Reset"]) <= time.time() + 3
    assert all(r.performed is False and r.credits == 0 for r in sim.requests if r.status == 429)


def test_rps_limit_lets_a_client_pacing_at_rps_through(fresh):
    sim = fresh(rps=20)
    with requests.Session() as s:
        drained = [run(sim, "googlemaps-extract-place", session=s).status_code for _ in range(25)]
        assert 429 in drained  # the bucket is empty now: what follows is paced from zero
        statuses = []
        next_at = time.monotonic() + 1 / 20
        for _ in range(20):
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += 1 / 20
            statuses.append(run(sim, "googlemaps-extract-place", session=s).status_code)
    assert statuses == [200] * 20


def test_one_call_at_a_time_per_account(fresh):
    sim = fresh(latency_ms=300)
    results = {}
    together = threading.Barrier(3)  # all three are sent at once: the two for u1 overlap

    def call(name, user):
        together.wait()
        results[name] = run(
            sim, "linkedin-extract-people", {"input": {"url": PROFILE}, "integration_users": [user]}
        )

    threads = [
        threading.Thread(target=call, args=(n, u))
        for n, u in (("a", "u1"), ("b", "u1"), ("c", "u2"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results.values()) == [200, 200, 429]
    limited = next(r for r in results.values() if r.status_code == 429)
    assert_envelope(limited, 429, "STATUS_429")
    assert limited.headers["X-RateLimit-Type"] == "account"
    assert limited.headers["Retry-After"] == "1"
    assert {r.account for r in sim.requests} == {"u1", "u2"}
    assert (
        run(
            sim, "linkedin-extract-people", {"input": {"url": PROFILE}, "identity_ids": ["u1"]}
        ).status_code
        == 200
    )


# ---------------------------------------------------------------------------------------------
# faults


@pytest.mark.parametrize("label", sorted(ERROR_LABELS))
def test_every_error_label_fault(fresh, label):
    sim = fresh(faults={label: 1.0}, retry_after_s=2)
    status, scope = ERROR_LABELS[label]
    r = run(sim, "linkedin-extract-people")
    assert_envelope(r, status, label, scope)
    if status == 429:
        assert r.headers["Retry-After"] == "2"
        assert r.headers["X-RateLimit-Type"] in ("account", "requests_per_second")
        assert int(r.headers["X-RateLimit-Reset"]) > time.time()
    (rec,) = sim.requests
    assert (rec.status, rec.performed, rec.credits, rec.fault) == (status, False, 0, label)
    assert sim.credits_used == 0


def test_numeric_and_unknown_label_faults(fresh):
    expected = {
        "400": (400, "BAD_INPUT"),
        "424": (424, "INTEGRATION_ERROR"),
        "429": (429, "STATUS_429"),
        "500": (500, "GENERIC_ERROR"),
        "503": (503, "SERVICE_UNAVAILABLE"),
        "LK_SOMETHING_NEW": (424, "LK_SOMETHING_NEW"),
    }
    for name, (status, label) in expected.items():
        sim = fresh(faults={name: 1.0})
        assert_envelope(run(sim, "linkedin-extract-people"), status, label)


@pytest.mark.parametrize("status", [401, 403, 404, 500, 502, 503])
def test_html_faults_are_not_json(fresh, status):
    sim = fresh(faults={f"html_{status}": 1.0})
    r = run(sim, "linkedin-extract-people")
    assert r.status_code == status
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.text.lstrip().startswith("<html>")
    with pytest.raises(ValueError):
        r.json()


def test_malformed_json_fault(fresh):
    sim = fresh(faults={"malformed_json": 1.0})
    r = run(sim, "linkedin-extract-people")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.text.startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    assert sim.requests[0].performed is False and sim.credits_used == 0


def test_timeout_fault_hangs_then_closes(fresh):
    sim = fresh(faults={"timeout": 1.0}, hang_s=0.5)
    # a client that waits less than the hang times out (it never sees an answer)...
    with pytest.raises(requests.exceptions.ReadTimeout):
        run(sim, "linkedin-extract-people", timeout=0.2)
    (rec,) = sim.requests
    assert (rec.status, rec.fault, rec.performed) == (0, "timeout", False)
    # ...and one that waits longer sees the hang-up, not an answer (no timing asserted: the
    # exception's kind tells the two apart). A hang holds no account slot.
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        run(sim, "linkedin-extract-people", timeout=30)
    assert not isinstance(info.value, requests.exceptions.ReadTimeout)


def test_drop_fault_hangs_up_before_answering(fresh):
    sim = fresh(faults={"drop": 1.0})
    for _ in range(3):
        with pytest.raises(requests.exceptions.ConnectionError):
            run(sim, "linkedin-extract-people", timeout=3)
    assert {(r.status, r.performed, r.fault) for r in sim.requests} == {(0, False, "drop")}


def test_drop_mid_body_fault_cuts_the_answer(fresh):
    sim = fresh(faults={"drop_mid_body": 1.0})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        run(sim, "linkedin-extract-people", timeout=3)
    (rec,) = sim.requests
    assert (rec.status, rec.performed, rec.fault) == (0, False, "drop_mid_body")


def test_fault_rates_are_seeded(fresh):
    def statuses(sim):
        with requests.Session() as s:
            return [run(sim, "linkedin-extract-people", session=s).status_code for _ in range(40)]

    faults = {"LK_BAD_COOKIE": 0.3, "503": 0.2}
    one, two = statuses(fresh(seed=11, faults=faults)), statuses(fresh(seed=11, faults=faults))
    assert one == two
    assert set(one) == {200, 424, 503}
    assert 8 <= one.count(200) <= 32


def test_fail_inputs_fail_every_time(fresh):
    bad = "https://www.linkedin.com/in/bad-one"
    sim = fresh(fail_inputs={bad: "LK_BAD_COOKIE"})
    for _ in range(3):
        assert_envelope(
            run(sim, "linkedin-extract-people", {"input": {"url": bad}}),
            424,
            "LK_BAD_COOKIE",
            "integ",
        )
    assert run(sim, "linkedin-extract-people", {"input": {"url": PROFILE}}).status_code == 200
    assert sim.credits_used == 1
    sim.set_fail_inputs({})
    assert run(sim, "linkedin-extract-people", {"input": {"url": bad}}).status_code == 200


def test_set_faults_at_runtime(fresh):
    sim = fresh()
    assert run(sim, "linkedin-extract-people").status_code == 200
    sim.set_faults({"GENERIC_ERROR": 1.0})
    assert run(sim, "linkedin-extract-people").status_code == 500
    r = requests.post(
        f"{sim.base_url.removesuffix('/v4')}/_simulator/config", json={"faults": {}}, timeout=5
    )
    assert r.status_code == 200 and sim.config.faults == {}
    assert run(sim, "linkedin-extract-people").status_code == 200
    with pytest.raises(ValueError):
        sim.set_faults({"nope": 1})


def test_fault_after_effect_on_side_effect_actions(fresh):
    body = {"input": {"url": PROFILE}, "parameters": {"message": 1}}
    before = fresh(faults={"GENERIC_ERROR": 1.0})
    assert run(before, "linkedin-connect-profile", body).status_code == 500
    assert before.requests[0].performed is False
    after = fresh(faults={"GENERIC_ERROR": 1.0}, fault_after_effect=True)
    assert run(after, "linkedin-connect-profile", body).status_code == 500
    assert run(after, "linkedin-extract-people", body | {"parameters": {}}).status_code == 500
    connect, extract = after.requests
    assert (connect.performed, connect.status, connect.credits) == (True, 500, 1)
    assert extract.performed is False  # no side effect: the fault comes first


# ---------------------------------------------------------------------------------------------
# users and integrations, downloads


def test_users_and_integrations(fresh):
    sim = fresh()
    h = {"X-API-Key": KEY}
    r = requests.post(
        f"{sim.base_url}/users",
        json={"email": "ada@example.com", "full_name": "Ada Lovelace", "timezone": "Europe/London"},
        headers=h,
        timeout=5,
    )
    assert r.status_code == 201
    user = r.json()
    assert set(user) == {"uid", "created_at", "workspace_uid", "first_name", "last_name",
                         "full_name", "email", "timezone", "integrations"}  # fmt: skip
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", user["uid"]
    )
    assert (user["first_name"], user["last_name"], user["integrations"]) == ("Ada", "Lovelace", [])
    requests.post(f"{sim.base_url}/users", json={"email": "bob@example.com"}, headers=h, timeout=5)
    listed = requests.get(f"{sim.base_url}/users", params={"query": "ada"}, headers=h, timeout=5)
    assert [u["email"] for u in listed.json()] == ["ada@example.com"]
    assert len(requests.get(f"{sim.base_url}/users", headers=h, timeout=5).json()) == 2

    url = f"{sim.base_url}/users/{user['uid']}/integrations/linkedin"
    secret = {"auth_data": {"cookies": {"li_at": "AQEDAS3cr3t", "li_a": "AQJ2s3cr3t"}}}
    r = requests.post(url, json=secret | {"account_name": "Ada LI"}, headers=h, timeout=5)
    assert r.status_code == 201
    account = r.json()
    assert account | {"uid": "x", "created_at": "x"} == {
        "uid": "x", "auth_type": "cookies", "name": "Ada LI", "user_uid": user["uid"],
        "error": None, "checkpoint": None, "integration": "linkedin", "created_at": "x",
    }  # fmt: skip
    r = requests.put(url, json=secret, headers=h, timeout=5)
    assert r.status_code == 200 and r.json()["uid"] == account["uid"]
    again = requests.get(f"{sim.base_url}/users/{user['uid']}", headers=h, timeout=5).json()
    assert [a["uid"] for a in again["integrations"]] == [account["uid"]]

    r = requests.post(url, json={"auth_data": {"cookies": {}}}, headers=h, timeout=5)
    assert assert_envelope(r, 400, "INVALID_INPUT", "input")["params"]["field"].endswith("li_at")
    r = requests.post(
        f"{sim.base_url}/users/nobody/integrations/linkedin", json=secret, headers=h, timeout=5
    )
    assert_envelope(r, 404, "STATUS_404")
    log = json.dumps([rec.to_dict() for rec in sim.requests])
    assert "s3cr3t" not in log and "***" in log


def test_download_attachment_is_bytes(shared):
    action = CATALOG.get("linkedin-download-attachment")
    url = f"{shared.base_url}{action.path}"
    inp = sample_input(action)
    r = requests.get(url, params=inp, headers={"X-API-Key": KEY}, timeout=5)
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.content == requests.get(url, params=inp, headers={"X-API-Key": KEY}, timeout=5).content
    r = requests.get(
        url, params={"url": "https://example.com/x"}, headers={"X-API-Key": KEY}, timeout=5
    )
    assert_envelope(r, 400, "INVALID_INPUT", "input")


def test_keep_alive_connections_are_reused(shared):
    with requests.Session() as s:
        for _ in range(5):
            r = run(shared, "linkedin-extract-people", session=s)
            assert r.status_code == 200 and "close" not in r.headers.get("Connection", "")


# ---------------------------------------------------------------------------------------------
# CLI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serves_until_sigterm():
    port = _free_port()
    root = str(Path(__file__).resolve().parents[2])
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "captaindata_dagster", "simulator", "--port", str(port),
         "--api-key", "cli-key", "--seed", "7", "--fault", "LK_BAD_COOKIE=0", "--rps", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.strip() == f"captaindata simulator on http://127.0.0.1:{port}/v4  key=cli-key"
        base = f"http://127.0.0.1:{port}/v4"
        r = requests.get(f"{base}/workspaces", headers={"X-API-Key": "cli-key"}, timeout=5)
        assert r.status_code == 200
        r = requests.post(
            f"{base}/actions/linkedin-extract-people/run/live",
            json={"input": {"url": PROFILE}},
            headers={"X-API-Key": "cli-key"},
            timeout=5,
        )
        assert r.status_code == 200
        state = requests.get(f"http://127.0.0.1:{port}/_simulator/state", timeout=5).json()
        assert (state["calls"], state["credits_used"], state["requests"]) == (1, 1, 2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in proc.stderr.read()
