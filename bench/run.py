"""`python -m bench`: run the scenarios, write `bench/results.json` and `bench/results.md`.

    python -m bench                                   # every scenario with the issue's figures
    python -m bench --only rate-bound --n 1000 --rps 50 --latency-ms 20 --accounts 10
    python -m bench --smoke --out-dir /tmp/x          # tiny N, seconds; what the test runs

A full run writes `bench/results.json` and `bench/results.md`; a run with `--only`, an override
or `--smoke` writes `results-partial.*` instead (so it never replaces the full run's figures),
unless `--out-dir` or `--name` says where. The exit code is 0 when every scenario ran, whatever
its figures (a missed target is a finding, not a crash); `--strict` makes a missed target exit 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from .report import Result, markdown, write
from .scenarios import NEEDS, SCENARIOS, Context, Settings, machine
from .sim import SimProcess

HERE = Path(__file__).resolve().parent


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Captain Data integration vs the physical limit of a plan (see bench/__init__).",
    )
    p.add_argument(
        "--only",
        default="",
        help=f"comma-separated scenarios (default: all): {', '.join(SCENARIOS)}",
    )
    p.add_argument("--smoke", action="store_true", help="tiny N everywhere: seconds, no meaning")
    p.add_argument("--n", type=int, default=None, help="N for every selected scenario that has one")
    p.add_argument("--rps", type=float, default=None, help="R, the plan's requests per second")
    p.add_argument("--latency-ms", type=float, default=None, help="L, the latency of one call")
    p.add_argument("--accounts", type=int, default=None, help="A, connected accounts")
    p.add_argument("--action", default=None, help="enrichment action of the bound scenarios")
    p.add_argument("--max-results", type=int, default=None, help="page economy: the search cap")
    p.add_argument("--repeats", type=int, default=None, help="load cost and Dagster overhead")
    p.add_argument("--out-dir", type=Path, default=None, help="where results.* go (default bench/)")
    p.add_argument("--name", default=None, help="file stem (default results / results-partial)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--quiet", action="store_true")
    return p


def _selected(only: str) -> list[str]:
    if not only:
        return list(SCENARIOS)
    wanted = [x.strip() for x in only.split(",") if x.strip()]
    unknown = [x for x in wanted if x not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    for sid in list(wanted):  # what a derived scenario reads runs first
        for need in NEEDS.get(sid, ()):
            if need not in wanted:
                wanted.insert(wanted.index(sid), need)
    return [sid for sid in SCENARIOS if sid in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected scenarios against a simulator subprocess; returns the exit code."""
    args = build_parser().parse_args(argv)
    selected = _selected(args.only)
    settings = Settings.smoke() if args.smoke else Settings()
    settings = settings.override(args.n, args.rps, args.latency_ms, args.accounts, args.action)
    if args.max_results is not None:
        settings.max_results = args.max_results
    if args.repeats is not None:
        settings.load_repeats = settings.dagster_repeats = args.repeats
    partial = (
        args.smoke
        or bool(args.only)
        or any(
            v is not None
            for v in (
                args.n,
                args.rps,
                args.latency_ms,
                args.accounts,
                args.action,
                args.max_results,
            )
        )
    )
    out_dir = args.out_dir or HERE
    stem = args.name or ("results-partial" if partial else "results")

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    started = datetime.now(timezone.utc)
    meta = {
        "bench": "captaindata-dagster",
        "format": 1,
        "started_at": started.isoformat(timespec="seconds"),
        "mode": "smoke" if args.smoke else ("partial" if partial else "full"),
        "argv": list(sys.argv[1:] if argv is None else argv),
        "settings": vars(settings).copy(),
        "machine_before": machine(),
    }
    results: list[Result] = []
    t_run = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cd-bench-") as tmp, SimProcess() as sim:
        log(f"bench: simulator at {sim.base_url} (pid {sim.proc.pid if sim.proc else '?'})")
        ctx = Context(sim, settings, Path(tmp), smoke=args.smoke, log=log)
        for sid in selected:
            log(f"bench: {sid} ...")
            t0 = time.perf_counter()
            try:
                result = SCENARIOS[sid](ctx)
            except Exception as e:  # one broken scenario must not hide the others' figures
                detail = "".join(traceback.format_exception_only(type(e), e)).strip()
                log(traceback.format_exc())
                result = Result(sid, sid, {}, "", {}, [], error=detail[:300])
            result.figures.setdefault("scenario_wall_s", time.perf_counter() - t0)
            ctx.done[sid] = result
            results.append(result)
            shown = "; ".join(f"{c.figure} {c.shown}" for c in result.checks) or result.error
            log(f"bench: {sid}: {shown} ({time.perf_counter() - t0:.1f} s)")
    meta["machine_after"] = machine()
    meta["wall_s"] = time.perf_counter() - t_run
    path_json, path_md = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    write(path_json, path_md, meta, results)
    if not args.quiet:
        print(markdown(results))
        print(f"wrote {path_json} and {path_md}")
    failed = [r.id for r in results if r.error is not None]
    missed = [r.id for r in results for c in r.checks if c.met is False]
    if failed:
        log(f"bench: scenario(s) failed to run: {', '.join(failed)}")
        return 2
    if missed and args.strict:
        return 1
    return 0
