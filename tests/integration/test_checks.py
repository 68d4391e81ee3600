"""Asset checks: pass and fail on crafted frames, and run with every materialization."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from captaindata_dagster import build_people_search_asset
from captaindata_dagster.orchestration.checks import (
    ACCOUNTS,
    ERROR_RATE,
    REQUIRED_COLUMNS,
    UNIQUE_KEY,
    error_rate_check,
    required_columns_check,
    unique_key_check,
)
from tests.helpers import simulator_resource


def errors_frame(labels):
    return pd.DataFrame({"error_label": labels, "input": [f"i{n}" for n in range(len(labels))]})


def test_error_rate_passes_under_the_warn_threshold():
    result = error_rate_check(errors_frame(["LK_BAD_COOKIE"]), 100)
    assert result.passed and result.metadata["error_rate"].value == 0.01
    assert result.metadata["errors_by_label"].value == {"LK_BAD_COOKIE": 1}


def test_error_rate_warns_then_errors_and_names_the_labels():
    warn = error_rate_check(errors_frame(["STATUS_429"] * 6 + ["LK_BAD_COOKIE"] * 4), 100)
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
    assert warn.metadata["errors_by_label"].value == {"LK_BAD_COOKIE": 4, "STATUS_429": 6}
    assert warn.metadata["error_rate_by_label"].value == {"LK_BAD_COOKIE": 0.04, "STATUS_429": 0.06}
    assert "STATUS_429" in warn.description
    # what a person does, from the one table of label meaning: a 429 needs no one
    what_to_do = warn.metadata["what_to_do"].value
    assert list(what_to_do) == ["LK_BAD_COOKIE"] and "reconnect" in what_to_do["LK_BAD_COOKIE"]
    error = error_rate_check(errors_frame(["LK_BAD_COOKIE"] * 30), 100)
    assert not error.passed and error.severity == dg.AssetCheckSeverity.ERROR
    assert "LK_BAD_COOKIE=30" in error.metadata["labels"].value
    empty = error_rate_check(errors_frame([]), 0)
    assert empty.passed and empty.metadata["error_rate"].value == 0


def test_required_columns_and_unique_keys():
    good = pd.DataFrame({"_input": ["a", "b"], "linkedin_profile_url": ["u1", "u2"]})
    assert required_columns_check(good, ["_input", "linkedin_profile_url"]).passed
    nulls = good.assign(linkedin_profile_url=["u1", None])
    bad = required_columns_check(nulls, ["_input", "linkedin_profile_url", "headline"])
    assert not bad.passed
    assert bad.metadata["missing_columns"].value == ["headline"]
    assert bad.metadata["null_counts"].value == {"_input": 0, "linkedin_profile_url": 1}
    assert unique_key_check(good, "linkedin_profile_url").passed
    dup = unique_key_check(good.assign(linkedin_profile_url=["u1", "u1"]), "linkedin_profile_url")
    assert not dup.passed and dup.metadata["sample"].value == ["u1"]
    assert not unique_key_check(good, "nope").passed


def test_checks_run_with_every_materialization(make_sim, tmp_path):
    sim = make_sim(search_total=50)
    people = build_people_search_asset(
        searches={"paris": "https://www.linkedin.com/search/results/people/?keywords=x"},
        max_results=10,
    )
    res = simulator_resource(sim, tmp_path)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [people], partition_key="paris", resources={"captaindata": res}, instance=instance
        )
        assert result.success
        evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert set(evaluations) == {ERROR_RATE, REQUIRED_COLUMNS, UNIQUE_KEY, ACCOUNTS}
        assert all(e.passed for e in evaluations.values())
        assert evaluations[UNIQUE_KEY].metadata["column"].value == "linkedin_profile_url"
