"""Automation the 1.13 way: a factory's condition and backfill policy, evaluated by Dagster."""

from __future__ import annotations

import dagster as dg
import pytest

from captaindata_dagster import (
    CaptainDataResource,
    build_people_search_asset,
    build_profile_extraction_asset,
)
from captaindata_dagster.api.errors import ValidationError
from tests.helpers import SEARCHES

PEOPLE = dg.AssetKey("linkedin_people")
PEOPLE_ERRORS = dg.AssetKey("linkedin_people_errors")


def defs(*assets):
    """The assets with their resource bound, as a code location has them (no call is made)."""
    return dg.Definitions(assets=list(assets), resources={"captaindata": CaptainDataResource()})


def test_a_condition_is_on_the_results_and_requests_the_pair(instance):
    missing = dg.AutomationCondition.missing()
    people = build_people_search_asset(searches=SEARCHES, automation_condition=missing)
    # the pair can be subset (one table selected alone), so both tables carry the condition
    assert people.automation_conditions_by_key == {PEOPLE: missing, PEOPLE_ERRORS: missing}
    assert people.can_subset

    result = dg.evaluate_automation_conditions(defs=defs(people), instance=instance)
    assert result.get_requested_partitions(PEOPLE) == set(SEARCHES)
    # the errors table comes with its results table
    assert result.get_requested_partitions(PEOPLE_ERRORS) == set(SEARCHES)

    # once a partition is there, `missing` asks only for the other one
    instance.report_runless_asset_event(dg.AssetMaterialization(PEOPLE, partition="paris"))
    instance.report_runless_asset_event(dg.AssetMaterialization(PEOPLE_ERRORS, partition="paris"))
    later = dg.evaluate_automation_conditions(defs=defs(people), instance=instance)
    assert later.get_requested_partitions(PEOPLE) == {"berlin"}
    assert later.get_requested_partitions(PEOPLE_ERRORS) == {"berlin"}


def test_an_eager_enrichment_follows_its_upstream(instance):
    people = build_people_search_asset(searches=SEARCHES)
    profiles = build_profile_extraction_asset(
        upstream=people, automation_condition=dg.AutomationCondition.eager()
    )
    first = dg.evaluate_automation_conditions(defs=defs(people, profiles), instance=instance)
    assert first.total_requested == 0  # nothing upstream yet
    instance.report_runless_asset_event(dg.AssetMaterialization(PEOPLE, partition="paris"))
    second = dg.evaluate_automation_conditions(
        defs=defs(people, profiles), instance=instance, cursor=first.cursor
    )
    profiles_key = dg.AssetKey("linkedin_profiles")
    assert second.get_requested_partitions(profiles_key) == {"paris"}
    assert second.get_requested_partitions(dg.AssetKey("linkedin_profiles_errors")) == {"paris"}


def test_a_backfill_policy_reaches_the_asset_and_a_range_run_is_refused_at_load():
    policy = dg.BackfillPolicy.multi_run(1)
    people = build_people_search_asset(searches=SEARCHES, backfill_policy=policy)
    assert people.backfill_policy == policy
    # one run over many partitions would give the step no partition key to walk
    with pytest.raises(ValidationError, match="one partition at a time") as caught:
        build_people_search_asset(searches=SEARCHES, backfill_policy=dg.BackfillPolicy.single_run())
    assert caught.value.field == "backfill_policy"
