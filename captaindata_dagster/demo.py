"""`make demo`: the demo pipeline end to end, in sandbox mode, into a local DuckDB file.

Materializes every asset of `definitions.py` for every search partition against the bundled
simulator (synthetic data, said loudly), then prints rows per table, credits spent, inputs served
free from the ledger, and errors by label. Run it twice: the second run spends nothing on what is
still fresh in the ledger. Its last line says how to open the results in the UI (`make ui`: the
Dagster UI on the demo's instance, `.dagster_home`).

Rows and credits differ when an input was already in the ledger: a company two searches share is
paid for in the first partition and served free from the ledger in the second (the
`captaindata/skipped_fresh` metadata of the materialization), so its table has a row per partition
and one credit.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Dagster's console logger at ERROR: the run's own events stay in the instance, the terminal
# shows the summary (and anything that went wrong).
DESCRIPTION = (
    "`make demo`: the demo pipeline end to end, in sandbox mode, into a local DuckDB file."
)
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
LEDGER_NOTE = (
    "  from ledger (free): inputs whose answer the ledger already held (paid in an earlier run, or\n"
    "  in an earlier partition of this one: a company two searches share is paid once): rows that\n"
    "  cost no credit"
)
# The demo's last line: `make ui` runs `dagster dev` on the same DAGSTER_HOME (the Makefile's
# default is the demo's, .dagster_home; both honour DAGSTER_HOME when it is set).
OPEN_UI = "  open these results in the Dagster UI: make ui  (dagster dev on DAGSTER_HOME={home})"


def _load_definitions(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("captaindata_demo_definitions", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when every partition succeeded, 1 otherwise.

    Args:
        argv: `--definitions` (default `definitions.py`) and `--warehouse` (default
            `$CAPTAINDATA_WAREHOUSE` or `warehouse.duckdb`).

    Example:
        >>> main(["--warehouse", "/tmp/demo.duckdb"])
        0
    """
    ap = argparse.ArgumentParser(description=DESCRIPTION)
    ap.add_argument("--definitions", type=Path, default=Path("definitions.py"))
    ap.add_argument(
        "--warehouse", default=os.environ.get("CAPTAINDATA_WAREHOUSE", "warehouse.duckdb")
    )
    args = ap.parse_args(argv)
    _sandbox_environment(args.warehouse)

    import dagster as dg

    from captaindata_dagster.simulator.sandbox import sandbox_simulator

    defs: dg.Definitions = _load_definitions(args.definitions).defs
    job = defs.resolve_job_def("refresh_linkedin")
    keys = job.partitions_def.get_partition_keys() if job.partitions_def else [None]
    sim = sandbox_simulator()
    credits_before = sim.credits_used
    spent, free, failed = _materialize(job, keys)

    print()
    print("captaindata demo: SANDBOX, synthetic data from the bundled simulator")
    print(f"  partitions: {', '.join(str(k) for k in keys)}")
    print(f"  warehouse:  {Path(args.warehouse).resolve()} (schema linkedin)")
    print(f"  ledger:     {(defs.resources or {})['captaindata'].get_ledger().describe()}")
    print()
    labels = _print_tables(args.warehouse, spent, free)
    print()
    counted = sim.credits_used - credits_before
    print(f"  credits spent this run: {sum(spent.values()):g} (simulator counted {counted:g})")
    print(f"  errors by label: {dict(labels) if labels else 'none'}")
    if failed:
        print(f"  FAILED partitions: {', '.join(map(str, failed))} (see the run logs)")
    else:
        print("  run `make demo` again: fresh profiles and companies cost nothing the second time")
    print(OPEN_UI.format(home=os.environ["DAGSTER_HOME"]))
    return 1 if failed else 0


def _sandbox_environment(warehouse: str) -> None:
    """Sandbox mode, the warehouse path, and a DAGSTER_HOME without telemetry."""
    os.environ["CAPTAINDATA_SANDBOX"] = "1"  # the demo never spends real credits
    os.environ["CAPTAINDATA_WAREHOUSE"] = warehouse
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        settings.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")


def _materialize(
    job: Any, keys: Sequence[Any]
) -> tuple[dict[str, float], dict[str, int], list[Any]]:
    """Run the job once per partition: credits spent and inputs served from the ledger per asset,
    and the partitions that failed."""
    import dagster as dg

    from captaindata_dagster.orchestration.metadata_set import CaptainDataMetadataSet

    spent: dict[str, float] = defaultdict(float)
    free: dict[str, int] = defaultdict(int)
    failed = []
    with dg.DagsterInstance.get() as instance:
        for key in keys:
            result = job.execute_in_process(
                partition_key=key, instance=instance, raise_on_error=False, run_config=QUIET
            )
            if not result.success:
                failed.append(key)
            for event in result.get_asset_materialization_events():
                mat = event.materialization
                figures = CaptainDataMetadataSet.extract(mat.metadata)
                table = mat.asset_key.to_user_string()
                if figures.credits_spent is not None:
                    spent[table] += figures.credits_spent
                if figures.skipped_fresh is not None:
                    free[table] += figures.skipped_fresh
    return dict(spent), dict(free), failed


def _print_tables(warehouse: str, spent: dict[str, float], free: dict[str, int]) -> Counter[str]:
    """Print rows, credits and inputs served from the ledger per table of the `linkedin` schema,
    with a line saying why rows and credits differ; the errors by label."""
    import duckdb

    labels: Counter[str] = Counter()
    with duckdb.connect(warehouse, read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'linkedin' order by table_name"
            ).fetchall()
        ]
        print(f"  {'table':<28}{'rows':>8}{'credits this run':>20}{'from ledger (free)':>21}")
        for table in tables:
            (rows,) = con.execute(f'select count(*) from linkedin."{table}"').fetchall()[0]
            credit, reused = spent.get(table), free.get(table)
            shown = f"{credit:g}" if credit is not None else ""
            print(f"  {table:<28}{rows:>8}{shown:>20}{'' if reused is None else reused:>21}")
            if table.endswith("_errors"):
                for label, n in con.execute(
                    f'select error_label, count(*) from linkedin."{table}" group by 1'
                ).fetchall():
                    labels[str(label)] += n
    if any(free.values()):
        print(LEDGER_NOTE)
    return labels


if __name__ == "__main__":
    sys.exit(main())
