"""`build_search_schedule`: every search partition refreshed on a cron, one run each.

Shared by the demo code location and `CaptainDataActionsComponent`.
"""

from __future__ import annotations

from collections.abc import Iterator

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
    """The demo's schedule: at each tick, one run per search partition, keyed by the day.

    The run key makes a tick that is evaluated twice request each partition once.
    """

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
        # Only dynamic keys live in the instance; touching `context.instance` otherwise would
        # create one where the caller gave none (a test's build_schedule_context).
        store = context.instance if _has_dynamic_keys(partitions_def) else None
        for key in partitions_def.get_partition_keys(dynamic_partitions_store=store):
            yield dg.RunRequest(run_key=f"{key}:{day}", partition_key=key)

    return _schedule


def _has_dynamic_keys(partitions_def: dg.PartitionsDefinition) -> bool:
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return any(_has_dynamic_keys(d.partitions_def) for d in partitions_def.partitions_defs)
    return isinstance(partitions_def, dg.DynamicPartitionsDefinition)
