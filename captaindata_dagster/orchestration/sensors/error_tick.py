"""One tick of the error sensor: read what is new, report it, re-run what a re-run will fix.

A tick reads the failures since its cursor (`failure_sources`), groups them by asset, partition
and label (`failure_groups`), reports each group once as an `AssetObservation`, and decides per
group:

- a label the sensor re-runs (`api.labels.RERUN_LABELS` by default): one re-run of the partition
  per window, tagged `captaindata/rerun_labels`; under a long rate limit the re-run is deferred
  in the cursor until it has passed;
- any other label: left for a person, the tick saying what to do where the labels table knows.

A tick that requests runs shows only their count in the UI, so a tick that finds both holds its
re-runs for one tick (unless re-runs are due anyway): it shows, as its skip reason, each label with
its fix and "re-run at the next tick"; the next tick requests them, once.

Example:
    >>> rules = ErrorSensorRules("errors", sensor_targets(assets), RERUN_LABELS, frozenset(),
    ...                          timedelta(hours=1))
    >>> result = error_sensor_tick(context, rules, datetime.now(timezone.utc))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import dagster as dg

from captaindata_dagster.orchestration.metadata_set import RERUN_OF_TAG, RERUN_TAG
from captaindata_dagster.orchestration.sensors.cursor import (
    ErrorSensorCursor,
    RerunKey,
    rerun_slot,
)
from captaindata_dagster.orchestration.sensors.failure_groups import FailureGroup, FailureGroups
from captaindata_dagster.orchestration.sensors.failure_sources import (
    SensorTarget,
    read_failed_runs,
    read_recorded_errors,
)

Decision = Literal["rerun", "deferred", "recent", "person"]


@dataclass(frozen=True)
class ErrorSensorRules:
    """What one error sensor watches, and which labels it re-runs or ignores."""

    name: str
    targets: list[SensorTarget]
    rerun_labels: frozenset[str]
    ignore_labels: frozenset[str]
    rerun_window: timedelta  # at most one re-run per partition per window

    def target_of(self, asset: str) -> SensorTarget:
        """The watched asset whose results table is `asset` (a key as a user string)."""
        return next(t for t in self.targets if t.results.to_user_string() == asset)


def error_sensor_tick(
    context: dg.SensorEvaluationContext, rules: ErrorSensorRules, now: datetime
) -> dg.SensorResult:
    """Read the failures since the cursor, report them, request the re-runs that are due.

    Args:
        context: the sensor's context (its cursor, its instance, its log).
        rules: the sensor's targets and labels.
        now: the tick's time (injected, so tests move it).

    Example:
        >>> error_sensor_tick(dg.build_sensor_context(instance=instance), rules, now).cursor
    """
    cursor = ErrorSensorCursor.parse(context.cursor)
    groups = FailureGroups(rules.ignore_labels)
    instance = context.instance
    cursor.after = read_recorded_errors(instance, rules.targets, cursor.after, groups)
    cursor.runs_after = read_failed_runs(
        instance, rules.targets, cursor.runs_after, groups, rules.name
    )
    to_rerun = cursor.take_due_deferred(now)  # held or rate-limited re-runs whose time came
    decided: list[tuple[FailureGroup, Decision]] = [
        (group, _decide(group, rules, cursor, now)) for group in groups
    ]
    # a tick that requests runs shows only their count in the UI: when a person must act too,
    # this tick says so (its skip reason) and its re-runs go out at the next tick; unless re-runs
    # are due anyway (then all go out now, and the words are in the tick's log)
    hold = not to_rerun and {"person", "rerun"} <= {d for _, d in decided}
    observations, lines = [], []
    for group, decision in decided:
        asset = group.asset_key.to_user_string()
        if decision == "rerun":
            _plan_rerun(cursor, to_rerun, (asset, group.partition), group.label, hold, now)
        hint = group.hint(rules.rerun_labels, "look at the errors table")
        target = rules.target_of(asset)
        if not group.observed_by_step:
            observations.append(group.observation(target.action, decision == "rerun", hint))
        what = _what(decision, group, rules.rerun_window, hint, held=hold)
        lines.append(f"{group.label} x{group.count} on {group.where}: {what}")
    requests = _rerun_requests(to_rerun, rules, now)
    cursor.record_reruns([rerun_slot(*key) for key in to_rerun], now, rules.rerun_window)
    message = "; ".join(lines) if lines else "no new Captain Data errors"
    context.log.info(message)
    return dg.SensorResult(
        run_requests=requests,
        asset_events=observations,
        cursor=cursor.to_json(),
        skip_reason=None if requests else message,
    )


def _plan_rerun(
    cursor: ErrorSensorCursor,
    to_rerun: dict[RerunKey, set[str]],
    key: RerunKey,
    label: str,
    hold: bool,
    now: datetime,
) -> None:
    """Request a partition's re-run this tick, or hold it for the next one (in the cursor's
    deferred re-runs, due at once); one already requested this tick only gains the label."""
    if key in to_rerun or not hold:
        to_rerun.setdefault(key, set()).add(label)
    else:
        cursor.defer(rerun_slot(*key), now.isoformat(), label)


def _decide(
    group: FailureGroup, rules: ErrorSensorRules, cursor: ErrorSensorCursor, now: datetime
) -> Decision:
    """Re-run now, defer (noted in the cursor), skip (re-run within the window), or a person."""
    if group.label not in rules.rerun_labels:
        return "person"
    slot = rerun_slot(group.asset_key.to_user_string(), group.partition)
    wait = group.retry_not_before
    if wait and now < datetime.fromisoformat(wait):
        cursor.defer(slot, wait, group.label)
        return "deferred"
    return "rerun" if cursor.rerun_due(slot, now, rules.rerun_window) else "recent"


def _what(
    decision: Decision, group: FailureGroup, window: timedelta, hint: str | None, *, held: bool
) -> str:
    """The tick's words for a group's decision."""
    if decision == "rerun":
        return "re-run at the next tick" if held else "re-run requested"
    if decision == "deferred":
        return f"rate-limited: re-run requested after {group.retry_not_before}"
    if decision == "recent":
        return f"re-run already requested within {window}"
    return f"needs a person: {hint}"


def _rerun_requests(
    to_rerun: dict[RerunKey, set[str]], rules: ErrorSensorRules, now: datetime
) -> list[dg.RunRequest]:
    """One run request per asset partition, selecting its step's assets, tagged with the labels."""
    requests = []
    for (asset, partition), labels in sorted(to_rerun.items(), key=lambda kv: str(kv[0])):
        slot = rerun_slot(asset, partition)
        requests.append(
            dg.RunRequest(
                run_key=f"captaindata-rerun:{slot}:{now.isoformat()}",
                asset_selection=rules.target_of(asset).keys,
                partition_key=partition,
                tags={RERUN_TAG: ",".join(sorted(labels)), RERUN_OF_TAG: asset},
            )
        )
    return requests
