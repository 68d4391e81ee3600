"""Money: what the API may have billed is counted, loops and wrong answers are not paid twice,
long bans are not waited out in a step, and hostile inputs are never sent.

Each test drives the real client (and the batch engine where the item is about batches) over HTTP
on loopback: the simulator with faults injected after billing, or a scripted server for answers
the simulator never gives (loops, wrapped objects, odd headers).
"""

from __future__ import annotations

import json

import pytest

from captaindata_dagster import CaptainDataClient
from captaindata_dagster.api import (
    MalformedResponseError,
    RateLimitError,
    ServerError,
    TransportError,
)
from captaindata_dagster.engine.batch.run import run_batch
from tests.helpers import TEST_KEY
from tests.integration.test_contract_corners import PROFILE, PROFILE_INPUT, SEARCH, SEARCH_INPUT
from tests.scripted import page

PEOPLE = [f"https://www.linkedin.com/in/money-{i}" for i in range(30)]


@pytest.fixture
def waits(monkeypatch):
    """The client's sleeper, injected into every client of the test: each wait it asks for is
    recorded, none is slept."""
    asked: list[float] = []
    init = CaptainDataClient.__init__

    def with_sleeper(self, *args, **kwargs):
        kwargs.setdefault("sleep", asked.append)
        init(self, *args, **kwargs)

    monkeypatch.setattr(CaptainDataClient, "__init__", with_sleeper)
    return asked


def client_for(base_url, **kw):
    kw.setdefault("backoff_base_s", 0.01)
    kw.setdefault("integration_users", ["acct-1"])
    return CaptainDataClient(TEST_KEY if "sim" not in kw else kw.pop("sim"), base_url, **kw)


# -- 2. retries the API already billed, unseen


@pytest.mark.parametrize("fault", ["drop_mid_body", "malformed_json"])
def test_a_budget_holds_when_every_answer_is_billed_and_lost(make_sim, ledger, waits, fault):
    """Each answer is billed, then cut or garbled: the budget counts those credits at risk."""
    sim = make_sim(faults={fault: 1.0}, fault_after_billing=True)
    client = CaptainDataClient(sim.api_key, sim.base_url, integration_users=["acct-1"])
    out = run_batch(client, PROFILE, PEOPLE, ledger=ledger, budget=20)
    billed = sim.credits_used
    assert billed <= 20  # before: 60 billed for a budget of 20 (every retry billed again)
    assert out.stats.credits + out.stats.credits_at_risk == pytest.approx(billed)
    calls = len(sim.calls(PROFILE))
    assert calls == billed  # one credit a call, every call billed
    assert max(sum(1 for r in sim.calls(PROFILE) if r.input == {"linkedin_profile_url": u})
               for u in PEOPLE) <= 2  # fmt: skip
    # an input re-sent at most once after a billed-but-lost answer (max_billed_retries=1)


def test_an_input_behind_billed_losses_is_sent_twice_at_most(make_sim, waits):
    sim = make_sim(faults={"drop_mid_body": 1.0}, fault_after_billing=True)
    client = CaptainDataClient(sim.api_key, sim.base_url, max_retries=5)
    with pytest.raises(TransportError) as info:  # the answer was cut mid-body
        client.run_action(PROFILE, PROFILE_INPUT)
    assert info.value.attempts == 2 and info.value.credits_at_risk == 2.0
    assert sim.credits_used == 2  # before: 6 (five retries, each billed)
    never = CaptainDataClient(sim.api_key, sim.base_url, max_billed_retries=0)
    with pytest.raises(TransportError):
        never.run_action(PROFILE, {"linkedin_profile_url": "https://www.linkedin.com/in/other"})
    assert sim.credits_used == 3


# -- 3. pagination loops


def test_a_next_url_back_to_a_fetched_page_stops_typed(scripted):
    s = scripted([])
    nxt = f"{s.base_url}/actions/{SEARCH}/run/live?page="
    s.answers += [page(1, nxt + "2"), page(2, nxt + "1")] + [page(9, None)] * 10
    with pytest.raises(MalformedResponseError) as info:
        list(client_for(s.base_url).iter_results(SEARCH, SEARCH_INPUT))
    assert info.value.error_label == "PAGINATION_LOOP"
    assert len(s.requests) == 2  # before: followed ten times, 100 credits for 10 people


def test_a_page_naming_itself_is_paid_once(scripted):
    s = scripted([])
    s.answers += [page(1, f"{s.base_url}/actions/{SEARCH}/run/live")] + [page(1, None)] * 10
    with pytest.raises(MalformedResponseError):
        list(client_for(s.base_url).iter_results(SEARCH, SEARCH_INPUT))
    assert len(s.requests) == 1


def test_a_looping_search_is_a_failed_input_not_a_complete_one(scripted, ledger):
    s = scripted([])
    nxt = f"{s.base_url}/actions/{SEARCH}/run/live?page="
    s.answers += [page(1, nxt + "2"), page(2, nxt + "1")] + [page(9, None)] * 10
    url = SEARCH_INPUT["linkedin_people_search_url"]
    out = run_batch(client_for(s.base_url), SEARCH, [url], ledger=ledger)
    assert list(out.errors["error_label"]) == ["PAGINATION_LOOP"]
    assert out.results.empty and len(s.requests) == 2
    s.answers[:] = [page(1, None)]  # the next run walks it again, from its first page
    again = run_batch(client_for(s.base_url), SEARCH, [url], ledger=ledger)
    assert again.errors.empty and len(s.requests) == 3
    assert s.requests[2]["path"] == f"/v4/actions/{SEARCH}/run/live"  # not the looping URL
    people = list(again.results["linkedin_profile_url"])
    assert len(people) == len(set(people)) == 10  # no page landed twice


# -- 4. wrongly shaped 200s


@pytest.mark.parametrize(
    ("action", "body"),
    [
        (PROFILE, {"data": PROFILE_INPUT, "meta": {"page": 1}}),
        (PROFILE, [PROFILE_INPUT]),
        (PROFILE, None),  # `null`: says nothing of anyone
        (SEARCH, None),
        (SEARCH, [1, "two", None]),
        (SEARCH, {"results": []}),
    ],
)
def test_a_wrongly_shaped_200_is_an_error_row_never_a_result(scripted, ledger, action, body):
    blob = json.dumps(body).encode()
    s = scripted([(200, {"Content-Type": "application/json"}, blob)] * 4)
    value = PROFILE_INPUT if action == PROFILE else SEARCH_INPUT
    out = run_batch(client_for(s.base_url), action, [value], ledger=ledger)
    assert out.results.empty and list(out.errors["error_label"]) == ["MALFORMED_RESPONSE"]
    assert len(s.requests) == 2  # one re-send: the API billed an answer we could not use
    again = run_batch(client_for(s.base_url), action, [value], ledger=ledger)
    assert len(s.requests) == 4 and not again.errors.empty  # not cached: asked again next run


# -- 5. long rate-limit bans


def test_a_ban_longer_than_the_cap_is_not_waited_out(make_sim, waits):
    sim = make_sim(faults={"LIMIT_REACHED": 1.0}, retry_after_s=3600)
    client = CaptainDataClient(sim.api_key, sim.base_url, max_retry_after_s=120)
    with pytest.raises(RateLimitError) as info:
        client.run_action(PROFILE, PROFILE_INPUT)
    assert info.value.retry_after == 3600 and info.value.attempts == 1
    assert waits == []  # before: 120 s waited, five times, per input


def test_a_workspace_ban_ends_the_batch_with_the_time_to_retry(make_sim, ledger, waits):
    sim = make_sim(faults={"LIMIT_REACHED": 1.0}, retry_after_s=3600)
    client = CaptainDataClient(
        sim.api_key, sim.base_url, integration_users=["a1", "a2"], max_retry_after_s=120
    )
    out = run_batch(client, PROFILE, PEOPLE, ledger=ledger)
    assert len(sim.calls(PROFILE)) <= 2  # the calls already in flight, then none
    assert len(out.errors) == len(PEOPLE) and set(out.errors["error_label"]) == {"LIMIT_REACHED"}
    assert out.errors["message"].str.contains("retry after").all()
    assert out.stats.retry_not_before is not None
    assert all(w <= 120 for w in waits)


def test_an_account_ban_retires_that_account_only(make_sim, ledger, waits):
    sim = make_sim(faults={"STATUS_429": 1.0}, retry_after_s=3600)  # X-RateLimit-Type: account
    client = CaptainDataClient(
        sim.api_key, sim.base_url, integration_users=["a1", "a2", "a3"], max_retry_after_s=120
    )
    out = run_batch(client, PROFILE, PEOPLE, ledger=ledger)
    assert len(sim.calls(PROFILE)) == 3  # one call per account, each then retired
    assert sorted(out.stats.retired_users) == ["a1", "a2", "a3"]
    assert len(out.errors) == len(PEOPLE)
    assert out.errors["message"].str.contains("retry after").all()


@pytest.mark.parametrize("header", ["nan", "-5", "inf", "NaN"])
def test_nan_and_negative_retry_after_are_absent(scripted, waits, header):
    ok = (200, {"Content-Type": "application/json"}, json.dumps(PROFILE_INPUT).encode())
    s = scripted([(429, {"Retry-After": header}, b""), ok])
    res = client_for(s.base_url, backoff_base_s=0.5).run_action(PROFILE, PROFILE_INPUT)
    assert res.attempts == 2 and len(waits) == 1
    assert 0.25 <= waits[0] <= 0.5  # the backoff, not "at once" (before: 0 s) nor forever


# -- 6. inputs that should never be sent


HOSTILE = [
    "https://www.linkedin.com/in/" + "x" * 100_000,
    "https://www.linkedin.com/in/jane\x00doe",
    "https://www.linkedin.com/in/jane-doe\r\nX-Injected: 1",
    "https://www.linkedin.com/in/jane doe",
    "https://www.linkedin.com/in/x'; DROP TABLE people;--",
    "https://www.linkedin.com/in/jane%20doe",
    "https://www.linkedin.com/in/x%27%3B%20DROP%20TABLE%20people",
    "https://www.linkedin.com/in/jane%0D%0Adoe",
]


def test_hostile_inputs_are_refused_locally_naming_the_field(sim, ledger):
    client = CaptainDataClient(sim.api_key, sim.base_url, integration_users=["acct-1"])
    out = run_batch(client, PROFILE, HOSTILE, ledger=ledger)
    assert sim.calls(PROFILE) == [] and sim.credits_used == 0
    assert len(out.errors) == len(HOSTILE)
    assert out.errors["message"].str.contains("linkedin_profile_url").all()
    assert set(out.errors["status_code"].dropna()) == set()  # refused here, not by the API


def test_a_503_with_a_long_retry_after_is_not_waited_out_either(scripted, waits):
    s = scripted([(503, {"Retry-After": "3600"}, b"")] * 3)
    with pytest.raises(ServerError) as info:
        client_for(s.base_url, max_retry_after_s=120).run_action(PROFILE, PROFILE_INPUT)
    assert info.value.retry_after == 3600 and len(s.requests) == 1 and waits == []


def test_an_outreach_run_under_a_long_ban_sends_one_call_not_one_per_profile(make_sim, tmp_path):
    from captaindata_dagster.engine.outreach import run_outreach
    from captaindata_dagster.storage.outreach_records import OutreachStore

    sim = make_sim(faults={"LIMIT_REACHED": 1.0}, retry_after_s=3600)
    client = CaptainDataClient(
        sim.api_key, sim.base_url, integration_users=["u1"], max_retry_after_s=120
    )
    profiles = [f"https://www.linkedin.com/in/banned-{i}" for i in range(40)]
    with OutreachStore(tmp_path / "outreach.sqlite") as store:
        result = run_outreach(
            client, store, "linkedin-connect-profile", profiles, campaign="c", message="Hi"
        )
    assert len(sim.calls("linkedin-connect-profile")) == 1  # before: 40 refused calls
    skipped = result.skipped[result.skipped["reason"] == "rate_limited"]
    assert len(skipped) == 39 and skipped["detail"].str.contains("retry after").all()
    assert list(result.errors["error_label"]) == ["LIMIT_REACHED"]  # the one sent: retried later
