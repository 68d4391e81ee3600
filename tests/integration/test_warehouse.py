"""`DuckDBWarehouseIOManager`: the DuckDB + pandas IO manager, imported only inside a step."""

import dagster as dg
import duckdb
import pandas as pd

from captaindata_dagster.orchestration.warehouse import DuckDBWarehouseIOManager

days = dg.StaticPartitionsDefinition(["a", "b"])


@dg.asset(partitions_def=days, metadata={"partition_expr": "part"})
def scores(context: dg.AssetExecutionContext) -> pd.DataFrame:
    key = context.partition_key
    return pd.DataFrame({"part": [key, key], "score": [1, 2] if key == "a" else [10, 20]})


@dg.asset
def total(scores: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"total": [int(scores["score"].sum())]})


def test_partitions_append_and_load_back(tmp_path):
    db = str(tmp_path / "w.duckdb")
    resources = {"io_manager": DuckDBWarehouseIOManager(database=db, schema="li")}
    for key in ("a", "b"):
        assert dg.materialize([scores], partition_key=key, resources=resources).success
    # the same partition again replaces its rows instead of appending them twice
    assert dg.materialize([scores], partition_key="b", resources=resources).success
    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute(
            "select part, sum(score) from li.scores group by 1 order by 1"
        ).fetchall()
    assert rows == [("a", 3), ("b", 30)]

    result = dg.materialize([scores.to_source_asset(), total], resources=resources)
    assert result.success
    assert result.output_for_node("total")["total"].tolist() == [33]  # both partitions loaded


def test_settings_are_the_duckdb_io_managers():
    io = DuckDBWarehouseIOManager(database="x.duckdb", schema="s", connection_config={"threads": 1})
    assert (io.database, io.schema_, io.connection_config) == ("x.duckdb", "s", {"threads": 1})


def _column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {row[0]: row[1] for row in con.execute(f"describe {table}").fetchall()}


def test_tables_land_in_duckdb_in_the_catalogs_types(make_sim, tmp_path, instance):
    # A real materialization against the simulator: integer fields are BIGINT even where a
    # result lacks them (a float64 column would make them DOUBLE: 365.0), booleans BOOLEAN,
    # nested values JSON text, times TIMESTAMPTZ; the errors table the same, in every partition.
    from captaindata_dagster import (
        build_company_extraction_asset,
        build_people_search_asset,
        build_profile_extraction_asset,
    )
    from captaindata_dagster.api.catalog import load_catalog
    from captaindata_dagster.engine.column_types import errors_columns, results_columns
    from tests.helpers import SEARCHES, simulator_resource

    sim = make_sim(search_total=200)
    people = build_people_search_asset(searches=SEARCHES, max_results=20)
    profiles = build_profile_extraction_asset(upstream=people)
    companies = build_company_extraction_asset(upstream=profiles)
    db = str(tmp_path / "w.duckdb")
    resources = {
        "captaindata": simulator_resource(sim, tmp_path),
        "io_manager": DuckDBWarehouseIOManager(database=db, schema="li"),
    }
    found = dg.materialize([people], partition_key="paris", resources=resources, instance=instance)
    urls = list(found.output_for_node("linkedin_people", "results")["linkedin_profile_url"])
    sim.set_fail_inputs({urls[0]: "NO_RESULT"})  # one error: the errors table is written too
    for key in SEARCHES:
        result = dg.materialize(
            [people, profiles, companies],
            partition_key=key,
            resources=resources,
            instance=instance,
        )
        assert result.success

    duck = {"int64": "BIGINT", "float64": "DOUBLE", "bool": "BOOLEAN", "string": "VARCHAR"}
    duck |= {"json": "VARCHAR", "timestamp": "TIMESTAMP WITH TIME ZONE"}
    catalog = load_catalog()
    with duckdb.connect(db, read_only=True) as con:
        profile_types = _column_types(con, "li.linkedin_profiles")
        company_types = _column_types(con, "li.linkedin_companies")
        error_types = _column_types(con, "li.linkedin_profiles_errors")
        [(companies_per_partition,)] = con.execute(
            "select count(distinct partition_key) from li.linkedin_companies"
        ).fetchall()
        status = con.execute("select status_code, error_label from li.linkedin_profiles_errors")
        assert status.fetchall() == [(424, "NO_RESULT")]
        connections = con.execute("select number_connections from li.linkedin_profiles")
        counts = [n for (n,) in connections.fetchall()]
    for table, columns in (
        (profile_types, results_columns(catalog.get("linkedin-extract-people"))),
        (company_types, results_columns(catalog.get("linkedin-extract-company"))),
        (error_types, errors_columns()),
    ):
        assert {c.name: table[c.name] for c in columns} == {
            c.name: duck[c.type_name] for c in columns
        }
    assert profile_types["linkedin_profile_id"] == "BIGINT"
    assert company_types["followers_count"] == "BIGINT"  # "integer" in the catalog
    assert company_types["founded_on"] == "BIGINT"  # "number" in the spec, a year: integer
    assert profile_types["number_connections"] == "BIGINT"  # "number" in the spec, a count
    assert company_types["last_funding_raised"] == "DOUBLE"  # an amount stays a number
    # every count kept (none NA for a fractional part), as Python ints: 365, not 365.0
    assert counts and all(type(n) is int for n in counts)
    assert error_types["status_code"] == "BIGINT" and error_types["retryable"] == "BOOLEAN"
    assert companies_per_partition == len(SEARCHES)  # appended in the same schema
