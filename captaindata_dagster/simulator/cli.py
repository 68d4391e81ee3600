"""`captaindata-simulator` / `python -m captaindata_dagster.simulator`: serve until SIGINT/SIGTERM.

Prints one line (base URL and key) so a script or a test that started it can connect, then serves.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from captaindata_dagster.simulator.config import SimulatorConfig
from captaindata_dagster.simulator.server import Simulator


def _pair(text: str, what: str) -> tuple[str, str]:
    """Split "NAME=VALUE" on the last "=" (input values such as URLs may hold "=" themselves)."""
    name, sep, value = text.rpartition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"{what} must look like NAME=VALUE, got {text!r}")
    return name, value


def _fault(text: str) -> tuple[str, float]:
    name, rate = _pair(text, "--fault")
    try:
        return name, float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fault rate must be a number, got {rate!r}") from None


def _fail_input(text: str) -> tuple[str, str]:
    return _pair(text, "--fail-input")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="captaindata-simulator",
        description="Serve a simulated Captain Data v4 API on loopback until interrupted.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    p.add_argument("--api-key", default=None, help="the key clients must send (default: random)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every action call")
    p.add_argument("--rps", type=float, default=None, help="action calls per second limit")
    p.add_argument("--account-concurrency", type=int, default=1)
    p.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="NAME=RATE",
        help="inject a fault: a label (LK_BAD_COOKIE), a status (503), timeout, drop, "
        "drop_mid_body, malformed_json or html_<status>; repeatable",
    )
    p.add_argument(
        "--fail-input",
        type=_fail_input,
        action="append",
        default=[],
        metavar="VALUE=LABEL",
        help="every call whose input holds VALUE fails with LABEL; repeatable",
    )
    p.add_argument("--credits", type=float, default=None, help="credits in the workspace")
    p.add_argument("--hang-s", type=float, default=5.0, help="how long a timeout fault hangs")
    p.add_argument("--retry-after-s", type=float, default=None)
    p.add_argument("--search-total", type=int, default=None)
    p.add_argument("--fault-after-effect", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator in the foreground; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        config = SimulatorConfig(
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            seed=args.seed,
            latency_ms=args.latency_ms,
            rps=args.rps,
            account_concurrency=args.account_concurrency,
            faults=dict(args.fault),
            fail_inputs=dict(args.fail_input),
            hang_s=args.hang_s,
            credits=args.credits,
            retry_after_s=args.retry_after_s,
            search_total=args.search_total,
            fault_after_effect=args.fault_after_effect,
        )
        sim = Simulator(config).start()
    except (ValueError, OSError) as e:
        print(f"captaindata-simulator: {e}", file=sys.stderr)
        return 2
    done = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"captaindata simulator on {sim.base_url}  key={sim.api_key}", flush=True)
    try:
        while not done.wait(0.2):
            pass
    finally:
        sim.stop()
    return 0
