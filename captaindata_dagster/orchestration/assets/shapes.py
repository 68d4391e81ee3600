"""What one Captain Data asset is, before a body is attached: its action, inputs, fetch and options.

The factories and `@captaindata_assets` read the same arguments the same way, here: an action
over an upstream column or a static list of inputs (`action_shape`), or a search walked once per
partition (`search_shape`). `batch_asset.declare_batch_asset` declares the multi-asset a shape
describes.

Example:
    >>> shape = action_shape(resolve_action("linkedin-extract-company"), "companies",
    ...                      upstream=profiles, input_column=None, inputs=None,
    ...                      fetch=FetchSettings(), options=AssetOptions())
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.engine.frames import PROFILE_URL
from captaindata_dagster.orchestration.assets.batch_step import InputsFor
from captaindata_dagster.orchestration.assets.options import AssetOptions, FetchSettings
from captaindata_dagster.orchestration.assets.search_partitions import (
    SearchUrls,
    check_search_urls,
    search_inputs,
    search_partitions,
)
from captaindata_dagster.orchestration.assets.upstream import Upstream, column_values


@dataclass(frozen=True)
class BatchAssetShape:
    """One Captain Data asset: its action, where its inputs come from, what it fetches, how it
    runs. `unique_people`: one row per person (searches); `search_field`: the input field holding
    a search partition's URL (shown as a link on each materialization)."""

    action: Action
    name: str
    upstream: Upstream | None
    partitions_def: dg.PartitionsDefinition | None
    inputs_for: InputsFor
    fetch: FetchSettings
    options: AssetOptions
    unique_people: bool = False
    description: str | None = None
    search_field: str | None = None


def action_shape(
    action: Action,
    name: str,
    *,
    upstream: Upstream | None,
    input_column: str | None,
    inputs: Sequence[str | Mapping[str, Any]] | None,
    fetch: FetchSettings,
    options: AssetOptions,
    partitions_def: dg.PartitionsDefinition | None = None,
    description: str | None = None,
) -> BatchAssetShape:
    """An action over an upstream column (`input_column`, default the primary field) or `inputs`.

    Args:
        action: the catalog action.
        name: the results table's name.
        upstream: the asset whose column holds the inputs, or None.
        input_column: that column (None: the action's primary input field).
        inputs: a static list of inputs instead of `upstream`.
        fetch: parameters, freshness and results cap.
        options: how the asset runs and shows.
        partitions_def: partitions, when not the upstream's.
        description: the results table's description.

    Example:
        >>> action_shape(action, "companies", upstream=None, input_column=None,
        ...              inputs=["https://www.linkedin.com/company/x"], fetch=FetchSettings(),
        ...              options=AssetOptions())
    """
    return BatchAssetShape(
        action,
        name=name,
        upstream=upstream,
        partitions_def=partitions_def,
        inputs_for=_inputs_of(name, action, upstream, input_column, inputs),
        fetch=fetch,
        options=options,
        description=description,
    )


def search_shape(
    action: Action,
    name: str,
    *,
    searches: SearchUrls,
    partitions_def: dg.PartitionsDefinition | None,
    daily_start_date: str | None,
    fetch: FetchSettings,
    options: AssetOptions,
    description: str | None = None,
) -> BatchAssetShape:
    """A search action, one partition per search (optionally crossed with days).

    A people search keeps one row per person (`linkedin_profile_url`); search URLs given as a
    mapping are checked now against the action's input pattern.

    Args:
        action: the search action.
        name: the results table's name.
        searches: partition key -> search URL, or a function of the key called in the step.
        partitions_def: partitions whose keys are search names or URLs (default: `searches`).
        daily_start_date: `YYYY-MM-DD` to cross the searches with days, or None.
        fetch: parameters, freshness and results cap.
        options: how the asset runs and shows.
        description: the results table's description.

    Example:
        >>> search_shape(action, "people", searches={"paris": url}, partitions_def=None,
        ...              daily_start_date=None, fetch=FetchSettings(), options=AssetOptions())
    """
    partitions = search_partitions(name, searches, partitions_def, daily_start_date)
    check_search_urls(name, action, searches)
    return BatchAssetShape(
        action,
        name=name,
        upstream=None,
        partitions_def=partitions,
        inputs_for=search_inputs(name, action.primary_field, searches, partitions),
        fetch=fetch,
        options=options,
        unique_people=PROFILE_URL in action.output_types,
        description=description or f"Results of `{action.id}`, one partition per search.",
        search_field=action.primary_field,
    )


def _inputs_of(
    name: str,
    action: Action,
    upstream: Upstream | None,
    input_column: str | None,
    inputs: Sequence[str | Mapping[str, Any]] | None,
) -> InputsFor:
    """Where an action asset's inputs come from: the upstream's column, or a static list."""
    if (upstream is None) == (inputs is None):
        raise ValidationError(
            f"{name}: give exactly one of upstream= (an asset whose column holds the inputs) "
            "or inputs= (a static list)",
            field="upstream",
        )
    column = input_column or action.primary_field
    if upstream is not None and column is None:
        raise ValidationError(
            f"{name}: {action.id} takes no input field; use inputs=[{{}}] instead of upstream=",
            field="input_column",
        )
    static_inputs = list(inputs) if inputs is not None else None

    def inputs_for(context: dg.AssetExecutionContext, upstream_df: Any) -> list[Any]:
        if static_inputs is not None:
            return static_inputs
        return column_values(name, upstream_df, column)

    return inputs_for
