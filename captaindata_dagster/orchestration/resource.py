"""`CaptainDataResource`: the Dagster resource that hands assets and ops a configured client.

Constructing it, or loading a `Definitions` that holds it, makes no HTTP call: the client is built on
first use inside a run, and one client is shared by every thread of a step so that its pacing (the
plan's requests per second, one call at a time per account) holds for the whole step.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import dagster as dg
from pydantic import Field, PrivateAttr

from captaindata_dagster.api.client import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_ACCOUNT_FORM,
    DEFAULT_BASE_URL,
    CaptainDataClient,
)
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.orchestration.account_rotation import rotation_users
from captaindata_dagster.orchestration.bulk_fields import (
    CALLBACK_STORE_HELP,
    POLL_HELP,
    RECEIVER_URL_HELP,
    STATUS_EVERY_HELP,
)
from captaindata_dagster.simulator.sandbox import SANDBOX_ENV, sandbox_enabled, sandbox_simulator
from captaindata_dagster.storage.callbacks import CallbackStore, default_callback_store_location
from captaindata_dagster.storage.ledger import LEDGER_URL_ENV, Ledger, resolve_ledger_location

if TYPE_CHECKING:
    from captaindata_dagster.engine.batch.run import BatchResult

_rebuilding = threading.local()  # set while Dagster rebuilds a resource with its config resolved


class LiteralKeyWarning(UserWarning):
    """`CaptainDataResource(api_key="...")`: the key would be stored in every run's snapshot."""


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
    timeout: float = Field(
        default=60.0,
        description="Seconds to wait for one live call (live runs can take tens of seconds). "
        "Below a healthy answer's time an input is paid twice: the API answered, the client gave "
        "up and asked again.",
    )
    max_retries: int = Field(default=5, description="Retries per call for 429, 5xx and timeouts.")
    max_billed_retries: int = Field(
        default=1,
        description="Re-sends after an attempt the API may have billed unseen (a timeout after "
        "sending, a cut or malformed answer); each may be billed again. 0: never re-send.",
    )
    max_retry_after_s: float = Field(
        default=120.0,
        description="Longest Retry-After waited out within a step. A longer ban ends that "
        "account (or the whole batch, for a workspace limit): its inputs are reported with the "
        "label and the time to retry.",
    )
    requests_per_second: float | None = Field(
        default=None,
        description="The plan's limit (trial 1, low 2, mid 10, high 20, highest 40); None = unpaced.",
    )
    integration_users: list[str] = Field(
        default_factory=list,
        description="User uids whose connected accounts run LinkedIn actions, rotated by batches.",
    )
    rotate_connected_users: bool = Field(
        default=False,
        description="When a step first builds its client, list the workspace's users and rotate "
        "LinkedIn actions over those whose LinkedIn account is connected without error. With "
        "integration_users too, only those of them that are connected are used.",
    )
    account_form: Literal["integration_users", "identity_ids"] = Field(
        default=DEFAULT_ACCOUNT_FORM,
        description="How a body names the accounts: identity_ids (the published spec's form, the "
        "default) or integration_users (the seed's form, for workspaces still on /v4/users).",
    )
    identity_mode: str | None = Field(
        default=None, description="With account_form='identity_ids': direct, auto or managed."
    )
    ledger_path: str | None = Field(
        default=None,
        description="SQLite ledger (cache and checkpoints). Unset: $CAPTAINDATA_LEDGER, else "
        ".captaindata/ledger.sqlite under the working directory.",
    )
    ledger_url: str | None = Field(
        default=None,
        description="PostgreSQL ledger shared by runs on several machines (the outreach store "
        "lives there too): postgresql://user@host:5432/database. Unset: "
        f"${LEDGER_URL_ENV}, else the SQLite ledger_path. Give it as an EnvVar (or the password "
        "through PGPASSWORD / ~/.pgpass) so the password stays out of the UI.",
    )
    sandbox: bool | None = Field(
        default=None,
        description=f"Use the bundled simulator (synthetic data). Unset: {SANDBOX_ENV}=1 turns it on.",
    )
    receiver_url: str | None = Field(default=None, description=RECEIVER_URL_HELP)
    callback_store: str | None = Field(default=None, description=CALLBACK_STORE_HELP)
    bulk_poll_s: float = Field(default=2.0, ge=0, description=POLL_HELP)
    bulk_status_every_s: float = Field(default=60.0, ge=0, description=STATUS_EVERY_HELP)

    _client: CaptainDataClient | None = PrivateAttr(default=None)
    _ledger: Ledger | None = PrivateAttr(default=None)
    _callbacks: CallbackStore | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __repr__(self) -> str:
        return (
            f"CaptainDataResource(base_url={self.base_url!r}, api_key='***', "
            f"requests_per_second={self.requests_per_second!r})"
        )

    __str__ = __repr__

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        if not getattr(_rebuilding, "active", False):
            _warn_if_literal(data.get("api_key"))

    def _with_updated_values(self, values: Mapping[str, Any] | None) -> Any:
        # Dagster builds a copy with every EnvVar resolved when a step starts: not a literal key.
        before = getattr(_rebuilding, "active", False)
        _rebuilding.active = True
        try:
            return super()._with_updated_values(values)
        finally:
            _rebuilding.active = before

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
                client = CaptainDataClient(
                    api_key,
                    base_url,
                    timeout=self.timeout,
                    max_retries=self.max_retries,
                    max_billed_retries=self.max_billed_retries,
                    max_retry_after_s=self.max_retry_after_s,
                    requests_per_second=self.requests_per_second,
                    integration_users=self.integration_users,
                    account_form=self.account_form,
                    identity_mode=self.identity_mode,
                )
                if self.rotate_connected_users:
                    try:
                        client.integration_users = rotation_users(client, self)
                    except BaseException:
                        client.close()
                        raise
                self._client = client
            return self._client

    def get_integration_users(self) -> list[str]:
        """The user uids LinkedIn actions rotate over in this step.

        With `rotate_connected_users`, the connected ones (listed once, when the client is
        built, so this needs the key); otherwise `integration_users` as configured.
        """
        if not self.rotate_connected_users:
            return list(self.integration_users)
        return list(self.get_client().integration_users)

    @property
    def is_sandbox(self) -> bool:
        """True when calls go to the bundled simulator (synthetic data), never silently.

        An explicit sandbox (field or `CAPTAINDATA_SANDBOX=1`) wins over a configured key.
        """
        return self.sandbox if self.sandbox is not None else sandbox_enabled()

    def get_ledger(self) -> Ledger:
        """The ledger for these settings: `ledger_url`, else `ledger_path`, else the environment
        (see `resolve_ledger_location`); nothing is opened before the first read or write."""
        with self._lock:
            if self._ledger is None:
                self._ledger = Ledger(resolve_ledger_location(self.ledger_url, self.ledger_path))
            return self._ledger

    def get_callback_store(self) -> CallbackStore:
        """Async mode's callback store: `callback_store`, else the environment's, else beside
        the ledger (see `orchestration.bulk_mode`); nothing is opened before the first read."""
        location = self.callback_store or default_callback_store_location(
            self.get_ledger().location
        )
        with self._lock:
            self._callbacks = self._callbacks or CallbackStore(location)
            return self._callbacks

    def run_batch(
        self,
        action_id: str,
        inputs: Iterable[Mapping[str, Any] | str | None],
        *,
        parameters: Mapping[str, Any] | None = None,
        max_age: timedelta | None = None,
        max_results: int | None = None,
        budget: float | None = None,
        log: Any = None,
        mode: str = "live",
        defer: bool = False,
        origin: Mapping[str, Any] | None = None,
        landing: bool = False,
    ) -> BatchResult:
        """`engine.batch.run_batch` with this resource's client, accounts and ledger: what every
        Captain Data step (asset or op) runs, so they share one wiring. `mode="async"` runs
        `engine.bulk.run_bulk_batch` instead (`defer`, `origin`, `landing`: see `bulk_mode`)."""
        if mode == "async":
            from captaindata_dagster.orchestration.bulk_mode import run_async_batch

            return run_async_batch(
                self, action_id, inputs, defer=defer, origin=origin, landing=landing,
                parameters=parameters, max_age=max_age, max_results=max_results, budget=budget,
                log=log,
            )  # fmt: skip
        from captaindata_dagster.engine.batch.run import run_batch

        return run_batch(
            self.get_client(),
            action_id,
            inputs,
            parameters=parameters or None,
            integration_users=self.get_integration_users() or None,
            ledger=self.get_ledger(),
            max_age=max_age,
            max_results=max_results,
            budget=budget,
            log=log,
        )

    def run(
        self, context: dg.AssetExecutionContext, upstream: Any = None
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        """Run the step of the `@captaindata_assets` asset being computed: the body of one.

        Yields what the factories' step yields (results and errors tables, their metadata, the
        checks) for the context's partition, with this resource's client and ledger.

        Args:
            context: the asset's context (its definition names the step, its partition the
                inputs).
            upstream: the upstream partition the function was given, when the asset has one.

        Example:
            >>> @captaindata_assets(action_id="linkedin-extract-people", upstream=people)
            ... def profiles(context, captaindata: CaptainDataResource, upstream):
            ...     yield from captaindata.run(context, upstream)
        """
        from captaindata_dagster.orchestration.assets.registry import step_for

        step = step_for(context.assets_def)
        if step is None:  # mistakes in the code: no retry fixes them
            raise dg.Failure(
                f"{context.op_def.name}: CaptainDataResource.run(context) runs assets declared "
                "with @captaindata_assets (or a factory); this one is not",
                allow_retries=False,
            )
        if step.upstream_key is not None and upstream is None:
            raise dg.Failure(
                f"{step.name}: the asset reads {step.upstream_key.to_user_string()}; pass the "
                "function's upstream on: yield from captaindata.run(context, upstream)",
                allow_retries=False,
            )
        yield from step.run(context, self, upstream)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None


def _warn_if_literal(api_key: Any) -> None:
    """Warn when the key is given as a plain string: Dagster keeps the resource's config in the run
    snapshot (`history/runs.db`, compressed, so a grep misses it) and shows it in the UI."""
    if not isinstance(api_key, str) or not api_key or isinstance(api_key, dg.EnvVar):
        return
    warnings.warn(
        "CaptainDataResource got api_key as a literal string: Dagster stores the resource config, "
        "the key included, in every run's snapshot (history/runs.db) and shows it in the UI. Pass "
        f'api_key=dg.EnvVar("{API_KEY_ENV}") instead, or leave api_key unset: {API_KEY_ENV} is '
        "then read when a step runs.",
        LiteralKeyWarning,
        stacklevel=3,
    )
