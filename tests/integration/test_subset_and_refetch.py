"""One table of a step's pair selected alone, and fetching again past the ledger (the refetch tag).

A newcomer's two walls: `--assets key:linkedin_people` refused with a 40-line subset error, and a
search that failed with NO_RESULT failing again on every re-run, answered from the ledger.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from captaindata_dagster import (
    CaptainDataResource,
    build_action_asset,
    build_captaindata_error_sensor,
    build_people_search_asset,
)
from captaindata_dagster.orchestration.metadata_set import REFETCH_TAG
from captaindata_dagster.orchestration.ops import extract_profiles_job
from captaindata_dagster.orchestration.refetch import max_age_after_refetch
from tests.helpers import SEARCHES, simulator_resource

PEOPLE, PEOPLE_ERRORS = dg.AssetKey("linkedin_people"), dg.AssetKey("linkedin_people_errors")


def landed(result: dg.ExecuteInProcessResult) -> set[str]:
    return {
        e.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }


def test_the_results_table_alone_lands_and_its_errors_table_later_costs_nothing(
    make_sim, tmp_path, instance
):
    sim = make_sim(search_total=40)
    people = build_people_search_asset(searches=SEARCHES, max_results=10)
    res = {"captaindata": simulator_resource(sim, tmp_path)}
    assert people.can_subset

    alone = dg.materialize(
        [people], selection=[PEOPLE], partition_key="paris", resources=res, instance=instance
    )
    assert alone.success and landed(alone) == {"linkedin_people"}
    assert len(alone.output_for_node("linkedin_people", "results")) == 10
    paid = sim.credits_used
    assert paid == 10
    warnings = [
        e.message
        for e in instance.all_logs(alone.run_id)
        if e.level == 30 and "linkedin_people_errors is not selected" in e.message
    ]
    assert len(warnings) == 1 and "the ledger keeps them" in warnings[0]

    errors_only = dg.materialize(
        [people], selection=[PEOPLE_ERRORS], partition_key="paris", resources=res,
        instance=instance,
    )  # fmt: skip
    assert errors_only.success and landed(errors_only) == {"linkedin_people_errors"}
    assert sim.credits_used == paid  # the ledger answered: nothing paid twice


def test_a_search_refused_with_no_result_is_fetched_again_with_the_refetch_tag(
    make_sim, tmp_path, instance
):
    paris = SEARCHES["paris"]
    sim = make_sim(search_total=40, fail_inputs={paris: "NO_RESULT"})
    people = build_people_search_asset(searches=SEARCHES, max_results=10)
    res = {"captaindata": simulator_resource(sim, tmp_path)}

    def run(tags=None):
        return dg.materialize(
            [people], partition_key="paris", resources=res, instance=instance,
            raise_on_error=False, tags=tags,
        )  # fmt: skip

    first = run()
    assert not first.success  # 1 of 1 failed: the blocking error-rate check ends the step
    [check] = [
        c for c in first.get_asset_check_evaluations() if c.check_name == "captaindata_error_rate"
    ]
    assert f"the run tag {REFETCH_TAG}=errors fetches them again" in check.description
    calls = len(sim.calls())
    sim.set_fail_inputs({})  # the cause is fixed (the URL corrected, the search now finds people)

    again = run()
    assert not again.success and len(sim.calls()) == calls  # the ledger answers with its error

    refetched = run({REFETCH_TAG: "errors"})
    assert refetched.success
    assert len(refetched.output_for_node("linkedin_people", "results")) == 10
    assert len(sim.calls()) > calls

    # what succeeded is served free again; `all` pays for everything once more
    paid = sim.credits_used
    assert run({REFETCH_TAG: "errors"}).success and sim.credits_used == paid
    assert run({REFETCH_TAG: "all"}).success and sim.credits_used == paid + 10


def test_the_failure_names_the_refetch_tag(make_sim, tmp_path, instance):
    sim = make_sim(fail_inputs={SEARCHES["paris"]: "NO_RESULT"})
    people = build_people_search_asset(searches=SEARCHES, checks=False)
    res = {"captaindata": simulator_resource(sim, tmp_path)}
    result = dg.materialize(
        [people], partition_key="paris", resources=res, instance=instance, raise_on_error=False
    )
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert f"{REFETCH_TAG}=errors" in failure.step_failure_data.user_failure_data.description


@pytest.mark.parametrize("value", ["yes", ""])
def test_a_refetch_tag_not_understood_fails_before_any_call(make_sim, tmp_path, instance, value):
    sim = make_sim()
    people = build_people_search_asset(searches=SEARCHES)
    res = {"captaindata": simulator_resource(sim, tmp_path)}
    result = dg.materialize(
        [people], partition_key="paris", resources=res, instance=instance,
        raise_on_error=False, tags={REFETCH_TAG: value},
    )  # fmt: skip
    assert not result.success and sim.calls() == []
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    description = failure.step_failure_data.user_failure_data.description
    assert f"{REFETCH_TAG}=errors" in description and f"{REFETCH_TAG}=all" in description


def test_an_op_fetches_its_errors_again_with_the_refetch_tag(make_sim, tmp_path, instance):
    urls = [f"https://www.linkedin.com/in/refetch-{i}" for i in range(3)]
    sim = make_sim(fail_inputs={urls[0]: "NO_RESULT"})
    res = {"captaindata": simulator_resource(sim, tmp_path)}
    config = {"ops": {"extract_profiles": {"config": {"inputs": urls}}}}

    def run(tags=None):
        return extract_profiles_job.execute_in_process(
            run_config=config, resources=res, instance=instance, tags=tags, raise_on_error=False
        )

    first = run()
    assert len(first.output_for_node("extract_profiles", "errors")) == 1
    sim.set_fail_inputs({})
    paid = sim.credits_used
    assert len(run().output_for_node("extract_profiles", "errors")) == 1  # the ledger's answer
    refetched = run({REFETCH_TAG: "errors"})
    assert refetched.output_for_node("extract_profiles", "errors").empty
    assert len(refetched.output_for_node("extract_profiles", "results")) == 3
    assert sim.credits_used == paid + 1  # only the input that had failed


def test_a_run_of_the_results_alone_still_tells_the_error_sensor(make_sim, tmp_path, instance):
    urls = [f"https://www.linkedin.com/in/subset-{i}" for i in range(4)]
    sim = make_sim(fail_inputs={urls[0]: "NO_RESULT"})
    profiles = build_action_asset(
        "linkedin-extract-people", name="profiles", inputs=urls, max_error_rate=0.5
    )
    res = {"captaindata": simulator_resource(sim, tmp_path)}
    result = dg.materialize(
        [profiles], selection=[dg.AssetKey("profiles")], resources=res, instance=instance
    )
    assert result.success and landed(result) == {"profiles"}
    tick = build_captaindata_error_sensor(assets=[profiles])(
        dg.build_sensor_context(instance=instance)
    )
    [obs] = tick.asset_events
    assert obs.asset_key == dg.AssetKey("profiles")
    assert (obs.metadata["error_label"].value, obs.metadata["count"].value) == ("NO_RESULT", 1)


def test_the_errors_table_alone_over_the_threshold_fails_the_step(make_sim, tmp_path, instance):
    urls = [f"https://www.linkedin.com/in/subset-{i}" for i in range(4)]
    sim = make_sim(fail_inputs={u: "NO_RESULT" for u in urls[:3]})
    profiles = build_action_asset("linkedin-extract-people", name="profiles", inputs=urls)
    res = {"captaindata": simulator_resource(sim, tmp_path)}
    result = dg.materialize(
        [profiles], selection=[dg.AssetKey("profiles_errors")], resources=res,
        instance=instance, raise_on_error=False,
    )  # fmt: skip
    # the blocking error-rate check is the results table's: not selected, so the step raises
    assert not result.success and landed(result) == {"profiles_errors"}
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "3 of 4 inputs failed" in failure.step_failure_data.user_failure_data.description


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str) -> None:
        self.lines.append(msg)

    warning = info


def test_a_steps_retry_does_not_fetch_again(tmp_path):
    # the first attempt applied the tag; a retry (RetryPolicy) must not pay once more
    res = CaptainDataResource(ledger_path=str(tmp_path / "never-opened.sqlite"))
    log = Log()
    age = max_age_after_refetch(
        {REFETCH_TAG: "all"}, res, "linkedin-extract-people", ["https://www.linkedin.com/in/a"],
        parameters=None, max_results=None, max_age=timedelta(days=3), log=log, retry_number=1,
    )  # fmt: skip
    assert age == timedelta(days=3) and "first attempt only" in log.lines[0]
    assert not (tmp_path / "never-opened.sqlite").exists()
    first = max_age_after_refetch(
        {REFETCH_TAG: "all"}, res, "linkedin-extract-people", [], parameters=None,
        max_results=None, max_age=timedelta(days=3), log=log,
    )  # fmt: skip
    assert first == timedelta(0)


def test_refetch_all_on_a_deferred_async_step_is_refused_before_any_call(
    make_sim, tmp_path, instance
):
    sim = make_sim()
    profiles = build_action_asset(
        "linkedin-extract-people", name="profiles", inputs=["https://www.linkedin.com/in/a"],
        mode="async", defer=True,
    )  # fmt: skip
    res = {"captaindata": simulator_resource(sim, tmp_path)}
    result = dg.materialize(
        [profiles], resources=res, instance=instance, raise_on_error=False,
        tags={REFETCH_TAG: "all"},
    )  # fmt: skip
    assert not result.success and sim.calls() == []
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "not supported on a deferred async step" in (
        failure.step_failure_data.user_failure_data.description
    )
