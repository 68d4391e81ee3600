"""The multi-asset every factory and `@captaindata_assets` declare: results and errors from one step.

`declare_batch_asset` builds the `BatchStep` and the `dg.multi_asset` decorator around it: the
two outputs from the translator's specs (typed by dagster-pandas, with their role, action, column
schema, code version and automation), the upstream input, the pool, the retry policy, the checks,
the backfill policy and the resources. `batch_asset` applies it to the package's own body; the
decorator to a user's. Both register the step (`registry.py`). Declaring reads only the bundled
catalog: no HTTP call, no pandas.

Example:
    >>> batch_asset(action_shape(action, "companies", upstream=profiles, input_column=None,
    ...                          inputs=None, fetch=FetchSettings(), options=AssetOptions()))
"""

# No `from __future__ import annotations`: Dagster reads the step's parameter annotations as
# objects to find its context and resources.
from collections.abc import Callable
from typing import Any, Literal

import dagster as dg

from captaindata_dagster.api.request_body import check_parameters
from captaindata_dagster.engine.frames import PROFILE_URL
from captaindata_dagster.orchestration.assets.batch_step import BatchStep
from captaindata_dagster.orchestration.assets.frame_types import errors_frame_type, frame_type
from captaindata_dagster.orchestration.assets.registry import register_step
from captaindata_dagster.orchestration.assets.shapes import BatchAssetShape
from captaindata_dagster.orchestration.assets.upstream import partitions_of, upstream_key
from captaindata_dagster.orchestration.beta_features import quiet_beta_warnings
from captaindata_dagster.orchestration.checks import check_specs
from captaindata_dagster.orchestration.metadata_set import ACTION_ID_TAG
from captaindata_dagster.orchestration.translator import CaptainDataAssetProps

UPSTREAM_INPUT = "upstream"  # the step's input holding the upstream partition


def batch_asset(shape: BatchAssetShape) -> dg.AssetsDefinition:
    """The `<name>` and `<name>_errors` assets of one action, computed by the package's body.

    The body reads the `CaptainDataResource` under `options.resource_key` (a required resource
    key, so Dagster checks it is bound) and runs the registered `BatchStep`.

    Args:
        shape: the action, name, upstream, partitions, inputs, fetch settings and options.

    Example:
        >>> batch_asset(search_shape(action, "people", searches={"paris": url},
        ...                          partitions_def=None, daily_start_date=None,
        ...                          fetch=FetchSettings(), options=AssetOptions()))
    """
    step, decorate = declare_batch_asset(shape, resource_key=shape.options.resource_key)
    key = shape.options.resource_key
    if step.upstream_key is None:

        @decorate
        def _asset(context: dg.AssetExecutionContext):
            yield from step.run(context, getattr(context.resources, key), None)

    else:

        @decorate
        def _asset(context: dg.AssetExecutionContext, upstream):
            yield from step.run(context, getattr(context.resources, key), upstream)

    return register_step(_asset, step)


def declare_batch_asset(
    shape: BatchAssetShape, *, resource_key: str | None
) -> tuple[BatchStep, Callable[[Callable[..., Any]], dg.AssetsDefinition]]:
    """The step of an asset, and the `dg.multi_asset` decorator that declares it around a body.

    Args:
        shape: what the asset is.
        resource_key: the resource the body reads from `context.resources` (declared required),
            or None when the body takes its resource as a parameter (the decorator form).

    Example:
        >>> step, decorate = declare_batch_asset(shape, resource_key=None)
        >>> assets_def = register_step(decorate(user_function), step)
    """
    action, name, options = shape.action, shape.name, shape.options
    check_parameters(action, shape.fetch.parameters)
    options.validate(name)
    partitions_def = shape.partitions_def
    if shape.upstream is not None and partitions_def is None:
        partitions_def = partitions_of(shape.upstream)
    results = _spec(shape, "results", partitions_def)
    errors = _spec(shape, "errors", partitions_def)
    upstream = _upstream_of(shape, results)
    step = BatchStep(
        action=action,
        name=name,
        key=results.key,
        partitions_def=partitions_def,
        inputs_for=shape.inputs_for,
        fetch=shape.fetch,
        options=options,
        unique_people=shape.unique_people,
        upstream_key=upstream,
        search_field=shape.search_field,
    )
    with quiet_beta_warnings():  # resource_defs= (see beta_features)
        decorate = dg.multi_asset(
            name=options.op_name(name),
            outs=_outs(step, results, errors),
            ins={UPSTREAM_INPUT: dg.AssetIn(key=upstream)} if upstream is not None else {},
            partitions_def=partitions_def,
            pool=options.pool,
            retry_policy=options.step_retry_policy(),
            op_tags={ACTION_ID_TAG: action.id},
            check_specs=(
                check_specs(
                    step.key,
                    step.required_columns,
                    step.unique_column,
                    blocking=options.blocking,
                    accounts=action.uses_account,
                )  # fmt: skip
                if options.checks
                else None
            ),
            backfill_policy=options.backfill_policy,
            # one table may be selected alone (`--assets key:linkedin_people`): the step runs the
            # batch and yields only what is selected; what it paid for stays in the ledger, so
            # the other table's next materialization costs nothing. A deferred step may end with
            # no output at all.
            can_subset=True,
            deps=_other_deps(results, errors, upstream) or None,
            resource_defs=dict(options.resource_defs) if options.resource_defs else None,
            required_resource_keys={resource_key} if resource_key is not None else None,
        )
    return step, decorate


def _spec(
    shape: BatchAssetShape,
    table: Literal["results", "errors"],
    partitions_def: dg.PartitionsDefinition | None,
) -> dg.AssetSpec:
    """One table's spec, from the options' translator."""
    options = shape.options
    props = CaptainDataAssetProps(
        name=shape.name,
        table=table,
        action=shape.action,
        parameters=dict(shape.fetch.parameters),
        upstream_key=upstream_key(shape.upstream) if shape.upstream is not None else None,
        partitions_def=partitions_def,
        max_age=shape.fetch.max_age,
        max_results=shape.fetch.max_results,
        key_prefix=tuple(options.key_prefix or ()),
        group_name=options.group_name,
        description=shape.description,
        storage_kind=options.storage_kind,
        automation_condition=options.automation_condition,
    )
    return options.spec_translator.get_asset_spec(props)


def _upstream_of(shape: BatchAssetShape, results: dg.AssetSpec) -> dg.AssetKey | None:
    """The upstream table the step reads: the results spec's dep (a translator may move it)."""
    if shape.upstream is None:
        return None
    deps = [d.asset_key for d in results.deps]
    return deps[0] if len(deps) == 1 else upstream_key(shape.upstream)


def _other_deps(
    results: dg.AssetSpec, errors: dg.AssetSpec, upstream: dg.AssetKey | None
) -> list[dg.AssetKey]:
    """Deps a translator added besides the upstream table the step reads: kept, as the step's
    (the outputs cannot carry deps of their own), so a lineage a user declares is never dropped."""
    keys = {d.asset_key for spec in (results, errors) for d in spec.deps}
    return sorted(keys - {upstream}, key=lambda k: k.to_user_string())


def _outs(step: BatchStep, results: dg.AssetSpec, errors: dg.AssetSpec) -> dict[str, dg.AssetOut]:
    """The results and errors outputs: the translator's specs, typed, on the options' IO manager.

    The specs' deps become the step's input (`ins`), not the outputs'; their partitions are the
    multi-asset's.
    """
    name, options = step.name, step.options
    key_column = PROFILE_URL if step.unique_people else None
    io_manager_key = options.io_manager_key
    # not required: a run may select one table of the pair (the step yields what is selected),
    # and a deferred step ends at submission without materializing
    return {
        "results": dg.AssetOut.from_spec(
            results.replace_attributes(deps=[], partitions_def=None),
            dagster_type=frame_type(f"{name}_frame", step.action, key_column=key_column),
            is_required=False,
            io_manager_key=io_manager_key,
        ),
        "errors": dg.AssetOut.from_spec(
            errors.replace_attributes(deps=[], partitions_def=None),
            dagster_type=errors_frame_type(f"{name}_errors_frame"),
            is_required=False,
            io_manager_key=io_manager_key,
        ),
    }
