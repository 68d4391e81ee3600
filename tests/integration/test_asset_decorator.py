"""`@captaindata_assets`: the factories' asset around a user's body, run against the simulator."""

# No `from __future__ import annotations`: Dagster reads the bodies' annotations as objects.
from datetime import timedelta

import dagster as dg
import pandas as pd
import pytest

from captaindata_dagster import CaptainDataResource, build_people_search_asset
from captaindata_dagster.api import ValidationError
from captaindata_dagster.orchestration.assets import captaindata_assets, step_for
from captaindata_dagster.orchestration.checks import ERROR_RATE
from tests.helpers import SEARCHES, simulator_resource


def test_a_search_and_an_enrichment_with_their_own_bodies(make_sim, tmp_path, instance):
    sim = make_sim(search_total=200)
    seen: dict[str, int] = {}

    @captaindata_assets(action_id="linkedin-search-people", searches=SEARCHES, max_results=10)
    def linkedin_people(context: dg.AssetExecutionContext, captaindata: CaptainDataResource):
        context.log.info("walking %s", context.partition_key)
        yield from captaindata.run(context)

    @captaindata_assets(
        action_id="linkedin-extract-people", name="profiles", upstream=linkedin_people,
        key_prefix=["li"], max_age_days=7,
    )  # fmt: skip
    def extract(context: dg.AssetExecutionContext, captaindata: CaptainDataResource, upstream):
        seen["upstream_rows"] = len(upstream)
        yield from captaindata.run(context, upstream)

    assert {k.to_user_string() for k in extract.keys} == {"li/profiles", "li/profiles_errors"}
    assert extract.partitions_def == linkedin_people.partitions_def  # the upstream's
    result = dg.materialize(
        [linkedin_people, extract],
        partition_key="paris",
        resources={"captaindata": simulator_resource(sim, tmp_path)},
        instance=instance,
    )
    assert result.success
    assert seen["upstream_rows"] == 10
    profiles = result.output_for_node("li__profiles", "results")
    people = result.output_for_node("linkedin_people", "results")
    assert set(profiles["linkedin_profile_url"]) == set(people["linkedin_profile_url"])
    assert sim.credits_used == 20
    checks = {e.check_name for e in result.get_asset_check_evaluations()}
    assert ERROR_RATE in checks
    mats = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert mats["li/profiles"]["captaindata/credits_spent"].value == 10
    assert mats["linkedin_people"]["captaindata/search_url"].value == SEARCHES["paris"]


def test_the_registry_finds_the_step_of_factories_and_decorated_assets():
    people = build_people_search_asset(searches=SEARCHES, max_results=30, max_age_hours=6)
    step = step_for(people)
    assert step is not None and step.action.id == "linkedin-search-people"
    assert step.fetch.max_results == 30 and step.fetch.max_age == timedelta(hours=6)
    assert step_for(people.with_attributes(group_names_by_key={})) is step  # Dagster's copies too

    @captaindata_assets(action_id="linkedin-extract-company", inputs=["https://x"], budget=5)
    def companies(context, captaindata: CaptainDataResource):
        yield from captaindata.run(context)

    found = step_for(companies)
    assert found is not None and found.options.budget == 5 and found.name == "companies"

    @dg.asset
    def plain():
        return 1

    assert step_for(plain) is None
    assert step_for(dg.AssetsDefinition(specs=[dg.AssetSpec("external")])) is None


def test_a_body_that_forgets_the_upstream_is_refused():
    people = build_people_search_asset(searches=SEARCHES)
    with pytest.raises(ValidationError, match="upstream"):

        @captaindata_assets(action_id="linkedin-extract-people", upstream=people)
        def profiles(context, captaindata: CaptainDataResource):
            yield from captaindata.run(context)

    with pytest.raises(ValidationError, match="no upstream"):

        @captaindata_assets(action_id="linkedin-extract-company", inputs=["https://x"])
        def companies(context, captaindata: CaptainDataResource, upstream):
            yield from captaindata.run(context, upstream)


def test_run_refuses_an_asset_it_did_not_declare_and_a_missing_upstream(sim, tmp_path, instance):
    @dg.asset
    def mine(context: dg.AssetExecutionContext, captaindata: CaptainDataResource):
        yield from captaindata.run(context)

    res = {"captaindata": simulator_resource(sim, tmp_path)}
    result = dg.materialize([mine], resources=res, instance=instance, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    user_failure = failure.step_failure_data.user_failure_data
    assert user_failure is not None and "@captaindata_assets" in str(user_failure.description)

    upstream = dg.AssetSpec("urls")

    @captaindata_assets(action_id="linkedin-extract-company", upstream=upstream)
    def companies(context, captaindata: CaptainDataResource, upstream):
        yield from captaindata.run(context)  # forgot to pass the upstream on

    @dg.asset(key="urls")
    def urls():
        return pd.DataFrame({"linkedin_company_url": ["https://www.linkedin.com/company/x"]})

    result = dg.materialize([urls, companies], resources=res, instance=instance,
                            raise_on_error=False)  # fmt: skip
    assert not result.success and sim.credits_used == 0
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error
    assert error is not None and "captaindata.run(context, upstream)" in error.message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


COMPANY = "https://www.linkedin.com/company/captaindata/"


def test_the_resource_is_the_parameter_of_any_name_and_the_preview_finds_it(
    make_sim, tmp_path, instance
):
    from captaindata_dagster.orchestration.estimate import estimate_asset

    sim = make_sim()

    @captaindata_assets(action_id="linkedin-extract-company", inputs=[COMPANY])
    def companies(context: dg.AssetExecutionContext, cd: CaptainDataResource):
        yield from cd.run(context)

    step = step_for(companies)
    assert step is not None and step.options.resource_key == "cd"  # what every reader reads
    resources = {"cd": simulator_resource(sim, tmp_path)}
    defs = dg.Definitions(assets=[companies], resources=resources)
    [before] = estimate_asset(defs, "companies", instance=instance).partitions
    assert before.estimate is not None and before.estimate.to_fetch == 1
    assert dg.materialize([companies], resources=resources, instance=instance).success
    assert sim.credits_used == 1
    [after] = estimate_asset(defs, "companies", instance=instance).partitions
    assert after.estimate is not None and after.estimate.fresh == 1  # the same ledger, read


def test_a_body_without_the_resource_or_naming_another_key_is_refused():
    with pytest.raises(ValidationError, match="CaptainDataResource"):

        @captaindata_assets(action_id="linkedin-extract-company", inputs=[COMPANY])
        def companies(context, captaindata):  # not annotated: Dagster would not bind it
            yield from captaindata.run(context)

    with pytest.raises(ValidationError, match="resource_key='captaindata'.*'cd'"):

        @captaindata_assets(
            action_id="linkedin-extract-company", inputs=[COMPANY], resource_key="captaindata"
        )
        def named(context, cd: CaptainDataResource):
            yield from cd.run(context)

    @captaindata_assets(action_id="linkedin-extract-company", inputs=[COMPANY], resource_key="cd")
    def agreeing(context, cd: CaptainDataResource):
        yield from cd.run(context)

    found = step_for(agreeing)
    assert found is not None and found.options.resource_key == "cd"
