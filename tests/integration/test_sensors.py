"""The error sensors, ticked with build_sensor_context against a real instance."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from captaindata_dagster import (
    build_captaindata_error_sensor,
    build_captaindata_run_failure_sensor,
    build_people_search_asset,
    build_profile_extraction_asset,
)
from captaindata_dagster.orchestration.metadata_set import RERUN_TAG, SURFACED_TAG
from tests.helpers import SEARCHES, simulator_resource


@pytest.fixture
def pipeline():
    no_retry = dg.RetryPolicy(max_retries=0)  # a failed step fails now, not after a back-off
    people = build_people_search_asset(searches=SEARCHES, max_results=20, retry_policy=no_retry)
    profiles = build_profile_extraction_asset(
        upstream=people, max_error_rate=0.9, retry_policy=no_retry
    )
    return people, profiles


def tick(sensor, instance, cursor=None) -> dg.SensorResult:
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
    return sensor(ctx)


def observed(result):
    return {
        (o.asset_key.to_user_string(), o.partition, o.metadata["error_label"].value): o
        for o in result.asset_events
    }


def run_profiles(sim, tmp_path, instance, pipeline, partition="paris", **resource_kw):
    res = simulator_resource(sim, tmp_path, **resource_kw)
    return dg.materialize(
        list(pipeline), partition_key=partition, resources={"captaindata": res}, instance=instance,
        raise_on_error=False,
    )  # fmt: skip


def test_first_tick_with_nothing_to_report(instance, pipeline):
    sensor = build_captaindata_error_sensor(assets=list(pipeline))
    result = tick(sensor, instance)
    assert result.run_requests == [] and result.asset_events == []
    assert result.skip_reason.skip_message == "no new Captain Data errors"
    assert json.loads(result.cursor)["after"] == 0


def test_new_failures_are_reported_once_and_transient_ones_rerun_once(
    make_sim, tmp_path, instance, pipeline
):
    sim = make_sim(search_total=200)
    people, profiles = pipeline
    sensor = build_captaindata_error_sensor(assets=[people, profiles])
    assert run_profiles(sim, tmp_path, instance, [people]).success
    first = tick(sensor, instance)
    assert first.asset_events == []  # a clean search records no error

    urls = list(
        run_profiles(sim, tmp_path, instance, [people]).output_for_node(
            "linkedin_people", "results"
        )["linkedin_profile_url"]
    )
    bad = {u: "LK_BAD_COOKIE" for u in urls[:2]} | {u: "STATUS_429" for u in urls[2:5]}
    sim.set_fail_inputs(bad)
    result = run_profiles(sim, tmp_path, instance, [people, profiles], max_retries=0)
    assert result.success

    second = tick(sensor, instance, first.cursor)
    seen = observed(second)
    cookie = seen[("linkedin_profiles", "paris", "LK_BAD_COOKIE")]
    assert cookie.metadata["count"].value == 2
    assert cookie.metadata["error_scope"].value == "integ"
    assert set(cookie.metadata["sample_inputs"].value) == set(urls[:2])
    assert all(r.startswith("ERR-") for r in cookie.metadata["error_refs"].value)
    assert cookie.metadata["rerun_requested"].value is False
    assert "reconnect" in cookie.metadata["needs_a_person"].value
    limited = seen[("linkedin_profiles", "paris", "STATUS_429")]
    assert limited.metadata["count"].value == 3 and limited.metadata["rerun_requested"].value
    # a person must act too: this tick shows it (its skip reason, the tick list's words), and
    # holds the re-run for the next tick
    assert second.run_requests == []
    message = second.skip_reason.skip_message
    assert "LK_BAD_COOKIE x2 on linkedin_profiles / paris: needs a person: " in message
    assert "STATUS_429 x3 on linkedin_profiles / paris: re-run at the next tick" in message

    # the partition fails the same way again before the next tick: the held re-run goes out,
    # once, with the new failures reported (a bad cookie is the account's fault, not the input's:
    # the ledger does not answer for it, so it was tried again and failed again)
    run_profiles(sim, tmp_path, instance, [people, profiles], max_retries=0)
    third = tick(sensor, instance, second.cursor)
    assert set(observed(third)) == {
        ("linkedin_profiles", "paris", "STATUS_429"),
        ("linkedin_profiles", "paris", "LK_BAD_COOKIE"),
    }
    [rerun] = third.run_requests
    assert rerun.partition_key == "paris" and rerun.tags[RERUN_TAG] == "STATUS_429"
    assert {k.to_user_string() for k in rerun.asset_selection} == {
        "linkedin_profiles",
        "linkedin_profiles_errors",
    }
    fourth = tick(sensor, instance, third.cursor)
    assert fourth.run_requests == [] and fourth.asset_events == []  # requested once

    # it fails again with 429s: reported, but no second re-run within the window
    run_profiles(sim, tmp_path, instance, [people, profiles], max_retries=0)
    fifth = tick(sensor, instance, fourth.cursor)
    again = observed(fifth)[("linkedin_profiles", "paris", "LK_BAD_COOKIE")]
    assert again.metadata["rerun_requested"].value is False
    assert fifth.run_requests == []
    assert "already requested" in fifth.skip_reason.skip_message


def test_rerun_window_and_ignored_labels_are_configurable(make_sim, tmp_path, instance, pipeline):
    sim = make_sim(search_total=200)
    people, profiles = pipeline
    sensor = build_captaindata_error_sensor(
        assets=[people, profiles],
        retry_labels={"LK_BAD_COOKIE"},
        ignore_labels={"NO_RESULT"},
        rerun_window=timedelta(0),
    )
    urls = list(
        run_profiles(sim, tmp_path, instance, [people]).output_for_node(
            "linkedin_people", "results"
        )["linkedin_profile_url"]
    )
    sim.set_fail_inputs({urls[0]: "LK_BAD_COOKIE", urls[1]: "NO_RESULT"})
    run_profiles(sim, tmp_path, instance, [people, profiles])
    result = tick(sensor, instance)
    assert set(observed(result)) == {("linkedin_profiles", "paris", "LK_BAD_COOKIE")}
    assert len(result.run_requests) == 1


def test_a_failed_run_is_surfaced_by_one_sensor_only(sim, tmp_path, instance, pipeline):
    people, profiles = pipeline
    error_sensor = build_captaindata_error_sensor(assets=[people, profiles])
    failure_sensor = build_captaindata_run_failure_sensor(assets=[people, profiles])
    result = run_profiles(sim, tmp_path, instance, [people], api_key="wrong-key")
    assert not result.success

    # the run-failure sensor reacts first
    run = instance.get_run_by_id(result.run_id)
    failure_event = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    ctx = dg.build_run_status_sensor_context(
        sensor_name="captaindata_run_failure_sensor",
        dagster_event=failure_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    # None: a run status sensor's tick would end at the first run it returned something for
    assert failure_sensor(ctx) is None
    assert (
        instance.get_run_by_id(result.run_id).tags[SURFACED_TAG] == "captaindata_run_failure_sensor"
    )
    # one observation on the failed partition, the step's own (the sensor does not repeat it)
    records = instance.fetch_observations(dg.AssetKey("linkedin_people"), limit=10).records
    [obs] = [r.asset_observation for r in records]
    assert obs.metadata["error_label"].value == "UNAUTHORIZED"
    assert obs.metadata["error_refs"].value[0].startswith("ERR-")
    assert obs.metadata["needs_a_person"].value == "check CAPTAINDATA_API_KEY"
    assert obs.metadata["run_ids"].value == [result.run_id]
    assert obs.description == "Captain Data UNAUTHORIZED x1: check CAPTAINDATA_API_KEY"
    assert obs.partition == "paris"

    # ... so the error sensor leaves that run alone
    later = tick(error_sensor, instance)
    assert later.asset_events == []


def test_error_sensor_reports_a_failed_run_when_alone(sim, tmp_path, instance, pipeline):
    people, profiles = pipeline
    sensor = build_captaindata_error_sensor(assets=[people, profiles])
    result = run_profiles(sim, tmp_path, instance, [people], api_key="wrong-key")
    assert not result.success
    [obs] = [
        r.asset_observation
        for r in instance.fetch_observations(dg.AssetKey("linkedin_people"), limit=10).records
    ]  # the step's own, on the failed partition
    assert obs.metadata["error_label"].value == "UNAUTHORIZED"
    assert obs.metadata["status_code"].value == 401
    first = tick(sensor, instance)
    assert first.asset_events == []  # the sensor does not report it a second time ...
    assert first.run_requests == []  # a bad key needs a person, not a re-run
    assert (  # ... but its tick says it, with the fix
        "UNAUTHORIZED x1 on linkedin_people / paris: needs a person: check CAPTAINDATA_API_KEY"
        in first.skip_reason.skip_message
    )
    assert instance.get_run_by_id(result.run_id).tags[SURFACED_TAG]
    second = tick(sensor, instance, first.cursor)
    assert second.asset_events == []


def test_cursor_round_trips(make_sim, tmp_path, instance, pipeline):
    sim = make_sim(search_total=200)
    people, profiles = pipeline
    sensor = build_captaindata_error_sensor(assets=[people, profiles])
    urls = list(
        run_profiles(sim, tmp_path, instance, [people]).output_for_node(
            "linkedin_people", "results"
        )["linkedin_profile_url"]
    )
    sim.set_fail_inputs({u: "STATUS_429" for u in urls[:4]})
    run_profiles(sim, tmp_path, instance, [people, profiles], max_retries=0)
    result = tick(sensor, instance)
    cursor = json.loads(result.cursor)
    assert cursor["after"] > 0 and set(cursor) == {"after", "runs_after", "reruns", "deferred"}
    assert list(cursor["reruns"]) == ["linkedin_profiles|paris"]
    again = tick(sensor, instance, result.cursor)
    assert json.loads(again.cursor) == cursor
    assert again.asset_events == [] and again.run_requests == []


def test_a_long_rate_limit_defers_the_rerun_until_it_has_passed(
    make_sim, tmp_path, instance, pipeline, monkeypatch
):
    """A ban longer than max_retry_after_s ends the batch; the sensor re-runs after it, not at
    its next tick (which would only meet the ban again)."""
    sim = make_sim(search_total=20, retry_after_s=3600)
    people, profiles = pipeline
    sensor = build_captaindata_error_sensor(assets=[people, profiles])
    found = run_profiles(sim, tmp_path, instance, [people])
    start = tick(sensor, instance)
    urls = found.output_for_node("linkedin_people", "results")["linkedin_profile_url"]
    sim.set_fail_inputs(dict.fromkeys(urls, "LIMIT_REACHED"))  # a workspace limit, 1 h long
    run_profiles(sim, tmp_path, instance, [people, profiles], max_retry_after_s=60)
    assert len(sim.calls("linkedin-extract-people")) <= 2  # no call after the ban (in flight aside)
    first = tick(sensor, instance, start.cursor)
    assert first.run_requests == []
    assert "rate-limited: re-run requested after" in first.skip_reason.skip_message
    deferred = json.loads(first.cursor)["deferred"]
    assert list(deferred) == ["linkedin_profiles|paris"]
    later = dg.build_sensor_context(instance=instance, cursor=first.cursor)
    monkeypatch.setattr(
        "captaindata_dagster.orchestration.sensors.factories._now",
        lambda: datetime.now(timezone.utc) + timedelta(hours=2),  # the injected clock
    )
    second = sensor(later)
    [request] = second.run_requests
    assert request.partition_key == "paris" and "LIMIT_REACHED" in request.tags[RERUN_TAG]
    assert json.loads(second.cursor)["deferred"] == {}
