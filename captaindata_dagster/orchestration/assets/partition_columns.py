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
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return {d.name: d.name for d in partitions_def.partitions_defs}
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return "partition_date"
    return "partition_key"


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
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        by_dim = key.keys_by_dimension  # type: ignore[union-attr]
        out = {}
        for dim in pdef.partitions_defs:
            value = by_dim[dim.name]
            if isinstance(dim.partitions_def, dg.TimeWindowPartitionsDefinition):
                out[dim.name] = _partition_time(dim.partitions_def, value)
            else:
                out[dim.name] = value
        return out
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        return {"partition_date": _partition_time(pdef, key)}
    return {"partition_key": key}


def _partition_time(pdef: dg.TimeWindowPartitionsDefinition, key: str) -> pd.Timestamp:
    import pandas as pd

    start = pdef.time_window_for_partition_key(key).start
    return cast("pd.Timestamp", pd.Timestamp(start.replace(tzinfo=None)))
