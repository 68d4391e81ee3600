"""Outreach with side effects over real HTTP against the simulator: no profile is ever sent twice.

The simulator's request log is the ground truth: `performed` says the invitation or message went
out, whatever the client heard. Faults injected with `fault_after_effect=True` hit *after* the
simulator acted, which is the case where a careless client sends twice.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from dagster_duckdb_pandas import DuckDBPandasIOManager

from captaindata_dagster import (
    CaptainDataError,
    CaptainDataResource,
    build_people_search_asset,
)
from captaindata_dagster.api import ValidationError
from captaindata_dagster.cli import main
from captaindata_dagster.engine.outreach import (
    OUTREACH_ERROR_COLUMNS,
    REVIEW_COLUMNS,
    SENT_COLUMNS,
    SKIPPED_COLUMNS,
    OutreachResult,
    run_outreach,
)
from captaindata_dagster.orchestration.outreach.factories import (
    build_outreach_asset,
    build_outreach_op,
)
from captaindata_dagster.storage.outreach_records import (
    FAILED,
    PENDING,
    RETRY,
    SENT,
    UNKNOWN,
    OutreachStore,
    default_store_path,
    profile_key,
)
from tests.helpers import simulator_resource

CONNECT = "linkedin-connect-profile"
MESSAGE = "linkedin-message-profile"
ROOT = Path(__file__).resolve().parents[3]
WRONG_KEY = "cd-wrong-key-0b7e41-DO-NOT-LEAK"


def url(i: int) -> str:
    return f"https://www.linkedin.com/in/outreach-{i}"


def posts(sim, action: str = CONNECT) -> Counter:
    """POSTs the simulator received, per profile (performed or not)."""
    return Counter(r.input["linkedin_profile_url"] for r in sim.calls(action) if r.input)


def performed(sim, action: str = CONNECT) -> Counter:
    """Invitations or messages that actually went out, per profile."""
    return Counter(
        r.input["linkedin_profile_url"] for r in sim.calls(action) if r.input and r.performed
    )


def frames_partition(result, profiles) -> None:
    """Every profile given lands in exactly one of the four frames."""
    seen = [
        *result.sent["profile_url"],
        *result.skipped["profile_url"],
        *result.needs_review["profile_url"],
        *result.errors["input"],
    ]
    assert sorted(seen) == sorted(set(profiles)), "a profile is lost or reported twice"


@pytest.fixture
def store(tmp_path):
    with OutreachStore(tmp_path / "outreach.sqlite") as s:
        yield s


def resource(sim, tmp_path, **kw) -> CaptainDataResource:
    return simulator_resource(sim, tmp_path, **{"integration_users": ["u1", "u2"], **kw})


def run_op(op, res, **config):
    """Run one outreach op in a job of its own; returns the execution result."""

    @dg.job(resource_defs={"captaindata": res})
    def outreach_job():
        op()

    return outreach_job.execute_in_process(
        run_config={"ops": {op.name: {"config": config}}}, raise_on_error=False
    )


def outputs(result, op) -> dict[str, pd.DataFrame]:
    return {
        n: result.output_for_node(op.name, n) for n in ("sent", "skipped", "needs_review", "errors")
    }


def output_metadata(result, op, output_name: str) -> dict:
    for event in result.all_events:
        if event.event_type_value == "STEP_OUTPUT" and event.step_key == op.name:
            data = event.step_output_data
            if data.output_name == output_name:
                return {k: v.value for k, v in data.metadata.items()}
    raise AssertionError(f"no output {output_name}")


# ---------------------------------------------------------------- dry run, once, re-run


def test_dry_run_sends_nothing_writes_nothing_and_needs_no_key(sim, tmp_path, monkeypatch):
    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    op = build_outreach_op(CONNECT, campaign="spring", message="Hi!", dry_run=True)
    res = resource(sim, tmp_path, api_key=None)
    profiles = [url(i) for i in range(5)]
    result = run_op(op, res, profiles=profiles, daily_cap_per_account=2)
    assert result.success
    assert sim.calls() == []
    out = outputs(result, op)
    assert out["sent"].empty and out["needs_review"].empty and out["errors"].empty
    skipped = out["skipped"]
    assert list(skipped.columns) == list(SKIPPED_COLUMNS)
    assert Counter(skipped["reason"]) == {"dry_run": 4, "over_cap": 1}
    assert Counter(skipped["account"].dropna()) == {"u1": 2, "u2": 2}  # rotated, within the cap
    md = output_metadata(result, op, "sent")
    assert md["captaindata/would_send"] == 4 and md["captaindata/sent"] == 0
    assert md["captaindata/dry_run"] is True
    store_file = default_store_path(tmp_path / "ledger.sqlite")
    assert OutreachStore(store_file).records() == []

    # the run config turns the dry run off: now it sends, once each
    result = run_op(op, resource(sim, tmp_path), profiles=profiles, dry_run=False)
    assert result.success and sorted(performed(sim)) == profiles


def test_each_profile_receives_one_invitation_and_a_rerun_sends_nothing(sim, tmp_path):
    op = build_outreach_op(CONNECT, campaign="spring", message="Hello {there}", name="connect")
    res = resource(sim, tmp_path, integration_users=["u1", "u2", "u3"])
    profiles = [url(i) for i in range(12)]
    # other spellings of the same people: no www, a trailing slash, a query, upper case
    aliases = [
        "https://linkedin.com/in/outreach-1/",
        url(2) + "?trk=x",
        "https://www.linkedin.com/in/OUTREACH-3",
    ]
    result = run_op(op, res, profiles=[*profiles, *aliases])
    assert result.success
    assert posts(sim) == Counter({p: 1 for p in profiles})
    assert all(r.body["parameters"] == {"message": "Hello {there}"} for r in sim.calls(CONNECT))
    by_account = Counter(r.account for r in sim.calls(CONNECT))
    assert set(by_account) == {"u1", "u2", "u3"}  # accounts rotate
    out = outputs(result, op)
    assert list(out["sent"].columns) == list(SENT_COLUMNS)
    assert sorted(out["sent"]["profile_url"]) == sorted(profiles)
    md = output_metadata(result, op, "sent")
    assert md["captaindata/sent"] == 12 and md["captaindata/profiles"] == 12
    assert sum(md["captaindata/cap_used_by_account"].values()) == 12

    again = run_op(op, res, profiles=profiles)
    assert again.success
    assert posts(sim) == Counter({p: 1 for p in profiles}), "a re-run sent something"
    out = outputs(again, op)
    assert out["sent"].empty
    assert Counter(out["skipped"]["reason"]) == {"already_sent": 12}
    assert output_metadata(again, op, "sent")["captaindata/calls"] == 0


def test_messages_take_profiles_from_an_upstream_frame(sim, tmp_path):
    @dg.op
    def people() -> pd.DataFrame:
        return pd.DataFrame(
            {"linkedin_profile_url": [url(1), url(2), None], "name": ["a", "b", "c"]}
        )

    op = build_outreach_op(MESSAGE, campaign="welcome", message="Welcome aboard")

    @dg.job(resource_defs={"captaindata": resource(sim, tmp_path)})
    def message_job():
        op(people())

    result = message_job.execute_in_process(
        run_config={"ops": {op.name: {"config": {"profiles": [url(3)]}}}}
    )
    assert result.success
    assert posts(sim, MESSAGE) == Counter({url(1): 1, url(2): 1, url(3): 1})
    assert {r.body["parameters"]["message"] for r in sim.calls(MESSAGE)} == {"Welcome aboard"}
    errors = result.output_for_node(op.name, "errors")
    assert list(errors.columns) == list(OUTREACH_ERROR_COLUMNS)
    assert list(errors["error_label"]) == ["INVALID_INPUT"]  # the missing URL is reported
    assert "linkedin_profile_url" in errors["message"].iloc[0]


def test_outreach_assets_downstream_of_people_land_partitioned_and_rerun_safely(make_sim, tmp_path):
    sim = make_sim(search_total=8)
    searches = {
        "paris": "https://www.linkedin.com/search/results/people/?keywords=data&geo=paris",
        "berlin": "https://www.linkedin.com/search/results/people/?keywords=cto&geo=berlin",
    }
    people = build_people_search_asset(searches=searches, max_results=8)
    connect = build_outreach_asset(
        CONNECT, name="connect_spring", upstream=people, campaign="spring", message="Hi"
    )
    warehouse = str(tmp_path / "w.duckdb")
    resources = {
        "captaindata": resource(sim, tmp_path),
        "io_manager": DuckDBPandasIOManager(database=warehouse, schema="outreach"),
    }
    with dg.instance_for_test() as instance:
        for _ in range(2):  # the second materialization of each partition sends nothing
            for key in searches:
                result = dg.materialize(
                    [people, connect], partition_key=key, resources=resources, instance=instance
                )
                assert result.success
    invited = performed(sim)
    assert len(invited) == 16 and set(invited.values()) == {1}
    with duckdb.connect(warehouse, read_only=True) as con:
        sent = con.execute(
            "select partition_key, new, count(*) from outreach.connect_spring_sent group by 1, 2"
        ).fetchall()
    # the table is the state: every invitation of the partition, none new the second time
    assert sorted(sent) == [("berlin", False, 8), ("paris", False, 8)]


# ---------------------------------------------------------------- faults after the effect


@pytest.mark.parametrize(
    "faults",
    [
        {"500": 0.3, "STATUS_429": 0.15},
        {"timeout": 0.2, "STATUS_429": 0.15},
        {"drop": 0.15, "502": 0.15, "STATUS_429": 0.1},
    ],
    ids=["500", "timeout", "drop+502"],
)
def test_fault_storm_after_the_effect_never_sends_twice(make_sim, make_client, store, faults):
    # A timeout fault hangs far longer than the client waits, and the client waits far longer
    # than a healthy answer takes even on a loaded machine: which calls time out does not depend
    # on the machine's speed (a 0.2 s timeout once timed out healthy calls under load).
    sim = make_sim(faults=faults, fault_after_effect=True, hang_s=30, retry_after_s=0, seed=11)
    client = make_client(sim, timeout=2.0, max_retries=0, integration_users=["u1", "u2"])
    profiles = [url(i) for i in range(30)]
    for _ in range(4):
        result = run_outreach(
            client,
            store,
            CONNECT,
            profiles,
            campaign="storm",
            message="Hi",
            daily_cap_per_account=100,
        )
        frames_partition(result, profiles)
        assert max(performed(sim).values()) == 1, "a profile received two invitations"
        # whatever went out is known as sent, or listed for a person: never silently lost
        review = set(result.needs_review["profile_url"])
        known = {r.profile_url for r in store.records("storm", CONNECT, [SENT])}
        assert set(performed(sim)) <= known | review
        assert review == {r.profile_url for r in store.needs_review("storm")}
    # every answer lost after acting is in needs_review; nothing else is
    lost = {r.input["linkedin_profile_url"] for r in sim.calls(CONNECT) if r.performed and r.fault}
    assert lost and lost == review
    assert set(result.needs_review["state"]) == {UNKNOWN}
    # the records agree with what the simulator did, profile by profile
    done = performed(sim)
    for rec in store.records("storm"):
        if rec.state == SENT:
            assert done[rec.profile_url] == 1
        elif rec.state == FAILED:  # refused before acting (429s the last run met)
            assert done[rec.profile_url] == 0 and rec.retryable
        else:
            assert rec.state == UNKNOWN and done[rec.profile_url] == 1
    refused = {r.input["linkedin_profile_url"] for r in sim.calls(CONNECT) if r.status == 429}
    assert refused & set(done), "no 429 was re-sent by a later run"
    assert store.integrity_ok()


def test_unknown_and_pending_count_toward_the_cap(make_sim, make_client, store):
    sim = make_sim(fail_inputs={url(0): "500"}, fault_after_effect=True)
    client = make_client(sim, integration_users=["u1"])
    store.reserve("c", CONNECT, url(9), account="u1")  # a run died mid-call
    result = run_outreach(
        client, store, CONNECT, [url(i) for i in range(5)], campaign="c", daily_cap_per_account=3
    )
    # pending url(9) + unknown url(0) + one sent = 3: the rest waits for tomorrow
    assert len(result.sent) == 1 and result.stats.over_cap == 3
    assert store.used(CONNECT, "u1") == 3


# ---------------------------------------------------------------- killed mid-call


def test_a_pending_record_left_by_a_dead_run_is_reported_and_not_resent(sim, tmp_path):
    op = build_outreach_op(CONNECT, campaign="spring", name="connect")
    res = resource(sim, tmp_path)
    path = default_store_path(tmp_path / "ledger.sqlite")
    with OutreachStore(path) as s:  # exactly what a run commits before its call
        s.reserve("spring", CONNECT, url(0), account="u1", run_id="dead-run")
    result = run_op(op, res, profiles=[url(i) for i in range(4)])
    assert result.success
    assert posts(sim) == Counter({url(1): 1, url(2): 1, url(3): 1})
    review = outputs(result, op)["needs_review"]
    assert list(review.columns) == list(REVIEW_COLUMNS)
    row = review.set_index("profile_url").loc[url(0)]
    assert row["state"] == PENDING and row["error_label"] == "UNSETTLED"
    assert row["run_id"] == "dead-run" and row["account"] == "u1"
    assert "mark_sent" in row["what_to_do"] and "mark_retry" in row["what_to_do"]
    md = output_metadata(result, op, "needs_review")
    assert md["captaindata/needs_review"] == 1
    assert md["captaindata/needs_review_profiles"][0]["profile_url"] == url(0)
    assert "mark_retry" in md["captaindata/how_to_resolve"]
    # and again: still reported, still not sent
    again = run_op(op, res, profiles=[url(0)])
    assert list(outputs(again, op)["needs_review"]["profile_url"]) == [url(0)]
    assert posts(sim)[url(0)] == 0


CHILD = textwrap.dedent(
    """
    import sys
    from captaindata_dagster import CaptainDataClient
    from captaindata_dagster.storage import OutreachStore
    from captaindata_dagster.engine.outreach import run_outreach

    base_url, key, store_path, *profiles = sys.argv[1:]
    client = CaptainDataClient(key, base_url, timeout=60, integration_users=["u1"])
    run_outreach(client, OutreachStore(store_path), "linkedin-connect-profile", profiles,
                 campaign="kill", message="Hi")
    """
)


def test_sigkill_between_record_and_settle_leaves_it_for_review(make_sim, make_client, store):
    # the simulator acts on url(0), then hangs: the child waits for an answer it never gets
    sim = make_sim(fail_inputs={url(0): "timeout"}, fault_after_effect=True, hang_s=60)
    profiles = [url(i) for i in range(3)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, sim.base_url, sim.api_key, str(store.path), *profiles],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not performed(sim)[url(0)]:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never sent"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    record = store.get("kill", CONNECT, url(0))
    assert record is not None and record.state == PENDING  # committed before the call

    sim.set_fail_inputs({})
    client = make_client(sim, integration_users=["u1"])
    result = run_outreach(client, store, CONNECT, profiles, campaign="kill", message="Hi")
    assert list(result.needs_review["profile_url"]) == [url(0)]
    assert performed(sim) == Counter({url(0): 1, url(1): 1, url(2): 1})
    assert posts(sim)[url(0)] == 1


# ---------------------------------------------------------------- the daily cap


def test_daily_cap_per_account_holds_across_runs_and_campaigns(sim, make_client, store):
    client = make_client(sim, integration_users=["u1", "u2"])
    profiles = [url(i) for i in range(10)]

    def run(campaign="spring", who=profiles):
        return run_outreach(client, store, CONNECT, who, campaign=campaign, daily_cap_per_account=3)

    first = run()
    assert len(first.sent) == 6 and first.stats.over_cap == 4
    assert Counter(r.account for r in sim.calls(CONNECT)) == {"u1": 3, "u2": 3}
    assert first.stats.cap_used == {"u1": 3, "u2": 3}

    second = run()  # the same day: nothing more
    assert second.sent.empty and second.stats.over_cap == 4 and second.stats.already_sent == 6
    other = run(
        "autumn", [url(i) for i in range(20, 23)]
    )  # the cap is the account's, not a campaign's
    assert other.sent.empty and other.stats.over_cap == 3
    assert len(sim.calls(CONNECT)) == 6

    # a day later (the records age by 25 h), the rest goes out, still 3 per account at most
    with sqlite3.connect(store.path) as conn:
        old = (datetime.now(timezone.utc) - timedelta(hours=25)).isoformat(timespec="microseconds")
        conn.execute("UPDATE sends SET attempted_at = ?", (old,))
    third = run()
    assert len(third.sent) == 4 and third.stats.over_cap == 0
    later = Counter(r.account for r in sim.calls(CONNECT)[6:])
    assert all(n <= 3 for n in later.values())
    assert performed(sim) == Counter({p: 1 for p in profiles})


# ---------------------------------------------------------------- a person resolves


def cli(args: list[str]) -> Result:
    """Run `captaindata-dagster ARGS` in this process; an unexpected exception fails the test."""
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_a_person_resolves_needs_review_and_the_next_run_acts_on_it(make_sim, tmp_path):
    # url(0): invited, but the answer was lost (a timeout after the simulator acted)
    sim = make_sim(fail_inputs={url(0): "timeout"}, fault_after_effect=True, hang_s=30)
    op = build_outreach_op(CONNECT, campaign="spring", name="connect")
    res = resource(sim, tmp_path, timeout=2.0, integration_users=["u1"])  # see the storm test
    profiles = [url(i) for i in range(4)]
    assert run_op(op, res, profiles=[url(0)]).success
    # url(1): a 503 before acting; the client cannot tell it from the first case
    sim.configure(fault_after_effect=False, fail_inputs={url(1): "503"})
    second = run_op(op, res, profiles=profiles)
    review = outputs(second, op)["needs_review"].set_index("profile_url")
    assert set(review.index) == {url(0), url(1)} and set(review["state"]) == {UNKNOWN}
    assert review["new"].to_dict() == {url(0): False, url(1): True}
    assert review.loc[url(1), "error_label"] == "SERVICE_UNAVAILABLE"

    # the person lists them from a shell, checks the account, and decides
    store_path = default_store_path(tmp_path / "ledger.sqlite")
    listed = cli(["outreach", "--store", str(store_path), "list", "--campaign", "spring"])
    assert listed.exit_code == 0
    listing = listed.stdout
    assert url(0) in listing and url(1) in listing
    assert performed(sim)[url(0)] == 1 and performed(sim)[url(1)] == 0  # what the account shows
    sim.set_fail_inputs({})
    mark = ["outreach", "mark-retry", "--campaign", "spring", "--action", CONNECT]
    mark += ["--store", str(store_path)]  # after the command too
    marked = cli([*mark, url(1)])
    assert marked.exit_code == 0 and marked.stdout == f"retry  {url(1)}\n"
    third = run_op(op, res, profiles=profiles, mark_sent=[url(0)])  # ... or in the run config
    assert third.success
    out = outputs(third, op)
    assert list(out["sent"]["profile_url"]) == [url(1)]
    assert out["needs_review"].empty
    skipped = out["skipped"].set_index("profile_url")
    assert skipped.loc[url(0), "reason"] == "already_sent"
    assert "person" in skipped.loc[url(0), "detail"]
    assert performed(sim) == Counter({p: 1 for p in profiles})

    # un-sending is refused: a sent record cannot be marked for retry
    with OutreachStore(store_path) as s, pytest.raises(ValueError, match="sent"):
        s.mark_retry("spring", CONNECT, url(0))
    refused = cli([*mark, url(0)])
    assert refused.exit_code == 1 and "refused" in refused.stderr


# ---------------------------------------------------------------- refusals, systemic errors


def test_a_permanent_refusal_is_not_retried_and_a_429_is(make_sim, make_client, store):
    sim = make_sim(
        fail_inputs={url(0): "INVALID_INPUT", url(1): "STATUS_429", url(2): "LK_BAD_COOKIE"},
        retry_after_s=0,
    )
    client = make_client(sim, max_retries=1, integration_users=["u1"])
    profiles = [url(i) for i in range(4)]
    first = run_outreach(client, store, CONNECT, profiles, campaign="c")
    errors = first.errors.set_index("input")
    assert errors["error_label"].to_dict() == {
        url(0): "INVALID_INPUT", url(1): "STATUS_429", url(2): "LK_BAD_COOKIE"
    }  # fmt: skip
    assert errors["retryable"].to_dict() == {url(0): False, url(1): True, url(2): True}
    assert set(errors["user_uid"]) == {"u1"}  # the account that made each call, for the sensor
    assert posts(sim)[url(1)] == 2  # the client retried the 429: nothing had been done
    assert {r.state for r in store.records("c")} == {FAILED, SENT}

    sim.set_fail_inputs({})
    second = run_outreach(client, store, CONNECT, profiles, campaign="c")
    assert sorted(second.sent["profile_url"]) == [url(1), url(2)]
    assert list(second.errors["input"]) == [url(0)] and second.errors["from_cache"].all()
    assert list(second.errors["user_uid"]) == ["u1"]  # kept with the record
    assert posts(sim)[url(0)] == 1  # the refused input was not sent again
    assert performed(sim) == Counter({url(1): 1, url(2): 1, url(3): 1})


def test_a_wrong_key_fails_the_step_with_its_label_and_leaves_nothing_unsettled(sim, tmp_path):
    op = build_outreach_op(CONNECT, campaign="spring", name="connect")
    profiles = [url(i) for i in range(6)]
    result = run_op(op, resource(sim, tmp_path, api_key=WRONG_KEY), profiles=profiles)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    data = failure.step_failure_data.user_failure_data
    md = {k: v.value for k, v in data.metadata.items()}
    assert md["error_label"] == "UNAUTHORIZED" and md["status_code"] == 401
    assert md["captaindata/sent"] == 0 and "captaindata/needs_review_profiles" in md
    assert WRONG_KEY not in (data.description or "") and WRONG_KEY not in repr(md)
    with OutreachStore(default_store_path(tmp_path / "ledger.sqlite")) as s:
        records = s.records("spring")
        assert records and {r.state for r in records} == {FAILED}
        assert all(r.retryable for r in records)

    ok = run_op(op, resource(sim, tmp_path), profiles=profiles)
    assert ok.success and performed(sim) == Counter({p: 1 for p in profiles})


def test_two_runs_of_one_campaign_at_once_never_send_twice(make_sim, make_client, tmp_path):
    sim = make_sim(latency_ms=15)
    path = tmp_path / "outreach.sqlite"
    profiles = [url(i) for i in range(16)]
    results = {}

    def run(account: str) -> None:
        client = make_client(sim, integration_users=[account])
        with OutreachStore(path) as s:  # its own connection, as another process would have
            results[account] = run_outreach(
                client, s, CONNECT, profiles, campaign="race", daily_cap_per_account=100
            )

    threads = [threading.Thread(target=run, args=(a,)) for a in ("u1", "u2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert posts(sim) == Counter({p: 1 for p in profiles})
    assert len(results["u1"].sent) + len(results["u2"].sent) == 16
    for r in results.values():
        frames_partition(r, profiles)


# ---------------------------------------------------------------- settings


def test_bad_settings_are_refused_naming_the_field():
    with pytest.raises(ValidationError) as e:
        build_outreach_op(CONNECT, campaign=" ")
    assert e.value.field == "campaign"
    with pytest.raises(ValidationError) as e:
        build_outreach_op(MESSAGE, campaign="c")  # a message needs its text
    assert e.value.field == "message"
    with pytest.raises(ValidationError) as e:
        build_outreach_op("linkedin-extract-people", campaign="c")
    assert e.value.field == "action_id"
    with pytest.raises(ValidationError) as e:
        build_outreach_op(CONNECT, campaign="c", daily_cap_per_account=-1)
    assert e.value.field == "daily_cap_per_account"
    with pytest.raises(ValidationError) as e:
        build_outreach_op(CONNECT, campaign="c", parameters={"mesage": "typo"})
    assert e.value.field == "mesage"


def test_profile_key_is_one_per_person():
    same = [
        "https://www.linkedin.com/in/Ada-Lovelace",
        " https://linkedin.com/in/ada-lovelace/ ",
        "https://fr.linkedin.com/in/ada-lovelace?trk=abc",
        "https://www.linkedin.com/in/ada%2Dlovelace",
    ]
    assert len({profile_key(u) for u in same}) == 1
    assert profile_key("https://www.linkedin.com/sales/lead/ACwAAB,N") != profile_key(
        "https://www.linkedin.com/sales/lead/acwaab,n"
    )


def test_a_retry_mark_without_a_record_is_a_no_op_and_stale_settles_change_nothing(store):
    assert store.mark_retry("c", CONNECT, url(0)) is None
    rec = store.mark_sent("c", CONNECT, url(0), note="sent by hand")
    assert rec.state == SENT and rec.resolved_by == "person" and rec.note == "sent by hand"
    assert store.reserve("c", CONNECT, url(0), account="u1").outcome == "taken"
    assert RETRY not in {r.state for r in store.records()}
    res = store.reserve("c", CONNECT, url(1), account="u1")
    assert res.outcome == "reserved" and res.attempt == 1
    assert not store.settle("c", CONNECT, url(1), 2, SENT)  # another attempt's answer
    assert store.get("c", CONNECT, url(1)).state == PENDING
    assert store.settle("c", CONNECT, url(1), 1, UNKNOWN)


def test_a_systemic_stop_still_accounts_for_every_profile(sim, make_client, store):
    client = make_client(sim, integration_users=["u1"])
    client._api_key = WRONG_KEY  # the key is revoked mid-campaign
    profiles = [url(i) for i in range(5)]
    with pytest.raises(CaptainDataError) as e:
        run_outreach(client, store, CONNECT, profiles, campaign="c")
    assert e.value.error_label == "UNAUTHORIZED"
    done = OutreachResult.from_error(e.value)
    frames_partition(done, profiles)
    assert list(done.errors["input"]) == [url(0)]
    assert set(done.skipped["reason"]) == {"stopped"}
    assert len(sim.calls(CONNECT)) == 1


def test_a_mark_on_something_that_is_no_profile_url_is_refused(sim, make_client, store):
    with pytest.raises(ValidationError) as e:
        run_outreach(None, store, CONNECT, [url(1)], campaign="c", dry_run=True, mark_sent=["x"])
    assert e.value.field == "linkedin_profile_url"
    assert store.records() == []
