"""The simulator's own cron matcher (`simulator/cron.py`): fields, names, the day OR rule, time
zones and daylight-saving jumps, and the expressions it refuses. No server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from captaindata_dagster.simulator.cron import (
    CronError,
    cron_problem,
    next_cron_run,
    parse_cron,
)

UTC = timezone.utc


def test_fields_read_numbers_stars_lists_ranges_and_steps() -> None:
    cron = parse_cron("5,35 */6 1-3 * 1-5/2")
    assert sorted(cron.minutes) == [5, 35]
    assert sorted(cron.hours) == [0, 6, 12, 18]
    assert sorted(cron.days) == [1, 2, 3]
    assert sorted(cron.months) == list(range(1, 13))
    assert sorted(cron.weekdays) == [1, 3, 5]
    assert sorted(parse_cron("10/20 * * * *").minutes) == [10, 30, 50]


def test_month_and_day_names_and_sunday_as_7() -> None:
    cron = parse_cron("0 9 * JAN,jul-aug mon-FRI")
    assert sorted(cron.months) == [1, 7, 8] and sorted(cron.weekdays) == [1, 2, 3, 4, 5]
    assert parse_cron("0 0 * * 7").weekdays == parse_cron("0 0 * * sun").weekdays == {0}


def test_shorthands() -> None:
    assert parse_cron("@daily") == parse_cron("0 0 * * *") == parse_cron("@midnight")
    assert parse_cron("@hourly") == parse_cron("0 * * * *")
    assert parse_cron("@weekly") == parse_cron("0 0 * * 0")


def test_matches_on_the_wall_clock() -> None:
    cron = parse_cron("*/15 9-17 * * mon-fri")
    assert cron.matches(datetime(2030, 1, 7, 9, 45))  # a Monday
    assert not cron.matches(datetime(2030, 1, 7, 9, 46))
    assert not cron.matches(datetime(2030, 1, 6, 9, 45))  # a Sunday
    assert not cron.matches(datetime(2030, 1, 7, 18, 0))


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    both = parse_cron("0 0 13 * fri")  # the 13th, or any Friday
    assert both.matches(datetime(2030, 2, 13))  # a Wednesday, the 13th
    assert both.matches(datetime(2030, 2, 15))  # a Friday
    assert not both.matches(datetime(2030, 2, 14))
    one = parse_cron("0 0 */2 * fri")  # a `*` day of month: both must hold
    assert not one.matches(datetime(2030, 2, 13)) and one.matches(datetime(2030, 2, 15))
    assert not one.matches(datetime(2030, 2, 22))  # a Friday, an even day


def test_next_run_in_utc_and_in_a_zone() -> None:
    start = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
    assert next_cron_run("* * * * *", None, start) == datetime(2030, 1, 1, 12, 1, tzinfo=UTC)
    on_the_minute = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert next_cron_run("* * * * *", "UTC", on_the_minute) == on_the_minute
    paris = next_cron_run("0 6 * * *", "Europe/Paris", start)
    assert paris == datetime(2030, 1, 2, 5, 0, tzinfo=UTC)  # 06:00 in Paris is 05:00 UTC
    assert next_cron_run("0 0 29 2 *", None, start) == datetime(2032, 2, 29, tzinfo=UTC)
    assert next_cron_run("0 0 30 2 *", None, start) is None  # February 30 never comes


def test_a_minute_skipped_by_daylight_saving_never_runs_a_repeated_one_runs_once() -> None:
    zone = ZoneInfo("Europe/Paris")  # 2030-03-31 02:00 -> 03:00; 2030-10-27 03:00 -> 02:00
    spring = datetime(2030, 3, 30, 23, 0, tzinfo=UTC)
    found = next_cron_run("30 2 * * *", "Europe/Paris", spring)
    assert found is not None and found.astimezone(zone).date().isoformat() == "2030-04-01"
    autumn = datetime(2030, 10, 26, 23, 0, tzinfo=UTC)
    first = next_cron_run("30 2 * * *", "Europe/Paris", autumn)
    assert first == datetime(2030, 10, 27, 0, 30, tzinfo=UTC)  # 02:30 CEST
    again = next_cron_run("30 2 * * *", "Europe/Paris", first + timedelta(minutes=1))
    assert again is not None and again.astimezone(zone).day == 28


@pytest.mark.parametrize(
    ("expression", "field"),
    [("* * * *", "5 fields"), ("61 * * * *", "minute"), ("* 24 * * *", "hour"),
     ("* * 0 * *", "day of month"), ("* * * 13 *", "month"), ("* * * * 8", "day of week"),
     ("*/0 * * * *", "step"), ("5-1 * * * *", "backwards"), ("* * * foo *", "month"),
     ("a * * * *", "minute")],
)  # fmt: skip
def test_refused_expressions_name_the_field(expression: str, field: str) -> None:
    with pytest.raises(CronError, match=field):
        parse_cron(expression)
    assert field in (cron_problem(expression) or "")
    assert next_cron_run(expression, None, datetime(2030, 1, 1, tzinfo=UTC)) is None


def test_accepted_expressions_have_no_problem() -> None:
    for expression in ("* * * * *", "0 6 * * mon-fri", "@daily", "0 0 1,15 */3 *"):
        assert cron_problem(expression) is None
