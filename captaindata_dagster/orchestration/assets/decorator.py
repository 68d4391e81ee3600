"""`@captaindata_assets`: a Captain Data asset whose body the user writes.

For users who want their own step around the batch (log, time it, add metadata, post a message),
as `@dlt_assets` and `@fivetran_assets` offer: the decorator declares the same two tables as the
factories (results and errors, their specs from the translator, checks, partitions, pool, retry
policy) and registers the same `BatchStep`; the function's body runs it with
`yield from captaindata.run(context)`, the resource finding the step from the context.

The function takes `context`, a parameter annotated `CaptainDataResource` (any name: that name
is the resource key, which the step records so the cost preview and the estimate job find the
same resource), and, when the asset has an `upstream`, a parameter named `upstream`: the upstream
partition, handed to `run`.

Example:
    >>> @captaindata_assets(action_id="linkedin-extract-people", name="profiles", upstream=people)
    ... def profiles(context: dg.AssetExecutionContext, captaindata: CaptainDataResource, upstream):
    ...     context.log.info("extracting %d people", len(upstream))
    ...     yield from captaindata.run(context, upstream)
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import dagster as dg

from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.api.request_body import resolve_action
from captaindata_dagster.orchestration.assets.batch_asset import UPSTREAM_INPUT, declare_batch_asset
from captaindata_dagster.orchestration.assets.factories import days, hours
from captaindata_dagster.orchestration.assets.options import (
    DEFAULT_MAX_AGE_DAYS,
    DEFAULT_SEARCH_MAX_AGE_HOURS,
    DEFAULT_SEARCH_MAX_RESULTS,
    AssetOptions,
    FetchSettings,
)
from captaindata_dagster.orchestration.assets.registry import register_step
from captaindata_dagster.orchestration.assets.search_partitions import SearchUrls
from captaindata_dagster.orchestration.assets.shapes import (
    BatchAssetShape,
    action_shape,
    search_shape,
)
from captaindata_dagster.orchestration.assets.upstream import Upstream
from captaindata_dagster.orchestration.resource import CaptainDataResource


def captaindata_assets(
    *,
    action_id: str,
    name: str | None = None,
    upstream: Upstream | None = None,
    input_column: str | None = None,
    inputs: Sequence[str | Mapping[str, Any]] | None = None,
    searches: SearchUrls = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    daily_start_date: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS,
    max_age_hours: float | None = DEFAULT_SEARCH_MAX_AGE_HOURS,
    max_results: int | None = None,
    description: str | None = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """Declare a Captain Data asset (results and errors tables) around the decorated function.

    Give `searches` (or a `partitions_def` of search names or URLs) for a search walked once per
    partition, as `build_people_search_asset`; else `upstream` (its `input_column`) or `inputs`
    for an action over them, as `build_action_asset`. Everything else is the factories'.

    Args:
        action_id: a catalog action id.
        name: the results table's name (default: the function's name); errors: `<name>_errors`.
        upstream: the asset whose column holds the inputs; the function takes it as `upstream`.
        input_column: that column (default: the action's primary input field).
        inputs: a static list of inputs instead of `upstream`.
        searches: partition key -> search URL, or a function of the key (a search asset).
        partitions_def: the asset's partitions (a search's: keys are search names or URLs).
        daily_start_date: a search: `YYYY-MM-DD` to cross the searches with days.
        parameters: the action's parameters, checked against the catalog now.
        max_age_days: an action: results this recent come from the ledger (None: ever).
        max_age_hours: a search: a search walked this recently comes from the ledger.
        max_results: list actions: results per input (a search: people per search, default 100).
        description: the results table's description.
        **options: `AssetOptions`: budget, max_error_rate, warn_error_rate, checks, blocking,
            pool, retry_policy, group_name, key_prefix, translator, automation_condition,
            backfill_policy, storage_kind, io_manager_key, resource_defs, resource_key, mode,
            defer.

    The resource is the function's parameter annotated `CaptainDataResource`, whatever its name:
    that name is the step's resource key (bind the resource under it). `resource_key=`, if
    given, must be that name. A function without such a parameter, or with several, is refused
    with a `ValidationError`.

    Example:
        >>> @captaindata_assets(action_id="linkedin-search-people", searches={"paris": url})
        ... def linkedin_people(context, captaindata: CaptainDataResource):
        ...     yield from captaindata.run(context)
    """
    action = resolve_action(action_id)
    asset_options = AssetOptions(**options)
    search = searches is not None or (upstream is None and inputs is None)

    def decorate(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        asset_name = name or fn.__name__
        if search:
            fetch = FetchSettings(
                dict(parameters or {}),
                hours(max_age_hours),
                max_results or DEFAULT_SEARCH_MAX_RESULTS,
            )
            shape = search_shape(
                action,
                asset_name,
                searches=searches,
                partitions_def=partitions_def,
                daily_start_date=daily_start_date,
                fetch=fetch,
                options=asset_options,
                description=description,
            )
        else:
            shape = action_shape(
                action,
                asset_name,
                upstream=upstream,
                input_column=input_column,
                inputs=inputs,
                fetch=FetchSettings(dict(parameters or {}), days(max_age_days), max_results),
                options=asset_options,
                partitions_def=partitions_def,
                description=description,
            )
        _check_signature(fn, shape)
        resource_key = _resource_parameter(fn, asset_name, options.get("resource_key"))
        shape = replace(shape, options=replace(shape.options, resource_key=resource_key))
        step, declare = declare_batch_asset(shape, resource_key=None)
        return register_step(declare(fn), step)

    return decorate


def _check_signature(fn: Callable[..., Any], shape: BatchAssetShape) -> None:
    """An asset with an upstream needs its function to take it as `upstream`, and only then."""
    takes_upstream = UPSTREAM_INPUT in inspect.signature(fn).parameters
    if shape.upstream is not None and not takes_upstream:
        raise ValidationError(
            f"{shape.name}: the asset reads an upstream table; give the function a parameter "
            f"named {UPSTREAM_INPUT!r} and pass it on: yield from captaindata.run(context, "
            f"{UPSTREAM_INPUT})",
            field="upstream",
        )
    if shape.upstream is None and takes_upstream:
        raise ValidationError(
            f"{shape.name}: the function takes {UPSTREAM_INPUT!r} but no upstream= was given",
            field="upstream",
        )


def _resource_parameter(fn: Callable[..., Any], name: str, given: str | None) -> str:
    """The name of the function's `CaptainDataResource` parameter: the step's resource key.

    Dagster binds a parameter to the resource of its name when its annotation is a resource
    class; `typing.get_type_hints` reads the annotations as Dagster does (strings resolved).
    """
    hints = typing.get_type_hints(fn)
    found = [
        p
        for p in inspect.signature(fn).parameters
        if isinstance(hints.get(p), type) and issubclass(hints[p], CaptainDataResource)
    ]
    example = f"def {fn.__name__}(context, captaindata: CaptainDataResource, ...)"
    if not found:
        raise ValidationError(
            f"{name}: the function takes no parameter annotated CaptainDataResource; add one "
            f"(its name is the resource key): {example}",
            field="resource_key",
        )
    if len(found) > 1:
        raise ValidationError(
            f"{name}: the function takes {len(found)} CaptainDataResource parameters "
            f"({', '.join(found)}); take one, the resource the step runs with",
            field="resource_key",
        )
    [param] = found
    if given is not None and given != param:
        raise ValidationError(
            f"{name}: resource_key={given!r} but the function's CaptainDataResource parameter "
            f"is {param!r}: rename the parameter {given!r}, or drop resource_key= (the "
            "parameter's name is the resource key)",
            field="resource_key",
        )
    return param
