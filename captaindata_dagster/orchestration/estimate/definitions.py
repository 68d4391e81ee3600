"""The cost preview of an asset of a `Definitions`: what the CLI and a notebook call.

The code location's own wiring is used: each asset's resources as Dagster binds them (of the
`CaptainDataResource`, only its ledger, rate and accounts, so no API key is needed: see
`settings`), and the upstream partitions loaded through their IO manager
(`Definitions.get_asset_value_loader`). Nothing runs, nothing is materialized, the API is never
called.

Example:
    >>> preview = estimate_asset(defs, "linkedin_profiles", ["paris"], instance=instance)
    >>> preview.totals()["to_fetch"]
    20
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

import dagster as dg

from captaindata_dagster.engine.estimate import DEFAULT_SECONDS_PER_CALL
from captaindata_dagster.orchestration.estimate.partitions import (
    EstimateReader,
    estimate_partitions,
    partitions_to_estimate,
)
from captaindata_dagster.orchestration.estimate.records import (
    AssetEstimate,
    EstimateRequestError,
    EstimateSettingsError,
)
from captaindata_dagster.orchestration.estimate.settings import config_problem, preview_resource
from captaindata_dagster.orchestration.resource import CaptainDataResource


def estimate_asset(
    defs: dg.Definitions,
    asset_key: str | Sequence[str] | dg.AssetKey,
    partition_keys: Sequence[str] | None = None,
    *,
    all_partitions: bool = False,
    instance: dg.DagsterInstance | None = None,
    seconds_per_call: float = DEFAULT_SECONDS_PER_CALL,
) -> AssetEstimate:
    """What materializing `asset_key` over `partition_keys` would fetch, cost and take.

    Args:
        defs: the code location's definitions (the asset, its upstreams, their resources).
        asset_key: the results table's key: "linkedin_profiles", "prefix/name", a list of parts
            or an `AssetKey`.
        partition_keys: the partitions to price (a partitioned asset needs them, or
            `all_partitions`).
        all_partitions: price every partition.
        instance: the instance that knows what is materialized; None: `$DAGSTER_HOME`'s, else
            an empty one (every upstream then counts as not materialized).
        seconds_per_call: the assumed time of one call (see `engine.estimate`).

    Raises:
        EstimateRequestError: an unknown key or partition, or not a Captain Data asset.
        EstimateSettingsError: a setting the preview reads cannot be read (an `EnvVar` not set:
            the ledger's location, an IO manager's folder; never the API key, not read).

    Example:
        >>> estimate_asset(defs, "linkedin_people", all_partitions=True).totals()["credits"]
    """
    repo = defs.get_repository_def()
    key = _asset_key(asset_key)
    assets_def = repo.assets_defs_by_key.get(key)
    if assets_def is None:
        known = ", ".join(sorted(k.to_user_string() for k in repo.assets_defs_by_key))
        raise EstimateRequestError(f"no asset {key.to_user_string()!r}; the assets are: {known}")
    try:
        return _estimate(
            repo, assets_def, partition_keys, all_partitions, instance, seconds_per_call
        )
    except dg.DagsterInvalidConfigError as err:  # an IO manager's settings, say
        raise EstimateSettingsError(config_problem(err)) from err


def _estimate(
    repo: dg.RepositoryDefinition,
    assets_def: dg.AssetsDefinition,
    partition_keys: Sequence[str] | None,
    all_partitions: bool,
    instance: dg.DagsterInstance | None,
    seconds_per_call: float,
) -> AssetEstimate:
    """The preview, once the asset is known: the instance, the loader and the resources opened
    for it and closed after."""
    with (
        _instance(instance) as inst,
        repo.get_asset_value_loader(inst) as loader,
        ExitStack() as stack,
    ):
        keys = partitions_to_estimate(assets_def, partition_keys, all_partitions, inst)
        built: dict[tuple[int, str], CaptainDataResource] = {}

        def resource(of: dg.AssetsDefinition, resource_key: str) -> CaptainDataResource:
            cache_key = (id(of), resource_key)
            if cache_key not in built:
                bound = of.resource_defs.get(resource_key)
                if bound is None:
                    raise EstimateSettingsError(f"no resource {resource_key!r} is bound")
                built[cache_key] = preview_resource(resource_key, bound, inst, stack)
            return built[cache_key]

        reader = EstimateReader(
            assets_by_key=repo.assets_defs_by_key,
            instance=inst,
            resource=resource,
            load=lambda up, partition: loader.load_asset_value(up, partition_key=partition),
            seconds_per_call=seconds_per_call,
        )
        return estimate_partitions(assets_def, keys, reader)


def _asset_key(value: str | Sequence[str] | dg.AssetKey) -> dg.AssetKey:
    if isinstance(value, dg.AssetKey):
        return value
    if isinstance(value, str):
        return dg.AssetKey.from_user_string(value)
    return dg.AssetKey(list(value))


@contextmanager
def _instance(instance: dg.DagsterInstance | None) -> Iterator[dg.DagsterInstance]:
    """The instance given, else `$DAGSTER_HOME`'s, else an empty one for this call."""
    if instance is not None:
        yield instance
    elif os.environ.get("DAGSTER_HOME"):
        with dg.DagsterInstance.get() as inst:
            yield inst
    else:
        with dg.DagsterInstance.ephemeral() as inst:
            yield inst
