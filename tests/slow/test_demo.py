"""`make demo` end to end: the DuckDB file holds the expected tables, a second run costs nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb

from captaindata_dagster import demo

ROOT = Path(__file__).resolve().parents[2]


def test_demo_lands_every_table_and_the_second_run_is_free(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    # demo.main sets these for its own process; registering them here restores them afterwards
    monkeypatch.setenv("CAPTAINDATA_SANDBOX", "1")
    monkeypatch.setenv("CAPTAINDATA_WAREHOUSE", "unused.duckdb")
    warehouse = tmp_path / "warehouse.duckdb"
    args = ["--definitions", str(ROOT / "definitions.py"), "--warehouse", str(warehouse)]

    assert demo.main(args) == 0
    first = capsys.readouterr().out
    assert "SANDBOX" in first and "credits spent this run: 0 " not in first
    with duckdb.connect(str(warehouse), read_only=True) as con:
        counts = dict(
            con.execute(
                "select table_name, estimated_size from duckdb_tables() where schema_name='linkedin'"
            ).fetchall()
        )
        partitions = con.execute(
            "select count(distinct partition_key) from linkedin.linkedin_profiles"
        ).fetchone()[0]
    assert {"linkedin_people", "linkedin_profiles", "linkedin_companies"} <= set(counts)
    assert partitions == 3
    assert (tmp_path / ".captaindata" / "ledger.sqlite").exists()

    assert demo.main(args) == 0
    second = capsys.readouterr().out
    assert "credits spent this run: 0 (simulator counted 0)" in second
