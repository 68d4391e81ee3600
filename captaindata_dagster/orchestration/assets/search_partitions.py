"""The partitions of a people search: one per search, optionally crossed with days.

`build_people_search_asset` takes `searches` (partition key -> search URL, or a function of the
key) and builds its partitions here: a static partition per search, or the `partitions_def` it is
given (dynamic keys may be the URLs themselves), crossed with daily partitions for dated
snapshots. When a step runs, its partition key gives back the search URL to walk.

Example:
    >>> search_partitions("people", {"paris": url}, None, None).get_partition_keys()
    ['paris']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import dagster as dg

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.orchestration.assets.batch_step import InputsFor

SEARCHES_DIMENSION = "search"
SearchUrls: TypeAlias = Mapping[str, str] | Callable[[str], str] | None


def search_partitions(
    name: str,
    searches: SearchUrls,
    partitions_def: dg.PartitionsDefinition | None,
    daily_start_date: str | None,
) -> dg.PartitionsDefinition:
    """One partition per search (or `partitions_def`), crossed with days from `daily_start_date`.

    Args:
        name: the asset's name, for messages.
        searches: partition key -> search URL; needed as a mapping when `partitions_def` is None.
        partitions_def: partitions whose keys are search names or URLs, or None.
        daily_start_date: `YYYY-MM-DD` to cross the searches with days (dimensions `search` and
            `date`), or None.

    Example:
        >>> search_partitions("people", {"paris": url}, None, "2026-01-01").partitions_defs[0].name
        'search'
    """
    if partitions_def is None:
        if not isinstance(searches, Mapping) or not searches:
            raise ValidationError(
                f"{name}: give searches={{partition key: search URL}}, or a partitions_def "
                "(static or dynamic) whose keys are search names or URLs",
                field="searches",
            )
        partitions_def = dg.StaticPartitionsDefinition(list(searches))
    if daily_start_date is None:
        return partitions_def
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        raise ValidationError(
            f"{name}: daily_start_date= crosses the searches with days; the partitions are "
            "already multi-dimensional",
            field="daily_start_date",
        )
    return dg.MultiPartitionsDefinition(
        {
            SEARCHES_DIMENSION: partitions_def,
            "date": dg.DailyPartitionsDefinition(start_date=daily_start_date),
        }
    )


def check_search_urls(name: str, action: Action, searches: SearchUrls) -> None:
    """Refuse at load a search URL the action would refuse, naming its partition.

    Args:
        name: the asset's name, for messages.
        action: the search action (its primary field takes the URL).
        searches: partition key -> search URL; a function is not checked (it runs in the step).

    Example:
        >>> check_search_urls("people", resolve_action("linkedin-search-people"), {"p": "x"})
        Traceback (most recent call last):
        ValidationError: people: search 'p': ...
    """
    if not isinstance(searches, Mapping):
        return
    for key, url in searches.items():
        problems = action.input_problems({str(action.primary_field): url})
        if problems:
            raise ValidationError(
                f"{name}: search {key!r}: {problems[0]}{_other_search(action, url)}",
                field=f"searches[{key!r}]",
            )


def _other_search(action: Action, url: Any) -> str:
    """A hint naming the search actions that take `url` (a Sales Navigator search given to the
    LinkedIn one, say), or "" when none does."""
    from captaindata_dagster.api.catalog import load_catalog

    takers = [
        other.id
        for other in load_catalog()
        if other.is_list
        and other.id != action.id
        and "search" in other.id
        and other.primary_field is not None
        and not other.input_problems({other.primary_field: url})
    ]
    if not takers:
        return ""
    return f". This URL is a search of {' or '.join(takers)}: pass action_id={takers[0]!r}"


def search_inputs(
    name: str, field: str | None, searches: SearchUrls, partitions_def: dg.PartitionsDefinition
) -> InputsFor:
    """The inputs of one partition's step: the one search of its key, as `{field: url}`.

    Args:
        name: the asset's name, for messages.
        field: the search action's input field (its primary field).
        searches: partition key -> search URL, a function of the key, or None (keys are URLs).
        partitions_def: the asset's partitions (a multi-partition key names its search).

    Example:
        >>> inputs_for = search_inputs("people", "search_url", {"paris": url}, partitions)
    """

    def inputs_for(context: dg.AssetExecutionContext, upstream_df: Any) -> list[Any]:
        key = _search_key(context.partition_key, partitions_def)
        return [{field: _search_url(name, key, searches)}]

    return inputs_for


def _search_key(key: str, pdef: dg.PartitionsDefinition) -> str:
    """The search part of a partition key (its `search` dimension, or its one non-time one)."""
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        by_dim = key.keys_by_dimension  # type: ignore[attr-defined]
        if SEARCHES_DIMENSION in by_dim:
            return by_dim[SEARCHES_DIMENSION]
        time_dims = {
            d.name
            for d in pdef.partitions_defs
            if isinstance(d.partitions_def, dg.TimeWindowPartitionsDefinition)
        }
        return next(v for k, v in by_dim.items() if k not in time_dims)
    return key


def _search_url(name: str, key: str, searches: SearchUrls) -> str:
    if isinstance(searches, Mapping) and key in searches:
        return searches[key]
    if callable(searches):
        return searches(key)
    if key.startswith("https://"):
        return key
    raise dg.Failure(
        description=(
            f"{name}: no search URL for partition {key!r}; add it to searches= or use the URL "
            "itself as the partition key"
        ),
        metadata={"partition_key": key},
        allow_retries=False,
    )
