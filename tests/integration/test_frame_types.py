"""The tables' Dagster types: dagster-pandas checks of the catalog's columns and dtypes."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from captaindata_dagster.api.catalog import load_catalog
from captaindata_dagster.engine.frames import PROFILE_URL, errors_table, results_table
from captaindata_dagster.orchestration.assets.frame_types import errors_frame_type, frame_type
from captaindata_dagster.simulator import data
from tests.spec import live_actions

COMPANY = load_catalog().get("linkedin-extract-company")
PEOPLE = load_catalog().get("linkedin-extract-people")


def _companies(n: int) -> pd.DataFrame:
    rows = pd.DataFrame(
        {
            "linkedin_company_url": [f"https://www.linkedin.com/company/c{i}" for i in range(n)],
            "followers_count": [10 * i if i % 2 else None for i in range(n)],
            "_input": [f"c{i}" for i in range(n)],
            "_input_key": [f"c{i}" for i in range(n)],
            "_fetched_at": [pd.Timestamp("2026-11-28T10:00:00Z")] * n,
            "_from_cache": [i == 0 for i in range(n)],
        }
    )
    return results_table(COMPANY, rows, {"partition_key": "p"})


def _md(check: dg.TypeCheck) -> dict:
    return {k: getattr(v, "value", getattr(v, "data", v)) for k, v in check.metadata.items()}


def test_a_table_in_its_declared_dtypes_passes_and_shows_how_filled_each_column_is():
    check = dg.check_dagster_type(frame_type("companies_frame", COMPANY), _companies(4))
    assert check.success, check.description
    md = _md(check)
    assert md["rows"] == 4
    assert md["columns"] == 1 + len(COMPANY.output_fields) + 4  # partition + fields + meta
    fill = {r.data["column"]: r.data for r in check.metadata["column fill"].value.records}
    assert fill["followers_count"] == {
        "column": "followers_count",
        "type": "int64",
        "filled": 2,
        "nulls": 2,
    }
    assert fill["_input_key"]["nulls"] == 0
    assert "founded_on" in md["empty columns"] and "linkedin_company_url" not in md["empty columns"]


def test_an_empty_partition_passes():
    assert dg.check_dagster_type(frame_type("companies_frame", COMPANY), _companies(0)).success
    errors = errors_table(pd.DataFrame(), {"partition_key": "p"})
    assert dg.check_dagster_type(errors_frame_type("companies_errors_frame"), errors).success


def test_a_column_in_another_dtype_fails_naming_it_and_every_other():
    table = _companies(3)
    table["followers_count"] = table["followers_count"].astype("float64")  # 10.0, NaN: the old bug
    table["linkedin_page_claimed"] = table["linkedin_page_claimed"].astype(object)
    check = dg.check_dagster_type(frame_type("companies_frame", COMPANY), table)
    assert not check.success
    assert check.description.startswith("companies_frame: ")
    assert '"followers_count"' in check.description and "{'Int64'}" in check.description
    assert "DTypes received: float64" in check.description
    assert (
        "Every column not in its declared dtype: followers_count is float64, expected Int64, "
        "linkedin_page_claimed is object, expected boolean." in check.description
    )
    md = _md(check)
    assert md["wrong dtypes"] == {
        "followers_count": {"expected": "Int64", "found": "float64"},
        "linkedin_page_claimed": {"expected": "boolean", "found": "object"},
    }
    assert md["missing columns"] == []


def test_a_missing_column_fails():
    table = _companies(2).drop(columns=["founded_on"])
    check = dg.check_dagster_type(frame_type("companies_frame", COMPANY), table)
    assert not check.success and "Required column founded_on" in check.description
    assert _md(check)["missing columns"] == ["founded_on"]


def test_the_key_column_must_be_filled_and_unique():
    kind = frame_type("people_frame", PEOPLE, key_column=PROFILE_URL)
    url = "https://www.linkedin.com/in/jane"
    rows = pd.DataFrame({PROFILE_URL: [url, "https://www.linkedin.com/in/john"], "_input": "s"})
    assert dg.check_dagster_type(kind, results_table(PEOPLE, rows, {})).success
    twice = results_table(PEOPLE, pd.DataFrame({PROFILE_URL: [url, url]}), {})
    check = dg.check_dagster_type(kind, twice)
    assert not check.success and "UniqueColumnConstraint" in check.description
    assert PROFILE_URL in check.description
    blank = results_table(PEOPLE, pd.DataFrame({PROFILE_URL: [url, None]}), {})
    check = dg.check_dagster_type(kind, blank)
    assert not check.success and "NonNullableColumnConstraint" in check.description


def test_the_errors_table_needs_its_label():
    kind = errors_frame_type("e_frame")
    errors = errors_table(pd.DataFrame({"action_id": ["a"], "error_label": [None]}), {})
    check = dg.check_dagster_type(kind, errors)
    assert not check.success and '"error_label"' in check.description
    good = errors_table(pd.DataFrame({"action_id": ["a"], "error_label": ["X"]}), {})
    assert dg.check_dagster_type(kind, good).success
    assert not dg.check_dagster_type(kind, [1, 2]).success  # not a frame at all


def test_the_type_describes_its_columns_without_pandas():
    kind = frame_type("people_frame", PEOPLE, key_column=PROFILE_URL)
    assert f"| `{PROFILE_URL}` | string | string | filled unique |" in kind.description
    assert "| `linkedin_profile_id` | int64 | Int64 |  |" in kind.description


@pytest.mark.parametrize("action", live_actions(), ids=lambda a: a.id)
def test_every_answer_valid_under_the_vendors_spec_fits_its_columns(action):
    # The simulator answers what the spec allows, so a table of its answers has no value coerced
    # to NA and passes the action's type: the types are the spec's, not stricter.
    answers = [
        data.make_result(
            action, seed, data.sample_input(action, n), seed if action.is_list else None
        )
        for seed in range(6)
        for n in range(2)
    ]
    rows = pd.DataFrame.from_records(
        [
            {**answer, "_input": "in", "_input_key": f"k{i}", "_from_cache": False}
            | {"_fetched_at": pd.Timestamp("2026-11-28T10:00:00Z")}
            for i, answer in enumerate(answers)
        ]
    )
    unfit: list[str] = []

    class Log:
        def warning(self, msg, *args):
            unfit.append(msg % args)

    table = results_table(action, rows, {"partition_key": "p"}, log=Log())
    assert unfit == []
    check = dg.check_dagster_type(frame_type(f"{action.id}_frame", action), table)
    assert check.success, check.description
