"""`build_search_schedule`: every search refreshed on a cron, one run per search.

Shared by the demo code location and `CaptainDataActionsComponent`. Searches crossed with days
(`daily_start_date=`) get one run per search for the last complete day at each tick: the
dated snapshot of yesterday, taken this morning.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import dagster as dg


def build_search_schedule(
    job: dg.UnresolvedAssetJobDefinition | dg.JobDefinition,
    partitions_def: dg.PartitionsDefinition,
    *,
    cron_schedule: str = "0 5 * * *",
    execution_timezone: str = "UTC",
    name: str | None = None,
    running: bool = False,
) -> dg.ScheduleDefinition:
    """At each tick, one run per search partition (with days: per search, the last full day).

    The run key makes a tick that is evaluated twice request each partition once.
    """
    _check_supported(partitions_def)

    @dg.schedule(
        job=job,
        cron_schedule=cron_schedule,
        execution_timezone=execution_timezone,
        name=name or f"{job.name}_schedule",
        default_status=dg.DefaultScheduleStatus.RUNNING
        if running
        else dg.DefaultScheduleStatus.STOPPED,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        for key in _keys_for_tick(partitions_def, context):
            yield dg.RunRequest(run_key=f"{key}:{day}", partition_key=key)

    return _schedule


def _keys_for_tick(
    partitions_def: dg.PartitionsDefinition, context: dg.ScheduleEvaluationContext
) -> list[str | dg.MultiPartitionKey]:
    if not isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return list(_search_keys(partitions_def, context))
    time_dim, search_dim = _split(partitions_def)
    day = _last_full_window(time_dim.partitions_def, context.scheduled_execution_time)
    if day is None:  # before the first day of the snapshots
        return []
    return [
        dg.MultiPartitionKey({search_dim.name: key, time_dim.name: day})
        for key in _search_keys(search_dim.partitions_def, context)
    ]


def _search_keys(
    partitions_def: dg.PartitionsDefinition, context: dg.ScheduleEvaluationContext
) -> list[str]:
    # Only dynamic keys live in the instance; touching `context.instance` otherwise would create
    # one where the caller gave none (a test's build_schedule_context).
    dynamic = isinstance(partitions_def, dg.DynamicPartitionsDefinition)
    store = context.instance if dynamic else None
    return list(partitions_def.get_partition_keys(dynamic_partitions_store=store))


def _last_full_window(pdef: dg.TimeWindowPartitionsDefinition, now: datetime) -> str | None:
    """The key of the last time window that ended by `now` (yesterday, for days), if any."""
    key = pdef.get_partition_key_for_timestamp(now.timestamp())
    window = pdef.time_window_for_partition_key(key)
    if window.end > now:  # `now` is inside this window: take the one before
        key = pdef.get_partition_key_for_timestamp(window.start.timestamp() - 1)
        window = pdef.time_window_for_partition_key(key)
    return key if window.start >= pdef.start else None


def _split(
    partitions_def: dg.MultiPartitionsDefinition,
) -> tuple[dg.PartitionDimensionDefinition, dg.PartitionDimensionDefinition]:
    dims = partitions_def.partitions_defs
    times = [d for d in dims if isinstance(d.partitions_def, dg.TimeWindowPartitionsDefinition)]
    others = [d for d in dims if d not in times]
    return times[0], others[0]


def _check_supported(partitions_def: dg.PartitionsDefinition) -> None:
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        dims = partitions_def.partitions_defs
        times = [d for d in dims if isinstance(d.partitions_def, dg.TimeWindowPartitionsDefinition)]
        if len(times) != 1:
            raise ValueError(
                "build_search_schedule: multi-dimensional partitions must be searches x one time "
                f"dimension (daily_start_date=); got dimensions {[d.name for d in dims]}"
            )
    elif isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        raise ValueError(
            "build_search_schedule: the partitions are time windows alone; use "
            "dg.build_schedule_from_partitioned_job for those"
        )
