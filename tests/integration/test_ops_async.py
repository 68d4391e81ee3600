"""An action op in async mode: the simulator posts the runs' callbacks to a real receiver on loopback.

The op sends its run config's inputs as async runs and waits for them: the same two frames as a
live op, paid once; there is no `defer` for ops (no partition for a sensor to land).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from captaindata_dagster.api import ValidationError
from captaindata_dagster.orchestration.ops import build_action_op
from tests.helpers import async_resource, simulator_resource

PROFILE = "linkedin-extract-people"
OP = "extract_async"


def url(i: int) -> str:
    return f"https://www.linkedin.com/in/person-{i}"


def output_metadata(result: dg.ExecuteInProcessResult, output_name: str) -> dict[str, Any]:
    for event in result.all_events:
        data = event.step_output_data if event.event_type_value == "STEP_OUTPUT" else None
        if data is not None and data.output_name == output_name:
            return {k: v.value for k, v in data.metadata.items()}
    raise AssertionError(f"no output {output_name!r}")


def run_job(op: dg.OpDefinition, inputs: list[str], resource: Any, instance) -> Any:
    @dg.job(name=f"{op.name}_job")
    def job() -> None:
        op()

    return job.execute_in_process(
        run_config={"ops": {op.name: {"config": {"inputs": inputs}}}},
        resources={"captaindata": resource},
        instance=instance,
    )


def test_an_async_op_hands_on_the_same_frames_paid_once(make_sim, tmp_path, instance, receiver):
    sim = make_sim(callback_backoff_s=0.0)
    op = build_action_op(PROFILE, name=OP, mode="async")
    res = async_resource(sim, tmp_path, receiver)
    inputs = [url(1), url(2), url(1), url(3)]  # a duplicate: sent once
    result = run_job(op, inputs, res, instance)
    assert result.success
    frame = result.output_for_node(OP, "results")
    assert list(frame["linkedin_profile_url"]) == [url(1), url(2), url(3)]
    assert result.output_for_node(OP, "errors").empty
    md = output_metadata(result, "results")
    assert md["captaindata/mode"] == "async" and md["captaindata/submitted"] == 3
    assert md["captaindata/pending"] == 0
    assert set(md["captaindata/bulk_runs"].values()) == {"SUCCEEDED"}
    assert {c.path for c in sim.calls(PROFILE)} == {f"/v4/actions/{PROFILE}/run/async"}
    (submission,) = res.get_ledger().bulk_submissions(PROFILE)  # one async run for all three
    assert submission.origin is None and sim.credits_used == 3

    again = run_job(op, inputs, res, instance)  # fresh in the ledger: nothing sent, nothing paid
    assert again.success and len(again.output_for_node(OP, "results")) == 3
    assert sim.credits_used == 3


def test_an_async_op_without_a_receiver_url_fails_naming_it(make_sim, tmp_path, instance):
    sim = make_sim()
    op = build_action_op(PROFILE, name=OP, mode="async")
    with pytest.raises(dg.Failure, match="receiver_url"):
        run_job(op, [url(1)], simulator_resource(sim, tmp_path), instance)
    assert sim.credits_used == 0


def test_a_bad_mode_is_refused_when_the_op_is_built_and_defer_is_not_offered():
    with pytest.raises(ValidationError, match="mode must be 'live' or 'async', got 'bulk'"):
        build_action_op(PROFILE, name=OP, mode="bulk")
    with pytest.raises(TypeError, match="defer"):
        build_action_op(PROFILE, name=OP, mode="async", defer=True)  # type: ignore[call-arg]
