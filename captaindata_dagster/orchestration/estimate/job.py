"""The cost preview as a job launched from the UI: pick an asset and partitions, read the bill.

`build_captaindata_estimate_job(assets)` returns a job of one op. Its launchpad config names the
asset and the partitions (or all of them); the op prices them without a paid call (the ledger,
the catalog and the stored upstream partitions only) and records each partition's figures as an
`AssetObservation` of the asset, so they show in the asset's events beside its materializations
(`captaindata/credits_spent`: the real spend), and the whole table as the op's output metadata.

Example:
    >>> estimate_job = build_captaindata_estimate_job([people, profiles, companies])
    >>> defs = dg.Definitions(assets=[people, profiles, companies], jobs=[estimate_job],
    ...                       resources={"captaindata": CaptainDataResource()})
"""

# No `from __future__ import annotations`: Dagster reads the op's parameter annotations as objects
# to find its context and config.
from collections.abc import Sequence
from typing import Any

import dagster as dg
from pydantic import Field

from captaindata_dagster.engine.estimate import DEFAULT_SECONDS_PER_CALL
from captaindata_dagster.orchestration.assets.registry import step_for
from captaindata_dagster.orchestration.estimate.partitions import (
    EstimateReader,
    estimate_partitions,
    partitions_to_estimate,
)
from captaindata_dagster.orchestration.estimate.records import EstimateRequestError
from captaindata_dagster.orchestration.estimate.report import (
    partition_observation,
    summary_metadata,
)
from captaindata_dagster.orchestration.metadata_set import ESTIMATE_TAG

DEFAULT_ESTIMATE_JOB = "captaindata_estimate"


class EstimateConfig(dg.Config):
    """What to price: the launchpad's form."""

    asset: str = Field(description="The asset key, e.g. linkedin_profiles or prefix/name.")
    partitions: list[str] = Field(default_factory=list, description="Partition keys to price.")
    all_partitions: bool = Field(default=False, description="Price every partition instead.")
    seconds_per_call: float = Field(
        default=DEFAULT_SECONDS_PER_CALL, description="The assumed time of one call, in seconds."
    )


def build_captaindata_estimate_job(
    assets: Sequence[dg.AssetsDefinition], *, name: str = DEFAULT_ESTIMATE_JOB
) -> dg.JobDefinition:
    """A job that previews the cost of materializing one of `assets` over some partitions.

    The op reads the resources the assets' steps read (by their `resource_key`) and the IO
    managers of `assets` (to load stored upstream partitions): give it the upstreams too.
    Resources bound on an asset itself are bound on the job.

    Args:
        assets: the Captain Data assets to offer, and their upstreams.
        name: the job's name.

    Example:
        >>> build_captaindata_estimate_job([people, profiles]).name
        'captaindata_estimate'
    """
    by_key = {key: a for a in assets for key in a.keys}
    needed = {s.options.resource_key for a in assets if (s := step_for(a)) is not None}
    needed |= {a.get_io_manager_key_for_asset_key(k) for k, a in by_key.items()}
    bound: dict[str, Any] = {}
    for a in assets:
        bound.update({k: v for k, v in a.resource_defs.items() if k in needed and k not in bound})

    @dg.op(
        name=f"{name}_op",
        required_resource_keys=needed,
        out=dg.Out(dg.Nothing),
        tags={ESTIMATE_TAG: "true"},
    )
    def estimate_op(context: dg.OpExecutionContext, config: EstimateConfig):
        """Price an asset's partitions (no paid call); log the figures."""
        key = dg.AssetKey.from_user_string(config.asset)
        assets_def = by_key.get(key)
        if assets_def is None or step_for(assets_def) is None:
            offered = ", ".join(
                sorted(k.to_user_string() for k, a in by_key.items() if step_for(a))
            )
            raise EstimateRequestError(
                f"no Captain Data asset {config.asset!r}; offered: {offered}"
            )
        keys = partitions_to_estimate(
            assets_def, config.partitions, config.all_partitions, context.instance
        )
        reader = EstimateReader(
            assets_by_key=by_key,
            instance=context.instance,
            resource=lambda _asset, resource_key: getattr(context.resources, resource_key),
            load=lambda up, partition: _load(context, by_key[up], up, partition),
            seconds_per_call=config.seconds_per_call,
        )
        preview = estimate_partitions(assets_def, keys, reader)
        for part in preview.partitions:
            context.log_event(partition_observation(preview, part))
        totals = preview.totals()
        context.log.info("%s: estimate %s", preview.asset_key.to_user_string(), totals)
        yield dg.Output(None, metadata=summary_metadata(preview))

    @dg.job(
        name=name,
        resource_defs=bound or None,
        description="Preview what materializing a Captain Data asset's partitions would cost "
        "(inputs, fresh in the ledger, to fetch, credits, time): no paid call.",
    )
    def estimate_job():
        estimate_op()

    return estimate_job


def _load(
    context: dg.OpExecutionContext,
    assets_def: dg.AssetsDefinition,
    key: dg.AssetKey,
    partition: str | None,
) -> Any:
    """An upstream partition as stored, through the asset's IO manager (as a step reads it)."""
    io_manager = getattr(context.resources, assets_def.get_io_manager_key_for_asset_key(key))
    upstream_output = dg.build_output_context(
        name=assets_def.get_output_name_for_asset_key(key),
        asset_key=key,
        definition_metadata=assets_def.specs_by_key[key].metadata,
    )
    keys_range = dg.PartitionKeyRange(partition, partition) if partition is not None else None
    input_context = dg.build_input_context(
        asset_key=key,
        upstream_output=upstream_output,
        partition_key=partition,
        asset_partition_key_range=keys_range,
        asset_partitions_def=assets_def.partitions_def,
        instance=context.instance,
    )
    return io_manager.load_input(input_context)
