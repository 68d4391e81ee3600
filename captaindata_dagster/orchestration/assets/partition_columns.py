"""The partition of a run as table columns, and the `partition_expr` metadata that names them.

A database IO manager writes a partition by deleting and inserting the rows of its column(s): every
table a factory builds carries them first, named here: `partition_key` (static or dynamic
partitions), `partition_date` (time windows), or one column per dimension, named after it.

Example:
    >>> partition_expr(dg.StaticPartitionsDefinition(["paris"]))
    'partition_key'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import dagster as dg

if TYPE_CHECKING:  # pandas is imported by the step that builds a time column, not at load
    import pandas as pd


def partition_expr(partitions_def: dg.PartitionsDefinition | None) -> str | dict[str, str] | None:
    """The `partition_expr` metadata database IO managers need, naming our partition columns.

    One dimension: `partition_key` (static or dynamic) or `partition_date` (time windows);
    several: one column per dimension, named after it.

    Args:
        partitions_def: the asset's partitions, or None (no partition column).

    Example:
        >>> partition_expr(dg.DailyPartitionsDefinition(start_date="2026-01-01"))
        'partition_date'
    """
    columns = [name for name, _ in _columns_of(partitions_def)]
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return {name: name for name in columns}
    return columns[0] if columns else None


def partition_column_types(pdef: dg.PartitionsDefinition | None) -> list[tuple[str, str]]:
    """The partition columns a table starts with, and the type a table schema shows for each.

    Args:
        pdef: the asset's partitions, or None (no partition column).

    Example:
        >>> partition_column_types(dg.DailyPartitionsDefinition(start_date="2026-01-01"))
        [('partition_date', 'timestamp')]
    """
    return [
        (name, "timestamp" if isinstance(dim, dg.TimeWindowPartitionsDefinition) else "string")
        for name, dim in _columns_of(pdef)
    ]


def partition_columns(
    pdef: dg.PartitionsDefinition | None, key: str | dg.MultiPartitionKey | None
) -> dict[str, Any]:
    """The partition of this run as column values, named as `partition_expr` says.

    Time windows become their start, as a naive `pandas.Timestamp`.

    Args:
        pdef: the asset's partitions, or None.
        key: the run's partition key, or None (not partitioned).

    Example:
        >>> partition_columns(context.assets_def.partitions_def, context.partition_key)
        {'partition_key': 'paris'}
    """
    if pdef is None or key is None:
        return {}
    multi = isinstance(pdef, dg.MultiPartitionsDefinition)
    by_dim = key.keys_by_dimension if multi else {}  # type: ignore[union-attr]
    out: dict[str, Any] = {}
    for name, dim in _columns_of(pdef):
        value = by_dim[name] if multi else key
        if isinstance(dim, dg.TimeWindowPartitionsDefinition):
            out[name] = _partition_time(dim, str(value))
        else:
            out[name] = value
    return out


def _columns_of(
    pdef: dg.PartitionsDefinition | None,
) -> list[tuple[str, dg.PartitionsDefinition]]:
    """Each partition column's name, with the partitions its values come from: the one place
    the names are decided (`partition_date` for time windows, `partition_key` for other single
    dimensions, a dimension's own name when there are several)."""
    if pdef is None:
        return []
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        return [(d.name, d.partitions_def) for d in pdef.partitions_defs]
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        return [("partition_date", pdef)]
    return [("partition_key", pdef)]


def _partition_time(pdef: dg.TimeWindowPartitionsDefinition, key: str) -> pd.Timestamp:
    import pandas as pd

    start = pdef.time_window_for_partition_key(key).start
    return cast("pd.Timestamp", pd.Timestamp(start.replace(tzinfo=None)))
