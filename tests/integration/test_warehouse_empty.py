"""`DuckDBWarehouseIOManager` writes empty frames: a clean run creates its `_errors` table (typed,
0 rows), and a partition re-run with no errors left keeps none of the earlier run's error rows."""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd

from captaindata_dagster import build_people_search_asset, build_profile_extraction_asset
from captaindata_dagster.engine.column_types import errors_columns
from captaindata_dagster.orchestration.warehouse import DuckDBWarehouseIOManager
from tests.helpers import SEARCHES, simulator_resource

SKIPPED = "Skipping DuckDB write"
DUCK = {"int64": "BIGINT", "bool": "BOOLEAN", "string": "VARCHAR"}
DUCK |= {"timestamp": "TIMESTAMP WITH TIME ZONE"}


PARTS = dg.StaticPartitionsDefinition(["a", "b"])


@dg.asset(partitions_def=PARTS, metadata={"partition_expr": "part"}, config_schema={"rows": int})
def scores(context) -> pd.DataFrame:  # unannotated: Dagster reads a string annotation badly
    key, n = context.partition_key, context.op_execution_context.op_config["rows"]
    return pd.DataFrame(
        {"part": pd.Series([key] * n, dtype=object), "score": pd.array(range(n), dtype="Int64")}
    )


def _scores(db: str, key: str, rows: int, instance: dg.DagsterInstance) -> list[str]:
    resources = {"io_manager": DuckDBWarehouseIOManager(database=db, schema="s")}
    config = {"ops": {"scores": {"config": {"rows": rows}}}}
    result = dg.materialize(
        [scores], partition_key=key, resources=resources, run_config=config, instance=instance
    )
    assert result.success
    return [e.user_message for e in instance.all_logs(result.run_id)]


def test_an_empty_frame_creates_its_table_and_empties_its_partition(tmp_path, instance):
    db = str(tmp_path / "w.duckdb")
    logs = _scores(db, "a", 0, instance)  # the first write has no rows: the table exists anyway
    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("describe s.scores").fetchall()[0][:2] == ("part", "VARCHAR")
        assert con.execute("describe s.scores").fetchall()[1][:2] == ("score", "BIGINT")
        assert con.execute("select count(*) from s.scores").fetchall() == [(0,)]
    logs += _scores(db, "a", 2, instance) + _scores(db, "b", 3, instance)
    logs += _scores(db, "a", 0, instance)  # "a" again, now empty: its earlier rows are gone
    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute("select part, count(*) from s.scores group by 1").fetchall()
    assert rows == [("b", 3)]
    assert not [m for m in logs if SKIPPED in m]


def _assets():
    people = build_people_search_asset(searches=SEARCHES, max_results=10)
    return people, build_profile_extraction_asset(upstream=people)


def _run(assets, key, resources, instance) -> list[str]:
    """Materialize partition `key`; the run's log messages."""
    result = dg.materialize(assets, partition_key=key, resources=resources, instance=instance)
    assert result.success
    return [e.user_message for e in instance.all_logs(result.run_id)]


def _errors_by_partition(db: str) -> dict[str, int]:
    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute(
            "select partition_key, count(*) from li.linkedin_profiles_errors group by 1"
        ).fetchall()
    return dict(rows)


def test_a_clean_run_creates_the_errors_tables_typed_with_no_rows(make_sim, tmp_path, instance):
    sim = make_sim(search_total=20)
    db = str(tmp_path / "w.duckdb")
    resources = {
        "captaindata": simulator_resource(sim, tmp_path),
        "io_manager": DuckDBWarehouseIOManager(database=db, schema="li"),
    }
    logs = _run(list(_assets()), "paris", resources, instance)

    assert not [m for m in logs if SKIPPED in m]
    with duckdb.connect(db, read_only=True) as con:
        for table in ("linkedin_people_errors", "linkedin_profiles_errors"):
            [(rows,)] = con.execute(f"select count(*) from li.{table}").fetchall()
            assert rows == 0
            types = {r[0]: r[1] for r in con.execute(f"describe li.{table}").fetchall()}
            assert types == {
                "partition_key": "VARCHAR",  # no rows, still text: later keys fit it
                **{c.name: DUCK[c.type_name] for c in errors_columns()},
            }


def test_a_clean_rerun_empties_its_partitions_errors_only(make_sim, tmp_path, instance):
    sim = make_sim(search_total=20)
    db = str(tmp_path / "w.duckdb")
    warehouse = DuckDBWarehouseIOManager(database=db, schema="li")
    assets = list(_assets())
    first = {"captaindata": simulator_resource(sim, tmp_path), "io_manager": warehouse}
    people = {
        key: dg.materialize(assets[:1], partition_key=key, resources=first, instance=instance)
        for key in SEARCHES
    }
    urls = {
        key: list(result.output_for_node("linkedin_people", "results")["linkedin_profile_url"])
        for key, result in people.items()
    }
    sim.set_fail_inputs({found[0]: "NO_RESULT" for found in urls.values()})
    for key in SEARCHES:
        _run(assets, key, first, instance)
    assert _errors_by_partition(db) == dict.fromkeys(SEARCHES, 1)

    # The cause is fixed: "paris" runs again, clean (a fresh ledger, so the failed input is
    # fetched again rather than answered by the earlier run's recorded error).
    sim.set_fail_inputs({})
    ledger = tmp_path / "fresh-ledger.sqlite"
    again = {"captaindata": simulator_resource(sim, tmp_path, ledger_path=ledger)}
    logs = _run(assets, "paris", again | {"io_manager": warehouse}, instance)

    assert not [m for m in logs if SKIPPED in m]
    assert _errors_by_partition(db) == {"berlin": 1}  # paris's old row gone, berlin's kept
