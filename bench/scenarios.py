"""The scenarios of `make bench`, each measured against the simulator in its own process.

Every scenario takes the run's `Context` (the simulator, the settings, a scratch directory) and
returns a `Result`. Timings are wall-clock (`perf_counter`) or CPU (`process_time`) of this process;
the simulator's CPU is never counted as ours. Settings come from `Settings`, whose defaults are the
issue's figures and which the command line overrides (`python -m bench --help`).
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import requests

from captaindata_dagster import CaptainDataClient
from captaindata_dagster.api.catalog import load_catalog
from captaindata_dagster.engine.batch.run import BatchResult, run_batch
from captaindata_dagster.simulator import sample_input
from captaindata_dagster.storage.ledger import Ledger

from .bulk import async_mode
from .child import account_uids
from .receiver import receiver_throughput
from .report import Result, check
from .sim import REPO, SimProcess, child_env

PROFILE_ACTION = "linkedin-extract-people"
SEARCH_ACTION = "linkedin-search-people"


@dataclass
class Settings:
    """What each scenario runs with: the issue's figures, or tiny ones with `smoke()`."""

    rate_n: int = 2000
    rate_rps: float = 100.0
    rate_latency_ms: float = 50.0
    rate_accounts: int = 20
    account_n: int = 400
    account_rps: float = 100.0
    account_latency_ms: float = 200.0
    account_accounts: int = 4
    action: str = PROFILE_ACTION
    naive_n: int = 200
    naive_latencies_ms: tuple[float, ...] = (50.0, 200.0)  # the two scenarios' latencies
    cpu_calls: int = 1000
    cpu_rounds: int = 3
    max_results: int = 25
    search_total: int = 100
    demo_rps: float | None = None  # None: the demo's own pacing
    load_repeats: int = 5
    dagster_n: int = 10
    dagster_repeats: int = 3
    memory_n: tuple[int, ...] = (10_000, 50_000)
    memory_accounts: int = 20
    headroom_threads: int = 16
    headroom_s: float = 3.0
    timeout_s: float = 1800.0

    @classmethod
    def smoke(cls) -> Settings:
        """Seconds, not minutes: every figure computed, none of them meaningful."""
        return cls(
            rate_n=20,
            rate_latency_ms=5,
            rate_accounts=4,
            account_n=8,
            account_latency_ms=20,
            account_accounts=2,
            naive_n=5,
            naive_latencies_ms=(5.0,),
            cpu_calls=20,
            cpu_rounds=1,
            demo_rps=1000.0,
            load_repeats=1,
            dagster_n=3,
            dagster_repeats=1,
            memory_n=(20, 40),
            memory_accounts=2,
            headroom_threads=4,
            headroom_s=0.5,
            timeout_s=300.0,
        )

    def override(
        self,
        n: int | None = None,
        rps: float | None = None,
        latency_ms: float | None = None,
        accounts: int | None = None,
        action: str | None = None,
    ) -> Settings:
        """Apply the command line's N, R, L, A (and action) to every scenario that has them."""
        s = self
        if n is not None:
            s = replace(s, rate_n=n, account_n=n, naive_n=n, cpu_calls=n, dagster_n=n)
            s = replace(s, memory_n=(n,))
        if rps is not None:
            s = replace(s, rate_rps=rps, account_rps=rps)
        if latency_ms is not None:
            s = replace(
                s,
                rate_latency_ms=latency_ms,
                account_latency_ms=latency_ms,
                naive_latencies_ms=(latency_ms,),
            )
        if accounts is not None:
            s = replace(s, rate_accounts=accounts, account_accounts=accounts)
            s = replace(s, memory_accounts=accounts)
        if action is not None:
            s = replace(s, action=action)
        return s


@dataclass
class Context:
    """A run's shared things: the simulator process, the settings, scratch space, results so far."""

    sim: SimProcess
    settings: Settings
    tmp: Path
    smoke: bool = False
    done: dict[str, Result] = field(default_factory=dict)
    log: Callable[[str], None] = print

    def ledger(self, name: str) -> Ledger:
        """A fresh ledger file: the engine checkpoints as it would in production."""
        path = self.tmp / f"{name}-{time.monotonic_ns()}.sqlite"
        return Ledger(path)


# ------------------------------------------------------------------------------------ helpers


def best_time(n: int, rps: float, latency_s: float, accounts: int, uses_account: bool) -> float:
    """The physical limit: `max(N/R, N*L/A)`; `N/R + L` for an action without an account."""
    if uses_account:
        return max(n / rps, n * latency_s / max(1, accounts))
    return n / rps + latency_s


def inputs_for(action_id: str, n: int, offset: int = 0) -> list[dict[str, Any]]:
    """`n` distinct valid inputs of an action."""
    return [sample_input(action_id, offset + i) for i in range(n)]


def _fmt_ms(ms: float) -> str:
    return f"{ms:g} ms"


def _counts(state: dict[str, Any]) -> tuple[int, int]:
    """(action calls, 429 answers) from the simulator's state."""
    return int(state.get("calls", 0)), int(state.get("status_counts", {}).get("429", 0))


def _batch(
    ctx: Context,
    client: CaptainDataClient,
    action_id: str,
    inputs: Sequence[dict[str, Any]],
    users: list[str],
    name: str,
    **kwargs: Any,
) -> tuple[BatchResult, float, float]:
    """Run the engine as the assets do (ledger on); returns (result, wall s, CPU s)."""
    act = client.action(action_id)
    ledger = ctx.ledger(name)
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        result = run_batch(
            client,
            action_id,
            inputs,
            integration_users=users if act.uses_account else None,
            ledger=ledger,
            **kwargs,
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        ledger.close()
    return result, wall, cpu


def _child(args: list[str], timeout_s: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `python -m bench.child ...` and return the JSON it printed last."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.child", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO,
        env=env or child_env(),
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"bench.child {args[0]} failed ({proc.returncode}): {' | '.join(tail)}")
    return json.loads(lines[-1])


# ------------------------------------------------------------------ rate- and account-bound


def _bound_scenario(
    ctx: Context, sid: str, title: str, n: int, rps: float, latency_ms: float, accounts: int
) -> Result:
    action_id = ctx.settings.action
    act = load_catalog().get(action_id)
    if act is None:
        raise ValueError(f"unknown action {action_id!r}")
    if act.is_list or act.side_effects:
        raise ValueError(f"{action_id}: pick an enrichment action without side effects")
    ctx.sim.configure(rps=rps, latency_ms=latency_ms, search_total=None)
    users = account_uids(accounts) if act.uses_account else []
    client = CaptainDataClient(ctx.sim.api_key, ctx.sim.base_url, requests_per_second=rps)
    try:
        result, wall, cpu = _batch(ctx, client, action_id, inputs_for(action_id, n), users, sid)
    finally:
        client.close()
    state = ctx.sim.settle()
    calls, http_429 = _counts(state)
    bound = best_time(n, rps, latency_ms / 1000, accounts, act.uses_account)
    stats = result.stats
    minimum_credits = act.credits_for(n)  # the catalog's cost per result, n results
    figures = {
        "wall_s": wall,
        "bound_s": bound,
        "wall_over_bound": wall / bound,
        "throughput_per_s": n / wall,
        "calls": calls,
        "http_429": http_429,
        "rate_limited_429_share": http_429 / calls if calls else None,
        "credits": state.get("credits_used"),
        "credits_minimum": minimum_credits,
        "succeeded": stats.succeeded,
        "errors": stats.errors,
        "latency_p50_s": stats.latency_p50_s,
        "latency_p95_s": stats.latency_p95_s,
        "client_cpu_s": cpu,
        "workers": max(1, accounts) if act.uses_account else "16, grown to fill R",
    }
    setup = {
        "action": action_id,
        "n": n,
        "rps": rps,
        "latency_ms": latency_ms,
        "accounts": accounts,
    }
    acc = f"A={accounts}" if act.uses_account else "no account"
    text = f"`{action_id}`, N={n}, R={rps:g}/s, L={_fmt_ms(latency_ms)}, {acc}"
    checks = [
        check("wall / bound", wall / bound, ("<=", 1.10)),
        check("credits / minimum", _ratio(state.get("credits_used"), minimum_credits), ("==", 1.0)),
    ]
    notes = []
    if stats.succeeded != n:
        notes.append(
            f"{n - stats.succeeded} of {n} inputs did not succeed: {stats.errors_by_label}"
        )
    return Result(sid, title, setup, text, figures, checks, notes)


def _ratio(a: Any, b: Any) -> float | None:
    try:
        return float(a) / float(b) if b else None
    except (TypeError, ValueError):
        return None


def rate_bound(ctx: Context) -> Result:
    """N calls spread over A accounts, capped by the plan's R requests per second."""
    s = ctx.settings
    return _bound_scenario(
        ctx,
        "rate-bound",
        "rate-bound enrichment",
        s.rate_n,
        s.rate_rps,
        s.rate_latency_ms,
        s.rate_accounts,
    )


def account_bound(ctx: Context) -> Result:
    """Slow calls on few accounts: one call at a time per account is the cap."""
    s = ctx.settings
    return _bound_scenario(
        ctx,
        "account-bound",
        "account-bound enrichment",
        s.account_n,
        s.account_rps,
        s.account_latency_ms,
        s.account_accounts,
    )


def no_429(ctx: Context) -> Result:
    """Pacing to the contract: the share of 429 answers in the two scenarios above."""
    checks, figures = [], {}
    for sid in ("rate-bound", "account-bound"):
        r = ctx.done.get(sid)
        if r is None or r.error is not None:
            continue
        share = r.figures["rate_limited_429_share"]
        figures[sid] = {"http_429": r.figures["http_429"], "calls": r.figures["calls"]}
        checks.append(check(f"429s / calls ({sid})", share, ("<=", 0.005), "{:.2%}", ""))
    for c in checks:  # the target is a percentage: show it as one
        c.target = "<= 0.5%"
    return Result("no-429", "no 429s", {}, "both scenarios above", figures, checks, [])


# ------------------------------------------------------------------------------ naive loop


def naive(ctx: Context) -> Result:
    """A plain `requests` loop, one call after another, against the same simulator as ours."""
    s = ctx.settings
    action_id, n, rps, accounts = s.action, s.naive_n, s.rate_rps, s.rate_accounts
    act = load_catalog().get(action_id)
    assert act is not None
    users = account_uids(accounts) if act.uses_account else []
    checks, figures, notes = [], {}, []
    for latency_ms in s.naive_latencies_ms:
        ctx.sim.configure(rps=rps, latency_ms=latency_ms, search_total=None)
        inputs = inputs_for(action_id, n)
        client = CaptainDataClient(ctx.sim.api_key, ctx.sim.base_url, requests_per_second=rps)
        try:
            bodies = [
                client.prepare(action_id, i, integration_users=users[:1] or None)[1] for i in inputs
            ]
            url = client.base_url + act.path
            session = requests.Session()
            t0 = time.perf_counter()
            ok = 0
            for body in bodies:
                resp = session.post(url, json=body, headers={"X-API-Key": ctx.sim.api_key})
                ok += resp.status_code == 200
                resp.json()
            naive_wall = time.perf_counter() - t0
            session.close()
            ctx.sim.configure(rps=rps, latency_ms=latency_ms, search_total=None)
            result, ours_wall, _ = _batch(ctx, client, action_id, inputs, users, "naive-ours")
        finally:
            client.close()
        naive_tput, ours_tput = n / naive_wall, n / ours_wall
        # A loop makes min(1/L, R) calls per second; the best client min(R, A/L) (16 workers
        # without an account).
        lat = max(latency_ms / 1000, 1e-9)
        ceiling = min(rps, (accounts if act.uses_account else 16) / lat) / min(1 / lat, rps)
        ratio = ours_tput / naive_tput
        figures[f"L={latency_ms:g}ms"] = {
            "naive_wall_s": naive_wall,
            "naive_ok": ok,
            "naive_throughput_per_s": naive_tput,
            "ours_wall_s": ours_wall,
            "ours_throughput_per_s": ours_tput,
            "ours_succeeded": result.stats.succeeded,
            "speedup": ratio,
            "ceiling_min_RL_A": ceiling,
            "speedup_over_ceiling": ratio / ceiling if ceiling else None,
        }
        label = f"speedup at L={_fmt_ms(latency_ms)} (ceiling {ceiling:g}x)"
        checks.append(check(label, ratio, None, "{:.1f}", "x"))
    a = accounts if act.uses_account else 16
    notes.append(
        f"One call after another makes min(1/L, R) calls per second and the best any client can "
        f"do is min(R, A/L) (A={a}), so no speedup can exceed that ratio, shown as the ceiling: "
        f"with R={rps:g}/s it is min(R*L, A), 15x or more only for calls of "
        f"{15 / rps * 1000:.0f} ms or longer (live runs take seconds)."
    )
    setup = {"action": action_id, "n": n, "rps": rps, "accounts": accounts}
    text = f"N={n}, R={rps:g}/s, A={accounts}, L in {', '.join(map(_fmt_ms, s.naive_latencies_ms))}"
    return Result("naive", "naive baseline", setup, text, figures, checks, notes)


# ---------------------------------------------------------------------------------- client CPU


def client_cpu(ctx: Context) -> Result:
    """CPU per call: our client's `run_action` vs a bare `requests` loop, same calls, no waits."""
    s = ctx.settings
    ctx.sim.configure(rps=None, latency_ms=0, search_total=None)
    action_id = PROFILE_ACTION
    act = load_catalog().get(action_id)
    assert act is not None
    user = account_uids(1)
    inputs = inputs_for(action_id, s.cpu_calls)
    client = CaptainDataClient(ctx.sim.api_key, ctx.sim.base_url)
    bodies = [client.prepare(action_id, i, integration_users=user)[1] for i in inputs]
    url = client.base_url + act.path
    headers = {"X-API-Key": ctx.sim.api_key}
    session = requests.Session()

    def ours() -> float:
        c0 = time.process_time()
        for i in inputs:
            client.run_action(action_id, i, integration_users=user)
        return (time.process_time() - c0) / len(inputs)

    def plain() -> float:
        c0 = time.process_time()
        for body in bodies:
            resp = session.post(url, json=body, headers=headers)
            resp.raise_for_status()
            resp.json()
        return (time.process_time() - c0) / len(bodies)

    try:
        for i, body in zip(inputs[:10], bodies[:10], strict=True):  # warm both connections up
            client.run_action(action_id, i, integration_users=user)
            session.post(url, json=body, headers=headers).json()
        ours_s, plain_s = [], []
        for _ in range(s.cpu_rounds):
            ours_s.append(ours())
            plain_s.append(plain())
        result, _, cpu = _batch(ctx, client, action_id, inputs, user, "cpu-engine")
        engine_cpu = cpu / max(1, result.stats.calls)
    finally:
        client.close()
        session.close()
    ours_med, plain_med = statistics.median(ours_s), statistics.median(plain_s)
    figures = {
        "calls_per_round": len(inputs),
        "rounds": s.cpu_rounds,
        "ours_cpu_per_call_s": ours_s,
        "requests_cpu_per_call_s": plain_s,
        "ours_median_ms": ours_med * 1000,
        "requests_median_ms": plain_med * 1000,
        "ratio": ours_med / plain_med,
        "engine_cpu_per_call_ms": None if engine_cpu is None else engine_cpu * 1000,
    }
    checks = [
        check("CPU per call, ours / requests", ours_med / plain_med, ("<=", 1.5)),
        check("ours, CPU per call", ours_med * 1000, None, "{:.3f}", " ms"),
        check(
            "engine + ledger, CPU per call",
            figures["engine_cpu_per_call_ms"],
            None,
            "{:.3f}",
            " ms",
        ),  # fmt: skip
    ]
    notes = [
        "Median of the rounds; both sides keep one connection alive (`requests.Session`); ours "
        "includes local validation of every input. The engine figure adds the batch engine, the "
        "SQLite ledger write of every result and the frame (reported, no target)."
    ]
    setup = {"calls": len(inputs), "rounds": s.cpu_rounds, "latency_ms": 0, "rps": None}
    text = f"{len(inputs)} sequential calls x {s.cpu_rounds} rounds, no latency, no limit"
    return Result("client-cpu", "client CPU", setup, text, figures, checks, notes)


# ------------------------------------------------------------------------------ page economy


def page_economy(ctx: Context) -> Result:
    """A search capped at `max_results` pays for the pages it needs and not one more."""
    s = ctx.settings
    act = load_catalog().get(SEARCH_ACTION)
    assert act is not None and act.page_size
    size, m, total = act.page_size, s.max_results, s.search_total
    minimum = act.credits_for(min(total, math.ceil(m / size) * size))
    search = sample_input(SEARCH_ACTION, 0)
    user = account_uids(1)
    client = CaptainDataClient(ctx.sim.api_key, ctx.sim.base_url)
    try:
        ctx.sim.configure(rps=None, latency_ms=0, search_total=total)
        result, _, _ = _batch(ctx, client, SEARCH_ACTION, [search], user, "page", max_results=m)
        engine = ctx.sim.settle()
        ctx.sim.configure(rps=None, latency_ms=0, search_total=total)
        got = sum(1 for _ in client.iter_results(SEARCH_ACTION, search, integration_users=user,
                                                 max_results=m))  # fmt: skip
        direct = ctx.sim.settle()
    finally:
        client.close()
        ctx.sim.configure(search_total=None)
    figures = {
        "page_size": size,
        "max_results": m,
        "search_total": total,
        "minimum_credits": minimum,
        "engine_credits": engine.get("credits_used"),
        "engine_pages": engine.get("calls"),
        "engine_rows": len(result.results),
        "client_credits": direct.get("credits_used"),
        "client_pages": direct.get("calls"),
        "client_results": got,
    }
    checks = [
        check(
            "credits / minimum (engine)", _ratio(engine.get("credits_used"), minimum), ("==", 1.0)
        ),  # fmt: skip
        check(
            "credits / minimum (client)", _ratio(direct.get("credits_used"), minimum), ("==", 1.0)
        ),  # fmt: skip
    ]
    setup = {"action": SEARCH_ACTION, "max_results": m, "page_size": size}
    text = f"`{SEARCH_ACTION}`, max_results={m}, page size {size}, minimum {minimum}"
    return Result("page-economy", "page economy", setup, text, figures, checks)


# --------------------------------------------------------------------------- refresh economy

_CREDITS = re.compile(r"credits spent this run: ([\d.]+) \(simulator counted ([\d.]+)\)")


def refresh_economy(ctx: Context) -> Result:
    """`make demo` twice in a scratch directory: the second run spends nothing on fresh inputs."""
    s = ctx.settings
    work = ctx.tmp / "demo"
    work.mkdir(parents=True, exist_ok=True)
    env = child_env(
        DAGSTER_HOME=str(work / ".dagster_home"),
        CAPTAINDATA_LEDGER=str(work / "ledger.sqlite"),
        CAPTAINDATA_WAREHOUSE=None,
        CAPTAINDATA_SANDBOX_FAULTS=None,
        CAPTAINDATA_REQUESTS_PER_SECOND=None if s.demo_rps is None else f"{s.demo_rps:g}",
    )
    cmd = [
        sys.executable,
        "-m",
        "captaindata_dagster.demo",
        "--definitions",
        str(REPO / "definitions.py"),
        "--warehouse",
        str(work / "warehouse.duckdb"),
    ]
    runs = []
    for _ in range(2):
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd, cwd=work, env=env, capture_output=True, text=True, timeout=s.timeout_s
        )
        wall = time.perf_counter() - t0
        m = _CREDITS.search(proc.stdout)
        if proc.returncode != 0 or m is None:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            raise RuntimeError(f"the demo failed ({proc.returncode}): {' | '.join(tail)}")
        runs.append({"wall_s": wall, "credits": float(m.group(1)), "simulator": float(m.group(2))})
    first, second = runs
    figures = {"first_run": first, "second_run": second}
    checks = [
        check("credits, first run", first["simulator"], None, "{:g}"),
        check("credits, second run", second["simulator"], ("<=", 0), "{:g}"),
    ]
    setup = {"definitions": "definitions.py", "sandbox": True}
    text = "`python -m captaindata_dagster.demo` twice, own ledger and DuckDB file"
    notes = ["Credits as the simulator counted them (the demo's metadata agrees)."]
    if s.demo_rps is not None:
        notes.append(f"CAPTAINDATA_REQUESTS_PER_SECOND={s.demo_rps:g} for speed")
    return Result("refresh-economy", "refresh economy", setup, text, figures, checks, notes)


# ---------------------------------------------------------------------------------- load cost


def load_cost(ctx: Context) -> Result:
    """Importing `definitions.py` in a fresh interpreter, against a bare `import dagster`."""
    s = ctx.settings
    ctx.sim.configure(rps=None, latency_ms=0, search_total=None)
    definitions = str(REPO / "definitions.py")
    # Bytecode caching as Python does by default (a code server has its .pyc files): the first
    # load writes them, the timed ones read them, on both sides alike.
    env = child_env(
        PYTHONDONTWRITEBYTECODE=None,
        CAPTAINDATA_API_KEY=ctx.sim.api_key,
        CAPTAINDATA_BASE_URL=ctx.sim.base_url,
        CAPTAINDATA_LEDGER=str(ctx.tmp / "load-ledger.sqlite"),
        CAPTAINDATA_WAREHOUSE=str(ctx.tmp / "load-warehouse.duckdb"),
    )
    timeout = min(s.timeout_s, 300.0)

    def run(what: str, modules: Sequence[str] = ()) -> dict[str, Any]:
        args = ["load", what, "--definitions", definitions, "--modules", ",".join(modules)]
        return _child(args, timeout, env)

    before = ctx.sim.state()["requests"]
    warm = run("definitions")  # also tells which third-party packages the file pulls in
    ours = {"captaindata_dagster", "bench", "bench_loaded_definitions"}
    floor_modules = ["dagster", *(m for m in warm["third_party"] if m not in ours | {"dagster"})]
    if not ctx.smoke:
        run("dagster")
        run("modules", floor_modules)
    walls: dict[str, list[float]] = {"dagster": [], "modules": [], "definitions": []}
    if ctx.smoke:  # one of each, the first load included: figures, not timings
        walls["definitions"].append(warm["wall_s"])
    for _ in range(s.load_repeats):
        for what in walls:
            if ctx.smoke and walls[what]:
                continue
            walls[what].append(run(what, floor_modules)["wall_s"])
    calls = ctx.sim.state()["requests"] - before
    med = {k: statistics.median(v) for k, v in walls.items()}
    ratio = med["definitions"] / med["dagster"]
    figures = {
        "repeats": s.load_repeats,
        "import_dagster_s": walls["dagster"],
        "import_third_party_s": walls["modules"],
        "load_definitions_s": walls["definitions"],
        "median_s": med,
        "ratio_definitions_over_dagster": ratio,
        "ratio_third_party_over_dagster": med["modules"] / med["dagster"],
        "ours_share_over_dagster": (med["definitions"] - med["modules"]) / med["dagster"],
        "third_party_packages": floor_modules,
        "http_calls": calls,
    }
    checks = [
        check("wall / bare `import dagster`", ratio, ("<=", 1.5), "{:.2f}", "x"),
        check(
            "of which third-party imports", med["modules"] / med["dagster"], None, "{:.2f}", "x"
        ),  # fmt: skip
        check("HTTP calls at load", calls, ("<=", 0), "{:g}"),
    ]
    known = ("pandas", "numpy", "duckdb", "requests", "dagster_pandas", "dagster_duckdb_pandas")
    heavy = ", ".join(m for m in known if m in floor_modules)
    notes = [
        f"Median of {s.load_repeats} fresh interpreters each, bytecode cached. `definitions.py` "
        f"pulls in {len(floor_modules) - 1} third-party packages beyond dagster ({heavy}, ...): "
        "importing dagster and those alone is the floor any definitions file using them pays "
        "(`of which third-party imports`); the rest is this package and the file itself."
    ]
    setup = {"definitions": "definitions.py", "repeats": s.load_repeats}
    text = "`definitions.py` vs `import dagster`, fresh interpreters"
    return Result("load-cost", "load cost", setup, text, figures, checks, notes)


# --------------------------------------------------------------------------- Dagster overhead


def dagster_overhead(ctx: Context) -> Result:
    """What `materialize` adds around the batch engine for one partition of profiles."""
    s = ctx.settings
    ctx.sim.configure(rps=None, latency_ms=0, search_total=None)
    args = ["dagster", "--url", ctx.sim.base_url, "--key", ctx.sim.api_key]
    args += ["--n", str(s.dagster_n), "--repeats", str(s.dagster_repeats)]
    out = _child(args, s.timeout_s)
    dag, eng = statistics.median(out["materialize_s"]), statistics.median(out["engine_s"])
    stored = statistics.median(out["materialize_sqlite_instance_s"])
    figures = {
        **out,
        "materialize_median_s": dag,
        "materialize_sqlite_instance_median_s": stored,
        "engine_median_s": eng,
        "added_s": dag - eng,
        "added_sqlite_instance_s": stored - eng,
    }
    checks = [
        check("seconds added per partition", dag - eng, None, "{:.2f}", " s"),
        check("same, SQLite instance", stored - eng, None, "{:.2f}", " s"),
        check("first profile run in a process", out["first_materialize_s"], None, "{:.2f}", " s"),
    ]
    notes = [
        "The profile step alone (its upstream partition loaded from a filesystem IO manager), "
        f"median of {s.dagster_repeats}, fresh ledger each time, against `run_batch` on the same "
        "inputs; in `materialize`'s default ephemeral instance, and in a SQLite one as deployed."
    ]
    setup = {"n": s.dagster_n, "repeats": s.dagster_repeats}
    text = f"one profile partition of {s.dagster_n} inputs, `materialize` vs `run_batch`"
    return Result("dagster-overhead", "Dagster overhead", setup, text, figures, checks, notes)


# ------------------------------------------------------------------------------------ memory


def memory(ctx: Context) -> Result:
    """Peak RSS of a process extracting N profiles, against the frame it ends with."""
    s = ctx.settings
    ctx.sim.configure(rps=None, latency_ms=0, search_total=None)
    checks, figures = [], {}
    for n in s.memory_n:
        args = ["memory", "--url", ctx.sim.base_url, "--key", ctx.sim.api_key]
        args += ["--n", str(n), "--accounts", str(s.memory_accounts)]
        out = _child(args, s.timeout_s)
        ctx.sim.reset()  # the simulator's request log is not what we measure
        frame = out["frame_bytes"]
        net = (out["peak_rss_bytes"] - out["rss_before_bytes"]) / frame if frame else None
        gross = out["peak_rss_bytes"] / frame if frame else None
        figures[f"N={n}"] = {**out, "extraction_rss_over_frame": net, "peak_rss_over_frame": gross}
        mib = 1024 * 1024
        checks.append(check(f"N={n:,}: peak RSS", out["peak_rss_bytes"] / mib, None, "{:.0f}",
                            " MiB"))  # fmt: skip
        checks.append(check(f"N={n:,}: frame (deep)", frame / mib, None, "{:.0f}", " MiB"))
        checks.append(check(f"N={n:,}: extraction RSS / frame", net, ("<=", 3.0), "{:.2f}", "x"))
        checks.append(check(f"N={n:,}: peak RSS / frame", gross, None, "{:.2f}", "x"))
    before = [f["rss_before_bytes"] / 1024 / 1024 for f in figures.values()]
    notes = [
        "Each N in a fresh process: `run_batch` with its ledger, A accounts, simulator without "
        "latency or limit. Extraction RSS = peak RSS minus the RSS before the batch (the "
        "interpreter with pandas and requests loaded, and the inputs: "
        f"{min(before):.0f}-{max(before):.0f} MiB); "
        "frame = `memory_usage(deep=True)`, which sizes nested lists and objects (experiences, "
        "education) shallowly, so the parsed values alone outweigh it."
    ]
    setup = {"n": list(s.memory_n), "accounts": s.memory_accounts}
    text = f"profile extraction, N in {', '.join(f'{n:,}' for n in s.memory_n)}"
    return Result("memory", "memory", setup, text, figures, checks, notes)


# ------------------------------------------------------------------------ simulator headroom


def simulator_headroom(ctx: Context) -> Result:
    """Requests per second the simulator serves when nothing limits it: it must not be the cap."""
    s = ctx.settings
    ctx.sim.configure(rps=None, latency_ms=0, search_total=None)
    act = load_catalog().get(PROFILE_ACTION)
    assert act is not None
    url = ctx.sim.base_url + act.path
    headers = {"X-API-Key": ctx.sim.api_key}
    stop = threading.Event()
    counts = [0] * s.headroom_threads

    prepared = [
        [
            {"input": inp, "integration_users": [f"headroom-{k}"]}
            for inp in inputs_for(PROFILE_ACTION, 200, offset=k * 1000)
        ]
        for k in range(s.headroom_threads)
    ]

    def worker(k: int) -> None:
        bodies = prepared[k]
        session = requests.Session()
        i = 0
        while not stop.is_set():
            session.post(url, json=bodies[i % len(bodies)], headers=headers).close()
            i += 1
        counts[k] = i
        session.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(s.headroom_threads)]
    before = ctx.sim.state()["requests"]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(s.headroom_s)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    state = ctx.sim.settle()
    served = state["requests"] - before
    rps = served / wall
    target = 5 * max(s.rate_rps, s.account_rps)
    figures = {
        "threads": s.headroom_threads,
        "seconds": wall,
        "served": served,
        "requests_per_s": rps,
        "status_counts": state.get("status_counts"),
        "target_per_s": target,
        "headroom_over_R": rps / max(s.rate_rps, s.account_rps),
    }
    checks = [check("requests/s served", rps, (">=", target), "{:.0f}", "/s")]
    notes = [
        "Client threads in the bench process share the machine's cores with the simulator, so "
        "this is a floor of what the simulator alone can serve."
    ]
    setup = {"threads": s.headroom_threads, "seconds": s.headroom_s}
    text = f"no latency, no limit, {s.headroom_threads} client threads"
    return Result("simulator-headroom", "simulator headroom", setup, text, figures, checks, notes)


SCENARIOS: dict[str, Callable[[Context], Result]] = {
    "rate-bound": rate_bound,
    "account-bound": account_bound,
    "no-429": no_429,
    "naive": naive,
    "client-cpu": client_cpu,
    "page-economy": page_economy,
    "refresh-economy": refresh_economy,
    "load-cost": load_cost,
    "dagster-overhead": dagster_overhead,
    "memory": memory,
    "simulator-headroom": simulator_headroom,
    "receiver-throughput": receiver_throughput,
    "async-mode": async_mode,
}
NEEDS = {"no-429": ("rate-bound", "account-bound")}


def machine() -> dict[str, Any]:
    """Where the figures were measured (a shared machine makes wall times noisy)."""
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "cpus": os.cpu_count(),
        "load_avg": load,
        "tmp": tempfile.gettempdir(),
    }
