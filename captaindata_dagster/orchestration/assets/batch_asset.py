"""The multi-asset every factory returns: a results table and an errors table from one step.

`batch_asset` declares the two outputs (typed by dagster-pandas, tagged with their role and
action, with the `partition_expr` database IO managers need), the upstream input, the pool, the
retry policy and the checks; the step itself is a `BatchStep`. Declaring reads only the bundled
catalog: no HTTP call, no pandas.

Example:
    >>> batch_asset(action, name="companies", upstream=profiles, inputs_for=by_column,
    ...             fetch=FetchSettings(), options=AssetOptions())
"""

# No `from __future__ import annotations`: Dagster reads the step's parameter annotations as
# objects to find its context and resources.
from typing import Any

import dagster as dg

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.request_body import check_parameters
from captaindata_dagster.engine.frames import PROFILE_URL
from captaindata_dagster.orchestration.assets.batch_step import BatchStep, InputsFor
from captaindata_dagster.orchestration.assets.frame_types import errors_frame_type, frame_type
from captaindata_dagster.orchestration.assets.options import AssetOptions, FetchSettings
from captaindata_dagster.orchestration.assets.partition_columns import partition_expr
from captaindata_dagster.orchestration.assets.upstream import (
    ROLE_KEY,
    Upstream,
    partitions_of,
    upstream_key,
)
from captaindata_dagster.orchestration.checks import check_specs
from captaindata_dagster.orchestration.resource import CaptainDataResource


def batch_asset(
    action: Action,
    *,
    name: str,
    upstream: Upstream | None,
    partitions_def: dg.PartitionsDefinition | None,
    inputs_for: InputsFor,
    fetch: FetchSettings,
    options: AssetOptions,
    unique_people: bool = False,
    description: str | None = None,
) -> dg.AssetsDefinition:
    """The `<name>` and `<name>_errors` assets of one action, computed by one `BatchStep`.

    Args:
        action: the catalog action each partition runs.
        name: the results table's name (the errors table is `<name>_errors`).
        upstream: the asset whose partition the step reads (its partitions are taken when
            `partitions_def` is None), or None.
        partitions_def: the asset's partitions, or None.
        inputs_for: the step's inputs, from its context and the upstream partition.
        fetch: parameters, freshness and results cap.
        options: budget, thresholds, pool, retry policy, group, key prefix, checks.
        unique_people: a search: one row per person.
        description: the results table's description.

    Example:
        >>> batch_asset(action, name="people", upstream=None, partitions_def=searches,
        ...             inputs_for=search_inputs(...), fetch=FetchSettings(),
        ...             options=AssetOptions(), unique_people=True)
    """
    check_parameters(action, fetch.parameters)
    options.validate(name)
    if upstream is not None and partitions_def is None:
        partitions_def = partitions_of(upstream)
    step = BatchStep(
        action=action,
        name=name,
        key=options.asset_key(name),
        partitions_def=partitions_def,
        inputs_for=inputs_for,
        fetch=fetch,
        options=options,
        unique_people=unique_people,
    )
    decorate = dg.multi_asset(
        name=options.op_name(name),
        outs=_outs(step, description),
        ins={"upstream": dg.AssetIn(key=upstream_key(upstream))} if upstream is not None else {},
        partitions_def=partitions_def,
        group_name=options.group_name,
        pool=options.pool,
        retry_policy=options.step_retry_policy(),
        op_tags={"captaindata/action_id": action.id},
        check_specs=(
            check_specs(step.key, step.required_columns, step.unique_column)
            if options.checks
            else None
        ),
    )
    if upstream is None:

        @decorate
        def _asset(context: dg.AssetExecutionContext, captaindata: CaptainDataResource):
            yield from step.run(context, captaindata, None)

    else:

        @decorate
        def _asset(context: dg.AssetExecutionContext, captaindata: CaptainDataResource, upstream):
            yield from step.run(context, captaindata, upstream)

    return _asset


def _outs(step: BatchStep, description: str | None) -> dict[str, dg.AssetOut]:
    """The results and errors outputs, typed, tagged with their role and partition columns."""
    action, name = step.action, step.name
    expr = partition_expr(step.partitions_def)
    part_md: dict[str, Any] = {"partition_expr": expr} if expr is not None else {}
    key_column = PROFILE_URL if step.unique_people else None
    return {
        "results": dg.AssetOut(
            key=step.key,
            dagster_type=frame_type(f"{name}_frame", action, key_column=key_column),
            description=description or f"Results of Captain Data action `{action.id}`.",
            metadata={**part_md, ROLE_KEY: "results", "captaindata/action_id": action.id},
            kinds={"captaindata", "pandas"},
        ),
        "errors": dg.AssetOut(
            key=step.options.asset_key(f"{name}_errors"),
            dagster_type=errors_frame_type(f"{name}_errors_frame"),
            description=f"Inputs `{action.id}` failed on, with their error_label.",
            metadata={**part_md, ROLE_KEY: "errors", "captaindata/action_id": action.id},
            kinds={"captaindata", "pandas"},
        ),
    }
