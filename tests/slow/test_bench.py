"""The bench keeps working: a smoke run computes every scenario's figures, as well-formed JSON.

No timing is asserted here (the machine is shared; figures are for `make bench`). The smoke run is
split in two processes run side by side, the demo-driven scenario alone, to stay within seconds.
A second test pins the batch engine's compact results store (a memory fix the bench drove) to
exactly what `DataFrame.from_records` gives.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from bench.scenarios import SCENARIOS
from captaindata_dagster.engine.batch.inputs import BatchItem as _Item
from captaindata_dagster.engine.batch.result_rows import ResultRows as _Rows
from captaindata_dagster.engine.column_types import META_COLUMNS

REPO = Path(__file__).resolve().parents[2]


def _start(out: Path, name: str, only: list[str]) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "bench", "--smoke", "--quiet", "--out-dir", str(out)]
    cmd += ["--name", name, "--only", ",".join(only)]
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_smoke_run_computes_every_figure(tmp_path: Path) -> None:
    slow = ["refresh-economy"]
    procs = {
        "smoke-demo": _start(tmp_path, "smoke-demo", slow),
        "smoke-rest": _start(tmp_path, "smoke-rest", [s for s in SCENARIOS if s not in slow]),
    }
    seen: set[str] = set()
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{err[-3000:]}"
        doc = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
        assert doc["mode"] == "smoke"
        assert isinstance(doc["all_targets_met"], bool)
        table = (tmp_path / f"{name}.md").read_text(encoding="utf-8")
        assert table.startswith("| scenario | setup | figure | result | target | met |")
        for sc in doc["scenarios"]:
            seen.add(sc["id"])
            assert sc["error"] is None, f"{sc['id']}: {sc['error']}"
            assert sc["checks"], sc["id"]
            assert sc["title"] in table
            for c in sc["checks"]:
                assert isinstance(c["value"], (int, float)), (sc["id"], c)
                assert math.isfinite(c["value"]), (sc["id"], c)
                assert c["met"] in (True, False, None)
                assert (c["target"] is None) == (c["met"] is None), (sc["id"], c)
    assert seen == set(SCENARIOS)


def _from_records(items: list) -> pd.DataFrame:
    """What the engine built before: one dict per result, then `from_records` in input order."""
    rows = []
    for item, results, at, cached in sorted(items, key=lambda t: t[0].index):
        for r in results:
            row = dict(r) if isinstance(r, dict) else {"value": r}
            row.update(zip(META_COLUMNS, (item.label, item.key, at, cached), strict=True))
            rows.append(row)
    frame = pd.DataFrame.from_records(rows)
    frame["_fetched_at"] = pd.to_datetime(frame["_fetched_at"], utc=True)
    frame["_from_cache"] = frame["_from_cache"].astype(bool)
    return frame


@pytest.mark.filterwarnings("error")
def test_compact_results_store_builds_the_same_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    values = [1, None, 2.5, "x", True, [1, 2], {"k": 1}, math.nan, t0, 2**63 + 5, -3, False]
    pools = [values, [1, 2, None], [1, 2], ["a", None], [t0, None], [1.5, 2], [[1, 2], [3, 4]]]
    keys = ["a", "b", "c", "d", "_input"]
    checked = 0
    for _ in range(400):
        items = []
        for i in range(rng.randint(1, 10)):
            results: list = []
            for _ in range(rng.randint(0, 3)):
                if rng.random() < 0.05:
                    results.append(rng.choice(values))  # a bare value, not an object
                    continue
                pool = rng.choice(pools)
                names = rng.sample(keys, rng.randint(0, len(keys)))
                results.append({k: rng.choice(pool) for k in names})
            item = _Item(i, f"key{i}", None, f"label{i}")
            items.append((item, results, t0 + timedelta(days=i), bool(i % 2)))
        if not any(results for _, results, _, _ in items):
            continue
        rng.shuffle(items)  # results arrive in any order
        monkeypatch.setattr(_Rows, "CHUNK", rng.choice([1, 2, 3, 2048]))
        store = _Rows()
        for item in items:
            store.add(*item)
        expected, got = _from_records(items), store.frame()
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        for col in expected.columns:
            for a, b in zip(expected[col], got[col], strict=True):
                assert type(a) is type(b), (col, a, b)
        checked += 1
    assert checked > 300


def test_workers_grow_when_slow_calls_leave_the_rate_unused(make_sim) -> None:
    """16 workers on 300 ms calls make ~53 calls/s: under a 100/s plan the pool grows (no account).

    Checked by what the simulator saw (more than 16 calls in flight at once), not by a timing.
    """
    from captaindata_dagster import CaptainDataClient
    from captaindata_dagster.engine.account_pool import DEFAULT_MAX_WORKERS
    from captaindata_dagster.engine.batch.run import run_batch
    from captaindata_dagster.simulator import sample_input

    action = "googlemaps-extract-place"
    sim = make_sim(rps=100, latency_ms=300)
    client = CaptainDataClient(sim.api_key, sim.base_url, requests_per_second=100)
    inputs = [sample_input(action, i) for i in range(150)]
    try:
        out = run_batch(client, action, inputs)
    finally:
        client.close()
    assert out.stats.succeeded == 150 and out.stats.rate_limited == 0
    edges = sorted(
        (t, step) for r in sim.calls(action) for t, step in ((r.at, 1), (r.at + r.duration_s, -1))
    )
    in_flight = peak = 0
    for _, step in edges:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak > DEFAULT_MAX_WORKERS
