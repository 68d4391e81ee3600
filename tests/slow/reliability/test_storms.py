"""Fault storms: 500 profiles over 4 accounts while the API misbehaves; nothing lost, nothing twice.

After each storm every input is in the results or the errors exactly once, the simulator never
answered one input successfully twice, transient failures were retried and mostly recovered, and
permanent ones carry their label. A calm re-run then fetches only what is still missing.
"""

from __future__ import annotations

from collections import Counter

import pytest

from captaindata_dagster import CaptainDataClient
from captaindata_dagster.engine.batch.run import run_batch
from captaindata_dagster.storage.ledger import Ledger

N = 500
USERS = ["acct-1", "acct-2", "acct-3", "acct-4"]
PROFILE = "linkedin-extract-people"
SEARCH = "linkedin-search-people"
# Failures of the input itself (an account failure such as LK_BAD_COOKIE is the account's: it
# retires the account for the batch, see tests/integration/test_account_failures.py)
PERMANENT = {f"https://www.linkedin.com/in/storm-{i}": "LK_ERROR" for i in (7, 77)} | {
    "https://www.linkedin.com/in/storm-300": "NO_RESULT"
}

STORMS = {
    "429 bursts with Retry-After": {"faults": {"STATUS_429": 0.25}, "retry_after_s": 0.05},
    "5xx bursts, JSON and HTML": {
        "faults": {"500": 0.08, "SERVICE_UNAVAILABLE": 0.05, "html_502": 0.05, "html_503": 0.05}
    },
    "20% of calls time out": {"faults": {"timeout": 0.2}, "hang_s": 1.0},
    "connections dropped mid-response": {"faults": {"drop_mid_body": 0.1, "drop": 0.05}},
    "malformed JSON on 2xx": {"faults": {"malformed_json": 0.1}},
}


def urls(n: int = N) -> list[str]:
    return [f"https://www.linkedin.com/in/storm-{i}" for i in range(n)]


def client_for(sim) -> CaptainDataClient:
    return CaptainDataClient(
        sim.api_key,
        sim.base_url,
        # long enough that a healthy answer on a loaded machine is never given up on (it would be
        # paid twice: the client cannot know the API answered), short enough to keep storms quick
        timeout=0.8,
        connect_timeout=0.8,
        max_retries=8,
        # A timed-out or cut answer may have been billed: by default the client re-sends it once
        # (tests/slow/reliability/test_money.py). These storms bill nothing for a lost answer and
        # measure completeness, so they allow as many re-sends as retries.
        max_billed_retries=8,
        backoff_base_s=0.01,
        backoff_max_s=0.1,
        integration_users=USERS,
    )


def clean_answers(sim, action_id: str) -> Counter:
    """How often each input got a complete, well-formed success (what a client could use)."""
    return Counter(
        next(iter(r.input.values()))
        for r in sim.calls(action_id)
        if r.status == 200 and r.fault is None and r.input
    )


def assert_exactly_once(out, inputs):
    got = list(out.results["_input"]) + list(out.errors["input"])
    assert Counter(got) == Counter(inputs), "every input once, in the results or the errors"


@pytest.mark.parametrize("storm", list(STORMS))
def test_storm_loses_nothing_and_pays_nothing_twice(make_sim, tmp_path, storm):
    settings = STORMS[storm]
    sim = make_sim(latency_ms=2, fail_inputs=PERMANENT, **settings)
    inputs = urls()
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        client = client_for(sim)
        out = run_batch(client, PROFILE, inputs, ledger=ledger)
        assert_exactly_once(out, inputs)
        twice = {u: n for u, n in clean_answers(sim, PROFILE).items() if n > 1}
        assert twice == {}, f"answered twice: {list(twice)[:3]}"
        # permanent failures keep their label; transient ones were retried and mostly recovered
        labels = dict(zip(out.errors["input"], out.errors["error_label"], strict=True))
        for url, label in PERMANENT.items():
            assert labels[url] == label
        transient = len(out.errors) - len(PERMANENT)
        assert transient <= 0.02 * N, f"{transient} transient failures left after retries"
        assert out.stats.retries > 0 and out.stats.calls > N
        assert len({r.account for r in sim.calls(PROFILE)}) == len(USERS)
        assert sim.credits_used == len(out.results)  # one credit per result, none paid twice
        assert ledger.integrity_ok()
        # a calm re-run: what succeeded or failed for good is not asked again
        sim.set_faults({})
        paid = sim.credits_used
        again = run_batch(client, PROFILE, inputs, ledger=ledger)
        client.close()
    assert_exactly_once(again, inputs)
    assert sim.credits_used - paid == transient  # only the transient failures were fetched
    assert sorted(again.errors["error_label"]) == sorted(PERMANENT.values())
    assert max(clean_answers(sim, PROFILE).values()) == 1


def test_a_search_whose_next_page_fails_resumes_without_paying_twice(make_sim, tmp_path):
    searches = [f"https://www.linkedin.com/search/results/people/?keywords=s{i}" for i in range(20)]
    sim = make_sim(search_total=100, faults={"500": 0.3, "html_503": 0.1})
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        client = CaptainDataClient(
            sim.api_key, sim.base_url, max_retries=0, backoff_base_s=0.01, backoff_max_s=0.02
        )
        first = run_batch(client, SEARCH, searches, ledger=ledger, max_results=50)
        broken = set(first.errors["input"])
        assert broken, "the storm should break some walks"
        walked = set(first.results["_input"])
        assert not broken & walked  # a search is either complete or an error, never both
        for search in walked:
            assert (first.results["_input"] == search).sum() == 50
        pages_paid = Counter(
            (r.input["linkedin_people_search_url"], r.query.get("page", "1"))
            for r in sim.calls(SEARCH)
            if r.status == 200 and r.fault is None
        )
        sim.set_faults({})
        again = run_batch(client, SEARCH, searches, ledger=ledger, max_results=50)
        client.close()
        assert ledger.integrity_ok()
    assert again.errors.empty
    assert Counter(again.results["_input"]) == Counter({s: 50 for s in searches})
    repaid = Counter(
        (r.input["linkedin_people_search_url"], r.query.get("page", "1"))
        for r in sim.calls(SEARCH)
        if r.status == 200 and r.fault is None
    )
    assert max(repaid.values()) == 1, "a stored page was fetched again"
    assert sum(repaid.values()) - sum(pages_paid.values()) <= len(broken) * 5
