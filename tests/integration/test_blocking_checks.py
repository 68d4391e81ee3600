"""One threshold, `max_error_rate`: above it the blocking error-rate check stops what is downstream.

The upstream here is an action over ten searches, three of which fail (NO_RESULT: 30 %): what it
paid for lands, with its metadata, and the profiles downstream are not extracted in that run.
"""

from __future__ import annotations

import dagster as dg
import pytest

from captaindata_dagster import (
    build_action_asset,
    build_captaindata_error_sensor,
    build_profile_extraction_asset,
)
from captaindata_dagster.orchestration.assets.options import AssetOptions
from captaindata_dagster.orchestration.checks import ERROR_RATE
from tests.helpers import simulator_resource

SEARCH_URLS = [
    f"https://www.linkedin.com/search/results/people/?keywords=role-{i}" for i in range(10)
]
# a retry policy without delay: a retry, if any, would show at once as STEP_UP_FOR_RETRY
RETRY = dg.RetryPolicy(max_retries=2)


def pipeline(**people_kw):
    people = build_action_asset(
        "linkedin-search-people", name="people", inputs=SEARCH_URLS, max_results=3,
        retry_policy=RETRY, **people_kw,
    )  # fmt: skip
    profiles = build_profile_extraction_asset(upstream=people, retry_policy=RETRY)
    return people, profiles


def run(sim, tmp_path, instance, assets, **resource_kw):
    res = {"captaindata": simulator_resource(sim, tmp_path, **resource_kw)}
    return dg.materialize(assets, resources=res, instance=instance, raise_on_error=False)


def events(result, kind):
    return [e for e in result.all_events if e.event_type_value == kind]


def test_over_the_threshold_the_tables_land_and_downstream_does_not_run(
    make_sim, tmp_path, instance
):
    sim = make_sim(fail_inputs={u: "NO_RESULT" for u in SEARCH_URLS[:3]})
    people, profiles = pipeline()
    result = run(sim, tmp_path, instance, [people, profiles])
    assert not result.success
    # what was paid for landed, with its metadata
    mats = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert set(mats) == {"people", "people_errors"}
    assert mats["people"]["captaindata/errors"].value == 3
    assert mats["people"]["dagster/row_count"].value == 21  # 7 searches x 3 people
    assert mats["people_errors"]["captaindata/errors_by_label"].value == {"NO_RESULT": 3}
    assert len(result.output_for_node("people", "errors")) == 3
    # the check failed, ERROR, blocking
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == ERROR_RATE]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.blocking and check.metadata["error_rate"].value == 0.3
    # Dagster ended the step itself: not retried, and the profiles never started
    [failure] = events(result, "STEP_FAILURE")
    assert failure.step_key == "people"
    assert "blocking asset check" in failure.step_failure_data.error.message
    assert events(result, "STEP_UP_FOR_RETRY") == []
    assert "linkedin_profiles" not in {e.step_key for e in events(result, "STEP_START")}
    assert len(sim.calls("linkedin-extract-people")) == 0
    assert len(sim.calls("linkedin-search-people")) == 10  # each search called once
    # the error sensor reads the errors table that landed
    sensor = build_captaindata_error_sensor(assets=[people, profiles])
    tick = sensor(dg.build_sensor_context(instance=instance))
    [obs] = tick.asset_events
    assert obs.asset_key == dg.AssetKey("people")
    assert obs.metadata["error_label"].value == "NO_RESULT" and obs.metadata["count"].value == 3


def test_under_the_threshold_the_check_warns_and_downstream_runs(make_sim, tmp_path, instance):
    sim = make_sim(fail_inputs={SEARCH_URLS[0]: "NO_RESULT"})
    people, profiles = pipeline()
    result = run(sim, tmp_path, instance, [people, profiles])
    assert result.success
    [check] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == ERROR_RATE and e.asset_key == dg.AssetKey("people")
    ]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN  # 10 % > 5 %
    assert len(result.output_for_node("linkedin_profiles", "results")) == 27


def test_a_raised_threshold_or_a_non_blocking_check_lets_downstream_run(
    make_sim, tmp_path, instance
):
    sim = make_sim(fail_inputs={u: "NO_RESULT" for u in SEARCH_URLS[:3]})
    people, profiles = pipeline(max_error_rate=0.4)
    assert run(sim, tmp_path, instance, [people, profiles]).success

    people, profiles = pipeline(blocking=False)
    result = run(sim, tmp_path, instance, [people, profiles])
    assert result.success  # the check says ERROR, but the user chose not to block on it
    [check] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == ERROR_RATE and e.asset_key == dg.AssetKey("people")
    ]
    assert check.severity == dg.AssetCheckSeverity.ERROR and not check.blocking


def test_without_checks_the_step_fails_after_landing(make_sim, tmp_path, instance):
    sim = make_sim(fail_inputs={u: "NO_RESULT" for u in SEARCH_URLS[:3]})
    people, profiles = pipeline(checks=False)
    result = run(sim, tmp_path, instance, [people, profiles])
    assert not result.success
    [failure] = events(result, "STEP_FAILURE")
    md = failure.step_failure_data.user_failure_data.metadata
    assert md["error_label"].value == "NO_RESULT" and md["error_rate"].value == 0.3
    assert events(result, "STEP_UP_FOR_RETRY") == []  # NO_RESULT: no retry fixes it
    landed = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert landed == {"people", "people_errors"}


def test_a_transient_storm_over_the_threshold_is_retried_by_the_policy(
    make_sim, tmp_path, instance
):
    sim = make_sim(fail_inputs={u: "STATUS_429" for u in SEARCH_URLS[:3]})
    people, _ = pipeline()
    result = run(sim, tmp_path, instance, [people], max_retries=0)
    assert not result.success
    assert len(events(result, "STEP_UP_FOR_RETRY")) == 2  # the step's RetryPolicy
    [failure] = events(result, "STEP_FAILURE")
    assert failure.step_failure_data.user_failure_data.metadata["error_label"].value == (
        "STATUS_429"
    )


def test_fail_error_rate_is_deprecated_and_read_as_the_one_threshold():
    with pytest.warns(DeprecationWarning, match="max_error_rate"):
        options = AssetOptions(fail_error_rate=0.35)
    assert options.max_error_rate == 0.35
    assert AssetOptions().max_error_rate == 0.2 and AssetOptions().warn_error_rate == 0.05
    assert AssetOptions(max_error_rate=0.01).warn_rate == 0.01  # never warns above the threshold
    with pytest.warns(DeprecationWarning):
        people, _ = pipeline(fail_error_rate=0.5)
    from captaindata_dagster.orchestration.assets import step_for

    step = step_for(people)
    assert step is not None and step.options.max_error_rate == 0.5
