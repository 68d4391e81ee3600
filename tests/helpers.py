"""Plain helpers shared by the test tiers (fixtures live in tests/conftest.py).

- `ROOT`: the checkout, for scripts, recipes and `definitions.py`.
- `TEST_KEY`: the simulators' API key; `SEARCHES`: two people searches, the usual partitions.
- `load_script`: import a file that is not part of a package (scripts/, examples/, definitions.py).
- `simulator_resource`: a `CaptainDataResource` aimed at a simulator, its ledger in `tmp_path`;
  `async_resource`: the same for async steps, posting to the `receiver` fixture's receiver.
- `materialization_metadata`: an asset's materialization metadata in a run's result.
- `FakeClock`: a clock and a sleeper to inject, so no test waits or measures real time.
- `wait_until`: poll another process's progress, failing with a message when it stalls.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from captaindata_dagster.testing.resources import simulated_resource

if TYPE_CHECKING:  # Dagster is imported only by the tests that build a resource
    from captaindata_dagster.orchestration.resource import CaptainDataResource
    from captaindata_dagster.simulator import Simulator

ROOT = Path(__file__).resolve().parents[1]
TEST_KEY = "cd-test-key-5f0c2a9e-DO-NOT-LEAK"  # distinctive, so a leak is easy to grep for
# Two named LinkedIn people searches, the partitions of most pipeline tests.
SEARCHES = {
    "paris": "https://www.linkedin.com/search/results/people/?keywords=data%20engineer&geo=paris",
    "berlin": "https://www.linkedin.com/search/results/people/?keywords=cto&geo=berlin",
}


def load_script(path: Path | str, name: str | None = None) -> ModuleType:
    """Import the Python file at `path` afresh, as a module of its own.

    Each call executes the file again, so settings it reads from the environment at import are
    read now. The module is in `sys.modules` only while it executes (dataclasses look their module
    up then), so loads never leak into each other.

    Args:
        path: the file, absolute or relative to the checkout (`ROOT`).
        name: the module's name; a unique one by default.

    Example:
        >>> gen = load_script("scripts/gen_catalog.py")  # doctest: +SKIP
    """
    path = ROOT / path
    name = name or f"{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot import {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def simulator_resource(sim: Simulator, tmp_path: Path, **overrides: Any) -> CaptainDataResource:
    """`simulated_resource` (the package's own test helper) with its ledger in `tmp_path`.

    Every resource a test builds so shares `tmp_path/ledger.sqlite`: a second run reuses what the
    first one paid for, as in production.

    Args:
        sim: a running simulator (the `sim` or `make_sim` fixture): its key and URL are used.
        tmp_path: the test's temporary folder.
        **overrides: any other resource setting, or a different `api_key` / `ledger_path`.

    Example:
        >>> res = simulator_resource(sim, tmp_path, integration_users=["u1"])  # doctest: +SKIP
    """
    overrides.setdefault("ledger_path", tmp_path / "ledger.sqlite")
    return simulated_resource(sim, **overrides)


FAST_BULK = {"bulk_poll_s": 0.01, "bulk_status_every_s": 0.05}
"""Async-mode waits of a test resource: the store read every 10 ms, run statuses every 50 ms."""


def async_resource(
    sim: Simulator, tmp_path: Path, receiver: Any, **overrides: Any
) -> CaptainDataResource:
    """`simulator_resource` for async steps: callbacks go to `receiver` (the `receiver` fixture),
    which lands them in `tmp_path/callbacks.sqlite`, the store the steps read; short waits.

    Example:
        >>> res = async_resource(sim, tmp_path, receiver)  # doctest: +SKIP
    """
    settings = {
        "receiver_url": receiver.base_url,
        "callback_store": str(tmp_path / "callbacks.sqlite"),
        **FAST_BULK,
        **overrides,
    }
    return simulator_resource(sim, tmp_path, **settings)


def materialization_metadata(result: Any, key: str) -> dict[str, Any]:
    """The metadata values of the materialization of asset `key` (user string) in a run result."""
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        if mat.asset_key.to_user_string() == key:
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    raise AssertionError(f"{key} was not materialized")


class FakeClock:
    """A monotonic clock and its sleeper: sleeping moves the clock on at once and is recorded.

    Pass `clock=fake` and `sleep=fake.sleep` to what would read or wait on real time (the client,
    `TokenBucket`). `waits` lists every wait asked for; `on_sleep` callbacks run at each wait, so a
    test changes the world "while" the code waits (clears a fault before a retry) without threads.

    Example:
        >>> fake = FakeClock()
        >>> fake.sleep(1.5)
        >>> (fake(), fake.waits)
        (101.5, [1.5])
    """

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.waits: list[float] = []
        self.on_sleep: list[Callable[[float], None]] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += max(0.0, seconds)
        for callback in self.on_sleep:
            callback(seconds)


def wait_until(
    condition: Callable[[], object],
    message: str,
    *,
    alive: Callable[[], bool] | None = None,
    timeout_s: float = 60.0,
    poll_s: float = 0.02,
) -> None:
    """Poll `condition` until it is true; fail with `message` if it is not within `timeout_s`.

    For progress made by another process (a child run, a server), which no injected clock reaches.
    The timeout only keeps a stalled test from hanging: nothing is asserted about how long it took.

    Args:
        condition: what is awaited; polled every `poll_s` seconds.
        message: the failure's message when the time is up.
        alive: optional; when it returns False the wait fails at once (the child ended early).
        timeout_s: the longest wait before failing.
        poll_s: the pause between polls.

    Example:
        >>> wait_until(lambda: True, "never")
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert alive is None or alive(), f"{message} (ended early)"
        assert time.monotonic() < deadline, f"{message} (after {timeout_s:g}s)"
        time.sleep(poll_s)
