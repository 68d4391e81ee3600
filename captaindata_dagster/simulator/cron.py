"""A small five-field cron matcher, so the simulator's schedules run on their `cron`.

The simulator may not import Dagster and no cron library is installed, so it reads cron
expressions itself: `minute hour day-of-month month day-of-week`, each field a number, `*`, a
list (`1,15`), a range (`1-5`), a step (`*/15`, `10-50/20`, `5/15`), with month names (`jan`)
and day names (`mon`; 0 and 7 are Sunday). The `@yearly`, `@annually`, `@monthly`, `@weekly`,
`@daily`, `@midnight` and `@hourly` shorthands are read too. As in cron, when both the day of the
month and the day of the week are restricted (neither field starts with `*`), a day matches if
either does.

Times are matched on the wall clock of the schedule's time zone (`zoneinfo`): a minute skipped by
a daylight-saving jump never runs, and a minute the clocks repeat runs once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
SHORTHANDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# (name, lowest, highest, names for lowest.. onwards)
_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTH_NAMES),
    ("day of week", 0, 7, DAY_NAMES),
)
SEARCH_DAYS = 366 * 8 + 2  # long enough for any date that exists (Feb 29 on a given weekday)


class CronError(ValueError):
    """A cron expression the matcher cannot read; the message names the field."""


@dataclass(frozen=True)
class CronExpression:
    """A parsed cron expression: the values each field accepts (day of week: 0 is Sunday).

    `day_restricted` / `weekday_restricted` say whether those fields were given without a
    leading `*`: when both are, a day matches if either does (cron's rule).
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_restricted: bool
    weekday_restricted: bool

    def matches_day(self, day: date) -> bool:
        """Whether `day` (a calendar date) is one the expression runs on."""
        if day.month not in self.months:
            return False
        by_day = day.day in self.days
        by_weekday = day.isoweekday() % 7 in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return by_day or by_weekday
        return by_day and by_weekday

    def matches(self, wall: datetime) -> bool:
        """Whether the wall-clock minute `wall` (its zone's local time) is one it runs at.

        Example:
            >>> parse_cron("*/15 9-17 * * mon-fri").matches(datetime(2030, 1, 7, 9, 45))
            True
        """
        return wall.minute in self.minutes and wall.hour in self.hours and self.matches_day(wall)

    def next_at_or_after(self, moment: datetime, zone: tzinfo) -> datetime | None:
        """The first matching minute at or after `moment` (aware), in UTC; None if none comes
        within eight years (a date that never exists, such as February 30).

        Args:
            moment: an aware datetime; the seconds of a matching minute count as "after" only at
                :00 (a minute already begun is not returned).
            zone: the time zone whose wall clock the expression reads.

        Example:
            >>> from zoneinfo import ZoneInfo
            >>> start = datetime(2030, 1, 1, tzinfo=timezone.utc)
            >>> parse_cron("0 6 * * *").next_at_or_after(start, ZoneInfo("Europe/Paris"))
            datetime.datetime(2030, 1, 1, 5, 0, tzinfo=datetime.timezone.utc)
        """
        first_day = moment.astimezone(zone).date() - timedelta(days=1)  # a fold may reach back
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        for offset in range(SEARCH_DAYS):
            day = first_day + timedelta(days=offset)
            if not self.matches_day(day):
                continue
            for hour in hours:
                for minute in minutes:
                    found = _existing(day, hour, minute, zone)
                    if found is not None and found >= moment:
                        return found
        return None


def _existing(day: date, hour: int, minute: int, zone: tzinfo) -> datetime | None:
    """The UTC moment of a wall-clock minute in `zone` (its first one if the clocks repeat it),
    or None if a daylight-saving jump skips it."""
    wall = datetime.combine(day, time(hour, minute))
    moment = wall.replace(tzinfo=zone).astimezone(timezone.utc)
    if moment.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return moment


def parse_cron(expression: str) -> CronExpression:
    """Read a five-field cron expression (or an `@daily`-style shorthand).

    Args:
        expression: "minute hour day-of-month month day-of-week", e.g. "0 6 * * mon-fri".

    Raises:
        CronError: the expression is not one the matcher reads (the message names the field).

    Example:
        >>> sorted(parse_cron("0 */6 * * *").hours)
        [0, 6, 12, 18]
    """
    text = SHORTHANDS.get(expression.strip().lower(), expression)
    parts = text.split()
    if len(parts) != len(_FIELDS):
        raise CronError(f"a cron expression has 5 fields, got {len(parts)} in {expression!r}")
    values = [_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in values[4])
    return CronExpression(values[0], values[1], values[2], values[3], weekdays,
                          not parts[2].startswith("*"), not parts[4].startswith("*"))  # fmt: skip


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a cron expression the simulator runs, or None.

    Example:
        >>> cron_problem("61 * * * *")
        'cron minute: 61 is not within 0-59'
    """
    try:
        parse_cron(expression)
    except CronError as e:
        return str(e)
    return None


def next_cron_run(expression: str, zone_name: str | None, not_before: datetime) -> datetime | None:
    """When a schedule's `cron` next runs: its first matching minute at or after `not_before`,
    read on the wall clock of `zone_name` (an IANA name; None is UTC), as an aware UTC datetime.
    None if the expression never matches (or cannot be read: submissions are checked first).

    Example:
        >>> start = datetime(2030, 3, 1, 12, 0, 30, tzinfo=timezone.utc)
        >>> next_cron_run("*/10 * * * *", None, start).isoformat()
        '2030-03-01T12:10:00+00:00'
    """
    try:
        parsed = parse_cron(expression)
    except CronError:
        return None
    return parsed.next_at_or_after(not_before, ZoneInfo(zone_name or "UTC"))


def _field(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    """The values one field accepts: a comma-separated list of `*`, `a`, `a-b`, each `/step`."""
    found: set[int] = set()
    for item in text.lower().split(","):
        span, _, step_text = item.partition("/")
        step = _number(step_text, name, names=()) if step_text else 1
        if step < 1:
            raise CronError(f"cron {name}: a step must be at least 1, got {step_text!r}")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            a, _, b = span.partition("-")
            first, last = _number(a, name, names, low), _number(b, name, names, low)
        else:
            first = _number(span, name, names, low)
            last = high if step_text else first
        for value in (first, last):
            if not low <= value <= high:
                raise CronError(f"cron {name}: {value} is not within {low}-{high}")
        if first > last:
            raise CronError(f"cron {name}: the range {span!r} runs backwards")
        found.update(range(first, last + 1, step))
    return frozenset(found)


def _number(text: str, name: str, names: tuple[str, ...], first: int = 0) -> int:
    """A field's number, or a month or day name counted from the field's lowest value."""
    if text in names:
        return first + names.index(text)
    if not text.isdigit():
        raise CronError(f"cron {name}: {text!r} is not a number" + (" or a name" if names else ""))
    return int(text)
