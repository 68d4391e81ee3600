"""Each column's type, from the catalog: what a schema shows and which nullable pandas dtype holds it."""

from __future__ import annotations

import json

from captaindata_dagster.api.catalog import load_catalog
from captaindata_dagster.engine.column_types import (
    META_COLUMNS,
    ColumnType,
    column_type,
    errors_columns,
    results_columns,
)
from captaindata_dagster.engine.columns import ERROR_COLUMNS
from tests.helpers import ROOT


def test_each_catalog_type_has_its_schema_name_and_nullable_dtype():
    got = {
        kind: (column_type("c", kind).type_name, column_type("c", kind).pandas_dtype)
        for kind in ("string", "integer", "number", "boolean", "array", "object", "timestamp")
    }
    assert got == {
        "string": ("string", "string"),
        "integer": ("int64", "Int64"),  # nullable: a gap does not make the column float
        "number": ("float64", "Float64"),
        "boolean": ("bool", "boolean"),
        "array": ("json", "string"),  # JSON text
        "object": ("json", "string"),
        "timestamp": ("timestamp", "datetime64[ns, UTC]"),
    }
    assert column_type("t", "timestamp").json_type == "string"  # how JSON writes a time


def test_a_type_the_catalog_may_add_is_kept_as_text_with_its_json_type():
    assert column_type("x", "null") == ColumnType("x", "null", "string", "string")


def test_every_json_type_in_the_catalog_is_one_the_table_knows():
    # The vendor's spec may say "number" where a value is integral (founded_on): the catalog reads
    # it as integer by name (gen_catalog.INTEGRAL_NAME), the table follows the catalog and never
    # guesses from values. A union or nullable form would show up here.
    raw = json.loads((ROOT / "captaindata_dagster/api/catalog.json").read_text())
    kinds = {
        kind for action in raw["actions"].values() for kind in action["output_fields"].values()
    }
    assert kinds <= {"string", "integer", "number", "boolean", "array", "object"}


def test_results_columns_are_the_actions_fields_then_the_meta_columns():
    action = load_catalog().get("linkedin-extract-company")
    columns = results_columns(action)
    assert [c.name for c in columns] == [*action.output_fields, *META_COLUMNS]
    by_name = {c.name: c for c in columns}
    assert by_name["followers_count"] == ColumnType("followers_count", "integer", "int64", "Int64")
    assert by_name["founded_on"].pandas_dtype == "Int64"  # "number" in the spec, a year
    assert by_name["last_funding_raised"].pandas_dtype == "Float64"  # "number": an amount
    assert by_name["specialties"].type_name == "json"
    assert by_name["linkedin_page_claimed"].pandas_dtype == "boolean"
    assert by_name["_fetched_at"].type_name == "timestamp"
    assert by_name["_from_cache"].pandas_dtype == "boolean"


def test_errors_columns_type_every_error_column():
    columns = errors_columns()
    assert tuple(c.name for c in columns) == ERROR_COLUMNS
    dtypes = {c.name: c.pandas_dtype for c in columns}
    assert dtypes["status_code"] == "Int64"
    assert dtypes["retryable"] == dtypes["from_cache"] == "boolean"
    assert dtypes["at"] == "datetime64[ns, UTC]"
    assert {dtypes[c] for c in ("action_id", "error_label", "message", "user_uid")} == {"string"}
