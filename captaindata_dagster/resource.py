"""`CaptainDataResource`: the Dagster resource that hands assets and ops a configured client.

Constructing it, or loading a `Definitions` that holds it, makes no HTTP call: the client is built on
first use inside a run, and one client is shared by every thread of a step so that its pacing (the
plan's requests per second, one call at a time per account) holds for the whole step.
"""

from __future__ import annotations

import os
import threading
from typing import Literal

import dagster as dg
from pydantic import Field, PrivateAttr

from .client import DEFAULT_BASE_URL, CaptainDataClient
from .errors import ValidationError
from .ledger import Ledger, default_ledger_path
from .sandbox import SANDBOX_ENV, sandbox_enabled, sandbox_simulator

API_KEY_ENV = "CAPTAINDATA_API_KEY"
BASE_URL_ENV = "CAPTAINDATA_BASE_URL"


class CaptainDataResource(dg.ConfigurableResource):
    """Settings for talking to Captain Data v4; `get_client()` returns the shared client.

    The key is read from the environment when a step runs unless given (an `EnvVar` keeps it out of
    the run config shown in the UI; never pass the literal key). Example::

        CaptainDataResource(
            api_key=dg.EnvVar("CAPTAINDATA_API_KEY"),
            integration_users=["<user uid>"],
            requests_per_second=10,
        )
    """

    api_key: str | None = Field(
        default=None,
        description=f"Workspace API key. Unset: read from {API_KEY_ENV} when a step runs.",
    )
    base_url: str | None = Field(
        default=None,
        description=f"API root. Unset: {BASE_URL_ENV}, else {DEFAULT_BASE_URL}.",
    )
    timeout: float = Field(default=60.0, description="Seconds to wait for one live call.")
    max_retries: int = Field(default=5, description="Retries per call for 429, 5xx and timeouts.")
    requests_per_second: float | None = Field(
        default=None,
        description="The plan's limit (trial 1, low 2, mid 10, high 20, highest 40); None = unpaced.",
    )
    integration_users: list[str] = Field(
        default_factory=list,
        description="User uids whose connected accounts run LinkedIn actions, rotated by batches.",
    )
    account_form: Literal["integration_users", "identity_ids"] = Field(
        default="integration_users",
        description="Body form for accounts: the seed's integration_users, or identity_ids.",
    )
    identity_mode: str | None = Field(
        default=None, description="With account_form='identity_ids': direct, auto or managed."
    )
    ledger_path: str | None = Field(
        default=None,
        description="SQLite ledger (cache and checkpoints). Unset: $CAPTAINDATA_LEDGER, else "
        ".captaindata/ledger.sqlite under the working directory.",
    )
    sandbox: bool | None = Field(
        default=None,
        description=f"Use the bundled simulator (synthetic data). Unset: {SANDBOX_ENV}=1 turns it on.",
    )

    _client: CaptainDataClient | None = PrivateAttr(default=None)
    _ledger: Ledger | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __repr__(self) -> str:
        return (
            f"CaptainDataResource(base_url={self.base_url!r}, api_key='***', "
            f"requests_per_second={self.requests_per_second!r})"
        )

    __str__ = __repr__

    def get_client(self) -> CaptainDataClient:
        """The client for these settings (built once, then shared). Raises if no key is set."""
        with self._lock:
            if self._client is None:
                api_key = self.api_key or os.environ.get(API_KEY_ENV)
                base_url = self.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
                if self.is_sandbox:
                    sim = sandbox_simulator()
                    api_key, base_url = sim.api_key, sim.base_url
                if not api_key:
                    raise ValidationError(
                        f"No Captain Data API key: set {API_KEY_ENV} (and optionally "
                        f"{BASE_URL_ENV}), or set {SANDBOX_ENV}=1 to run against the bundled "
                        "simulator with synthetic data.",
                        field="api_key",
                        error_label="MISSING_API_KEY",
                        error_scope="auth",
                    )
                self._client = CaptainDataClient(
                    api_key,
                    base_url,
                    timeout=self.timeout,
                    max_retries=self.max_retries,
                    requests_per_second=self.requests_per_second,
                    integration_users=self.integration_users,
                    account_form=self.account_form,
                    identity_mode=self.identity_mode,
                )
            return self._client

    @property
    def is_sandbox(self) -> bool:
        """True when calls go to the bundled simulator (synthetic data), never silently.

        An explicit sandbox (field or `CAPTAINDATA_SANDBOX=1`) wins over a configured key.
        """
        return self.sandbox if self.sandbox is not None else sandbox_enabled()

    def get_ledger(self) -> Ledger:
        """The ledger for these settings (the file is created on first write)."""
        with self._lock:
            if self._ledger is None:
                self._ledger = Ledger(self.ledger_path or default_ledger_path())
            return self._ledger

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None
