"""`CaptainDataMetadataSet`: the key strings users read, and typed values back from an event."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pandas as pd

from captaindata_dagster.engine.batch.run import BatchStats
from captaindata_dagster.orchestration import metadata_set
from captaindata_dagster.orchestration.metadata import errors_output_metadata, stats_metadata
from captaindata_dagster.orchestration.metadata_set import (
    CaptainDataMetadataSet,
    json_data,
    row_count_metadata,
)

PACKAGE = Path(__file__).resolve().parents[2] / "captaindata_dagster"

# The UI, asset checks and users' queries read these: renaming a field must fail here.
KEYS = {
    "captaindata/action_id",
    "captaindata/role",
    "captaindata/search_url",
    "captaindata/credits_spent",
    "captaindata/credits_at_risk",
    "captaindata/estimated_credits",
    "captaindata/calls",
    "captaindata/retries",
    "captaindata/rate_limited_429",
    "captaindata/inputs",
    "captaindata/skipped_fresh",
    "captaindata/duplicates_dropped",
    "captaindata/errors",
    "captaindata/errors_by_label",
    "captaindata/new_errors",
    "captaindata/budget_exhausted",
    "captaindata/not_started",
    "captaindata/latency_p50_s",
    "captaindata/latency_p95_s",
    "captaindata/retired_users",
    "captaindata/campaign",
    "captaindata/dry_run",
    "captaindata/profiles",
    "captaindata/sent",
    "captaindata/already_sent",
    "captaindata/over_cap",
    "captaindata/would_send",
    "captaindata/needs_review",
    "captaindata/new_unsettled",
    "captaindata/daily_cap_per_account",
    "captaindata/cap_used_by_account",
    "captaindata/skipped_by_reason",
    "captaindata/needs_review_profiles",
    "captaindata/how_to_resolve",
}


def full_set() -> CaptainDataMetadataSet:
    """Every field set, each to a value of its type."""
    return CaptainDataMetadataSet(
        action_id="linkedin-extract-people",
        role="results",
        search_url="https://www.linkedin.com/search/results/people/?keywords=cto",
        credits_spent=12.0,
        credits_at_risk=1.0,
        estimated_credits=20.0,
        calls=13,
        retries=2,
        rate_limited_429=1,
        inputs=20,
        skipped_fresh=7,
        duplicates_dropped=3,
        errors=1,
        errors_by_label=dg.MetadataValue.json({"NO_RESULT": 1}),
        new_errors=dg.MetadataValue.json({"NO_RESULT": {"count": 1}}),
        budget_exhausted=False,
        not_started=0,
        latency_p50_s=0.25,
        latency_p95_s=1.5,
        retired_users=dg.MetadataValue.json(["u1"]),
        campaign="spring",
        dry_run=True,
        profiles=5,
        sent=0,
        already_sent=1,
        over_cap=0,
        would_send=4,
        needs_review=0,
        new_unsettled=0,
        daily_cap_per_account=20,
        cap_used_by_account=dg.MetadataValue.json({"u1": 4}),
        skipped_by_reason=dg.MetadataValue.json({"already_sent": 1}),
        needs_review_profiles=dg.MetadataValue.json([]),
        how_to_resolve=dg.MetadataValue.md("Check the account."),
    )


def test_every_field_writes_its_documented_key():
    assert set(dict(full_set())) == KEYS


def test_none_fields_are_not_written():
    assert dict(CaptainDataMetadataSet(calls=0)) == {"captaindata/calls": 0}


def test_round_trip_through_a_recorded_event_gives_typed_values():
    written = full_set()
    # Dagster wraps each value in a MetadataValue when it records the event; extract unwraps.
    recorded = dg.AssetMaterialization("t", metadata={**written, "dagster/row_count": 3}).metadata
    assert isinstance(recorded["captaindata/calls"], dg.IntMetadataValue)
    read = CaptainDataMetadataSet.extract(recorded)
    assert read == written
    assert read.calls == 13 and isinstance(read.calls, int)
    assert read.credits_spent == 12.0 and read.budget_exhausted is False
    assert json_data(read.errors_by_label) == {"NO_RESULT": 1}
    assert json_data(read.retired_users) == ["u1"]


def test_extract_ignores_other_namespaces_and_unknown_keys():
    read = CaptainDataMetadataSet.extract(
        {
            "dagster/row_count": 3,
            "captaindata/not_a_field": 1,
            "mine/calls": 9,
            "partition_expr": "x",
        }
    )
    assert read == CaptainDataMetadataSet()
    assert json_data(read.new_errors) is None


def test_a_search_url_recorded_as_a_link_reads_as_text():
    url = "https://www.linkedin.com/search/results/people/?keywords=cto"
    read = CaptainDataMetadataSet.extract({"captaindata/search_url": dg.MetadataValue.url(url)})
    assert read.search_url == url


def test_a_whole_number_recorded_for_a_float_field_reads_as_a_float():
    read = CaptainDataMetadataSet.extract({"captaindata/credits_spent": dg.MetadataValue.int(3)})
    assert read.credits_spent == 3.0 and isinstance(read.credits_spent, float)


def test_tag_keys_are_unchanged():
    assert metadata_set.ACTION_ID_TAG == "captaindata/action_id"
    assert metadata_set.CAMPAIGN_TAG == "captaindata/campaign"
    assert metadata_set.ACCOUNTS_TAG == "captaindata/accounts"
    assert metadata_set.SURFACED_TAG == "captaindata/surfaced"
    assert metadata_set.RERUN_TAG == "captaindata/rerun_labels"
    assert metadata_set.RERUN_OF_TAG == "captaindata/rerun_of"
    assert metadata_set.ESTIMATE_TAG == "captaindata/estimate"


def test_row_count_key_follows_partitioning():
    assert row_count_metadata(4) == {"dagster/row_count": 4}
    assert row_count_metadata(4, partitioned=True) == {"dagster/partition_row_count": 4}


def batch_stats(**kw) -> BatchStats:
    base = dict(action_id="linkedin-extract-people", unique_inputs=5, calls=5, credits=5.0)
    return BatchStats(**{**base, **kw})


def test_stats_metadata_of_a_partition_writes_the_partition_row_count():
    md = stats_metadata(batch_stats(), 5, partitioned=True)
    assert md["dagster/partition_row_count"] == 5 and "dagster/row_count" not in md
    whole = stats_metadata(batch_stats(), 5)
    assert whole["dagster/row_count"] == 5 and "dagster/partition_row_count" not in whole
    read = CaptainDataMetadataSet.extract(md)
    assert read.inputs == 5 and read.credits_spent == 5.0 and read.errors == 0


def test_estimated_credits_is_written_only_when_known():
    assert (
        CaptainDataMetadataSet.extract(stats_metadata(batch_stats(), 5)).estimated_credits is None
    )
    assert "captaindata/estimated_credits" not in stats_metadata(batch_stats(), 5)
    md = stats_metadata(batch_stats(estimated_credits=7.5), 5)
    assert CaptainDataMetadataSet.extract(md).estimated_credits == 7.5


def test_latencies_and_retired_users_only_when_there_are_some():
    md = stats_metadata(batch_stats(latency_p50_s=0.123456, retired_users=["u9"]), 5)
    read = CaptainDataMetadataSet.extract(md)
    assert read.latency_p50_s == 0.1235 and read.latency_p95_s is None
    assert json_data(read.retired_users) == ["u9"]
    assert "captaindata/retired_users" not in stats_metadata(batch_stats(), 5)


def test_errors_output_metadata_of_a_partition():
    errors = pd.DataFrame(
        {
            "input": ["a"],
            "error_label": ["NO_RESULT"],
            "error_scope": ["input"],
            "error_ref": ["r1"],
            "status_code": [404],
            "at": [pd.Timestamp("2024-01-01", tz="UTC")],
            "from_cache": [False],
        }
    )
    stats = batch_stats(errors=1, errors_by_label={"NO_RESULT": 1})
    md = errors_output_metadata(stats, errors, partitioned=True)
    assert md["dagster/partition_row_count"] == 1 and "dagster/row_count" not in md
    read = CaptainDataMetadataSet.extract(md)
    assert json_data(read.errors_by_label) == {"NO_RESULT": 1}
    assert json_data(read.new_errors)["NO_RESULT"]["count"] == 1
    assert errors_output_metadata(stats, errors)["dagster/row_count"] == 1


def _literal_keys_outside_the_set() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "metadata_set.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"[\"']captaindata/", line):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    return found


def test_no_key_literal_outside_the_set():
    """Every `captaindata/...` key of the package is spelt once, in metadata_set.py."""
    assert _literal_keys_outside_the_set() == []
