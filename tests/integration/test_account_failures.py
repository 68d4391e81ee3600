"""Account failures are the account's, not the input's.

An expired LinkedIn session (`LK_BAD_COOKIE`), a user without a connected account
(`NOT_CONNECTED`) or a workspace without any usable one (`NO_VALID_ACCOUNT_CONFIGURED`) fails every
call of that account alike. So the worker pinned to the account retires for the rest of the batch
and its input goes back to the other accounts; once none is left the remaining inputs are error
rows sent to no one; and the ledger keeps these errors without ever answering for the input, so
the run after a reconnect fetches it. All against the simulator over HTTP, whose
`bad_cookie_users` fail every call of those users (deterministically, per account).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from captaindata_dagster import (
    CaptainDataResource,
    build_action_asset,
)
from captaindata_dagster.api import accounts, load_catalog
from captaindata_dagster.api.labels import ACCOUNT_LABELS, RERUN_LABELS
from captaindata_dagster.engine.batch.run import run_batch
from captaindata_dagster.orchestration.checks import ACCOUNTS
from captaindata_dagster.orchestration.metadata import user_counts
from captaindata_dagster.orchestration.metadata_set import CaptainDataMetadataSet, json_data
from captaindata_dagster.orchestration.sensors.factories import build_captaindata_error_sensor
from captaindata_dagster.simulator import sample_input
from captaindata_dagster.storage.ledger import CLAIMED, DONE, Ledger, input_key
from tests.helpers import simulator_resource

PROFILE = "linkedin-extract-people"
SEARCH = "linkedin-search-people"  # 10 results a page, paginated by page number
PLACES = "googlemaps-extract-place"  # needs no account
SEARCH_URL = "https://www.linkedin.com/search/results/people/?keywords=account%20failures"
FIX = "captaindata-dagster users connect {}"
FIX_LINE = "reconnect user {}'s LinkedIn (its session cookie expired): captaindata-dagster users connect {}"


@pytest.fixture
def make_client(make_client):
    """Clients in the seed's form: this file's accounts are /v4/users users."""

    def build(sim, **kwargs):
        kwargs.setdefault("account_form", "integration_users")
        return make_client(sim, **kwargs)

    return build


def url(i: int) -> str:
    return f"https://www.linkedin.com/in/acct-fail-{i:03d}"


def users(sim, n: int, bad: int = 0) -> tuple[list[str], list[str]]:
    """`n` users with a connected LinkedIn account; the session of the first `bad` has expired."""
    uids = [sim.add_user(f"user{i}@example.com", f"User {i}")["uid"] for i in range(n)]
    sim.configure(bad_cookie_users=uids[:bad])
    return uids, uids[:bad]


def calls_by(sim, uid: str, action_id: str = PROFILE) -> list:
    return [r for r in sim.calls(action_id) if r.account == uid]


@pytest.fixture
def batch_log(caplog):
    caplog.set_level(logging.INFO, logger="captaindata_dagster.engine.batch")
    return caplog


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# ---------------------------------------------------------------------- the batch engine


def test_a_bad_account_among_good_ones_retires_and_loses_nothing(
    make_sim, make_client, ledger, batch_log
):
    sim = make_sim(latency_ms=5)
    uids, (bad,) = users(sim, 3, bad=1)
    inputs = [url(i) for i in range(60)]
    out = run_batch(make_client(sim), PROFILE, inputs, integration_users=uids, ledger=ledger)

    assert out.errors.empty and sorted(out.results["_input"]) == inputs  # none lost, none failed
    [refused] = calls_by(sim, bad)  # the expired account was asked once, then never again
    assert (refused.status, refused.error_label) == (424, "LK_BAD_COOKIE")
    retried = refused.input["linkedin_profile_url"]
    assert [(r.account != bad, r.status) for r in sim.calls(PROFILE) if r.input == refused.input][
        1:
    ] == [(True, 200)]  # its input went back to the queue and a good account answered it
    assert sim.credits_used == len(out.results) == out.stats.credits == 60
    assert out.stats.retired_users == [bad] and out.stats.calls == 61
    assert ledger.errors(PROFILE) == []  # the success replaced the account's error
    assert ledger.stats()["ok"] == 60
    [warning] = warnings(batch_log)
    assert f"user {bad}'s LinkedIn account failed with LK_BAD_COOKIE" in warning
    assert FIX.format(bad) in warning and retried in warning


def test_a_single_bad_account_makes_one_call_and_reports_the_rest_unsent(
    sim, make_client, ledger, batch_log
):
    (bad,), _ = users(sim, 1, bad=1)
    inputs = [url(i) for i in range(20)]
    out = run_batch(make_client(sim), PROFILE, inputs, integration_users=[bad], ledger=ledger)

    assert len(sim.calls(PROFILE)) == 1 and sim.credits_used == 0 and out.stats.credits == 0
    assert out.results.empty and sorted(out.errors["input"]) == inputs
    assert set(out.errors["error_label"]) == {"LK_BAD_COOKIE"}
    assert set(out.errors["user_uid"]) == {bad}  # the account that failed (the only one)
    assert out.stats.calls == 1 and out.stats.not_started == 0 and out.stats.errors == 20
    sent = out.errors[out.errors["status_code"].notna()]
    unsent = out.errors[out.errors["status_code"].isna()]
    assert list(sent["status_code"]) == [424] and sent["error_ref"].str.startswith("ERR-").all()
    assert len(unsent) == 19 and unsent["error_ref"].isna().all()
    assert unsent["message"].str.startswith("not sent: every LinkedIn account").all()
    assert unsent["message"].str.contains(FIX.format(bad), regex=False).all()
    assert not out.errors["from_cache"].any() and not out.errors["retryable"].any()
    # the ledger records the one failed call (naming the user) and never answers with it
    [entry] = ledger.errors(PROFILE)
    assert (entry.error_label, entry.user_uid) == ("LK_BAD_COOKIE", bad)
    assert ledger.fresh(PROFILE, entry.input_key, max_age=timedelta(days=30)) is None
    assert any("no account of this batch is left: 19 input(s) not sent" in w for w in
               warnings(batch_log))  # fmt: skip


def test_after_a_reconnect_the_same_ledger_fetches_the_inputs_again(sim, make_client, ledger):
    (bad,), _ = users(sim, 1, bad=1)
    client = make_client(sim, account_form="integration_users")  # users: the seed's form
    inputs = [url(i) for i in range(10)]
    first = run_batch(client, PROFILE, inputs, integration_users=[bad], ledger=ledger)
    assert len(first.errors) == 10 and first.results.empty

    # a person reconnects the account, over HTTP as the CLI does: the simulator ends the bad session
    accounts.connect_linkedin(client, bad, environ={accounts.LI_AT_ENV: "fresh-li-at-cookie"})
    assert sim.config.bad_cookie_users == ()
    again = run_batch(
        client, PROFILE, inputs, integration_users=[bad], ledger=ledger, max_age=timedelta(days=30)
    )
    assert again.errors.empty and sorted(again.results["_input"]) == inputs
    assert not again.results["_from_cache"].any() and again.stats.skipped_fresh == 0
    assert sim.credits_used == 10 and ledger.errors(PROFILE) == []
    # and now they are fresh: a third run is free
    third = run_batch(client, PROFILE, inputs, integration_users=[bad], ledger=ledger)
    assert third.results["_from_cache"].all() and sim.credits_used == 10


def test_when_every_account_fails_each_is_named(make_sim, make_client, ledger):
    sim = make_sim()
    uids, bad = users(sim, 2, bad=2)
    inputs = [url(i) for i in range(10)]
    out = run_batch(make_client(sim), PROFILE, inputs, integration_users=uids, ledger=ledger)

    assert [len(calls_by(sim, u)) for u in uids] == [1, 1] and sim.credits_used == 0
    assert len(out.errors) == 10 and sorted(out.stats.retired_users) == sorted(uids)
    first, last = out.stats.retired_users
    # every account is named with its label and its own command (what the accounts check and
    # the error sensor show), whichever inputs they failed on
    named = {a.user_uid: (a.error_label, a.fix) for a in out.stats.retired_accounts}
    assert named == {u: ("LK_BAD_COOKIE", FIX_LINE.format(u, u)) for u in uids}
    # each input an account failed on names the account that failed on it last: two inputs, or
    # one when the second worker took the first's input back before its own (a failed account's
    # input goes back to the front of the queue: the two threads' start decides)
    sent = out.errors[out.errors["status_code"].notna()]
    assert last in set(sent["user_uid"]) and set(sent["user_uid"]) <= set(uids)
    for _, row in sent.iterrows():
        [call] = calls_by(sim, row["user_uid"])
        assert call.input["linkedin_profile_url"] == row["input"]
    unsent = out.errors[out.errors["status_code"].isna()]
    assert set(unsent["user_uid"]) == {last}
    assert unsent["message"].str.contains(FIX.format(first), regex=False).all()
    assert set(user_counts(out.errors)) == set(sent["user_uid"]) | {last}
    assert {e.user_uid for e in ledger.errors(PROFILE)} == set(sent["user_uid"])


def test_budget_is_spent_on_good_accounts_only(make_sim, make_client, ledger):
    sim = make_sim(latency_ms=5)
    uids, (bad,) = users(sim, 2, bad=1)
    inputs = [url(i) for i in range(20)]
    out = run_batch(
        make_client(sim), PROFILE, inputs, integration_users=uids, ledger=ledger, budget=8
    )
    assert len(calls_by(sim, bad)) == 1  # its reserved credit came back when it failed
    assert sim.credits_used == out.stats.credits == len(out.results) == 8
    assert out.stats.budget_exhausted and out.stats.not_started == 12 and out.errors.empty


def _expire_after_first_page(sim, stop: threading.Event) -> threading.Thread:
    """Expire the session of whichever account got the search's first page, right after it."""

    def watch() -> None:
        while not stop.is_set():
            done = [r for r in sim.calls(SEARCH) if r.status == 200]
            if done:
                sim.configure(bad_cookie_users=[done[0].account])
                return
            time.sleep(0.002)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("with_ledger", [True, False], ids=["ledger", "no-ledger"])
def test_a_search_whose_account_fails_midway_resumes_on_another(
    make_sim, make_client, tmp_path, with_ledger
):
    sim = make_sim(search_total=100)
    uids, _ = users(sim, 2)
    # one page a second, so the first account's session expires between its pages 1 and 2
    client = make_client(sim, requests_per_second=1)
    stop = threading.Event()
    watcher = _expire_after_first_page(sim, stop)
    led = Ledger(tmp_path / "ledger.sqlite") if with_ledger else None
    try:
        out = run_batch(
            client, SEARCH, [SEARCH_URL], integration_users=uids, ledger=led, max_results=30
        )
    finally:
        stop.set()
        watcher.join(5)
    [first] = sim.config.bad_cookie_users
    [other] = [u for u in uids if u != first]
    pages = [(r.account, r.query.get("page", "1"), r.status) for r in sim.calls(SEARCH)]
    assert pages == [(first, "1", 200), (first, "2", 424), (other, "2", 200), (other, "3", 200)]
    assert out.errors.empty and out.results["linkedin_profile_url"].nunique() == 30
    assert sim.credits_used == out.stats.credits == 30  # page 1 was not paid for twice
    assert out.stats.retired_users == [first]
    if led is not None:
        [entry] = led.entries(SEARCH)
        assert entry.ok and entry.pages_done == 3 and led.errors(SEARCH) == []
        led.close()


def test_an_unpinned_account_error_is_a_row_not_a_cached_answer(make_sim, make_client, ledger):
    """Without integration_users the API picks the account per call: nothing retires, but the
    error still does not answer for the input in the next run."""
    sim = make_sim(fail_inputs={url(2): "LK_BAD_COOKIE"})
    client = make_client(sim)
    inputs = [url(i) for i in range(5)]
    first = run_batch(client, PROFILE, inputs, ledger=ledger)
    assert list(first.errors["input"]) == [url(2)] and len(first.results) == 4
    assert first.errors["user_uid"].isna().all() and first.stats.retired_users == []
    sim.set_fail_inputs({})
    sim.reset()
    again = run_batch(client, PROFILE, inputs, ledger=ledger, max_age=timedelta(days=30))
    assert [r.input["linkedin_profile_url"] for r in sim.calls(PROFILE)] == [url(2)]
    assert again.errors.empty and again.stats.skipped_fresh == 4 and sim.credits_used == 1


def test_no_usable_account_in_the_workspace_stops_after_one_call(sim, make_client):
    sim.add_user("bare@example.com", "Bare", linkedin=False)  # a workspace with no usable account
    out = run_batch(make_client(sim), PROFILE, [url(i) for i in range(6)])
    assert len(sim.calls(PROFILE)) == 1 and sim.credits_used == 0
    assert (
        set(out.errors["error_label"]) == {"NO_VALID_ACCOUNT_CONFIGURED"} and len(out.errors) == 6
    )
    assert out.errors["user_uid"].isna().all()  # no account was named: the API found none
    assert "captaindata-dagster users list" in out.errors["message"].iloc[-1]


def test_actions_without_an_account_never_retire(make_sim, make_client):
    act = load_catalog().get(PLACES)
    inputs = [sample_input(act, i) for i in range(6)]
    odd = next(iter(inputs[1].values()))
    sim = make_sim(fail_inputs={odd: "NOT_CONNECTED"})
    out = run_batch(make_client(sim), PLACES, inputs, max_workers=1)
    assert len(sim.calls(PLACES)) == 6 and len(out.results) == 5 and len(out.errors) == 1
    assert out.stats.retired_users == []


# ---------------------------------------------------------------------- the ledger


def test_the_ledger_keeps_account_errors_but_never_answers_with_them(ledger):
    act = load_catalog().get(PROFILE)
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    keys = {}
    for label in sorted(ACCOUNT_LABELS | {"NO_RESULT"}):
        key = keys[label] = input_key(act, {"linkedin_profile_url": url(len(keys))})
        ledger.save_error(PROFILE, key, error_label=label, retryable=False, user_uid="u-9")
    for label, key in keys.items():
        entry = ledger.get(PROFILE, key)
        assert (entry.error_label, entry.user_uid) == (label, "u-9")  # recorded, with the user
        fresh = ledger.fresh(PROFILE, key, max_age=None)
        # another run's error recorded during this one is its answer, unless it is the account's
        claim = ledger.claim(PROFILE, key, max_age=None, since=since)
        if label in ACCOUNT_LABELS:
            assert fresh is None and claim.state == CLAIMED
            ledger.release(PROFILE, key)
        else:
            assert fresh is not None and claim.state == DONE
    assert {e.error_label for e in ledger.errors(PROFILE)} == ACCOUNT_LABELS | {"NO_RESULT"}


# ---------------------------------------------------------------------- in Dagster


def _asset(n: int, **kw) -> dg.AssetsDefinition:
    kw.setdefault("retry_policy", dg.RetryPolicy(max_retries=0))
    return build_action_asset(PROFILE, name="profiles", inputs=[url(i) for i in range(n)], **kw)


def _resource(sim, tmp_path, uids: list[str]) -> CaptainDataResource:
    return simulator_resource(
        sim, tmp_path, integration_users=uids, account_form="integration_users"
    )


def test_materialize_with_a_bad_account_among_good_ones(make_sim, tmp_path, instance):
    sim = make_sim(latency_ms=5)
    uids, (bad,) = users(sim, 3, bad=1)
    asset = _asset(30, max_error_rate=0.0)
    res = _resource(sim, tmp_path, uids[::-1])
    result = dg.materialize([asset], resources={"captaindata": res}, instance=instance)
    assert result.success
    assert result.output_for_node("profiles", "errors").empty
    assert len(result.output_for_node("profiles", "results")) == 30
    assert len(calls_by(sim, bad)) == 1 and sim.credits_used == 30
    [mat] = [
        m
        for m in result.asset_materializations_for_node("profiles")
        if m.asset_key == dg.AssetKey("profiles")
    ]
    assert mat.metadata["captaindata/retired_users"].value == [bad]
    logged = [
        e.user_message
        for e in instance.all_logs(result.run_id)
        if e.dagster_event is None and e.level == logging.WARNING
    ]
    assert any(
        f"user {bad}'s LinkedIn account failed" in m and FIX.format(bad) in m for m in logged
    )
    # every input has its answer, yet the account needs a person: the accounts check names it,
    # its label and the fix (WARN: the step succeeded), and so does the error sensor
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == ACCOUNTS]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    fix = f"reconnect user {bad}'s LinkedIn (its session cookie expired): {FIX.format(bad)}"
    assert check.description == f"LK_BAD_COOKIE: {fix}"
    [account] = check.metadata["accounts"].value
    assert account == {"user_uid": bad, "error_label": "LK_BAD_COOKIE", "fix": fix}
    tick = build_captaindata_error_sensor(assets=[asset])(
        dg.build_sensor_context(instance=instance)
    )
    [obs] = tick.asset_events
    assert obs.metadata["error_label"].value == "LK_BAD_COOKIE"
    assert obs.metadata["user_uids"].value == [bad]
    assert tick.run_requests == []  # a person reconnects it: no re-run
    assert f"LK_BAD_COOKIE x1 on profiles: needs a person: reconnect user {bad}'s" in (
        tick.skip_reason.skip_message
    )


def test_two_accounts_set_aside_are_both_named(make_sim, tmp_path, instance):
    sim = make_sim(latency_ms=5)
    uids, bad = users(sim, 4, bad=2)
    asset = _asset(30, max_error_rate=0.0)
    result = dg.materialize(
        [asset], resources={"captaindata": _resource(sim, tmp_path, uids)}, instance=instance
    )
    assert result.success and len(result.output_for_node("profiles", "results")) == 30
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == ACCOUNTS]
    assert check.metadata["accounts_set_aside"].value == 2
    assert {a["user_uid"] for a in check.metadata["accounts"].value} == set(bad)
    tick = build_captaindata_error_sensor(assets=[asset])(
        dg.build_sensor_context(instance=instance)
    )
    [obs] = tick.asset_events
    assert obs.metadata["count"].value == 2 and sorted(obs.metadata["user_uids"].value) == sorted(
        bad
    )
    for uid in bad:  # each account's own command
        assert FIX.format(uid) in obs.metadata["needs_a_person"].value


def test_a_clean_batch_passes_the_accounts_check(make_sim, tmp_path, instance):
    sim = make_sim(latency_ms=5)
    uids, _ = users(sim, 2, bad=0)
    result = dg.materialize(
        [_asset(4)], resources={"captaindata": _resource(sim, tmp_path, uids)}, instance=instance
    )
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == ACCOUNTS]
    assert check.passed and check.description == "every account kept working"


def test_only_a_bad_account_fails_the_step_once_and_names_the_user(sim, tmp_path, instance):
    (bad,), _ = users(sim, 1, bad=1)
    # a RetryPolicy that would re-run the step at once: an account failure must not use it
    asset = _asset(8, max_error_rate=0.5, retry_policy=dg.RetryPolicy(max_retries=2))
    result = dg.materialize(
        [asset], resources={"captaindata": _resource(sim, tmp_path, [bad])}, instance=instance,
        raise_on_error=False,
    )  # fmt: skip
    assert not result.success and len(sim.calls(PROFILE)) == 1
    kinds = Counter(e.event_type_value for e in result.all_events)
    assert kinds["STEP_FAILURE"] == 1 and kinds["STEP_UP_FOR_RETRY"] == 0
    # the blocking error-rate check ends the step once its tables landed: the check says which
    # label and what a person does; the errors table's new errors name the user to call
    [check] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "captaindata_error_rate"
    ]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["errors_by_label"].value == {"LK_BAD_COOKIE": 8}
    assert "LK_BAD_COOKIE" in check.metadata["what_to_do"].value
    [errors] = [
        e.materialization for e in result.get_asset_materialization_events()
        if e.materialization.asset_key == dg.AssetKey("profiles_errors")
    ]  # fmt: skip
    new_errors = json_data(CaptainDataMetadataSet.extract(errors.metadata).new_errors)
    assert new_errors["LK_BAD_COOKIE"]["users"] == {bad: 8}

    assert not ACCOUNT_LABELS & RERUN_LABELS  # the error sensor never re-runs them by itself
    tick = build_captaindata_error_sensor(assets=[asset])(
        dg.build_sensor_context(instance=instance)
    )
    [obs] = tick.asset_events
    assert obs.metadata["user_uids"].value == [bad] and tick.run_requests == []
    assert FIX.format(bad) in obs.metadata["needs_a_person"].value
