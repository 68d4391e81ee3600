"""Async mode from the resource: where its callbacks go and which store the step reads them from.

An asset or op with `mode="async"` runs `engine.bulk.run_bulk_batch` instead of the live batch,
with `BulkSettings` built here from the `CaptainDataResource`:

- the callback URL: the receiver's public URL (`receiver_url`, else
  `$CAPTAINDATA_RECEIVER_PUBLIC_URL`: the one `captaindata-dagster receiver --public-url` serves),
  with the receiver's path; in sandbox mode with neither, a receiver on loopback is started in the
  step's process (the bundled simulator posts to loopback only);
- the callback store: `callback_store`, else `$CAPTAINDATA_CALLBACK_STORE`, else beside the ledger
  (the receiver must write where the step reads: give both the same);
- how often the store and the run's status are read (`bulk_poll_s`, `bulk_status_every_s`).

Example:
    >>> settings = bulk_settings(captaindata, defer=False, origin=None)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg

from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.engine.bulk.settings import DEFAULT_FINAL_CHECK_S, BulkSettings
from captaindata_dagster.receiver.settings import PUBLIC_URL_ENV, ReceiverSettings

if TYPE_CHECKING:
    from captaindata_dagster.engine.batch.run import BatchResult
    from captaindata_dagster.orchestration.resource import CaptainDataResource


def bulk_settings(
    resource: CaptainDataResource,
    *,
    defer: bool,
    origin: Mapping[str, Any] | None,
    landing: bool = False,
) -> BulkSettings:
    """The `BulkSettings` of an async step run with `resource`.

    In sandbox mode a step does not defer: the simulator (and its receiver) live in the step's
    own process, and end with it, so no later run could land what it submitted.

    Args:
        resource: the step's `CaptainDataResource`.
        defer: end the step at submission (a sensor lands the runs later).
        origin: the asset key and partition that asked, kept with each submission.
        landing: the landing sensor's run: wait for the runs it saw end, defer new ones.

    Raises:
        ValidationError: no receiver URL outside sandbox mode (field `receiver_url`).

    Example:
        >>> bulk_settings(captaindata, defer=True, origin={"asset_key": "profiles"})  # doctest: +SKIP
    """
    store = resource.get_callback_store()
    public = _public_url(resource)
    if defer and resource.is_sandbox:
        dg.get_dagster_logger().warning(
            "sandbox mode: the bundled simulator lives in this step's process, so the step waits "
            "for its async runs instead of deferring"
        )
        defer = False
    if public is None and resource.is_sandbox:
        from captaindata_dagster.receiver.sandbox import sandbox_receiver  # starlette, uvicorn

        server = sandbox_receiver(store)
        url = f"{server.base_url}{server.settings.path}"
    else:
        url = receiver_callback_url(resource)
    every = resource.bulk_status_every_s
    return BulkSettings(
        callback_url=url,
        store=store,
        defer=defer,
        wait_for_held=landing,
        origin=origin,
        poll_s=resource.bulk_poll_s,
        run_check_s=every,
        final_check_s=min(DEFAULT_FINAL_CHECK_S, every),
    )


def receiver_callback_url(resource: CaptainDataResource, given: str | None = None) -> str:
    """The `callback.url` the API is given: `given` (checked: https unless loopback), else the
    resource's receiver (`receiver_url`, else `$CAPTAINDATA_RECEIVER_PUBLIC_URL`) + its path.

    Args:
        resource: the `CaptainDataResource`.
        given: a callback URL a caller chose (an op's config), if any.

    Raises:
        ValidationError: none given and no receiver URL (field `receiver_url`), or an http URL
            on a public host (callbacks carry their secret).

    Example:
        >>> receiver_callback_url(CaptainDataResource(receiver_url="https://hooks.example.com"))
        'https://hooks.example.com/callbacks'
    """
    public = given or _public_url(resource)
    if public is None:
        raise ValidationError(
            "async runs and schedules need the callback receiver's public URL: set receiver_url "
            f"on the CaptainDataResource (or ${PUBLIC_URL_ENV}) to the URL `captaindata-dagster "
            "receiver --public-url` serves, with the same callback store (see docs/bulk.md)",
            field="receiver_url",
        )
    try:
        settings = ReceiverSettings(public_url=public)
    except ValueError as err:
        raise ValidationError(str(err), field="callback_url" if given else "receiver_url") from err
    return public if given else settings.callback_url()


def _public_url(resource: CaptainDataResource) -> str | None:
    return resource.receiver_url or os.environ.get(PUBLIC_URL_ENV, "").strip() or None


def run_async_batch(
    resource: CaptainDataResource,
    action_id: str,
    inputs: Iterable[Any],
    *,
    defer: bool,
    origin: Mapping[str, Any] | None,
    landing: bool = False,
    **batch: Any,
) -> BatchResult:
    """`engine.bulk.run_bulk_batch` with the resource's client, accounts, ledger and receiver.

    Args:
        resource: the step's `CaptainDataResource`.
        action_id: the catalog id.
        inputs: the partition's inputs.
        defer: end at submission (see `bulk_settings`).
        origin: the asset key and partition that asked.
        landing: the landing sensor's run (see `bulk_settings`).
        **batch: `parameters`, `max_age`, `max_results`, `budget`, `log`.

    Example:
        >>> run_async_batch(captaindata, "linkedin-extract-people", urls, defer=False,
        ...                 origin=None)  # doctest: +SKIP
    """
    from captaindata_dagster.engine.bulk.run import run_bulk_batch

    return run_bulk_batch(
        resource.get_client(),
        action_id,
        inputs,
        bulk=bulk_settings(resource, defer=defer, origin=origin, landing=landing),
        ledger=resource.get_ledger(),
        integration_users=resource.get_integration_users() or None,
        **{**batch, "parameters": batch.get("parameters") or None},
    )
