"""`make demo` end to end: the DuckDB file holds the expected tables (the errors tables too, with
no error), rows that cost no credit are said to come from the ledger, a second run costs nothing,
and the output ends with how to open the results in the UI."""

from __future__ import annotations

from pathlib import Path

import duckdb

from captaindata_dagster import demo

ROOT = Path(__file__).resolve().parents[2]


def _summary(out: str) -> dict[str, list[str]]:
    """The demo's table: table name -> its figures (rows, then credits and from-ledger if any)."""
    return {
        line.split()[0]: line.split()[1:]
        for line in out.splitlines()
        if line.startswith("  linkedin_")
    }


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
        [(companies, distinct)] = con.execute(
            "select count(*), count(distinct linkedin_company_url) from linkedin.linkedin_companies"
        ).fetchall()
    assert {"linkedin_people", "linkedin_profiles", "linkedin_companies"} <= set(counts)
    # a clean run creates the errors tables too (no "Table ... does not exist" for a first query)
    assert {"linkedin_profiles_errors", "linkedin_companies_errors"} <= set(counts)
    assert partitions == 3
    assert (tmp_path / ".captaindata" / "ledger.sqlite").exists()
    table = _summary(first)
    assert table["linkedin_profiles_errors"] == ["0"]
    # a company two searches share is paid in the first partition, served free in the next
    rows, paid, free = map(float, table["linkedin_companies"])
    assert rows == companies and free == companies - distinct and rows == paid + free
    assert first.rstrip().splitlines()[-1].startswith("  open these results in the Dagster UI:")
    assert "make ui" in first.rstrip().splitlines()[-1]
    assert str(tmp_path / "dagster_home") in first.rstrip().splitlines()[-1]

    assert demo.main(args) == 0
    second = capsys.readouterr().out
    assert "credits spent this run: 0 (simulator counted 0)" in second
    again = _summary(second)
    for name in ("linkedin_profiles", "linkedin_companies"):
        rows, paid, free = again[name]
        assert paid == "0" and free == rows  # every row from the ledger, free
    assert "from ledger (free): inputs whose answer the ledger already held" in second
    assert "make ui" in second.rstrip().splitlines()[-1]
