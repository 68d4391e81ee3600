"""Measurements that need a process of their own: `python -m bench.child <what> ...` prints JSON.

- `memory`: a profile extraction of N inputs; peak RSS of this process against the frame's size.
- `dagster`: one profile partition through `dagster.materialize` and through `run_batch` alone.
- `load`: how long an import takes in a fresh interpreter (`dagster`, the libraries a definitions
  file pulls in, or the definitions file itself), and which third-party packages it loaded.

Each prints a single JSON object on its last stdout line; the parent reads that line.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

USERS_NAMESPACE = "00000000-0000-4000-8000-"


def account_uids(n: int) -> list[str]:
    """`n` distinct user uids (the simulator accepts any; each is one connected account)."""
    return [f"{USERS_NAMESPACE}{i:012d}" for i in range(max(0, n))]


def _status_kb(field: str) -> int | None:
    """A `VmRSS` / `VmHWM` value of this process in kB from /proc (Linux), else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int:
    """Resident memory of this process now."""
    kb = _status_kb("VmRSS")
    if kb is None:  # not Linux: the peak is the best we have
        return peak_rss_bytes()
    return kb * 1024


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far."""
    kb = _status_kb("VmHWM")
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if sys.platform == "darwin":  # bytes there, kB on Linux
            kb //= 1024
    return kb * 1024


def memory(url: str, key: str, n: int, accounts: int, action_id: str) -> dict[str, Any]:
    """Extract `n` profiles with the batch engine (ledger on), then size the frame and the peak."""
    # The engine imports pandas when it builds the frame; load it before the baseline so that
    # "extraction RSS" is the extraction's own memory, not the library's (about 50 MiB).
    import pandas  # noqa: F401

    from captaindata_dagster import CaptainDataClient
    from captaindata_dagster.engine.batch.run import run_batch
    from captaindata_dagster.simulator import sample_input
    from captaindata_dagster.storage.ledger import Ledger

    client = CaptainDataClient(key, url)
    inputs = [sample_input(action_id, i) for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="cd-bench-mem-") as tmp:
        ledger = Ledger(Path(tmp) / "ledger.sqlite")
        gc.collect()
        before = rss_bytes()
        t0 = time.perf_counter()
        result = run_batch(
            client, action_id, inputs, integration_users=account_uids(accounts), ledger=ledger
        )
        wall = time.perf_counter() - t0
        peak = peak_rss_bytes()
        frame_bytes = int(result.results.memory_usage(deep=True).sum())
        ledger.close()
    client.close()
    return {
        "n": n,
        "rows": len(result.results),
        "errors": len(result.errors),
        "wall_s": wall,
        "rss_before_bytes": before,
        "peak_rss_bytes": peak,
        "frame_bytes": frame_bytes,
    }


def dagster_overhead(url: str, key: str, n: int, repeats: int) -> dict[str, Any]:
    """One partition of `n` profiles via `materialize`, and the same batch via `run_batch`.

    Every repeat uses a fresh ledger so both really call the API. The upstream people partition
    is materialized once beforehand and loaded from the IO manager, so the timed run is the
    profile step alone: run launch, resource, upstream load, batch, type checks, two outputs
    stored, events.
    """
    import dagster as dg
    import pandas as pd

    from captaindata_dagster import (
        CaptainDataClient,
        CaptainDataResource,
        build_profile_extraction_asset,
    )
    from captaindata_dagster.engine.batch.run import run_batch
    from captaindata_dagster.simulator import sample_input
    from captaindata_dagster.storage.ledger import Ledger

    urls = [sample_input("linkedin-extract-people", i)["linkedin_profile_url"] for i in range(n)]
    users = account_uids(1)
    parts = dg.StaticPartitionsDefinition(["bench"])

    @dg.asset(name="bench_people", partitions_def=parts)
    def people():  # no annotation: a string one would not resolve in this local scope
        return pd.DataFrame({"linkedin_profile_url": urls})

    profiles = build_profile_extraction_asset(name="bench_profiles", upstream=people)
    with tempfile.TemporaryDirectory(prefix="cd-bench-dagster-") as tmp:
        io = dg.FilesystemIOManager(base_dir=str(Path(tmp) / "io"))
        instance = dg.DagsterInstance.ephemeral()

        def resources(i: int) -> dict[str, Any]:
            return {
                "captaindata": CaptainDataResource(
                    api_key=key,
                    base_url=url,
                    integration_users=users,
                    ledger_path=str(Path(tmp) / f"ledger-dagster-{i}.sqlite"),
                ),
                "io_manager": io,
            }

        dg.materialize([people], partition_key="bench", resources=resources(0), instance=instance)

        def via_dagster(i: int, on: dg.DagsterInstance = instance) -> float:
            t0 = time.perf_counter()
            res = dg.materialize(
                [people, profiles],
                selection=list(profiles.keys),
                partition_key="bench",
                resources=resources(i),
                instance=on,
            )
            wall = time.perf_counter() - t0
            if not res.success:
                raise RuntimeError("the profile partition failed")
            return wall

        def engine_alone(i: int) -> float:
            client = CaptainDataClient(key, url)
            ledger = Ledger(Path(tmp) / f"ledger-engine-{i}.sqlite")
            t0 = time.perf_counter()
            res = run_batch(
                client, "linkedin-extract-people", urls, integration_users=users, ledger=ledger
            )
            wall = time.perf_counter() - t0
            ledger.close()
            client.close()
            if res.stats.succeeded != n:
                raise RuntimeError(f"the engine fetched {res.stats.succeeded} of {n} profiles")
            return wall

        first = via_dagster(0)  # cold: the first run of a process pays one-time setup
        dagster_s, engine_s, sqlite_s = [], [], []
        for i in range(1, repeats + 1):
            engine_s.append(engine_alone(i))
            dagster_s.append(via_dagster(i))
        # A deployed instance keeps runs and events in a database (SQLite by default).
        home = Path(tmp) / "home"
        home.mkdir()
        no_telemetry = {"telemetry": {"enabled": False}}
        with dg.DagsterInstance.local_temp(tempdir=str(home), overrides=no_telemetry) as stored:
            dg.materialize([people], partition_key="bench", resources=resources(0), instance=stored)
            for i in range(repeats + 1, 2 * repeats + 1):
                sqlite_s.append(via_dagster(i, stored))
    return {
        "n": n,
        "first_materialize_s": first,
        "materialize_s": dagster_s,
        "materialize_sqlite_instance_s": sqlite_s,
        "engine_s": engine_s,
    }


def load(what: str, definitions: str, modules: list[str]) -> dict[str, Any]:
    """Time one import in this fresh interpreter; list the third-party packages now loaded."""
    import importlib
    import importlib.util

    before = set(sys.modules)
    t0 = time.perf_counter()
    if what == "dagster":
        importlib.import_module("dagster")
    elif what == "modules":
        for name in modules:
            importlib.import_module(name)
    else:
        spec = importlib.util.spec_from_file_location("bench_loaded_definitions", definitions)
        if spec is None or spec.loader is None:
            raise SystemExit(f"cannot load {definitions}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    wall = time.perf_counter() - t0
    if what == "definitions":  # untimed: building the repository must not call the API either
        defs = getattr(module, "defs", None)
        if defs is not None and hasattr(defs, "get_repository_def"):
            defs.get_repository_def()
    stdlib = set(getattr(sys, "stdlib_module_names", ()))
    loaded = sorted(
        {
            name.split(".")[0]
            for name in set(sys.modules) - before
            if not name.startswith("_") and name.split(".")[0] not in stdlib
        }
    )
    return {"what": what, "wall_s": wall, "third_party": loaded}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.child")
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("memory")
    d = sub.add_parser("dagster")
    for p in (m, d):
        p.add_argument("--url", required=True)
        p.add_argument("--key", required=True)
        p.add_argument("--n", type=int, required=True)
    m.add_argument("--accounts", type=int, default=20)
    m.add_argument("--action", default="linkedin-extract-people")
    d.add_argument("--repeats", type=int, default=3)
    ld = sub.add_parser("load")
    ld.add_argument("what", choices=["dagster", "modules", "definitions"])
    ld.add_argument("--definitions", default="definitions.py")
    ld.add_argument("--modules", default="")
    args = ap.parse_args(argv)
    if args.cmd == "memory":
        out = memory(args.url, args.key, args.n, args.accounts, args.action)
    elif args.cmd == "dagster":
        out = dagster_overhead(args.url, args.key, args.n, args.repeats)
    else:
        names = [x for x in args.modules.split(",") if x]
        out = load(args.what, args.definitions, names)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
