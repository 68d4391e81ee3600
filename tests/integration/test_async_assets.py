"""Assets in async mode, materialized with a real DagsterInstance: simulator, receiver, store, ledger.

The profiles asset runs `mode="async"`: its partition's inputs go out as async runs, the simulator
POSTs their callbacks to a real receiver on loopback, and the step lands the same tables as a live
step would. With `defer=True` the step ends at submission and the landing sensor (ticked against
the instance) requests the run that lands the partition.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from captaindata_dagster import build_people_search_asset, build_profile_extraction_asset
from captaindata_dagster.api import ValidationError
from captaindata_dagster.orchestration import CaptainDataResource, build_bulk_landing_sensor
from captaindata_dagster.orchestration.metadata_set import BULK_LANDING_TAG
from tests.helpers import (
    SEARCHES,
    async_resource,
    materialization_metadata,
    simulator_resource,
    wait_until,
)

PARTITION = next(iter(SEARCHES))


def test_an_async_step_lands_the_same_tables_as_a_live_one(make_sim, tmp_path, instance, receiver):
    sim = make_sim(search_total=50, callback_backoff_s=0.0)
    people = build_people_search_asset(searches=SEARCHES, max_results=6)
    profiles = build_profile_extraction_asset(upstream=people, mode="async")
    res = async_resource(sim, tmp_path, receiver)
    result = dg.materialize(
        [people, profiles], partition_key=PARTITION, resources={"captaindata": res},
        instance=instance,
    )  # fmt: skip
    assert result.success
    found = result.output_for_node("linkedin_people", "results")
    got = result.output_for_node("linkedin_profiles", "results")
    assert set(got["linkedin_profile_url"]) == set(found["linkedin_profile_url"])
    assert len(got) == 6 and got["linkedin_profile_id"].dtype == "Int64"
    assert result.output_for_node("linkedin_profiles", "errors").empty
    md = materialization_metadata(result, "linkedin_profiles")
    assert md["captaindata/mode"] == "async" and md["captaindata/submitted"] == 6
    assert md["captaindata/pending"] == 0 and md["captaindata/credits_spent"] == 6
    assert set(md["captaindata/bulk_runs"].values()) == {"SUCCEEDED"}
    searched = materialization_metadata(result, "linkedin_people")["captaindata/credits_spent"]
    assert sim.credits_used == searched + 6  # the search (live), then 6 profiles (async)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks and all(checks.values())


def test_a_deferred_step_ends_at_submission_and_the_sensor_lands_it(
    make_sim, tmp_path, instance, receiver
):
    sim = make_sim(search_total=50, callback_backoff_s=0.0, latency_ms=20)
    people = build_people_search_asset(searches=SEARCHES, max_results=4)
    profiles = build_profile_extraction_asset(upstream=people, mode="async", defer=True)
    res = async_resource(sim, tmp_path, receiver)
    first = dg.materialize(
        [people, profiles], partition_key=PARTITION, resources={"captaindata": res},
        instance=instance,
    )  # fmt: skip
    assert first.success
    materialized = {e.asset_key.to_user_string() for e in first.get_asset_materialization_events()}
    assert "linkedin_profiles" not in materialized and "linkedin_people" in materialized
    observed = [
        e.event_specific_data.asset_observation  # type: ignore[union-attr]
        for e in first.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    assert any(o.metadata["captaindata/submitted"].value == 4 for o in observed)
    (record,) = res.get_ledger().bulk_submissions(open_only=True)
    assert record.origin == {"asset_key": "linkedin_profiles", "partition_key": PARTITION}

    sensor = build_bulk_landing_sensor([profiles])
    defs = dg.Definitions(
        assets=[people, profiles], sensors=[sensor], resources={"captaindata": res}
    )
    client = res.get_client()
    wait_until(lambda: client.get_run(record.run_uid or "").ended, "the run never ended")
    with dg.build_sensor_context(
        instance=instance, resources={"captaindata": res}, definitions=defs
    ) as context:
        (request,) = sensor.evaluate_tick(context).run_requests or []
    assert request.partition_key == PARTITION
    assert request.tags[BULK_LANDING_TAG] == record.submission_id
    assert {k.to_user_string() for k in request.asset_selection or []} == {
        "linkedin_profiles", "linkedin_profiles_errors",
    }  # fmt: skip

    landed = dg.materialize(
        [people, profiles], selection=request.asset_selection, partition_key=PARTITION,
        resources={"captaindata": res}, instance=instance, tags=request.tags,
    )  # fmt: skip
    assert landed.success
    assert len(landed.output_for_node("linkedin_profiles", "results")) == 4
    assert materialization_metadata(landed, "linkedin_profiles")["captaindata/submitted"] == 0
    searched = materialization_metadata(first, "linkedin_people")["captaindata/credits_spent"]
    assert sim.credits_used == searched + 4  # nothing submitted twice
    assert res.get_ledger().bulk_submissions(open_only=True) == []
    with dg.build_sensor_context(
        instance=instance, resources={"captaindata": res}, definitions=defs
    ) as context:
        after = sensor.evaluate_tick(context)
    assert not after.run_requests
    assert after.skip_message == "0 partition(s) wait for async runs"


def test_async_without_a_receiver_url_is_refused_with_the_field(make_sim, tmp_path, instance):
    sim = make_sim(search_total=50)
    people = build_people_search_asset(searches=SEARCHES, max_results=2)
    profiles = build_profile_extraction_asset(upstream=people, mode="async")
    res = simulator_resource(sim, tmp_path)
    result = dg.materialize(
        [people, profiles], partition_key=PARTITION, resources={"captaindata": res},
        instance=instance, raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "receiver_url" in str(failure.step_failure_data.error)  # type: ignore[union-attr]


def test_defer_without_async_is_refused_at_load():
    people = build_people_search_asset(searches=SEARCHES)
    with pytest.raises(ValidationError, match="defer=True is for mode='async'"):
        build_profile_extraction_asset(upstream=people, defer=True)
    with pytest.raises(ValidationError, match="mode must be 'live' or 'async'"):
        build_profile_extraction_asset(upstream=people, mode="bulk")


def test_sandbox_mode_starts_its_own_receiver_for_async_steps(tmp_path, instance):
    people = build_people_search_asset(searches=SEARCHES, max_results=3)
    profiles = build_profile_extraction_asset(upstream=people, mode="async")
    res = CaptainDataResource(
        sandbox=True,
        ledger_path=str(tmp_path / "ledger.sqlite"),
        bulk_poll_s=0.01,
        bulk_status_every_s=0.05,
    )
    result = dg.materialize(
        [people, profiles], partition_key=PARTITION, resources={"captaindata": res},
        instance=instance,
    )  # fmt: skip
    assert result.success
    assert len(result.output_for_node("linkedin_profiles", "results")) == 3
    assert materialization_metadata(result, "linkedin_profiles")["captaindata/submitted"] == 3
    store = res.get_callback_store()
    assert store.location == tmp_path / "callbacks.sqlite"  # beside the ledger
    (record,) = res.get_ledger().bulk_submissions()
    assert record.state == "closed" and store.final_status(record.submission_id) == "SUCCEEDED"


def test_a_blocked_run_reaches_the_error_sensor_with_its_label_and_the_resume_command(
    make_sim, tmp_path, instance, receiver
):
    from captaindata_dagster import build_captaindata_error_sensor

    sim = make_sim(search_total=50, callback_backoff_s=0.0, run_halt_after=1,
                   run_halt_status="BLOCKED")  # fmt: skip
    no_retry = dg.RetryPolicy(max_retries=0)
    people = build_people_search_asset(searches=SEARCHES, max_results=4, retry_policy=no_retry)
    profiles = build_profile_extraction_asset(
        upstream=people, mode="async", max_error_rate=0.9, retry_policy=no_retry
    )
    res = async_resource(sim, tmp_path, receiver)
    result = dg.materialize(
        [people, profiles], partition_key=PARTITION, resources={"captaindata": res},
        instance=instance,
    )  # fmt: skip
    errors = result.output_for_node("linkedin_profiles", "errors")
    assert set(errors["error_label"]) == {"LIMIT_REACHED"} and len(errors) == 3
    assert materialization_metadata(result, "linkedin_profiles")["captaindata/bulk_runs"]
    sensor = build_captaindata_error_sensor(assets=[people, profiles])
    tick = sensor(dg.build_sensor_context(instance=instance))
    reported = {o.metadata["error_label"].value: o for o in tick.asset_events}
    assert "LIMIT_REACHED" in reported
    assert "runs resume" in str(reported["LIMIT_REACHED"].metadata)


def _tick(sensor: dg.SensorDefinition, defs: dg.Definitions, instance, res) -> Any:
    with dg.build_sensor_context(
        instance=instance, resources={"captaindata": res}, definitions=defs
    ) as context:
        return sensor.evaluate_tick(context)


def _deferred_profiles(make_sim, tmp_path, instance, receiver, **sim_kw):
    sim = make_sim(search_total=50, callback_backoff_s=0.0, latency_ms=300, **sim_kw)
    people = build_people_search_asset(searches=SEARCHES, max_results=3)
    profiles = build_profile_extraction_asset(
        upstream=people, mode="async", defer=True, retry_policy=dg.RetryPolicy(max_retries=0)
    )
    res = async_resource(sim, tmp_path, receiver)
    sensor = build_bulk_landing_sensor([profiles])
    defs = dg.Definitions(
        assets=[people, profiles], sensors=[sensor], resources={"captaindata": res}
    )
    return sim, people, profiles, res, sensor, defs


def test_a_landing_run_that_failed_is_requested_again(make_sim, tmp_path, instance, receiver):
    sim, people, profiles, res, sensor, defs = _deferred_profiles(
        make_sim, tmp_path, instance, receiver
    )
    assert dg.materialize([people, profiles], partition_key=PARTITION,
                          resources={"captaindata": res}, instance=instance).success  # fmt: skip
    (record,) = res.get_ledger().bulk_submissions(open_only=True)
    wait_until(lambda: res.get_client().get_run(record.run_uid or "").ended, "the run")
    (first,) = _tick(sensor, defs, instance, res).run_requests or []
    broken = async_resource(sim, tmp_path, receiver, api_key="not-the-key")
    failed = dg.materialize(
        [people, profiles], selection=first.asset_selection, partition_key=PARTITION,
        resources={"captaindata": broken}, instance=instance, tags=first.tags,
        raise_on_error=False,
    )  # fmt: skip
    assert not failed.success
    (again,) = _tick(sensor, defs, instance, res).run_requests or []
    assert again.run_key != first.run_key and again.tags == first.tags
    landed = dg.materialize(
        [people, profiles], selection=again.asset_selection, partition_key=PARTITION,
        resources={"captaindata": res}, instance=instance, tags=again.tags,
    )  # fmt: skip
    assert len(landed.output_for_node("linkedin_profiles", "results")) == 3


def test_a_lost_submission_answer_reaches_the_table_with_its_label(
    make_sim, tmp_path, instance, receiver, monkeypatch
):
    from captaindata_dagster.api.bulk import SubmissionOutcomeUnknownError

    sim, people, profiles, res, sensor, defs = _deferred_profiles(
        make_sim, tmp_path, instance, receiver
    )

    def lost(*args: Any, **kwargs: Any) -> Any:  # the request never reached the API
        raise SubmissionOutcomeUnknownError("the answer was lost", error_label="TIMEOUT")

    from captaindata_dagster.api import CaptainDataClient

    monkeypatch.setattr(CaptainDataClient, "run_async", lost)  # the run's own client too
    first = dg.materialize(
        [people, profiles], partition_key=PARTITION, resources={"captaindata": res},
        instance=instance, raise_on_error=False,
    )  # fmt: skip
    errors = first.output_for_node("linkedin_profiles", "errors")  # said at once, not deferred
    assert set(errors["error_label"]) == {"SUBMISSION_UNKNOWN"} and len(errors) == 3
    assert all("runs release" in m for m in errors["message"])
    (record,) = res.get_ledger().bulk_submissions(open_only=True)
    assert record.state == "sending" and record.run_uid is None  # never sent again

    (request,) = _tick(sensor, defs, instance, res).run_requests or []  # the sensor says it too
    landed = dg.materialize(
        [people, profiles], selection=request.asset_selection, partition_key=PARTITION,
        resources={"captaindata": res}, instance=instance, tags=request.tags,
        raise_on_error=False,
    )  # fmt: skip
    again = landed.output_for_node("linkedin_profiles", "errors")
    assert set(again["error_label"]) == {"SUBMISSION_UNKNOWN"}
    # the same state, landed: the same run key, which Dagster does not request twice
    (same,) = _tick(sensor, defs, instance, res).run_requests or []
    assert same.run_key == request.run_key
    assert sim.calls() and not [c for c in sim.calls() if c.path.endswith("/run/async")]
