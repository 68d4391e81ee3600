"""`build_search_schedule` against Dagster's `build_schedule_from_partitioned_job`.

Where both can express the schedule (static searches; searches x days on a daily cron), the
package's own evaluation and Dagster's ask for the same runs at every tick, so
`build_search_schedule` returns Dagster's; its own stays for dynamic searches and crons that are not
the days'.
"""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pytest

from captaindata_dagster.orchestration import build_search_schedule
from captaindata_dagster.orchestration.schedules import _own_schedule

SEARCHES = ["paris", "berlin", "london"]
TICKS = [
    datetime(2026, 11, 1, 5, tzinfo=timezone.utc),  # the first day is not over yet
    datetime(2026, 11, 2, 5, tzinfo=timezone.utc),
    datetime(2026, 11, 30, 5, tzinfo=timezone.utc),
    datetime(2026, 12, 1, 5, tzinfo=timezone.utc),  # a month boundary
    datetime(2027, 3, 28, 5, tzinfo=timezone.utc),  # a DST change in Europe
]


def _job(partitions_def: dg.PartitionsDefinition) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job("refresh", selection=["people"], partitions_def=partitions_def)


def _people_defs(partitions_def: dg.PartitionsDefinition, schedule: dg.ScheduleDefinition):
    people = dg.asset(name="people", partitions_def=partitions_def)(lambda: None)
    return dg.Definitions(assets=[people], jobs=[schedule.job], schedules=[schedule])


def _requests(
    schedule: dg.ScheduleDefinition, defs: dg.Definitions, when: datetime
) -> list[tuple[str, str | None]]:
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=when,
            repository_def=defs.get_repository_def(),
        ) as ctx:
            data = schedule.evaluate_tick(ctx)
    return sorted((str(r.partition_key), r.run_key) for r in data.run_requests or [])


def _is_dagsters(schedule: dg.ScheduleDefinition) -> bool:
    """Whether the schedule evaluates with `build_schedule_from_partitioned_job`'s function."""
    fn = schedule._execution_fn
    return getattr(fn, "decorated_fn", fn).__module__.endswith("partitioned_schedule")


STATIC = dg.StaticPartitionsDefinition(SEARCHES)
SEARCH_BY_DAY = dg.MultiPartitionsDefinition(
    {"search": STATIC, "date": dg.DailyPartitionsDefinition(start_date="2026-11-01")}
)


@pytest.mark.parametrize("partitions_def", [STATIC, SEARCH_BY_DAY], ids=["static", "search-x-day"])
def test_dagsters_schedule_asks_for_the_same_runs_as_the_packages_own(partitions_def):
    job = _job(partitions_def)
    status = dg.DefaultScheduleStatus.STOPPED
    own = _own_schedule(job, partitions_def, "0 5 * * *", "UTC", "own", status)
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        kwargs = {"minute_of_hour": 0, "hour_of_day": 5}
    else:
        kwargs = {"cron_schedule": "0 5 * * *", "execution_timezone": "UTC"}
    dagster = dg.build_schedule_from_partitioned_job(job, name="dagster", **kwargs)
    assert isinstance(dagster, dg.ScheduleDefinition)
    assert (dagster.cron_schedule, dagster.execution_timezone or "UTC") == ("0 5 * * *", "UTC")
    defs = _people_defs(partitions_def, own)
    seen = []
    for when in TICKS:
        mine, theirs = _requests(own, defs, when), _requests(dagster, defs, when)
        assert mine == theirs, when
        seen.append(len(mine))
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        # nothing before the first full day, then one run per search for yesterday
        assert seen == [0, 3, 3, 3, 3]
        keys = [key for key, _ in _requests(own, defs, TICKS[2])]
        assert all("2026-11-29" in key for key in keys)  # on the 30th: the 29th
    else:
        assert seen == [3] * len(TICKS)


def test_build_search_schedule_returns_dagsters_where_it_is_the_same():
    job = _job(SEARCH_BY_DAY)
    schedule = build_search_schedule(job, SEARCH_BY_DAY, cron_schedule="30 6 * * *")
    assert schedule.cron_schedule == "30 6 * * *" and schedule.name == "refresh_schedule"
    # Dagster's evaluation function, not the package's own
    assert _is_dagsters(schedule)
    static = build_search_schedule(_job(STATIC), STATIC, cron_schedule="0 6 * * 1")
    assert _is_dagsters(static)


def test_the_packages_own_schedule_stays_for_dynamic_searches_and_other_crons():
    dynamic = dg.DynamicPartitionsDefinition(name="crm_searches")
    schedule = build_search_schedule(_job(dynamic), dynamic, running=True)
    assert not _is_dagsters(schedule)
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    people = dg.asset(name="people", partitions_def=dynamic)(lambda: None)
    defs = dg.Definitions(assets=[people], jobs=[schedule.job], schedules=[schedule])
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("crm_searches", ["acme-ctos", "acme-cfos"])
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=TICKS[2],
            repository_def=defs.get_repository_def(),
        ) as ctx:
            requests = schedule.evaluate_tick(ctx).run_requests or []
    assert sorted(r.partition_key for r in requests) == ["acme-cfos", "acme-ctos"]

    # weekly snapshots of yesterday: Dagster's runs on the days' cadence only
    weekly = build_search_schedule(_job(SEARCH_BY_DAY), SEARCH_BY_DAY, cron_schedule="0 5 * * 1")
    assert weekly.cron_schedule == "0 5 * * 1"
    assert not _is_dagsters(weekly)
    defs = _people_defs(SEARCH_BY_DAY, weekly)
    monday = datetime(2026, 11, 30, 5, tzinfo=timezone.utc)
    keys = [key for key, _ in _requests(weekly, defs, monday)]
    assert len(keys) == 3 and all("2026-11-29" in key for key in keys)
