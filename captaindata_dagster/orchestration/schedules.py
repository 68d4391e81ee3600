"""`build_search_schedule`: every search refreshed on a cron, one run per search.

Shared by the demo code location and `CaptainDataActionsComponent`. Searches crossed with days
(`daily_start_date=`) get one run per search for the last complete day at each tick: the
dated snapshot of yesterday, taken this morning.

Where Dagster's own `dg.build_schedule_from_partitioned_job` asks for the same runs (static
searches; searches x days on a daily cron in the days' time zone), it is what this returns:
`tests/integration/test_schedules.py` compares both tick by tick. The package's own evaluation
stays for what Dagster's cannot express: dynamic searches (a `DynamicPartitionsDefinition` fed
from a CRM, which Dagster's refuses) and snapshots of yesterday on a cron that is not the days'
(e.g. weekly), or in another time zone than the days'.
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

    Dagster's `build_schedule_from_partitioned_job` when it gives these runs (static searches;
    searches x days on a daily cron in the days' time zone); else the package's own schedule,
    for dynamic searches or a cron that is not the days'. Run keys are unique within a tick, so a
    tick evaluated twice requests each partition once.

    Args:
        job: the job over the search assets; its `partitions_def` should be `partitions_def`.
        partitions_def: the searches (static or dynamic), or searches x one daily dimension.
        cron_schedule: when to refresh, in `execution_timezone`.
        execution_timezone: the cron's time zone.
        name: the schedule's name (default: `<job name>_schedule`).
        running: start the schedule as soon as the code location loads.

    Example:
        >>> build_search_schedule(refresh, searches, cron_schedule="0 5 * * *")
    """
    _check_supported(partitions_def)
    name = name or f"{job.name}_schedule"
    status = dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED
    native = _dagster_schedule(job, partitions_def, cron_schedule, execution_timezone, name, status)
    if native is not None:
        return native
    return _own_schedule(job, partitions_def, cron_schedule, execution_timezone, name, status)


def _dagster_schedule(
    job: dg.UnresolvedAssetJobDefinition | dg.JobDefinition,
    partitions_def: dg.PartitionsDefinition,
    cron_schedule: str,
    execution_timezone: str,
    name: str,
    status: dg.DefaultScheduleStatus,
) -> dg.ScheduleDefinition | None:
    """Dagster's partitioned schedule, when it asks for the same runs on the same cron; else None."""
    if job.partitions_def != partitions_def:
        return None  # Dagster's reads the job's partitions
    if isinstance(partitions_def, dg.StaticPartitionsDefinition):
        built = dg.build_schedule_from_partitioned_job(
            job,
            name=name,
            cron_schedule=cron_schedule,
            execution_timezone=execution_timezone,
            default_status=status,
        )
    elif isinstance(partitions_def, dg.MultiPartitionsDefinition) and _static_searches(
        partitions_def
    ):
        minute_hour = _daily_minute_hour(cron_schedule)
        if minute_hour is None:
            return None
        built = dg.build_schedule_from_partitioned_job(
            job,
            name=name,
            minute_of_hour=minute_hour[0],
            hour_of_day=minute_hour[1],
            default_status=status,
        )
    else:
        return None
    if not isinstance(built, dg.ScheduleDefinition):
        return None
    same = (
        built.cron_schedule == cron_schedule
        and (built.execution_timezone or "UTC") == execution_timezone
    )
    return built if same else None


def _static_searches(partitions_def: dg.MultiPartitionsDefinition) -> bool:
    """Searches x days whose searches are static and whose days are daily windows."""
    time_dim, search_dim = _split(partitions_def)
    days = time_dim.partitions_def
    return isinstance(search_dim.partitions_def, dg.StaticPartitionsDefinition) and (
        isinstance(days, dg.TimeWindowPartitionsDefinition) and days.cron_schedule == "0 0 * * *"
    )


def _daily_minute_hour(cron_schedule: str) -> tuple[int, int] | None:
    """`"M H * * *"` -> (M, H); None for any other cron."""
    parts = cron_schedule.split()
    if len(parts) != 5 or parts[2:] != ["*", "*", "*"]:
        return None
    if not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1])


def _own_schedule(
    job: dg.UnresolvedAssetJobDefinition | dg.JobDefinition,
    partitions_def: dg.PartitionsDefinition,
    cron_schedule: str,
    execution_timezone: str,
    name: str,
    status: dg.DefaultScheduleStatus,
) -> dg.ScheduleDefinition:
    """The package's schedule: for dynamic searches, or days on a cron that is not theirs."""

    @dg.schedule(
        job=job,
        cron_schedule=cron_schedule,
        execution_timezone=execution_timezone,
        name=name,
        default_status=status,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        for key in _keys_for_tick(partitions_def, context):
            yield dg.RunRequest(run_key=str(key), partition_key=key)

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
