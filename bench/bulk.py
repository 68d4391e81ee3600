"""Async mode at scale: N profile extractions through one async run, end to end on loopback.

The simulator (the bench's own process) works through the run at R calls per second and POSTs
each input's callback to a real receiver (`captaindata-dagster receiver`, its own process) that
commits it to a SQLite callback store; the engine (`run_bulk_batch`, in a child process so its
memory is its own) submits, waits reading that store and lands every input in a SQLite ledger.
Every file lives in the bench's scratch directory. Checked:

- submissions = ceil(N / 100,000), counted by the engine's client (POST .../run/async);
- the other API calls (GET /runs, the callbacks list, replays) at most one per 5 s of wall, with
  the default `run_check_s` (60 s) and `final_check_s` (5 s); reading the store is no API call;
- the engine's wall over the simulator's own processing time (the run's `started_at` to its last
  callback's arrival) <= 1.05;
- credits = N (one result per profile, the minimum);
- the engine's peak memory over its results frame <= 3: peak RSS (`VmHWM`) of the child minus its
  RSS before the batch (pandas already imported), over `memory_usage(deep=True)` of the frame.

`python -m bench.bulk --url ... --key ... --callback-url ... --store ... --n N` is the child: it
prints one JSON object on its last stdout line.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from .child import peak_rss_bytes, rss_bytes
from .receiver import receiver_process
from .report import Result, check
from .sim import REPO, child_env

if TYPE_CHECKING:
    from .scenarios import Context

ACTION = "linkedin-extract-people"
MAX_INPUTS_PER_RUN = 100_000
WALL_TARGET = 1.05
MEMORY_TARGET = 3.0
CALLS_EVERY_S = 5.0


@dataclass(frozen=True)
class AsyncBenchSettings:
    """N profiles at R calls per second in the simulator; tiny under `--smoke`."""

    n: int = 100_000
    rps: float = 1500.0
    poll_s: float = 1.0
    timeout_s: float = 1800.0

    @classmethod
    def of(cls, ctx: Context) -> AsyncBenchSettings:
        return cls(n=30, rps=1000.0, poll_s=0.05, timeout_s=300.0) if ctx.smoke else cls()


class CountingSession(requests.Session):
    """A `requests.Session` that notes each request's method and path (the engine's API calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, float]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.seen.append((method, urlsplit(url).path, time.time()))
        return super().request(method, url, *args, **kwargs)


def call_kind(method: str, path: str) -> str:
    """`submit` for a run/async submission, else the call's method and last path segment."""
    if method == "POST" and path.endswith("/run/async"):
        return "submit"
    if "/runs/callbacks" in path:
        return f"{method} callbacks" if not path.endswith("/replay") else "replay"
    if "/runs" in path:
        return f"{method} runs"
    return f"{method} {path}"


def run_child(
    url: str, key: str, callback_url: str, store: str, ledger: str, n: int, poll_s: float
) -> dict[str, Any]:
    """The engine's side (in its own process): one async batch of `n` profiles, measured."""
    import pandas  # noqa: F401  (loaded before the baseline: the batch's memory, not the library's)

    from captaindata_dagster import CaptainDataClient
    from captaindata_dagster.engine.bulk import BulkSettings, run_bulk_batch
    from captaindata_dagster.simulator import sample_input
    from captaindata_dagster.storage.callbacks import CallbackStore
    from captaindata_dagster.storage.ledger import Ledger

    session = CountingSession()
    client = CaptainDataClient(key, url, session=session)
    inputs = [sample_input(ACTION, i) for i in range(n)]
    with CallbackStore(store) as callbacks, Ledger(ledger) as led:
        bulk = BulkSettings(callback_url=callback_url, store=callbacks, poll_s=poll_s)
        gc.collect()
        before = rss_bytes()
        t0, started = time.perf_counter(), time.time()
        result = run_bulk_batch(client, ACTION, inputs, bulk=bulk, ledger=led)
        wall = time.perf_counter() - t0
        peak = peak_rss_bytes()
        frame = result.results
        keys = [e.input_key for e in led.entries(ACTION)]
    client.close()
    kinds = Counter(call_kind(m, p) for m, p, _ in session.seen)
    s = result.stats
    return {
        "n": n,
        "wall_s": wall,
        "started_at": started,
        "rows": len(frame),
        "unique_inputs": int(frame["_input"].nunique()) if len(frame) else 0,
        "errors": len(result.errors),
        "ledger_entries": len(keys),
        "ledger_unique_keys": len(set(keys)),
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
        "rss_before_bytes": before,
        "peak_rss_bytes": peak,
        "calls_by_kind": dict(kinds),
        "mode": s.mode,
        "submitted": s.submitted,
        "pending": s.pending,
        "succeeded": s.succeeded,
        "credits": s.credits,
        "bulk_runs": dict(s.bulk_runs),
    }


def _child(args: list[str], timeout_s: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bulk", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO,
        env=child_env(),
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-8:]
        raise RuntimeError(f"bench.bulk child failed ({proc.returncode}): {' | '.join(tail)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _iso_s(text: str | None) -> float | None:
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _last_callback_s(store_path: Path, run_uids: list[str]) -> float | None:
    """When the runs' last callback reached the store (its SQLite file, read directly: the
    store's own reads would parse every payload)."""
    marks = ", ".join("?" * len(run_uids))
    with sqlite3.connect(store_path) as conn:
        row = conn.execute(
            f"SELECT MAX(received_at) FROM callbacks WHERE run_uid IN ({marks})", run_uids
        ).fetchone()
    return _iso_s(row[0] if row else None)


def _processing(ctx: Context, store_path: Path, run_uids: list[str]) -> tuple[float, int]:
    """The simulator's own processing time (first run's start to the last callback's arrival)
    and how many async runs of the action the simulator holds."""
    from captaindata_dagster import CaptainDataClient

    with CaptainDataClient(ctx.sim.api_key, ctx.sim.base_url) as client:
        runs = list(client.iter_runs(action_name=ACTION, execution_mode="ASYNC"))
    ours = [r for r in runs if r.uid in run_uids]
    starts: list[float] = [t for r in ours if (t := _iso_s(r.started_at)) is not None]
    ends: list[float] = [t for r in ours if (t := _iso_s(r.finished_at)) is not None]
    last = _last_callback_s(store_path, run_uids)
    if last is not None:
        ends.append(last)
    if not starts or not ends:
        return float("nan"), len(runs)
    return max(ends) - min(starts), len(runs)


def async_mode(ctx: Context) -> Result:
    """The `async-mode` scenario (see the module's docstring)."""
    s = AsyncBenchSettings.of(ctx)
    ctx.sim.configure(rps=s.rps, latency_ms=0, search_total=None, callback_backoff_s=0.05)
    store, ledger = ctx.tmp / "async-callbacks.sqlite", ctx.tmp / "async-ledger.sqlite"
    try:
        with receiver_process(str(store)) as (callback_url, _proc):
            args = [
                "--url",
                ctx.sim.base_url,
                "--key",
                ctx.sim.api_key,
                "--callback-url",
                callback_url,
                "--store",
                str(store),
                "--ledger",
                str(ledger),
                "--n",
                str(s.n),
                "--poll-s",
                str(s.poll_s),
            ]
            out = _child(args, s.timeout_s)
        sim_s, runs_seen = _processing(ctx, store, list(out["bulk_runs"]))
        billed = float(ctx.sim.state()["credits_used"])
    finally:
        ctx.sim.configure(rps=None, callback_backoff_s=0.2)
    return _result(s, out, sim_s, runs_seen, billed)


def _result(
    s: AsyncBenchSettings, out: dict[str, Any], sim_s: float, runs_seen: int, billed: float
) -> Result:
    n, wall = s.n, out["wall_s"]
    kinds = out["calls_by_kind"]
    submits = kinds.get("submit", 0)
    others = sum(v for k, v in kinds.items() if k != "submit")
    growth = out["peak_rss_bytes"] - out["rss_before_bytes"]
    memory = growth / out["frame_bytes"] if out["frame_bytes"] else float("nan")
    figures = {
        **out,
        "simulator_processing_s": sim_s,
        "runs_in_simulator": runs_seen,
        "simulator_credits": billed,
        "other_calls": others,
        "wall_over_processing": wall / sim_s if sim_s > 0 else float("nan"),
        "peak_growth_bytes": growth,
        "peak_growth_over_frame": memory,
    }
    per_5s = others / max(wall / CALLS_EVERY_S, 1.0)
    complete = min(out["rows"], out["unique_inputs"], out["ledger_unique_keys"])
    checks = [
        check(
            "submissions",
            float(submits),
            ("==", float(math.ceil(n / MAX_INPUTS_PER_RUN))),
            "{:.0f}",
        ),
        check("other API calls per 5 s of wall", per_5s, ("<=", 1.0), "{:.2f}"),
        check(
            "wall / simulator processing",
            figures["wall_over_processing"],
            ("<=", WALL_TARGET),
            "{:.3f}",
        ),
        check("credits", billed, ("==", float(n)), "{:.0f}"),
        check("inputs landed once", float(complete), ("==", float(n)), "{:.0f}"),
        check("peak memory growth / frame", memory, ("<=", MEMORY_TARGET), "{:.2f}", "x"),
    ]
    notes = [
        f"{n:,} profiles in {submits} submission(s); other calls {kinds}; engine wall "
        f"{wall:.1f} s vs the simulator's {sim_s:.1f} s; peak RSS growth "
        f"{growth / 2**20:.1f} MiB over a {out['frame_bytes'] / 2**20:.1f} MiB frame "
        "(VmHWM of the engine's child minus its RSS before the batch, pandas loaded)",
    ]
    setup = {"n": n, "rps": s.rps, "poll_s": s.poll_s, "action": ACTION}
    text = f"N={n:,} profiles, R={s.rps:g}/s, L=0, receiver on loopback, SQLite"
    return Result("async-mode", "async mode", setup, text, figures, checks, notes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bulk")
    for name in ("--url", "--key", "--callback-url", "--store", "--ledger"):
        ap.add_argument(name, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--poll-s", type=float, default=0.25)
    a = ap.parse_args(argv)
    out = run_child(a.url, a.key, a.callback_url, a.store, a.ledger, a.n, a.poll_s)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
