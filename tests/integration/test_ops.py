"""The job-style ops over real HTTP against the simulator: outputs, cost, ledger, failures."""

from __future__ import annotations

import dagster as dg
import pytest

from captaindata_dagster.api import ValidationError
from captaindata_dagster.engine.batch import ERROR_COLUMNS
from captaindata_dagster.orchestration.ops import (
    DEFAULT_POOL,
    ActionOpConfig,
    build_action_op,
    extract_profiles,
    extract_profiles_job,
)
from tests.helpers import simulator_resource

PROFILE = "linkedin-extract-people"
OP = "extract_profiles"
WRONG_KEY = "cd-wrong-key-77d1e0-DO-NOT-LEAK"


def url(i: int) -> str:
    return f"https://www.linkedin.com/in/person-{i}"


def run_config(op: str = OP, **config) -> dict:
    return {"ops": {op: {"config": config}}}


@pytest.fixture
def resources(tmp_path):
    """Resources for a simulator, all runs of a test sharing one ledger file."""

    def build(sim, api_key: str | None = None) -> dict:
        return {"captaindata": simulator_resource(sim, tmp_path, api_key=api_key or sim.api_key)}

    return build


def output_metadata(instance, run_id: str, output_name: str, step: str = OP) -> dict:
    """An output's metadata, as stored in the instance's event log, with plain values."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_OUTPUT).records
    for rec in records:
        event = rec.event_log_entry.dagster_event
        data = event.step_output_data
        if event.step_key == step and data.output_name == output_name:
            return {k: v.value for k, v in data.metadata.items()}
    raise AssertionError(f"no output {output_name!r} of {step!r} in run {run_id}")


def failure_of(result, step: str = OP) -> tuple[dict, str]:
    """The one failure event of a step: its metadata (plain values) and description."""
    events = [e for e in result.get_step_failure_events() if e.step_key == step]
    assert len(events) == 1
    data = events[0].step_failure_data.user_failure_data
    assert data is not None, "the step failed with an exception, not a dagster.Failure"
    return {k: v.value for k, v in data.metadata.items()}, data.description or ""


def event_types(result) -> list[str]:
    return [e.event_type_value for e in result.all_events]


# ---------------------------------------------------------------- the example job


def test_job_returns_one_row_per_input_and_reports_cost(sim, resources, instance):
    inputs = [url(1), url(2), url(1), f" {url(3)} "]  # a duplicate and stray whitespace
    result = extract_profiles_job.execute_in_process(
        run_config=run_config(inputs=inputs), resources=resources(sim), instance=instance
    )
    assert result.success
    frame = result.output_for_node(OP, "results")
    assert list(frame["linkedin_profile_url"]) == [url(1), url(2), url(3)]
    assert list(frame["_input"]) == [url(1), url(2), url(3)]
    errors = result.output_for_node(OP, "errors")
    assert errors.empty and list(errors.columns) == list(ERROR_COLUMNS)
    assert sim.credits_used == 3 and len(sim.calls(PROFILE)) == 3

    md = output_metadata(instance, result.run_id, "results")
    assert md["captaindata/credits_spent"] == 3.0 and md["captaindata/calls"] == 3
    assert md["dagster/row_count"] == 3 and md["captaindata/inputs"] == 3
    assert md["captaindata/action_id"] == PROFILE
    assert output_metadata(instance, result.run_id, "errors")["captaindata/errors"] == 0
    assert result.output_for_node("log_extraction_summary") is None  # the summary step ran


def test_second_run_with_the_same_config_is_free(sim, resources, instance):
    config = run_config(inputs=[url(i) for i in range(5)])
    first = extract_profiles_job.execute_in_process(
        run_config=config, resources=resources(sim), instance=instance
    )
    assert first.success and sim.credits_used == 5
    sim.reset()

    second = extract_profiles_job.execute_in_process(
        run_config=config, resources=resources(sim), instance=instance
    )
    assert second.success and sim.credits_used == 0 and sim.calls() == []
    frame = second.output_for_node(OP, "results")
    assert list(frame["linkedin_profile_url"]) == [url(i) for i in range(5)]
    assert frame["_from_cache"].all()
    md = output_metadata(instance, second.run_id, "results")
    assert md["captaindata/credits_spent"] == 0.0 and md["captaindata/calls"] == 0
    assert md["captaindata/skipped_fresh"] == 5

    # a per-run max_age_days of 0 overrides the op's 30 days: everything is fetched again
    again = extract_profiles_job.execute_in_process(
        run_config=run_config(inputs=[url(i) for i in range(5)], max_age_days=0),
        resources=resources(sim),
        instance=instance,
    )
    assert again.success and sim.credits_used == 5
    assert not again.output_for_node(OP, "results")["_from_cache"].any()


def test_per_input_failures_are_error_rows_and_the_step_succeeds(make_sim, resources, instance):
    sim = make_sim(fail_inputs={url(2): "NO_RESULT", url(4): "LK_BAD_COOKIE"})
    result = extract_profiles_job.execute_in_process(
        run_config=run_config(inputs=[url(i) for i in range(10)]),  # 20 %: at the threshold
        resources=resources(sim),
        instance=instance,
    )
    assert result.success
    frame = result.output_for_node(OP, "results")
    assert list(frame["linkedin_profile_url"]) == [url(i) for i in (0, 1, 3, 5, 6, 7, 8, 9)]
    errors = result.output_for_node(OP, "errors").set_index("input")
    assert errors["error_label"].to_dict() == {url(2): "NO_RESULT", url(4): "LK_BAD_COOKIE"}
    assert errors["error_ref"].str.startswith("ERR-").all()
    assert sim.credits_used == 8

    md = output_metadata(instance, result.run_id, "errors")
    assert md["captaindata/errors"] == 2 and md["dagster/row_count"] == 2
    assert md["captaindata/errors_by_label"] == {"NO_RESULT": 1, "LK_BAD_COOKIE": 1}
    assert output_metadata(instance, result.run_id, "results")["captaindata/errors"] == 2


def test_input_objects_take_aliases_and_custom_data(sim, resources):
    result = extract_profiles_job.execute_in_process(
        run_config=run_config(
            inputs=[url(1)],
            input_objects=[
                {"profile_url": url(2), "custom_data": {"crm_id": 42, "owner": None}},
                {"linkedin_profile_url": url(1)},  # the same input as a string: one call
            ],
        ),
        resources=resources(sim),
    )
    assert result.success
    frame = result.output_for_node(OP, "results")
    assert list(frame["linkedin_profile_url"]) == [url(1), url(2)]
    assert sim.credits_used == 2
    sent = {r.input["linkedin_profile_url"]: r.input for r in sim.calls(PROFILE)}
    assert sent[url(2)].get("custom_data") == {"crm_id": 42, "owner": None}


# ---------------------------------------------------------------- failures


def test_wrong_key_fails_the_step_with_labels_and_without_the_key(sim, resources, instance):
    result = extract_profiles_job.execute_in_process(
        run_config=run_config(inputs=[url(1), url(2)]),
        resources=resources(sim, api_key=WRONG_KEY),
        instance=instance,
        raise_on_error=False,
    )
    assert result.success is False
    md, description = failure_of(result)
    assert md["error_label"] == "UNAUTHORIZED" and md["status_code"] == 401
    assert md["error_scope"] == "config" and md["error_ref"].startswith("ERR-")
    assert "STEP_UP_FOR_RETRY" not in event_types(result)  # a bad key is not retried
    assert sim.credits_used == 0
    logged = [r.event_log_entry for r in instance.get_records_for_run(result.run_id).records]
    texts = [str(md), description, *(str(e) for e in logged)]
    assert any(md["error_ref"] in t for t in texts[2:])  # the scan does read the event log
    assert not [t for t in texts if WRONG_KEY in t]


def test_error_rate_over_the_threshold_fails_the_step(make_sim, resources, instance):
    sim = make_sim(fail_inputs={url(1): "NO_RESULT", url(2): "NO_RESULT", url(3): "404"})
    result = extract_profiles_job.execute_in_process(
        run_config=run_config(inputs=[url(i) for i in range(4)]),
        resources=resources(sim),
        instance=instance,
        raise_on_error=False,
    )
    assert result.success is False
    md, description = failure_of(result)
    assert md["error_label"] == "NO_RESULT" and md["error_rate"] == 0.75
    assert md["errors_by_label"] == {"NO_RESULT": 2, "STATUS_404": 1}
    assert md["error_ref"].startswith("ERR-") and "3 of 4" in description
    assert "STEP_UP_FOR_RETRY" not in event_types(result)  # permanent labels: no retry
    assert event_types(result).count("STEP_OUTPUT") == 2  # both outputs handed on, then the failure
    assert sim.credits_used == 1

    # the same rate under a laxer op is data, not a failure, and the ledger answers for free
    sim.reset()
    lax = build_action_op(PROFILE, name=OP, max_error_rate=0.8)
    job = dg.GraphDefinition(name="lax", node_defs=[lax]).to_job()
    ok = job.execute_in_process(
        run_config=run_config(inputs=[url(i) for i in range(4)]), resources=resources(sim)
    )
    assert ok.success and len(ok.output_for_node(OP, "errors")) == 3
    assert sim.calls() == []


def test_bad_parameters_in_the_run_config_fail_before_any_call(sim, resources):
    result = extract_profiles_job.execute_in_process(
        run_config=run_config(inputs=[url(1)], parameters={"skils": True}),
        resources=resources(sim),
        raise_on_error=False,
    )
    assert result.success is False
    md, description = failure_of(result)
    assert md["error_label"] == "BAD_PARAMETERS" and "skils" in description
    assert "STEP_UP_FOR_RETRY" not in event_types(result)
    assert sim.requests == []


# ---------------------------------------------------------------- overrides and building


def test_run_config_overrides_the_ops_parameters_and_budget(sim, resources, instance):
    op = build_action_op(PROFILE, name="profiles", parameters={"skills": True, "sections": True})
    job = dg.GraphDefinition(name="profiles_job", node_defs=[op]).to_job()
    result = job.execute_in_process(
        run_config=run_config(
            "profiles",
            inputs=[url(i) for i in range(5)],
            parameters={"experiences": True, "sections": None},  # null removes one
            budget=2,
        ),
        resources=resources(sim),
        instance=instance,
    )
    assert result.success
    assert sim.credits_used == 2 and len(result.output_for_node("profiles", "results")) == 2
    for call in sim.calls(PROFILE):
        assert call.body["parameters"] == {"skills": True, "experiences": True}
    md = output_metadata(instance, result.run_id, "results", step="profiles")
    assert md["captaindata/budget_exhausted"] is True and md["captaindata/not_started"] == 3


def test_unknown_action_is_refused_when_the_op_is_built():
    with pytest.raises(ValidationError) as info:
        build_action_op("linkedin-extract-peeple")
    assert "linkedin-extract-peeple" in str(info.value)
    assert "linkedin-extract-people" in str(info.value)  # the close id is suggested
    assert info.value.error_label == "UNKNOWN_ACTION" and info.value.field == "action_id"


def test_bad_settings_are_refused_when_the_op_is_built():
    with pytest.raises(ValidationError) as info:
        build_action_op(PROFILE, parameters={"skils": True})
    assert info.value.error_label == "BAD_PARAMETERS" and info.value.field == "skils"
    with pytest.raises(ValidationError, match="budget"):
        build_action_op(PROFILE, budget=-1)
    with pytest.raises(ValueError, match="max_error_rate"):
        build_action_op(PROFILE, max_error_rate=1.5)


def test_op_carries_pool_retry_policy_resource_and_config():
    assert extract_profiles.name == OP
    assert extract_profiles.pool == DEFAULT_POOL
    policy = extract_profiles.retry_policy
    assert (policy.max_retries, policy.delay) == (3, 30)
    assert policy.backoff == dg.Backoff.EXPONENTIAL and policy.jitter == dg.Jitter.PLUS_MINUS
    assert extract_profiles.required_resource_keys == {"captaindata"}
    assert set(extract_profiles.outs) == {"results", "errors"}
    fields = extract_profiles.config_schema.as_field().config_type.fields
    assert set(fields) == set(ActionOpConfig.model_fields)
    assert not any(f.is_required for f in fields.values())

    custom = build_action_op(
        PROFILE, name="p2", pool=None, retry_policy=dg.RetryPolicy(max_retries=1)
    )
    assert custom.pool is None and custom.retry_policy.max_retries == 1
    assert build_action_op("googlemaps-extract-place").name == "googlemaps_extract_place"
