"""Sensors that surface Captain Data `error_label` failures in the Dagster UI.

`build_captaindata_error_sensor(assets=[...])` reads, each tick, what is new since its cursor:
- the per-input errors each asset recorded (its `<name>_errors` materializations carry a summary of
  the errors met for the first time), and
- runs that failed with a Captain Data error (the step failure's metadata holds label, scope, ref).
It groups them by asset, partition and label, reports each group once as an `AssetObservation` on
the asset (the asset page shows it), requests one re-run of partitions hit by labels a re-run fixes
(`api.labels.RERUN_LABELS`: 429, 5xx, upstream timeouts) per `rerun_window`, and says in the tick
which labels need a person (`api.labels.PERSON_FIXES`).

`build_captaindata_run_failure_sensor(assets=[...])` reacts at once to a failed run (a bad key, no
credits) and reports it the same way. Whichever sensor reports a failed run tags it
`captaindata/surfaced`, and the other leaves it alone: nothing is surfaced twice.

Example:
    >>> defs = dg.Definitions(
    ...     assets=[people, profiles],
    ...     sensors=[build_captaindata_error_sensor([people, profiles]),
    ...              build_captaindata_run_failure_sensor([people, profiles])],
    ... )
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

import dagster as dg

from captaindata_dagster.api.labels import RERUN_LABELS
from captaindata_dagster.orchestration.metadata_set import SURFACED_TAG
from captaindata_dagster.orchestration.sensors.error_tick import ErrorSensorRules, error_sensor_tick
from captaindata_dagster.orchestration.sensors.failure_groups import FailureGroup
from captaindata_dagster.orchestration.sensors.failure_sources import (
    PARTITION_TAG,
    run_failures,
    sensor_targets,
)


def _now() -> datetime:
    """The tick's time; tests replace it to move past a rerun window or a rate limit."""
    return datetime.now(timezone.utc)


def build_captaindata_error_sensor(
    assets: Sequence[dg.AssetsDefinition],
    *,
    name: str = "captaindata_error_sensor",
    retry_labels: Iterable[str] = RERUN_LABELS,
    ignore_labels: Iterable[str] = (),
    rerun_window: timedelta = timedelta(hours=1),
    minimum_interval_seconds: int = 60,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    """A sensor surfacing the Captain Data failures of `assets` (built by this package's factories).

    Everything not re-run is reported and left for a person; the tick says what to do where the
    labels table (`api.labels`) knows.

    Args:
        assets: the assets definitions to watch.
        name: the sensor's name.
        retry_labels: labels for which the affected partitions are re-run, at most once per
            partition per `rerun_window`, with the labels in the run's `captaindata/rerun_labels`
            tag (default: `api.labels.RERUN_LABELS`).
        ignore_labels: labels never surfaced (e.g. `NO_RESULT` if a vanished profile is routine).
        rerun_window: at most one re-run per partition per window.
        minimum_interval_seconds: seconds between ticks.
        default_status: RUNNING to start the sensor as the code location loads.

    Example:
        >>> build_captaindata_error_sensor([people, profiles], ignore_labels=["NO_RESULT"])
    """
    rules = ErrorSensorRules(
        name=name,
        targets=sensor_targets(assets),
        rerun_labels=frozenset(retry_labels),
        ignore_labels=frozenset(ignore_labels),
        rerun_window=rerun_window,
    )

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        target=[k for t in rules.targets for k in t.keys],
        description="Surfaces Captain Data error_label failures; re-runs partitions hit by transient ones.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        return error_sensor_tick(context, rules, _now())

    return _sensor


def build_captaindata_run_failure_sensor(
    assets: Sequence[dg.AssetsDefinition],
    *,
    name: str = "captaindata_run_failure_sensor",
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    """React at once to a run that failed with a Captain Data error (bad key, no credits...).

    Such runs often die before recording anything; the failure's label, scope and ref are
    reported as an `AssetObservation` on each affected asset, and the run is tagged so the error
    sensor does not report it again.

    Args:
        assets: the assets definitions to watch.
        name: the sensor's name.
        default_status: RUNNING to start the sensor as the code location loads.

    Example:
        >>> build_captaindata_run_failure_sensor([people, profiles], name="people_failures")
    """
    by_op = {t.op_name: t for t in sensor_targets(assets)}

    @dg.run_failure_sensor(
        name=name,
        default_status=default_status,
        monitor_all_code_locations=False,
        description="Reports Captain Data failures (label, scope, ref) of failed runs at once.",
    )
    def _sensor(context: dg.RunFailureSensorContext) -> None:
        # returns None: a run status sensor's tick ends at the first run its function returns
        # something for, so a SkipReason (the tick's words in the UI) would report one failed run
        # per tick; the words go to the tick's log, the failure is on the partition (the step's
        # observation, or the one reported here)
        run = context.dagster_run
        stored = context.instance.get_run_by_id(run.run_id)
        if (stored or run).tags.get(SURFACED_TAG):
            return  # the error sensor got there first
        failures = run_failures(context.instance, run.run_id, by_op)
        if not failures:
            return
        partition = run.tags.get(PARTITION_TAG)
        lines = []
        for target, info in failures:
            group = FailureGroup(target.results, partition, info["error_label"])
            group.add(info, run.run_id)
            hint = group.hint(RERUN_LABELS, "look at the run's failure")
            if not group.observed_by_step:
                context.instance.report_runless_asset_event(
                    group.observation(target.action, False, hint)
                )
            lines.append(
                f"{group.label} on {group.where} (ref {', '.join(group.refs) or '-'})"
                + (f": {hint}" if hint else "")
            )
        context.instance.add_run_tags(run.run_id, {SURFACED_TAG: name})
        context.log.info("; ".join(lines))

    return _sensor
