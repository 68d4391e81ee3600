"""The cost preview of the engine: counts from the ledger, credits at the catalog's prices, time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from captaindata_dagster.api.client import CaptainDataClient, paced_rate
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.api.request_body import resolve_action
from captaindata_dagster.engine.batch import estimate_batch
from captaindata_dagster.engine.estimate import InputCounts, estimate_plan
from captaindata_dagster.storage.ledger import Ledger, input_key

PROFILES = resolve_action("linkedin-extract-people")
SEARCH = resolve_action("linkedin-search-people")  # page size 10
CONVERSATIONS = resolve_action("linkedin-extract-conversations")  # 0.05 credits, pages of 20
PLACES = resolve_action("googlemaps-search-places")  # no LinkedIn account


def url(i: int) -> str:
    return f"https://www.linkedin.com/in/person-{i}"


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite") as led:
        yield led


def remember(ledger: Ledger, i: int, *, at: datetime | None = None) -> None:
    """A profile the ledger holds, as a past run stored it."""
    value = {"linkedin_profile_url": url(i)}
    key = input_key(PROFILES, value)
    ledger.save_result(PROFILES.id, key, [{"linkedin_profile_url": url(i)}], input=value, at=at)


def test_inputs_are_deduped_checked_and_matched_against_the_ledger_as_a_run_would(ledger):
    remember(ledger, 1)
    remember(ledger, 2, at=datetime.now(timezone.utc) - timedelta(days=40))  # expired
    inputs = [
        url(1),
        url(1) + "/?trk=x",
        "https://fr.linkedin.com/in/Person-1/",
        url(2),
        url(3),
        "nope",
    ]
    est = estimate_batch(PROFILES, inputs, ledger=ledger, max_age=timedelta(days=30))
    assert (est.inputs, est.unique_inputs, est.invalid) == (6, 4, 1)
    assert (est.fresh, est.to_fetch) == (1, 2)  # person-1 is fresh; 2 expired, 3 unknown
    assert est.credits == est.credits_upper_bound == 2.0 and est.billed_credits == 2.0
    assert est.calls == 2
    # without an expiry the old entry answers too; without a ledger nothing does
    assert estimate_batch(PROFILES, inputs, ledger=ledger, max_age=None).to_fetch == 1
    assert estimate_batch(PROFILES, inputs).to_fetch == 3


def test_managed_identities_cost_one_and_a_half_and_prices_come_from_the_catalog():
    urls = [url(i) for i in range(4)]
    assert estimate_batch(PROFILES, urls, managed=True).credits == 6.0
    assert estimate_batch(PROFILES, urls, managed=True).price_per_result == 1.5
    convs = estimate_batch(CONVERSATIONS, [None], max_results=30)
    assert convs.credits is None  # a list's length is known once walked
    assert convs.credits_upper_bound == pytest.approx(2 * 20 * 0.05)  # two whole pages of 20


def test_a_search_is_bounded_by_max_results_in_whole_pages_or_not_at_all():
    search = {"linkedin_people_search_url": "https://www.linkedin.com/search/results/people/?k=a"}
    capped = estimate_batch(SEARCH, [search], max_results=25)
    assert capped.credits is None and capped.credits_upper_bound == 30.0  # 3 pages of 10
    assert capped.calls == 3
    assert any("max_results=25" in note for note in capped.notes)
    open_ended = estimate_batch(SEARCH, [search])
    assert open_ended.credits_upper_bound is None and open_ended.calls is None
    assert open_ended.seconds is None and open_ended.billed_credits is None


def test_time_is_the_slower_of_the_accounts_one_call_at_a_time_and_the_plan_rate():
    urls = [url(i) for i in range(40)]
    # 2 accounts, 2 s a call: 20 rounds = 40 s; 40 calls at 10/s paced 5 % under: 4.2 s
    slow = estimate_batch(PROFILES, urls, requests_per_second=10, accounts=2)
    assert slow.seconds == pytest.approx(40.0) and slow.workers == 2
    assert slow.paced_rate == pytest.approx(9.5)
    # 40 accounts at 1 request a second: the rate decides (40 calls / 0.95 per second)
    rated = estimate_batch(PROFILES, urls, requests_per_second=1, accounts=40)
    assert rated.seconds == pytest.approx(40 / 0.95, rel=1e-3)
    # an action without an account runs on the engine's workers, not one per account
    place = {"google_maps_search_url": "https://www.google.com/maps/search/bakery+paris"}
    places = estimate_batch(PLACES, [place], max_results=40, seconds_per_call=3.0)
    assert places.calls == 2 and places.seconds == pytest.approx(6.0)  # its pages in a row


def test_nothing_to_fetch_costs_nothing_and_takes_no_time(ledger):
    remember(ledger, 1)
    est = estimate_batch(PROFILES, [url(1)], ledger=ledger, max_age=None)
    assert (est.fresh, est.to_fetch, est.credits, est.calls, est.seconds) == (1, 0, 0.0, 0, 0.0)
    search = estimate_plan(SEARCH, InputCounts(1, 1, 0, 1, 0))  # even without max_results
    assert search.credits == 0.0 and search.seconds == 0.0


def test_the_arguments_a_run_refuses_are_refused_before_anything_is_read():
    with pytest.raises(ValidationError):
        estimate_batch(PROFILES, [url(1)], parameters={"no_such_parameter": True})
    with pytest.raises(ValueError, match="max_results"):
        estimate_batch(SEARCH, [], max_results=0)
    with pytest.raises(ValueError, match="accounts"):
        estimate_batch(PROFILES, [url(1)], accounts=0)


def test_the_record_is_ready_for_json():
    data = estimate_batch(PROFILES, [url(1)], requests_per_second=2).to_dict()
    assert data["action_id"] == PROFILES.id and data["credits"] == 1.0
    assert isinstance(data["notes"], list) and data["notes"]


def test_managed_billing_follows_the_body_the_client_would_send():
    from captaindata_dagster.api.request_body import bills_managed

    assert bills_managed(PROFILES, "identity_ids", "managed")
    assert not bills_managed(PROFILES, "identity_ids", "direct")
    assert not bills_managed(PROFILES, "integration_users", "managed")  # the seed's form: no mode
    assert not bills_managed(PLACES, "identity_ids", "managed")  # no LinkedIn account, no mode


def test_the_budget_caps_what_a_partition_fetches_and_costs():
    urls = [url(i) for i in range(20)]
    capped = estimate_batch(PROFILES, urls, budget=5)
    assert (capped.to_fetch, capped.credits, capped.credits_upper_bound) == (20, 5.0, 5.0)
    assert capped.calls == 5 and capped.seconds == pytest.approx(5 * 2.0) and capped.budget == 5
    assert any("budget of 5 credits" in note for note in capped.notes)
    # the run refuses a call that could pass the budget: 3 managed calls (4.5), not a 4th (6)
    managed = estimate_batch(PROFILES, urls, managed=True, budget=5)
    assert (managed.calls, managed.credits) == (3, 4.5)
    # a budget above the bill changes nothing, and says nothing
    roomy = estimate_batch(PROFILES, urls, budget=100)
    assert (roomy.calls, roomy.credits) == (20, 20.0)
    assert not any("budget" in note for note in roomy.notes)
    search = {"linkedin_people_search_url": "https://www.linkedin.com/search/results/people/?k=a"}
    assert estimate_batch(SEARCH, [search], max_results=25, budget=12).credits_upper_bound == 12.0
    open_ended = estimate_batch(SEARCH, [search], budget=50)  # no max_results: the budget bounds
    assert open_ended.credits is None and open_ended.credits_upper_bound == 50.0
    with pytest.raises(ValueError, match="budget"):
        estimate_batch(PROFILES, urls, budget=-1)


def test_the_paced_rate_is_the_clients_own():
    assert (
        paced_rate(10) == pytest.approx(9.5) and paced_rate(None) is None and paced_rate(0) is None
    )
    with CaptainDataClient(api_key="k", requests_per_second=10, pacing_margin=0.2) as client:
        assert client.bucket is not None and client.bucket.rate == paced_rate(10, 0.2)
    est = estimate_batch(PROFILES, [url(1)], requests_per_second=10, pacing_margin=0.2)
    assert est.paced_rate == paced_rate(10, 0.2)


def test_the_ui_metadata_keys_come_from_one_place():
    import dagster as dg

    from captaindata_dagster.orchestration.estimate import report
    from captaindata_dagster.orchestration.estimate.records import AssetEstimate, PartitionEstimate
    from captaindata_dagster.orchestration.metadata_set import NAMESPACE

    est = estimate_batch(PROFILES, [url(1), url(2)], requests_per_second=2)
    part = PartitionEstimate("paris", "upstream", est, ("a note",))
    preview = AssetEstimate(dg.AssetKey("profiles"), PROFILES.id, (part,))
    observed = {k: getattr(v, "value", v) for k, v in
                report.partition_observation(preview, part).metadata.items()}  # fmt: skip
    known = {*report.PARTITION_KEYS.values(), *report.TOTAL_KEYS.values(),
             *report.SUMMARY_KEYS.values()}  # fmt: skip
    assert {k for k in observed if not k.startswith(f"{NAMESPACE}/")} <= known
    assert observed[report.PARTITION_KEYS["to_fetch"]] == 2
    assert observed[report.PARTITION_KEYS["notes"]] is not None
    summary = report.summary_metadata(preview)
    assert set(summary) <= known and summary[report.TOTAL_KEYS["credits"]] == 2.0
