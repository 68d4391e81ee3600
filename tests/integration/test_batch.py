"""The batch engine over real HTTP against the simulator on loopback."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

import captaindata_dagster
from captaindata_dagster import CaptainDataClient
from captaindata_dagster.api import (
    AuthenticationError,
    CreditsExhaustedError,
    ValidationError,
    load_catalog,
)
from captaindata_dagster.engine.batch.run import (
    BatchResult,
    BatchStats,
    run_batch,
)
from captaindata_dagster.engine.column_types import META_COLUMNS
from captaindata_dagster.engine.columns import ERROR_COLUMNS
from captaindata_dagster.simulator import sample_input
from captaindata_dagster.storage.ledger import Ledger
from tests.helpers import wait_until

PROFILE = "linkedin-extract-people"
SEARCH = "linkedin-search-people"
PLACES = "googlemaps-extract-place"
PLACE_SEARCH = "googlemaps-search-places"  # token-paginated, 20 a page, no account
SEARCH_URL = "https://www.linkedin.com/search/results/people/?keywords=data%20engineer"
# children import the package from wherever this process found it
PKG_ROOT = str(Path(captaindata_dagster.__file__).resolve().parents[1])


def url(i: int) -> str:
    return f"https://www.linkedin.com/in/person-{i}"


def answered(sim, action_id: str = PROFILE) -> Counter:
    """How many times each input value was answered 200 by the simulator."""
    return Counter(
        next(iter(r.input.values()))
        for r in sim.calls(action_id)
        if r.status == 200 and r.input is not None
    )


# ---------------------------------------------------------------- dedupe, cache, freshness


def test_same_input_twice_is_one_call(sim, make_client, ledger):
    client = make_client(sim)
    inputs = [
        url(1),
        {"linkedin_profile_url": url(1)},
        {"profile_url": f"  {url(1)} "},  # alias and whitespace
        {"linkedin_profile_url": url(1), "custom_data": {"crm": 7}},  # custom_data is not fetched
        url(2),
    ]
    out = run_batch(client, PROFILE, inputs, ledger=ledger)
    assert len(sim.calls(PROFILE)) == 2 and sim.credits_used == 2
    assert (out.stats.inputs, out.stats.unique_inputs, out.stats.calls) == (5, 2, 2)
    assert list(out.results["_input"]) == [url(1), url(2)]
    assert list(out.results["linkedin_profile_url"]) == [url(1), url(2)]
    for col in META_COLUMNS:
        assert col in out.results.columns
    assert str(out.results["_fetched_at"].dt.tz) == "UTC"
    assert not out.results["_from_cache"].any()
    assert list(out.errors.columns) == list(ERROR_COLUMNS) and out.errors.empty


def test_second_run_is_free_and_served_from_the_ledger(sim, make_client, ledger):
    client = make_client(sim)
    inputs = [url(i) for i in range(10)]
    first = run_batch(client, PROFILE, inputs, ledger=ledger)
    assert sim.credits_used == 10 and first.stats.credits == 10 and len(first.results) == 10
    sim.reset()
    second = run_batch(client, PROFILE, inputs, ledger=ledger, max_age=timedelta(days=1))
    assert sim.credits_used == 0 and sim.calls() == []
    assert second.stats.skipped_fresh == 10 and second.stats.calls == 0
    assert second.stats.credits == 0 and second.stats.latency_p50_s is None
    assert second.results["_from_cache"].all()
    pd.testing.assert_frame_equal(
        first.results.drop(columns="_from_cache"), second.results.drop(columns="_from_cache")
    )
    # a zero max_age refetches everything
    again = run_batch(client, PROFILE, inputs, ledger=ledger, max_age=timedelta(0))
    assert sim.credits_used == 10 and again.stats.skipped_fresh == 0
    assert not again.results["_from_cache"].any()


def test_a_changed_input_set_pays_only_for_the_new_inputs(sim, make_client, ledger):
    client = make_client(sim)
    run_batch(client, PROFILE, [url(i) for i in range(5)], ledger=ledger)
    sim.reset()
    out = run_batch(client, PROFILE, [url(i) for i in range(3, 10)], ledger=ledger)
    assert sim.credits_used == 5
    assert sorted(answered(sim)) == sorted(url(i) for i in range(5, 10))
    assert list(out.results["_from_cache"]) == [True, True] + [False] * 5
    assert out.stats.skipped_fresh == 2 and out.stats.credits == 5


def test_no_ledger_still_dedupes_but_caches_nothing(sim, make_client):
    client = make_client(sim)
    run_batch(client, PROFILE, [url(1), url(1)])
    run_batch(client, PROFILE, [url(1)])
    assert sim.credits_used == 2


# ---------------------------------------------------------------- errors as data


def test_per_input_errors_are_rows_and_the_rest_succeed(make_sim, make_client, ledger):
    sim = make_sim(fail_inputs={url(2): "NO_RESULT", url(5): "LK_BAD_COOKIE", url(7): "404"})
    client = make_client(sim)
    out = run_batch(client, PROFILE, [url(i) for i in range(10)], ledger=ledger)
    assert len(out.results) == 7 and sim.credits_used == 7
    errors = out.errors.set_index("input")
    assert errors.loc[url(2), "error_label"] == "NO_RESULT"
    assert errors.loc[url(5), "error_label"] == "LK_BAD_COOKIE"
    assert errors.loc[url(7), "error_label"] == "STATUS_404"
    assert list(errors["status_code"]) == [424, 424, 404]
    assert errors["error_ref"].str.startswith("ERR-").all()
    assert (errors["action_id"] == PROFILE).all() and not errors["retryable"].any()
    assert str(out.errors["at"].dt.tz) == "UTC"
    assert out.stats.errors == 3
    assert out.stats.errors_by_label == {"NO_RESULT": 1, "LK_BAD_COOKIE": 1, "STATUS_404": 1}
    assert out.stats.succeeded == 7
    assert {e.error_label for e in ledger.errors(PROFILE)} == {
        "NO_RESULT",
        "LK_BAD_COOKIE",
        "STATUS_404",
    }


def test_invalid_inputs_become_error_rows_without_a_call(sim, make_client, ledger):
    client = make_client(sim)
    inputs = [
        "not-a-url",
        {"linkedin_profile_url": "   "},
        {"linkedin_profile_url": url(1), "bogus_field": "x"},
        42,
        url(1),
    ]
    out = run_batch(client, PROFILE, inputs, ledger=ledger)
    assert len(sim.calls()) == 1 and len(out.results) == 1
    assert len(out.errors) == 4
    assert (out.errors["error_label"] == "INVALID_INPUT").all()
    assert (out.errors["error_scope"] == "input").all()
    assert out.errors["status_code"].isna().all()
    messages = list(out.errors["message"])
    assert "linkedin_profile_url" in messages[0] and "not-a-url" in messages[0]
    assert "linkedin_profile_url" in messages[1]
    assert "bogus_field" in messages[2]
    assert "int" in messages[3]
    assert out.stats.errors_by_label == {"INVALID_INPUT": 4}
    assert ledger.stats()["errors"] == 0  # nothing was paid for: nothing to remember


def test_bad_parameters_refuse_the_whole_batch(sim, make_client):
    client = make_client(sim)
    with pytest.raises(ValidationError) as info:
        run_batch(client, PROFILE, [url(1)], parameters={"no_such_option": True})
    assert info.value.error_label == "BAD_PARAMETERS" and "no_such_option" in str(info.value)
    assert sim.calls() == []


def test_permanent_errors_are_cached_retryable_ones_retried(make_sim, make_client, ledger):
    sim = make_sim(fail_inputs={url(1): "NO_RESULT", url(2): "500"})
    client = make_client(sim, max_retries=0)
    first = run_batch(client, PROFILE, [url(i) for i in range(4)], ledger=ledger)
    retryable = dict(zip(first.errors["input"], first.errors["retryable"], strict=True))
    assert retryable == {url(1): False, url(2): True}
    sim.reset()
    second = run_batch(client, PROFILE, [url(i) for i in range(4)], ledger=ledger)
    assert [r.input["linkedin_profile_url"] for r in sim.calls()] == [url(2)]
    assert list(second.errors["input"]) == [url(1), url(2)]  # url(1) from the ledger
    assert second.stats.skipped_fresh == 3
    # once the flaky input answers, its success replaces the error
    sim.set_fail_inputs({url(1): "NO_RESULT"})
    sim.reset()
    third = run_batch(client, PROFILE, [url(i) for i in range(4)], ledger=ledger)
    assert list(third.errors["input"]) == [url(1)] and sim.credits_used == 1
    assert [e.input["linkedin_profile_url"] for e in ledger.errors(PROFILE)] == [url(1)]


# ---------------------------------------------------------------- budget


def test_budget_stops_new_calls(sim, make_client, ledger):
    client = make_client(sim)  # no account uid: one worker, so the count is exact
    out = run_batch(client, PROFILE, [url(i) for i in range(20)], ledger=ledger, budget=5)
    assert sim.credits_used == 5 and out.stats.credits == 5
    assert out.stats.budget_exhausted and out.stats.not_started == 15
    assert len(out.results) == 5 and out.errors.empty  # not started is not an error
    assert ledger.stats()["entries"] == 5
    sim.reset()
    rest = run_batch(client, PROFILE, [url(i) for i in range(20)], ledger=ledger)
    assert sim.credits_used == 15 and len(rest.results) == 20
    assert not rest.stats.budget_exhausted and rest.stats.not_started == 0


def test_budget_holds_with_many_workers(sim, make_client):
    client = make_client(sim)
    act = load_catalog().get(PLACES)
    inputs = [sample_input(act, i) for i in range(40)]
    out = run_batch(client, PLACES, inputs, budget=7, max_workers=16)
    assert 0 < sim.credits_used <= 7 and out.stats.budget_exhausted
    assert len(out.results) == sim.credits_used
    assert out.stats.not_started == 40 - len(out.results)


# ---------------------------------------------------------------- searches


def test_search_pages_are_saved_and_capped(make_sim, make_client, ledger):
    sim = make_sim(search_total=95)
    client = make_client(sim)
    out = run_batch(client, SEARCH, [SEARCH_URL], ledger=ledger, max_results=25)
    assert len(out.results) == 25 and sim.credits_used == 30  # 3 pages of 10
    assert out.stats.calls == 3 and out.stats.credits == 30
    assert (out.results["_input"] == SEARCH_URL).all()
    assert ledger.stats()["pages"] == 3 and ledger.stats()["ok"] == 1
    entry = ledger.entries(SEARCH)[0]
    assert entry.complete and entry.pages_done == 3 and len(entry.results) == 30
    sim.reset()
    cached = run_batch(client, SEARCH, [SEARCH_URL], ledger=ledger, max_results=25)
    assert sim.credits_used == 0 and len(cached.results) == 25
    wider = run_batch(client, SEARCH, [SEARCH_URL], ledger=ledger, max_results=50)
    assert sim.credits_used == 50 and len(wider.results) == 50  # another cap, another key


def test_interrupted_search_resumes_without_repaying_pages(make_sim, make_client, ledger):
    sim = make_sim(search_total=95)
    client = make_client(sim)
    first = run_batch(client, SEARCH, [SEARCH_URL], ledger=ledger, budget=30)
    assert sim.credits_used == 30 and first.stats.budget_exhausted
    assert first.stats.incomplete == 1 and first.results.empty and first.errors.empty
    assert ledger.resume_point(SEARCH, ledger.entries(SEARCH)[0].input_key).pages_done == 3
    sim.reset()
    second = run_batch(client, SEARCH, [SEARCH_URL], ledger=ledger)
    assert [r.query.get("page") for r in sim.calls(SEARCH)] == [str(p) for p in range(4, 11)]
    assert sim.credits_used == 65 and second.stats.credits == 65
    assert len(second.results) == 95
    assert second.results["linkedin_profile_url"].nunique() == 95


def test_search_failing_midway_resumes_after_its_stored_pages(make_sim, make_client, ledger):
    sim = make_sim(search_total=60)
    client = make_client(sim, max_retries=0)
    first = run_batch(client, SEARCH, [SEARCH_URL], ledger=ledger, budget=20)
    assert first.stats.incomplete == 1
    sim.set_faults({"503": 1.0})
    failed = run_batch(client, SEARCH, [SEARCH_URL], ledger=ledger)
    assert list(failed.errors["error_label"]) == ["SERVICE_UNAVAILABLE"]
    assert bool(failed.errors["retryable"].iloc[0])
    sim.set_faults({})
    sim.reset()
    done = run_batch(client, SEARCH, [SEARCH_URL], ledger=ledger)
    assert [r.query.get("page") for r in sim.calls(SEARCH)] == ["3", "4", "5", "6"]
    assert len(done.results) == 60 and done.errors.empty and sim.credits_used == 40


def test_token_paginated_search_resumes_from_its_stored_url(make_sim, make_client, ledger):
    sim = make_sim(search_total=70)
    client = make_client(sim)
    value = sample_input(load_catalog().get(PLACE_SEARCH), 1)
    first = run_batch(client, PLACE_SEARCH, [value], ledger=ledger, budget=40)
    assert first.stats.incomplete == 1 and sim.credits_used == 40
    sim.reset()
    second = run_batch(client, PLACE_SEARCH, [value], ledger=ledger)
    calls = sim.calls(PLACE_SEARCH)
    assert len(calls) == 2 and all(r.query.get("token") for r in calls)
    assert sim.credits_used == 30 and len(second.results) == 70


# ---------------------------------------------------------------- accounts


def test_linkedin_calls_rotate_over_accounts_one_at_a_time(make_sim, make_client, ledger):
    sim = make_sim(latency_ms=30)
    users = ["u-a", "u-b", "u-c", "u-d"]
    client = make_client(sim, max_retries=0)  # a 429 from the per-account rule would be an error
    out = run_batch(
        client, PROFILE, [url(i) for i in range(40)], integration_users=users, ledger=ledger
    )
    assert out.errors.empty and len(out.results) == 40 and out.stats.rate_limited == 0
    calls = sim.calls(PROFILE)
    assert len(calls) == 40 and all(r.status == 200 for r in calls)
    per_account = Counter(r.account for r in calls)
    assert set(per_account) == set(users)
    assert min(per_account.values()) >= 5  # shared queue: every account takes a fair part
    # each call went out pinned to one account
    assert all(len(r.body["identity_ids"]) == 1 for r in calls)


def test_client_default_users_are_used_and_actions_without_account_ignore_them(sim, make_client):
    client = make_client(sim, integration_users=["u-1", "u-2"])
    run_batch(client, PROFILE, [url(i) for i in range(6)])
    assert {r.account for r in sim.calls(PROFILE)} == {"u-1", "u-2"}
    act = load_catalog().get(PLACES)
    run_batch(client, PLACES, [sample_input(act, 1)], integration_users=["u-1"])
    assert "integration_users" not in sim.calls(PLACES)[0].body


# ---------------------------------------------------------------- systemic errors


def test_wrong_key_raises_and_stops(sim, make_client, ledger):
    client = CaptainDataClient("wrong-key", sim.base_url, max_retries=0)
    with pytest.raises(AuthenticationError) as info:
        run_batch(
            client,
            PROFILE,
            [url(i) for i in range(30)],
            integration_users=["u-a", "u-b", "u-c"],
            ledger=ledger,
        )
    client.close()
    err = info.value
    assert err.status_code == 401
    refused = [r for r in sim.requests if r.status == 401]
    assert len(sim.requests) == len(refused) and 1 <= len(refused) <= 3  # only those in flight
    stats = BatchResult.from_error(err).stats
    assert isinstance(stats, BatchStats) and stats.calls == len(refused)
    assert stats.not_started == 30 - len(refused) and stats.errors == 0
    assert BatchResult.from_error(err).errors.empty
    assert ledger.stats()["entries"] == 0  # not a fact about any input: nothing recorded


def test_credits_running_out_keeps_what_was_paid_for(make_sim, make_client, ledger):
    sim = make_sim(credits=4)
    client = make_client(sim)
    with pytest.raises(CreditsExhaustedError) as info:
        run_batch(client, PROFILE, [url(i) for i in range(10)], ledger=ledger)
    assert sim.credits_used == 4
    assert BatchResult.from_error(info.value).stats.credits == 4
    assert len(BatchResult.from_error(info.value).results) == 4
    assert ledger.stats()["ok"] == 4 and ledger.stats()["errors"] == 0


def test_the_key_never_reaches_the_ledger_or_the_log(sim, make_client, tmp_path, caplog):
    client = make_client(sim)
    path = tmp_path / "k.sqlite"
    with Ledger(path) as led, caplog.at_level(logging.DEBUG):
        run_batch(client, PROFILE, [url(1), "bad"], ledger=led)
    for f in path.parent.iterdir():
        assert sim.api_key.encode() not in f.read_bytes()
    assert sim.api_key not in caplog.text
    assert "linkedin-extract-people" in caplog.text  # progress was logged


# ---------------------------------------------------------------- kill and resume

CHILD = """
import os, sys, time
from captaindata_dagster import CaptainDataClient
from captaindata_dagster.engine.batch.run import run_batch
from captaindata_dagster.storage.ledger import Ledger

base_url, ledger_path, n, users, block_after, marker = sys.argv[1:7]
users = [u for u in users.split(",") if u]
block_after = int(block_after)

class BlockingLedger(Ledger):
    saved = 0

    def save_result(self, *args, **kwargs):
        super().save_result(*args, **kwargs)
        BlockingLedger.saved += 1
        if block_after and BlockingLedger.saved >= block_after:
            open(marker, "w").close()  # committed; this worker makes no further call
            time.sleep(3600)

client = CaptainDataClient(os.environ["CD_KEY"], base_url, max_retries=0)
inputs = [f"https://www.linkedin.com/in/person-{i}" for i in range(int(n))]
run_batch(client, "linkedin-extract-people", inputs, integration_users=users,
          ledger=BlockingLedger(ledger_path))
"""


def _spawn_child(tmp_path, sim, ledger_path, n, users, block_after):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    marker = tmp_path / "blocked"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [PKG_ROOT, os.environ.get("PYTHONPATH")])),
        "CD_KEY": sim.api_key,
    }
    args = [sim.base_url, str(ledger_path), str(n), ",".join(users), str(block_after), marker]
    proc = subprocess.Popen([sys.executable, str(script), *map(str, args)], env=env)
    return proc, marker


def _wait_for(cond, proc, timeout_s=60.0):
    wait_until(
        cond, "the child made no progress", alive=lambda: proc.poll() is None, timeout_s=timeout_s
    )


def _check_exactly_once(out, inputs):
    seen = list(out.results["_input"]) + list(out.errors["input"])
    assert sorted(seen) == sorted(inputs)  # each input once, in results or in errors


def test_killed_run_resumes_and_never_pays_twice(make_sim, make_client, tmp_path):
    n, fail = 150, {url(5): "NO_RESULT", url(120): "LK_BAD_COOKIE"}
    sim = make_sim(latency_ms=20, fail_inputs=fail)
    path = tmp_path / "ledger" / "kill.sqlite"
    # one worker (no account uid) that stops in a safe place after its 40th saved result
    proc, marker = _spawn_child(tmp_path, sim, path, n, [], block_after=40)
    try:
        _wait_for(marker.exists, proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with Ledger(path) as led:
        assert led.integrity_ok()
        assert led.stats()["ok"] == 40 and led.stats()["errors"] == 1  # url(5)
        paid_by_child = sim.credits_used
        assert paid_by_child == 40
        out = run_batch(make_client(sim), PROFILE, [url(i) for i in range(n)], ledger=led)
        assert led.integrity_ok() and led.stats()["entries"] == n
    _check_exactly_once(out, [url(i) for i in range(n)])
    assert list(out.errors["input"]) == [url(5), url(120)]
    assert out.stats.skipped_fresh == 41 and out.stats.credits == n - 2 - 40
    assert sim.credits_used == n - 2  # nothing paid twice
    assert max(answered(sim).values()) == 1  # no input answered 200 twice
    requested = Counter(r.input["linkedin_profile_url"] for r in sim.calls(PROFILE))
    assert requested[url(5)] == 1  # a permanent error is not asked again


def test_kill_at_any_moment_loses_at_most_the_calls_in_flight(make_sim, make_client, tmp_path):
    n, users = 150, ["u-1", "u-2", "u-3", "u-4"]
    sim = make_sim(latency_ms=20)
    path = tmp_path / "kill-any.sqlite"
    proc, _ = _spawn_child(tmp_path, sim, path, n, users, block_after=0)
    watcher = Ledger(path)
    try:
        _wait_for(lambda: path.exists() and watcher.stats()["entries"] >= 30, proc)
        proc.send_signal(signal.SIGKILL)  # wherever it is: mid-call, mid-write
    finally:
        proc.kill()
        proc.wait()
    watcher.close()
    with Ledger(path) as led:
        assert led.integrity_ok()
        kept = led.stats()["ok"]
        assert 30 <= kept < n
        out = run_batch(
            make_client(sim), PROFILE, [url(i) for i in range(n)], integration_users=users,
            ledger=led,
        )  # fmt: skip
        assert led.integrity_ok()
    _check_exactly_once(out, [url(i) for i in range(n)])
    assert out.stats.skipped_fresh == kept
    twice = [u for u, c in answered(sim).items() if c > 1]
    assert len(twice) <= len(users)  # only answers lost in flight when the child died
    assert sim.credits_used == n + len(twice)
