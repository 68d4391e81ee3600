"""Where the sensors find Captain Data failures: errors tables and failed runs.

- Each errors-table materialization carries a summary of the errors its run met for the first
  time (`CaptainDataMetadataSet.new_errors`): read since the cursor's storage id.
- A run that failed with a Captain Data error carries the label, scope and ref in its step
  failure's metadata: read since the cursor's time, unless the other sensor already surfaced it
  (tagged `captaindata/surfaced`); each run read here is tagged so.

Both feed `FailureGroups`; the targets tell which asset a table or a step belongs to.

Example:
    >>> targets = sensor_targets([people, profiles])
    >>> newest = read_recorded_errors(instance, targets, after=0, groups=groups)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from captaindata_dagster.orchestration.metadata_set import (
    OBSERVED_KEY,
    SURFACED_TAG,
    CaptainDataMetadataSet,
    json_data,
)
from captaindata_dagster.orchestration.sensors.failure_groups import FailureGroups

PARTITION_TAG = "dagster/partition"


@dataclass(frozen=True)
class SensorTarget:
    """What the sensors know of one Captain Data asset."""

    results: dg.AssetKey
    errors: dg.AssetKey | None
    keys: list[dg.AssetKey]  # every asset of its step (a re-run selects them all)
    op_name: str
    action: str | None


def sensor_targets(assets: Sequence[dg.AssetsDefinition]) -> list[SensorTarget]:
    """One target per assets definition built by this package's factories.

    Args:
        assets: the definitions the sensor watches.

    Example:
        >>> [t.results.to_user_string() for t in sensor_targets([people])]
        ['linkedin_people']
    """
    out = []
    for a in assets:
        specs = list(a.specs)
        roles = {CaptainDataMetadataSet.extract(s.metadata).role: s for s in specs}
        results = roles.get("results", specs[0])
        errors = roles.get("errors")
        out.append(
            SensorTarget(
                results=results.key,
                errors=errors.key if errors is not None else None,
                keys=[s.key for s in specs],
                op_name=a.op.name,
                action=CaptainDataMetadataSet.extract(results.metadata).action_id,
            )
        )
    return out


def read_recorded_errors(
    instance: dg.DagsterInstance, targets: Sequence[SensorTarget], after: int, groups: FailureGroups
) -> int:
    """Group the new errors the errors tables recorded after storage id `after`; the newest id.

    Args:
        instance: the Dagster instance.
        targets: the watched assets.
        after: the cursor's storage id (0: from the start).
        groups: where the errors are merged.
    """
    newest = after
    # the errors table's materializations, and the results table's of a run that selected it
    # alone (the new errors ride on it then)
    by_table = {t.errors: t for t in targets if t.errors is not None}
    by_table.update({t.results: t for t in targets})
    for table_key, target in by_table.items():
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=table_key, after_storage_id=after or None),
            limit=1000,
            ascending=True,
        ).records
        for record in records:
            newest = max(newest, record.storage_id)
            mat = record.asset_materialization
            if mat is None:
                continue
            summary = json_data(CaptainDataMetadataSet.extract(mat.metadata).new_errors)
            if not isinstance(summary, Mapping):
                continue
            for label, info in summary.items():
                if isinstance(info, Mapping):
                    groups.add(target.results, mat.partition, str(label), info, record.run_id)
    return newest


def read_failed_runs(
    instance: dg.DagsterInstance,
    targets: Sequence[SensorTarget],
    runs_after: float,
    groups: FailureGroups,
    surfaced_by: str,
) -> float:
    """Group the Captain Data failures of runs failed after `runs_after`; the newest update time.

    Runs already surfaced are skipped; those read are tagged `SURFACED_TAG: surfaced_by`.

    Args:
        instance: the Dagster instance.
        targets: the watched assets.
        runs_after: the cursor's update time (epoch seconds; 0: from the start).
        groups: where the failures are merged.
        surfaced_by: the sensor's name, for the tag.
    """
    by_op = {t.op_name: t for t in targets}
    newest = runs_after
    failed = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.FAILURE],
            updated_after=datetime.fromtimestamp(runs_after, timezone.utc) if runs_after else None,
        ),
        limit=200,
    )
    for record in failed:
        newest = max(newest, record.update_timestamp.timestamp())
        run = record.dagster_run
        if run.tags.get(SURFACED_TAG):
            continue
        failures = run_failures(instance, run.run_id, by_op)
        for target, info in failures:
            partition = run.tags.get(PARTITION_TAG)
            groups.add(target.results, partition, info["error_label"], info, run.run_id)
        if failures:
            instance.add_run_tags(run.run_id, {SURFACED_TAG: surfaced_by})
    return newest


def run_failures(
    instance: dg.DagsterInstance, run_id: str, by_op: Mapping[str, SensorTarget]
) -> list[tuple[SensorTarget, dict[str, Any]]]:
    """The Captain Data step failures of one run: (asset, envelope fields) for each step.

    Args:
        instance: the Dagster instance.
        run_id: the failed run.
        by_op: the watched assets by op name (a step key is `<op>` or `<op>[<mapping key>]`).

    Example:
        >>> [info["error_label"] for _, info in run_failures(instance, run_id, by_op)]
        ['UNAUTHORIZED']
    """
    found = []
    for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        dagster_event = event.dagster_event
        if dagster_event is None or dagster_event.step_key is None:
            continue
        target = by_op.get(dagster_event.step_key.split("[")[0])
        data = dagster_event.step_failure_data
        md = data.user_failure_data.metadata if data and data.user_failure_data else {}
        label = md.get("error_label")
        if target is None or label is None or not getattr(label, "value", None):
            continue
        found.append((target, _failure_info(md, event.timestamp)))
    return found


def _failure_info(md: Mapping[str, Any], timestamp: float) -> dict[str, Any]:
    """A step failure's metadata as a group's summary (`FailureGroup.add`): one failure."""

    def value(key: str) -> Any:
        return getattr(md.get(key), "value", None)

    at = datetime.fromtimestamp(timestamp, timezone.utc).isoformat()
    ref, status, users = value("error_ref"), value("status_code"), value("user_uids")
    return {
        "error_label": value("error_label"),
        "error_scope": value("error_scope"),
        "status_code": status if isinstance(status, int) and status >= 0 else None,
        "error_refs": [ref] if ref else [],
        "user_uids": [str(u) for u in users] if isinstance(users, list) else [],
        "count": 1,
        "first_seen": at,
        "last_seen": at,
        "retry_not_before": value("retry_not_before"),
        "observed": bool(value(OBSERVED_KEY)),
    }
