"""One asset's partitions priced: their inputs found as the step would, then the engine's estimate.

A Captain Data asset's `BatchStep` (found with `assets.registry.step_for`) says what a partition
runs: the action, the function giving its inputs, the freshness window and the results cap. The
inputs of a search come from the partition's search; of an enrichment, from the upstream partition
as stored (loaded through its IO manager). An upstream partition not materialized yet gives no
rows to read: its own estimate bounds them (a search, at most `max_results` people), and the
figures become upper bounds. The ledger and the catalog are read; the API never is.

Example:
    >>> reader = EstimateReader(assets_by_key, instance, resources.__getitem__, load)
    >>> estimate_partitions(profiles_def, ["paris"], reader).totals()["to_fetch"]
    20
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import dagster as dg

from captaindata_dagster.api.client import paced_rate
from captaindata_dagster.api.request_body import bills_managed
from captaindata_dagster.engine.batch.preview import estimate_batch
from captaindata_dagster.engine.estimate import (
    DEFAULT_SECONDS_PER_CALL,
    Estimate,
    InputCounts,
    estimate_plan,
)
from captaindata_dagster.orchestration.assets.batch_asset import UPSTREAM_INPUT
from captaindata_dagster.orchestration.assets.batch_step import BatchStep
from captaindata_dagster.orchestration.assets.registry import step_for
from captaindata_dagster.orchestration.estimate.records import (
    AssetEstimate,
    EstimateRequestError,
    PartitionEstimate,
)
from captaindata_dagster.orchestration.resource import CaptainDataResource

LoadPartition = Callable[[dg.AssetKey, "str | None"], Any]
"""Loads an asset's stored partition (None: the unpartitioned asset) through its IO manager."""


@dataclass(frozen=True)
class EstimateReader:
    """What a preview reads: the assets, what is materialized, the settings, the stored tables.

    Args:
        assets_by_key: every asset key of the code location -> its definition (upstreams too).
        instance: the Dagster instance that knows which partitions are materialized.
        resource: (asset, resource key) -> the initialized `CaptainDataResource` the asset's
            step reads (its ledger, its plan's rate, its accounts, its identity mode).
        load: loads an upstream partition as stored.
        seconds_per_call: the assumed time of one call (see `engine.estimate`).
    """

    assets_by_key: Mapping[dg.AssetKey, dg.AssetsDefinition]
    instance: dg.DagsterInstance
    resource: Callable[[dg.AssetsDefinition, str], CaptainDataResource]
    load: LoadPartition
    seconds_per_call: float = DEFAULT_SECONDS_PER_CALL


def captaindata_step(assets_def: dg.AssetsDefinition) -> BatchStep:
    """The step behind a Captain Data asset; an `EstimateRequestError` otherwise.

    Args:
        assets_def: a definition built by a factory or `@captaindata_assets`.

    Example:
        >>> captaindata_step(profiles).action.id
        'linkedin-extract-people'
    """
    step = step_for(assets_def)
    if step is None:
        keys = ", ".join(k.to_user_string() for k in assets_def.keys)
        raise EstimateRequestError(
            f"{keys}: not a Captain Data asset (built by a captaindata_dagster factory or "
            "@captaindata_assets), so there is nothing to estimate"
        )
    return step


def estimate_partitions(
    assets_def: dg.AssetsDefinition,
    partition_keys: Sequence[str | None],
    reader: EstimateReader,
) -> AssetEstimate:
    """The preview of materializing `assets_def` over `partition_keys` (None: unpartitioned).

    Args:
        assets_def: a Captain Data asset.
        partition_keys: the partitions to price.
        reader: what the preview reads.

    Example:
        >>> estimate_partitions(people, ["paris", "lyon"], reader).totals()["credits_upper_bound"]
        40.0
    """
    step = captaindata_step(assets_def)
    parts = tuple(estimate_partition(assets_def, key, reader) for key in partition_keys)
    return AssetEstimate(step.key, step.action.id, parts)


def estimate_partition(
    assets_def: dg.AssetsDefinition, partition_key: str | None, reader: EstimateReader
) -> PartitionEstimate:
    """One partition's preview (see the module docstring).

    Args:
        assets_def: a Captain Data asset.
        partition_key: the partition (None: the asset is not partitioned).
        reader: what the preview reads.

    Example:
        >>> estimate_partition(profiles, "paris", reader).inputs_from
        'upstream'
    """
    step = captaindata_step(assets_def)
    upstream = assets_def.keys_by_input_name.get(UPSTREAM_INPUT, step.upstream_key)
    if upstream is None:
        source = "search" if step.search_field or step.unique_people else "inputs"
        inputs = step.inputs_for(_context(step, partition_key, reader), None)
        return PartitionEstimate(partition_key, source, _estimate(assets_def, inputs, reader))
    up_key = partition_key if _partitioned(reader, upstream) else None
    if _materialized(reader.instance, upstream, up_key):
        stored = reader.load(upstream, up_key)
        inputs = step.inputs_for(_context(step, partition_key, reader), stored)
        return PartitionEstimate(partition_key, "upstream", _estimate(assets_def, inputs, reader))
    return _from_upstream_estimate(assets_def, upstream, partition_key, up_key, reader)


def _estimate(
    assets_def: dg.AssetsDefinition, inputs: list[Any], reader: EstimateReader
) -> Estimate:
    """The engine's estimate of a step's batch, with the settings its resource gives a run."""
    step = captaindata_step(assets_def)
    res = reader.resource(assets_def, step.options.resource_key)
    return estimate_batch(
        step.action,
        inputs,
        ledger=res.get_ledger(),
        max_age=step.fetch.max_age,
        max_results=step.fetch.max_results,
        parameters=dict(step.fetch.parameters) or None,  # as `CaptainDataResource.run_batch`
        requests_per_second=res.requests_per_second,
        **_run_settings(step, res, reader.seconds_per_call),
    )


def _run_settings(step: BatchStep, res: CaptainDataResource, seconds: float) -> dict[str, Any]:
    """The managed billing, the accounts and the budget a run of `step` would have, the time
    of a call.

    The accounts are the configured `integration_users`: with `rotate_connected_users` a run
    lists the connected ones, which a preview does not ask the API for. The budget is the step's
    (`budget=`), per run of one partition: each partition's figures are capped by it.
    """
    return {
        "managed": bills_managed(step.action, res.account_form, res.identity_mode),
        "accounts": max(1, len(set(res.integration_users))),
        "seconds_per_call": seconds,
        "budget": step.options.budget,
    }


def _from_upstream_estimate(
    assets_def: dg.AssetsDefinition,
    upstream: dg.AssetKey,
    partition_key: str | None,
    up_key: str | None,
    reader: EstimateReader,
) -> PartitionEstimate:
    """A partition whose upstream is not materialized: bounded by the upstream's estimate."""
    step = captaindata_step(assets_def)
    up_def = reader.assets_by_key.get(upstream)
    up_step = step_for(up_def) if up_def is not None else None
    up = estimate_partition(up_def, up_key, reader) if up_def and up_step else None
    rows = _most_rows(up_step, up)
    if rows is None:
        why = (
            f"{upstream.to_user_string()} is not materialized for this partition and its rows "
            "cannot be bounded (not a Captain Data asset, or a search without max_results)"
        )
        return PartitionEstimate(partition_key, "upstream estimate", None, (why,))
    res = reader.resource(assets_def, step.options.resource_key)
    est = estimate_plan(
        step.action,
        InputCounts(rows, rows, 0, 0, rows),  # unknown people: none can be found fresh
        max_results=step.fetch.max_results,
        paced_rate=paced_rate(res.requests_per_second),
        **_run_settings(step, res, reader.seconds_per_call),
    )
    why = (
        f"{upstream.to_user_string()} is not materialized for this partition: at most {rows} "
        "inputs (its own estimate), none assumed fresh"
    )
    bounded = replace(est, credits=None, notes=(*est.notes, why))
    return PartitionEstimate(partition_key, "upstream estimate", bounded, (why,))


def _most_rows(up_step: BatchStep | None, up: PartitionEstimate | None) -> int | None:
    """The most rows an upstream partition's results table can hold, from its estimate."""
    if up_step is None or up is None or up.estimate is None:
        return None
    est = up.estimate
    valid = est.unique_inputs - est.invalid
    if not up_step.action.is_list:
        return valid
    return None if est.max_results is None else valid * est.max_results


def _partitioned(reader: EstimateReader, key: dg.AssetKey) -> bool:
    assets_def = reader.assets_by_key.get(key)
    return assets_def is not None and assets_def.partitions_def is not None


def _materialized(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None) -> bool:
    if partition is None:
        return instance.get_latest_materialization_event(key) is not None
    return partition in instance.get_materialized_partitions(key)


def _context(step: BatchStep, partition_key: str | None, reader: EstimateReader) -> Any:
    """A context for the step's inputs function: its partition, as a run would give it."""
    pdef = step.partitions_def
    key: Any = partition_key
    if partition_key is not None and isinstance(pdef, dg.MultiPartitionsDefinition):
        key = pdef.get_partition_key_from_str(partition_key)  # its dimensions, as in a run
    return dg.build_asset_context(partition_key=key, instance=reader.instance)


def partitions_to_estimate(
    assets_def: dg.AssetsDefinition,
    partition_keys: Sequence[str] | None,
    all_partitions: bool,
    instance: dg.DagsterInstance,
) -> list[str | None]:
    """The partitions a preview prices: those named, or all of them; [None] if unpartitioned.

    Args:
        assets_def: the asset.
        partition_keys: the partitions asked for (None or empty: only with `all_partitions`).
        all_partitions: every partition of the asset (dynamic ones as the instance knows them).
        instance: the instance holding dynamic partitions.

    Example:
        >>> partitions_to_estimate(people, ["paris"], False, instance)
        ['paris']
    """
    pdef = assets_def.partitions_def
    keys = list(partition_keys or [])
    if pdef is None:
        if keys:
            raise EstimateRequestError("the asset is not partitioned: give no partition")
        return [None]
    known = pdef.get_partition_keys(dynamic_partitions_store=instance)
    if all_partitions:
        return list(known)
    if not keys:
        raise EstimateRequestError(
            "the asset is partitioned: name partitions, or ask for all of them"
        )
    unknown = [k for k in keys if k not in set(known)]
    if unknown:
        raise EstimateRequestError(
            f"unknown partition(s) {', '.join(unknown)}; the asset has {len(known)}, e.g. "
            f"{', '.join(known[:5])}"
        )
    return list(keys)
