"""The translator: the specs every factory builds from it, and a user's subclass changing them."""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg
import pytest

from captaindata_dagster import (
    build_action_asset,
    build_captaindata_error_sensor,
    build_people_search_asset,
    build_profile_extraction_asset,
)
from captaindata_dagster.api.request_body import resolve_action
from captaindata_dagster.orchestration.assets.options import AssetOptions
from captaindata_dagster.orchestration.assets.registry import step_for
from captaindata_dagster.orchestration.metadata_set import CaptainDataMetadataSet
from captaindata_dagster.orchestration.translator import (
    CaptainDataAssetProps,
    DagsterCaptainDataTranslator,
    action_code_version,
)
from tests.helpers import SEARCHES, simulator_resource

PROFILES = resolve_action("linkedin-extract-people")


class TeamTranslator(DagsterCaptainDataTranslator):
    """What a team writes: its own keys, group, owners, tags and descriptions."""

    def get_asset_spec(self, props: CaptainDataAssetProps) -> dg.AssetSpec:
        spec = super().get_asset_spec(props)
        return spec.replace_attributes(
            key=dg.AssetKey(["crm", f"team_{props.table_name}"]),
            group_name="growth",
            owners=["team:growth"],
            tags={"domain": "sales"},
            description=f"{props.table} of {props.action.id}, owned by growth",
        )


def specs_by_role(assets_def: dg.AssetsDefinition) -> dict[str, dg.AssetSpec]:
    return {str(CaptainDataMetadataSet.extract(s.metadata).role): s for s in assets_def.specs}


def test_the_default_specs_carry_schema_kinds_version_freshness_and_automation():
    eager = dg.AutomationCondition.eager()
    people = build_people_search_asset(searches=SEARCHES, max_age_hours=12)
    profiles = build_profile_extraction_asset(
        upstream=people, storage_kind="duckdb", automation_condition=eager, key_prefix=["li"]
    )
    specs = specs_by_role(profiles)
    results, errors = specs["results"], specs["errors"]
    assert results.key == dg.AssetKey(["li", "linkedin_profiles"])
    assert errors.key == dg.AssetKey(["li", "linkedin_profiles_errors"])
    assert results.group_name == errors.group_name == "captaindata"
    assert results.kinds == {"captaindata", "pandas", "duckdb"}
    assert [d.asset_key for d in results.deps] == [dg.AssetKey("linkedin_people")]
    assert results.automation_condition == eager and errors.automation_condition == eager
    md = CaptainDataMetadataSet.extract(results.metadata)
    assert (md.role, md.action_id) == ("results", "linkedin-extract-people")
    assert results.metadata["partition_expr"] == "partition_key"
    columns = {c.name: c.type for c in results.metadata["dagster/column_schema"].columns}
    assert columns["partition_key"] == "string"  # the partition's column comes first
    assert list(columns)[0] == "partition_key"
    assert columns["linkedin_profile_id"] == "int64" and columns["_fetched_at"] == "timestamp"
    error_columns = {c.name for c in errors.metadata["dagster/column_schema"].columns}
    assert {"error_label", "error_ref", "status_code"} <= error_columns
    # the ledger's 30-day window, as Dagster's freshness policy (WARN past it, FAIL a day
    # later: a daily run missed), on the results only
    assert results.freshness_policy == dg.FreshnessPolicy.time_window(
        warn_window=timedelta(days=30), fail_window=timedelta(days=31)
    )
    assert errors.freshness_policy is None
    assert results.code_version == action_code_version(PROFILES, {})
    search = specs_by_role(people)["results"]
    assert search.freshness_policy == dg.FreshnessPolicy.time_window(
        warn_window=timedelta(hours=12), fail_window=timedelta(hours=36)
    )


def test_the_code_version_follows_the_action_and_its_parameters():
    base = action_code_version(PROFILES, {"skills": True, "experiences": False})
    assert base == action_code_version(PROFILES, {"experiences": False, "skills": True})
    assert base != action_code_version(PROFILES, {"skills": False, "experiences": False})
    assert base != action_code_version(resolve_action("linkedin-extract-company"), {})
    # a search capped at 100 people holds other rows than one capped at 1,000
    few = build_people_search_asset(searches=SEARCHES, max_results=100)
    many = build_people_search_asset(searches=SEARCHES, max_results=1000)
    assert specs_by_role(few)["results"].code_version != specs_by_role(many)["results"].code_version
    with_params = build_profile_extraction_asset(upstream="people", parameters={"skills": True})
    assert specs_by_role(with_params)["results"].code_version == action_code_version(
        PROFILES, {"skills": True}
    )
    # no window: never stale, no freshness policy; nor one shorter than Dagster's minute
    never = build_action_asset(
        "linkedin-extract-company", name="c", inputs=["x"], max_age_days=None
    )
    assert specs_by_role(never)["results"].freshness_policy is None
    now = build_action_asset("linkedin-extract-company", name="d", inputs=["x"], max_age_days=0)
    assert specs_by_role(now)["results"].freshness_policy is None


def test_a_subclass_changes_keys_groups_owners_tags_and_descriptions():
    people = build_people_search_asset(searches=SEARCHES, translator=TeamTranslator())
    specs = specs_by_role(people)
    results = specs["results"]
    assert results.key == dg.AssetKey(["crm", "team_linkedin_people"])
    assert specs["errors"].key == dg.AssetKey(["crm", "team_linkedin_people_errors"])
    assert results.group_name == "growth" and results.owners == ["team:growth"]
    assert results.tags["domain"] == "sales"
    assert results.description == "results of linkedin-search-people, owned by growth"
    # a downstream factory finds the results table by its role, whatever its key
    profiles = build_profile_extraction_asset(upstream=people)
    [dep] = specs_by_role(profiles)["results"].deps
    assert dep.asset_key == dg.AssetKey(["crm", "team_linkedin_people"])
    assert people.check_specs_by_output_name  # the checks follow the translated key
    assert {c.asset_key for c in people.check_specs} == {results.key}


def test_props_name_the_table_and_the_translator_is_optional():
    props = CaptainDataAssetProps(
        name="people", table="errors", action=PROFILES, parameters={}, max_results=None,
        upstream_key=None,
        partitions_def=None, max_age=None, key_prefix=(), group_name=None, description=None,
        storage_kind=None, automation_condition=None,
    )  # fmt: skip
    assert props.table_name == "people_errors"
    spec = DagsterCaptainDataTranslator().get_asset_spec(props)
    assert spec.key == dg.AssetKey("people_errors") and "partition_expr" not in spec.metadata
    assert isinstance(AssetOptions().spec_translator, DagsterCaptainDataTranslator)


@pytest.fixture
def translated():
    no_retry = dg.RetryPolicy(max_retries=0)
    people = build_people_search_asset(
        searches=SEARCHES, max_results=20, retry_policy=no_retry, translator=TeamTranslator()
    )
    profiles = build_profile_extraction_asset(
        upstream=people, max_error_rate=0.9, retry_policy=no_retry, translator=TeamTranslator()
    )
    return people, profiles


def test_translated_keys_materialize_and_the_error_sensor_finds_them(
    make_sim, tmp_path, instance, translated
):
    sim = make_sim(search_total=200)
    people, profiles = translated
    res = {"captaindata": simulator_resource(sim, tmp_path, max_retries=0)}
    first = dg.materialize([people], partition_key="paris", resources=res, instance=instance)
    urls = list(first.output_for_node("linkedin_people", "results")["linkedin_profile_url"])
    sim.set_fail_inputs({urls[0]: "LK_BAD_COOKIE", urls[1]: "STATUS_429"})
    result = dg.materialize(
        [people, profiles], partition_key="paris", resources=res, instance=instance
    )
    assert result.success
    landed = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "crm/team_linkedin_profiles_errors" in landed

    sensor = build_captaindata_error_sensor(assets=[people, profiles])
    tick = sensor(dg.build_sensor_context(instance=instance))
    seen = {
        (o.asset_key.to_user_string(), o.metadata["error_label"].value) for o in tick.asset_events
    }
    assert seen == {
        ("crm/team_linkedin_profiles", "LK_BAD_COOKIE"),
        ("crm/team_linkedin_profiles", "STATUS_429"),
    }
    assert tick.run_requests == []  # a person must act too: the re-run goes out next tick
    later = sensor(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
    [rerun] = later.run_requests
    assert {k.to_user_string() for k in rerun.asset_selection} == {
        "crm/team_linkedin_profiles",
        "crm/team_linkedin_profiles_errors",
    }
    assert json.loads(tick.cursor)["after"] > 0


class LineageTranslator(DagsterCaptainDataTranslator):
    """Adds a dep on a CRM export the searches were chosen from."""

    def get_asset_spec(self, props: CaptainDataAssetProps) -> dg.AssetSpec:
        spec = super().get_asset_spec(props)
        return spec.merge_attributes(deps=[dg.AssetKey(["crm", "accounts"])])


def test_a_dep_a_translator_adds_is_kept_beside_the_upstream():
    people = build_people_search_asset(searches=SEARCHES, translator=LineageTranslator())
    profiles = build_profile_extraction_asset(upstream=people, translator=LineageTranslator())
    crm = dg.AssetKey(["crm", "accounts"])
    assert {d.asset_key for d in specs_by_role(people)["results"].deps} == {crm}
    deps = {d.asset_key for d in specs_by_role(profiles)["results"].deps}
    assert deps == {crm, dg.AssetKey("linkedin_people")}
    # the step still reads its upstream table as its input
    assert step_for(profiles).upstream_key == dg.AssetKey("linkedin_people")
