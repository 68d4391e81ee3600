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
