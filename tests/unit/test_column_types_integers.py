"""Which `number` fields of the vendor's spec the catalog reads as integers, and why by name."""

from __future__ import annotations

from captaindata_dagster.api.catalog import load_catalog
from captaindata_dagster.engine.column_types import results_columns
from tests.helpers import ROOT, load_script


def test_the_generator_lists_the_numbers_it_reads_as_integers():
    # The rule is by name (a count, a year, an id), printed by `make catalog` for a reviewer; the
    # spec's response schema keeps its `number`.
    gen = load_script(ROOT / "scripts/gen_catalog.py", "gen_catalog")
    catalog = gen.build_catalog(gen.DEFAULT_SPEC)
    retyped = gen.integral_numbers(catalog)
    assert "linkedin-extract-people.number_connections" in retyped
    assert "linkedin-extract-company.founded_on" in retyped
    assert not any(field.endswith(("rating", "grade", "tenure", "raised")) for field in retyped)
    company = load_catalog().get("linkedin-extract-company")
    assert company.output_types["founded_on"] == "integer"
    assert company.output_types["last_funding_raised"] == "number"
    assert company.response_schema["properties"]["founded_on"]["type"] == "number"


def test_integral_fields_are_nullable_int64_columns():
    columns = {c.name: c for c in results_columns(load_catalog().get("linkedin-extract-people"))}
    assert columns["number_connections"].pandas_dtype == "Int64"  # a gap stays NA, not 0 or NaN
    assert columns["number_connections"].type_name == "int64"
