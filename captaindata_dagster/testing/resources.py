"""A `CaptainDataResource` aimed at a running simulator, for tests of your own assets and jobs.

The resource gets the simulator's key and URL, the sandbox turned off (so `CAPTAINDATA_SANDBOX`
in the environment cannot send calls elsewhere), and a ledger of its own, so no test reads results
another test paid for. Dagster is imported when a resource is built, not when this module is.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from captaindata_dagster.orchestration.resource import CaptainDataResource
    from captaindata_dagster.simulator import Simulator

LEDGER_FILE = "ledger.sqlite"


def simulated_resource(
    sim: Simulator, *, ledger_path: str | Path | None = None, **resource_fields: Any
) -> CaptainDataResource:
    """A `CaptainDataResource` that calls the simulator `sim`: no key of yours, no network.

    The simulator's key is a throwaway one, so the warning a literal `api_key` gets elsewhere is
    not raised here. Without `ledger_path`, the ledger goes in a fresh temporary folder removed
    when the process exits: every resource built so starts with an empty ledger (nothing cached).
    Build two resources with the same `ledger_path` to test what a second run reuses.

    Args:
        sim: a started `Simulator` (see `run_simulator`, or the `captaindata_simulator` fixture
            of `captaindata_dagster.testing.pytest_plugin`).
        ledger_path: the SQLite ledger's file; a fresh temporary one by default.
        **resource_fields: any other `CaptainDataResource` field (`integration_users`,
            `requests_per_second`, `max_retries`, ...); `api_key` or `base_url` given here win
            over the simulator's (to test a wrong key, say).

    Returns:
        The resource, to pass as `resources={"captaindata": ...}` to `dagster.materialize`, a
        job's `execute_in_process` or a `Definitions`.

    Example:
        >>> import dagster as dg
        >>> from captaindata_dagster import build_action_asset
        >>> from captaindata_dagster.simulator import run_simulator
        >>> companies = build_action_asset(
        ...     "linkedin-extract-company", name="companies",
        ...     inputs=["https://www.linkedin.com/company/captaindata/"])
        >>> with run_simulator(seed=7) as sim:  # doctest: +SKIP
        ...     result = dg.materialize(
        ...         [companies], resources={"captaindata": simulated_resource(sim)})
        ...     assert result.success and sim.credits_used == 1
    """
    from captaindata_dagster.orchestration.resource import CaptainDataResource, LiteralKeyWarning

    settings: dict[str, Any] = {
        "api_key": sim.api_key,
        "base_url": sim.base_url,
        "sandbox": False,
        "ledger_path": str(ledger_path if ledger_path is not None else _temporary_ledger()),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LiteralKeyWarning)  # a simulator's key is no secret
        return CaptainDataResource(**{**settings, **resource_fields})


def _temporary_ledger() -> Path:
    """A ledger file in a new temporary folder, removed when the process exits."""
    folder = tempfile.mkdtemp(prefix="captaindata-test-ledger-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder) / LEDGER_FILE
