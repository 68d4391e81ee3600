"""Sandbox mode: the bundled simulator stands in for the API, loudly, when CAPTAINDATA_SANDBOX=1.

One simulator per process, started on loopback on first use and stopped at exit. Dagster may run
each step in its own process, so the steps of one run talk to different simulators that must agree:

- The DATA is the same in every process: its seed is fixed (`SANDBOX_SEED`), so the same search
  finds the same people, whose profiles and companies every other process extracts alike.
- The FAULTS are not: `CAPTAINDATA_SANDBOX_FAULTS="LK_BAD_COOKIE=0.05,STATUS_429=0.02"` sets a
  probability per call, drawn from a stream seeded afresh at each start (`os.urandom`), so across
  steps about that share of calls fail (with one fixed seed, every step's first call would draw the
  same number and fail or pass together). For a reproducible run, pin the draws with
  `CAPTAINDATA_SANDBOX_FAULT_SEED=<int>`: every start then fails the same calls.

Its workspace has three users and three identities of the same people, each with a connected
LinkedIn account (`SANDBOX_USERS`), so `rotate_connected_users` (in either account form) and
`captaindata-dagster users|identities list --sandbox` have something to show. Each start logs one
WARNING that the data is synthetic (`SANDBOX_BANNER`); its loopback address is logged at DEBUG.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from captaindata_dagster.simulator.config import SimulatorConfig

SANDBOX_ENV = "CAPTAINDATA_SANDBOX"
SANDBOX_FAULTS_ENV = "CAPTAINDATA_SANDBOX_FAULTS"
SANDBOX_FAULT_SEED_ENV = "CAPTAINDATA_SANDBOX_FAULT_SEED"
SANDBOX_SEED = 42
SANDBOX_USERS = (("ada@example.com", "Ada Lovelace"), ("grace@example.com", "Grace Hopper"),
                 ("alan@example.com", "Alan Turing"))  # fmt: skip
SANDBOX_BANNER = (
    "CAPTAINDATA SANDBOX: results are SYNTHETIC, served by the bundled simulator, not by Captain "
    "Data. Unset {env} and set CAPTAINDATA_API_KEY for real data."
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


def sandbox_fault_seed() -> int:
    """The seed of this start's fault draws: `CAPTAINDATA_SANDBOX_FAULT_SEED` when set, else fresh.

    Fresh (from the OS's randomness) at each start, so the steps of a run, each in its own process
    with its own simulator, fail in the share the fault rates say rather than all together.

    Example:
        >>> seed = sandbox_fault_seed()  # CAPTAINDATA_SANDBOX_FAULT_SEED=7 -> 7; unset -> fresh
    """
    text = os.environ.get(SANDBOX_FAULT_SEED_ENV, "").strip()
    if not text:
        return random.SystemRandom().getrandbits(63)
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{SANDBOX_FAULT_SEED_ENV}: {text!r} is not an integer") from None


def sandbox_config() -> SimulatorConfig:
    """The settings of a sandbox start, read from the environment now.

    The data seed is always `SANDBOX_SEED` (every process serves the same people); the faults are
    `CAPTAINDATA_SANDBOX_FAULTS`, drawn with `sandbox_fault_seed()`.

    Example:
        >>> sandbox_config().seed == SANDBOX_SEED
        True
    """
    from captaindata_dagster.simulator.config import SimulatorConfig  # on first use, as the rest

    faults = parse_faults(os.environ.get(SANDBOX_FAULTS_ENV, ""))
    return SimulatorConfig(
        seed=SANDBOX_SEED, fault_seed=sandbox_fault_seed(), latency_ms=5, faults=faults
    )


def start_sandbox_simulator() -> Any:
    """A new simulator with the sandbox's settings, users and identities, started on loopback.

    `sandbox_simulator()` is the one a process shares; this is each start (stop it yourself).
    """
    from captaindata_dagster.simulator import Simulator  # only sandbox users pay for the import

    sim = Simulator(sandbox_config()).start()
    for email, full_name in SANDBOX_USERS:
        sim.add_user(email, full_name)  # connected: same uids in every process
    for _, full_name in SANDBOX_USERS:  # after the users, so their uids stay the same
        sim.add_identity(full_name)
    return sim


def sandbox_simulator() -> Any:
    """This process's sandbox simulator (started on first call, stopped at exit).

    Logs one WARNING that the data is synthetic at each start, and its address at DEBUG.
    """
    global _sim
    with _lock:
        if _sim is None:
            _sim = start_sandbox_simulator()
            atexit.register(_sim.stop)
            log.warning(SANDBOX_BANNER.format(env=SANDBOX_ENV))
            log.debug("sandbox simulator serving at %s", _sim.base_url)
        return _sim
