"""`captaindata-dagster simulator`: serve a simulated Captain Data v4 API until Ctrl-C.

    captaindata-dagster simulator --port 8765 --rps 10 --latency-ms 50 --fault STATUS_429=0.05

It prints one line, the base URL and the key (`--json`: one JSON object), so a script or a test
that started it can connect, then serves on loopback until SIGINT (Ctrl-C) or SIGTERM.
`captaindata-simulator` is the same command under its former name.
"""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

import click

from captaindata_dagster.cli.options import CONTEXT_SETTINGS, SettingsError, json_option
from captaindata_dagster.simulator.config import SimulatorConfig
from captaindata_dagster.simulator.server import Simulator

DEFAULT_PORT = 8765


def _pairs(option: str, values: tuple[str, ...]) -> dict[str, str]:
    """Split each "NAME=VALUE" on its last "=" (input values such as URLs may hold "=")."""
    found: dict[str, str] = {}
    for text in values:
        name, sep, value = text.rpartition("=")
        if not sep or not name or not value:
            raise click.BadParameter(f"must look like NAME=VALUE, got {text!r}", param_hint=option)
        found[name] = value
    return found


def _faults(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, float]:
    faults: dict[str, float] = {}
    for name, rate in _pairs("--fault", values).items():
        try:
            faults[name] = float(rate)
        except ValueError:
            raise click.BadParameter(f"the rate must be a number, got {rate!r}") from None
    return faults


def _fail_inputs(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    return _pairs("--fail-input", values)


def simulator_config(**options: Any) -> SimulatorConfig:
    """The simulator's settings from the command's options (their names, without `as_json`).

    Args:
        **options: what the `simulator` command parsed: host, port, api_key, seed, latency_ms,
            rps, account_concurrency, fault (a dict name -> rate), fail_input (value -> label),
            credits, hang_s, retry_after_s, search_total, fault_after_effect.

    Raises:
        ValueError: a setting the simulator refuses (an unknown fault name, a negative rate).

    Example:
        >>> simulator_config(port=0, fault={"STATUS_429": 0.1}).faults
        {'STATUS_429': 0.1}
    """
    options = dict(options)
    options["faults"] = dict(options.pop("fault", {}))
    options["fail_inputs"] = dict(options.pop("fail_input", {}))
    return SimulatorConfig(**options)


@click.command(name="simulator", context_settings=CONTEXT_SETTINGS)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to serve on.")
@click.option(
    "--port", type=int, default=DEFAULT_PORT, show_default=True, help="0 picks a free port."
)
@click.option("--api-key", default=None, help="The key clients must send [default: random].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the synthetic data.")
@click.option("--latency-ms", type=float, default=0.0, help="Added to every action call.")
@click.option("--rps", type=float, default=None, help="Action calls per second limit.")
@click.option("--account-concurrency", type=int, default=1, show_default=True,
              help="Calls at once per LinkedIn account.")  # fmt: skip
@click.option("--fault", multiple=True, callback=_faults, metavar="NAME=RATE",
              help="Inject a fault: a label (LK_BAD_COOKIE), a status (503), timeout, drop, "
              "drop_mid_body, malformed_json or html_<status>; repeatable.")  # fmt: skip
@click.option("--fail-input", multiple=True, callback=_fail_inputs, metavar="VALUE=LABEL",
              help="Every call whose input holds VALUE fails with LABEL; repeatable.")  # fmt: skip
@click.option("--credits", type=float, default=None, help="Credits in the workspace.")
@click.option("--hang-s", type=float, default=5.0, show_default=True,
              help="How long a timeout fault hangs.")  # fmt: skip
@click.option("--retry-after-s", type=float, default=None, help="Retry-After of a 429.")
@click.option("--search-total", type=int, default=None, help="Results a search finds.")
@click.option("--fault-after-effect", is_flag=True,
              help="Faults strike after the action took effect (the answer is lost).")  # fmt: skip
@json_option
def simulator_command(as_json: bool, **options: Any) -> None:
    """Serve a simulated Captain Data API until Ctrl-C.

    Prints the base URL and the key (one line), then serves. Point a client at it with
    CAPTAINDATA_BASE_URL and CAPTAINDATA_API_KEY. Exit codes: 0 stopped, 2 bad settings or the
    port is taken.
    """
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda signum, frame: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            sim = Simulator(simulator_config(**options)).start()
        except (ValueError, OSError) as err:
            raise SettingsError(str(err)) from err
        try:
            if as_json:
                click.echo(json.dumps({"base_url": sim.base_url, "api_key": sim.api_key}))
            else:
                click.echo(f"captaindata simulator on {sim.base_url}  key={sim.api_key}")
            while not stop.wait(0.2):
                pass
        finally:
            sim.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
