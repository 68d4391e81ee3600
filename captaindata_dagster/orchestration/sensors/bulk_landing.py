"""The landing sensor: materialize a deferred async partition once its runs have ended.

An asset with `mode="async", defer=True` ends its step at submission: the ledger keeps each
submission with the asset key and partition that asked (`origin`). Each tick, this sensor looks
at the open submissions of its assets, grouped by partition:

- a run's final callback in the callback store (a local read) says it ended; otherwise its status
  is asked (`GET /runs/{uid}`) at most every `bulk_status_every_s` (the resource's) per run;
- a deferred partition waits for its own submissions and for those of other partitions holding
  some of its inputs (the ledger's `bulk_waiters`);
- once every run it waits for ended (SUCCEEDED, PARTIAL_SUCCEEDED, FAILED, INVALID) or halted
  (BLOCKED, STOPPED), or a submission's answer was lost and its run is nowhere to be seen, one
  run of that partition is requested, tagged `captaindata/bulk_landing`:
  its step lands what the runs brought (waiting no more), and the errors table shows every input
  left without an outcome with its label, where the error sensor reads it;
- a halted run is named in the tick with its `last_error` label and the resume command; resumed,
  it is landed again once it ends (the run key holds the statuses, so each state lands once);
  a landing run that failed is requested again (the run key counts the failed ones).

Example:
    >>> defs = dg.Definitions(
    ...     assets=[people, profiles],  # profiles: mode="async", defer=True
    ...     sensors=[build_bulk_landing_sensor([profiles])],
    ...     resources={"captaindata": CaptainDataResource(receiver_url="https://hooks.example.com")},
    ... )
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone

import dagster as dg

from captaindata_dagster.api.bulk_statuses import (
    ENDED_RUN_STATUSES,
    HALTED_RUN_STATUSES,
    SUBMISSION_UNKNOWN,
)
from captaindata_dagster.orchestration.metadata_set import BULK_LANDING_TAG
from captaindata_dagster.orchestration.resource import CaptainDataResource
from captaindata_dagster.storage.ledger import BulkSubmissionRecord

READY = ENDED_RUN_STATUSES | HALTED_RUN_STATUSES | {SUBMISSION_UNKNOWN}
_RETRY_STATUSES = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def build_bulk_landing_sensor(
    assets: Sequence[dg.AssetsDefinition],
    *,
    name: str = "captaindata_bulk_landing_sensor",
    resource_key: str = "captaindata",
    minimum_interval_seconds: int = 30,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """A sensor landing the deferred async partitions of `assets` once their runs have ended.

    Running by default: without it a deferred partition is never materialized.

    Args:
        assets: the async assets (built with `mode="async", defer=True`).
        name: the sensor's name.
        resource_key: the `CaptainDataResource`'s key (its ledger, callback store and client).
        minimum_interval_seconds: between ticks.
        default_status: RUNNING unless told otherwise.

    Example:
        >>> build_bulk_landing_sensor([profiles])
    """
    targets = {k.to_user_string(): a for a in assets for k in a.keys}

    @dg.sensor(
        name=name,
        target=list(assets),
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        required_resource_keys={resource_key},
        description="Lands deferred Captain Data async runs once they have ended.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        resource: CaptainDataResource = getattr(context.resources, resource_key)
        requests, halted, waiting = [], [], 0
        for (asset_key, partition_key), records in _waiting_partitions(resource, targets).items():
            pairs = [(r, _status(resource, r)) for r in records]
            halted += [_halted_line(r, s) for r, s in pairs if s in HALTED_RUN_STATUSES]
            if not all(s in READY for _, s in pairs):
                waiting += 1
                continue
            requests.append(
                _landing_request(context, targets[asset_key], asset_key, partition_key, pairs)
            )
        if halted:
            context.log.warning("halted async runs: %s", "; ".join(halted))
        if requests:
            return requests
        return dg.SkipReason(
            "; ".join(halted) if halted else f"{waiting} partition(s) wait for async runs"
        )

    return _sensor


def _waiting_partitions(
    resource: CaptainDataResource, targets: dict[str, dg.AssetsDefinition]
) -> dict[tuple[str, str | None], list[BulkSubmissionRecord]]:
    """The open submissions each deferred partition of the targets waits for (its own, and
    those of other partitions holding some of its inputs)."""
    groups: dict[tuple[str, str | None], list[BulkSubmissionRecord]] = defaultdict(list)
    for record, origin in resource.get_ledger().open_bulk_waiters():
        if origin["asset_key"] in targets:
            groups[(origin["asset_key"], origin["partition_key"])].append(record)
    return groups


def _landing_request(
    context: dg.SensorEvaluationContext,
    assets_def: dg.AssetsDefinition,
    asset_key: str,
    partition_key: str | None,
    pairs: list[tuple[BulkSubmissionRecord, str | None]],
) -> dg.RunRequest:
    """One run landing the partition. Its key holds the runs' states, so each state is landed
    once (a halted run is not landed again every tick), and how many landing runs of these
    submissions failed before landing anything, so such a run is requested again at the next
    tick. (A landing run that landed its tables, then failed a blocking check, did land.)"""
    submissions = ",".join(sorted(r.submission_id for r, _ in pairs))
    tags = {BULK_LANDING_TAG: submissions}
    instance = context.instance
    failed = sum(
        1
        for run in instance.get_runs(dg.RunsFilter(tags=tags, statuses=_RETRY_STATUSES))
        if not instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1
        ).records
    )
    state = ",".join(f"{r.submission_id}:{s}" for r, s in pairs)
    return dg.RunRequest(
        run_key=f"{asset_key}|{partition_key}|{state}|{failed}",
        asset_selection=list(assets_def.keys),
        partition_key=partition_key,
        tags=tags,
    )


def _status(resource: CaptainDataResource, record: BulkSubmissionRecord) -> str | None:
    """The run's status: its final callback's, else the API's when due, else as last seen. A
    submission whose answer was lost: its run as its callbacks name it, else SUBMISSION_UNKNOWN
    (the landing run looks for it in `GET /runs` and says what to do)."""
    store = resource.get_callback_store()
    final = store.final_status(record.submission_id)
    if final is not None:
        return final
    run_uid = record.run_uid or store.run_of(record.submission_id)
    if run_uid is None:
        return SUBMISSION_UNKNOWN
    age = (datetime.now(timezone.utc) - record.updated_at).total_seconds()
    if record.run_uid and record.run_status is not None and age < resource.bulk_status_every_s:
        return record.run_status
    run = resource.get_client().get_run(run_uid)
    resource.get_ledger().note_bulk_run_status(
        record.submission_id, run.status, run.last_error_label
    )
    return run.status


def _halted_line(record: BulkSubmissionRecord, status: str | None) -> str:
    label = f" ({record.last_error_label})" if record.last_error_label else ""
    return (
        f"run {record.run_uid} {status}{label}: fix the cause, then "
        f"`captaindata-dagster runs resume {record.run_uid}`"
    )
