"""Row counts as Dagster reads them: a partition's rows are `dagster/partition_row_count`.

`dagster/row_count` is the whole table's size to Dagster (the asset's page shows the last one), so
a partitioned step that wrote its own rows there would show one partition as the table.
"""

from __future__ import annotations

import dagster as dg

from captaindata_dagster import build_action_asset, build_people_search_asset
from captaindata_dagster.orchestration.metadata_set import CaptainDataMetadataSet, json_data
from captaindata_dagster.orchestration.outreach.factories import build_outreach_asset
from tests.helpers import SEARCHES, simulator_resource

PROFILE = "linkedin-extract-people"


def recorded(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """Each materialized asset's metadata, as the instance recorded it."""
    return {
        e.materialization.asset_key.to_user_string(): dict(e.materialization.metadata)
        for e in result.get_asset_materialization_events()
    }


def test_a_partition_writes_its_partition_row_count_not_the_tables(make_sim, tmp_path, instance):
    sim = make_sim(search_total=8)
    people = build_people_search_asset(searches=SEARCHES, max_results=8)
    result = dg.materialize(
        [people],
        partition_key="paris",
        resources={"captaindata": simulator_resource(sim, tmp_path)},
        instance=instance,
    )
    assert result.success
    md = recorded(result)
    for table, rows in (("linkedin_people", 8), ("linkedin_people_errors", 0)):
        assert md[table]["dagster/partition_row_count"].value == rows
        assert "dagster/row_count" not in md[table]
    read = CaptainDataMetadataSet.extract(md["linkedin_people"])
    assert read.calls is not None and read.calls > 0
    assert json_data(CaptainDataMetadataSet.extract(md["linkedin_people_errors"]).new_errors) == {}


def test_an_unpartitioned_asset_writes_the_tables_row_count(sim, tmp_path, instance):
    profiles = build_action_asset(
        PROFILE,
        name="profiles",
        inputs=[f"https://www.linkedin.com/in/metadata-{i}" for i in range(3)],
    )
    result = dg.materialize(
        [profiles], resources={"captaindata": simulator_resource(sim, tmp_path)}, instance=instance
    )
    assert result.success
    md = recorded(result)["profiles"]
    assert md["dagster/row_count"].value == 3 and "dagster/partition_row_count" not in md
    assert CaptainDataMetadataSet.extract(md).inputs == 3


def test_a_partitioned_outreach_asset_writes_partition_row_counts(make_sim, tmp_path, instance):
    sim = make_sim(search_total=4)
    people = build_people_search_asset(searches=SEARCHES, max_results=4)
    connect = build_outreach_asset(
        "linkedin-connect-profile",
        name="connect_spring",
        upstream=people,
        campaign="spring",
        message="Hi",
        dry_run=True,  # nothing is sent: every profile lands in `skipped`
    )
    res = simulator_resource(sim, tmp_path, integration_users=["u1", "u2"])
    result = dg.materialize(
        [people, connect], partition_key="berlin", resources={"captaindata": res}, instance=instance
    )
    assert result.success
    md = recorded(result)
    assert md["connect_spring_skipped"]["dagster/partition_row_count"].value == 4
    for table in ("connect_spring_sent", "connect_spring_skipped", "connect_spring_errors"):
        assert "dagster/row_count" not in md[table]
    sent = CaptainDataMetadataSet.extract(md["connect_spring_sent"])
    assert sent.dry_run is True and sent.would_send == 4 and sent.campaign == "spring"
    skipped = CaptainDataMetadataSet.extract(md["connect_spring_skipped"])
    assert json_data(skipped.skipped_by_reason) == {"dry_run": 4}
