"""Sandbox mode: the bundled simulator stands in for the API, loudly, when CAPTAINDATA_SANDBOX=1.

One simulator per process, started on loopback on first use and stopped at exit. Its seed is fixed
so every process (Dagster may run each step in its own) serves the same synthetic people. Faults can
be injected with CAPTAINDATA_SANDBOX_FAULTS="LK_BAD_COOKIE=0.05,STATUS_429=0.02". Its workspace has
three users and three identities of the same people, each with a connected LinkedIn account
(`SANDBOX_USERS`), so `rotate_connected_users` (in either account form) and
`captaindata-dagster users|identities list --sandbox` have something to show.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any

SANDBOX_ENV = "CAPTAINDATA_SANDBOX"
SANDBOX_FAULTS_ENV = "CAPTAINDATA_SANDBOX_FAULTS"
SANDBOX_SEED = 42
SANDBOX_USERS = (("ada@example.com", "Ada Lovelace"), ("grace@example.com", "Grace Hopper"),
                 ("alan@example.com", "Alan Turing"))  # fmt: skip
SANDBOX_BANNER = (
    "CAPTAINDATA SANDBOX: results are SYNTHETIC, served by the bundled simulator at {url}, "
    "not by Captain Data. Unset {env} and set CAPTAINDATA_API_KEY for real data."
)

_lock = threading.Lock()
_sim: Any = None
log = logging.getLogger("captaindata_dagster.simulator.sandbox")


def sandbox_enabled() -> bool:
    return os.environ.get(SANDBOX_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def parse_faults(text: str) -> dict[str, float]:
    """`"LK_BAD_COOKIE=0.05,timeout=0.01"` -> {"LK_BAD_COOKIE": 0.05, "timeout": 0.01}."""
    faults: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, rate = part.partition("=")
        if not sep:
            raise ValueError(f"{SANDBOX_FAULTS_ENV}: {part!r} should look like NAME=RATE")
        try:
            faults[name.strip()] = float(rate)
        except ValueError:
            raise ValueError(f"{SANDBOX_FAULTS_ENV}: rate of {name!r} is not a number") from None
    return faults


def sandbox_simulator() -> Any:
    """This process's sandbox simulator (started on first call). Logs the banner each start."""
    global _sim
    with _lock:
        if _sim is None:
            from captaindata_dagster.simulator import (
                Simulator,  # only sandbox users pay for the import
            )

            faults = parse_faults(os.environ.get(SANDBOX_FAULTS_ENV, ""))
            _sim = Simulator(seed=SANDBOX_SEED, latency_ms=5, faults=faults).start()
            for email, full_name in SANDBOX_USERS:
                _sim.add_user(email, full_name)  # connected: same uids in every process
            for _, full_name in SANDBOX_USERS:  # after the users, so their uids stay the same
                _sim.add_identity(full_name)
            atexit.register(_sim.stop)
            log.warning(SANDBOX_BANNER.format(url=_sim.base_url, env=SANDBOX_ENV))
        return _sim
