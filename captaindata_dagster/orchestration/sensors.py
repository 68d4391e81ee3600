"""Sensors that surface Captain Data `error_label` failures in the Dagster UI.

`build_captaindata_error_sensor(assets=[...])` reads, each tick, what is new since its cursor:
- the per-input errors each asset recorded (its `<name>_errors` materializations carry a summary of
  the errors met for the first time), and
- runs that failed with a Captain Data error (the step failure's metadata holds label, scope, ref).
It groups them by asset, partition and label, reports each group once as an `AssetObservation` on
the asset (the asset page shows it), requests one re-run of partitions hit by transient labels (429,
5xx, upstream timeouts) per `rerun_window`, and says in the tick which labels need a person.

`build_captaindata_run_failure_sensor(assets=[...])` reacts at once to a failed run (a bad key, no
credits) and reports it the same way. Whichever sensor reports a failed run tags it
`captaindata/surfaced`, and the other leaves it alone: nothing is surfaced twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import dagster as dg

from captaindata_dagster.api.accounts import account_hint
from captaindata_dagster.api.labels import PERSON_FIXES, RERUN_LABELS
from captaindata_dagster.orchestration.metadata import NEW_ERRORS_KEY

RETRY_LABELS = RERUN_LABELS  # the labels whose re-run the error sensor requests by default
PERSON_HINTS = PERSON_FIXES

SURFACED_TAG = "captaindata/surfaced"
RERUN_TAG = "captaindata/rerun_labels"


@dataclass
class _Group:
    """Failures of one (asset, partition, label), merged from several sources."""

    asset_key: dg.AssetKey
    partition: str | None
    label: str
    count: int = 0
    scope: str | None = None
    status_code: int | None = None
    refs: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    first_seen: str | None = None
    last_seen: str | None = None
    users: dict[str, int] = field(default_factory=dict)  # failed inputs per user uid
    retry_not_before: str | None = None  # a long rate limit: no re-run before this ISO time

    def add(self, info: dict[str, Any], run_id: str | None) -> None:
        self.count += int(info.get("count") or 1)
        wait = info.get("retry_not_before")
        if wait and (self.retry_not_before is None or wait > self.retry_not_before):
            self.retry_not_before = str(wait)
        for uid, n in (info.get("users") or {}).items():
            self.users[str(uid)] = self.users.get(str(uid), 0) + int(n or 0)
        for uid in info.get("user_uids") or []:
            self.users.setdefault(str(uid), 0)
        self.scope = self.scope or info.get("error_scope")
        self.status_code = self.status_code or info.get("status_code")
        for bucket, values in (
            (self.refs, info.get("error_refs")),
            (self.inputs, info.get("inputs")),
        ):
            for v in values or []:
                if v and v not in bucket and len(bucket) < 5:
                    bucket.append(str(v))
        if run_id and run_id not in self.run_ids:
            self.run_ids.append(run_id)
        first, last = info.get("first_seen"), info.get("last_seen")
        if first and (self.first_seen is None or first < self.first_seen):
            self.first_seen = first
        if last and (self.last_seen is None or last > self.last_seen):
            self.last_seen = last

    def observation(
        self, action: str | None, retried: bool, hint: str | None
    ) -> dg.AssetObservation:
        md: dict[str, Any] = {
            "error_label": self.label,
            "error_scope": self.scope or "",
            "count": dg.MetadataValue.int(self.count),
            "error_refs": dg.MetadataValue.json(self.refs),
            "sample_inputs": dg.MetadataValue.json(self.inputs),
            "first_seen": self.first_seen or "",
            "last_seen": self.last_seen or "",
            "rerun_requested": dg.MetadataValue.bool(retried),
            "run_ids": dg.MetadataValue.json(self.run_ids),
        }
        if self.status_code is not None:
            md["status_code"] = dg.MetadataValue.int(int(self.status_code))
        if action:
            md["action_id"] = action
        if self.users:
            md["user_uids"] = dg.MetadataValue.json(sorted(self.users))
            if any(self.users.values()):  # a failed run names users without counting inputs
                md["failed_inputs_by_user"] = dg.MetadataValue.json(
                    dict(sorted(self.users.items()))
                )
        if hint:
            md["needs_a_person"] = hint
        who = f" (user {', '.join(sorted(self.users))})" if self.users else ""
        return dg.AssetObservation(
            asset_key=self.asset_key,
            partition=self.partition,
            description=f"Captain Data {self.label} x{self.count}{who}"
            + (f": {hint}" if hint and self.users else ""),
            metadata=md,
        )

    def hint(self, retry: frozenset[str] | None, default: str) -> str | None:
        """What a person should do, naming the users for account labels; None if re-run."""
        if retry is not None and self.label in retry:
            return None
        named = account_hint(self.label, sorted(self.users), None) if self.users else None
        return named or PERSON_HINTS.get(self.label, default)


@dataclass
class _Target:
    """What the sensor knows of one Captain Data asset."""

    results: dg.AssetKey
    errors: dg.AssetKey | None
    keys: list[dg.AssetKey]
    op_name: str
    action: str | None


def _targets(assets: Sequence[dg.AssetsDefinition]) -> list[_Target]:
    out = []
    for a in assets:
        specs = list(a.specs)
        roles = {s.metadata.get("captaindata/role"): s for s in specs}
        results = roles.get("results", specs[0])
        errors = roles.get("errors")
        out.append(
            _Target(
                results=results.key,
                errors=errors.key if errors is not None else None,
                keys=[s.key for s in specs],
                op_name=a.op.name,
                action=results.metadata.get("captaindata/action_id"),
            )
        )
    return out


def _now() -> datetime:
    return datetime.now(timezone.utc)


def build_captaindata_error_sensor(
    assets: Sequence[dg.AssetsDefinition],
    *,
    name: str = "captaindata_error_sensor",
    retry_labels: Iterable[str] = RETRY_LABELS,
    ignore_labels: Iterable[str] = (),
    rerun_window: timedelta = timedelta(hours=1),
    minimum_interval_seconds: int = 60,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    """A sensor surfacing the Captain Data failures of `assets` (built by this package's factories).

    `retry_labels`: labels for which the affected partitions are re-run, at most once per
    partition per `rerun_window`, with the labels in the run's `captaindata/rerun_labels` tag.
    `ignore_labels`: labels never surfaced (e.g. `NO_RESULT` if a vanished profile is routine).
    Everything else is reported and left for a person; the tick says what to do where it knows.
    """
    targets = _targets(assets)
    by_errors = {t.errors: t for t in targets if t.errors is not None}
    by_op = {t.op_name: t for t in targets}
    retry = frozenset(retry_labels)
    ignore = frozenset(ignore_labels)
    selection = [k for t in targets for k in t.keys]

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        target=selection,
        description="Surfaces Captain Data error_label failures; re-runs partitions hit by transient ones.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        after = int(cursor.get("after", 0))
        runs_after = float(cursor.get("runs_after", 0.0))
        reruns: dict[str, str] = dict(cursor.get("reruns", {}))
        # partitions whose re-run waits for a long rate limit to pass: slot -> time, labels
        deferred: dict[str, dict[str, Any]] = dict(cursor.get("deferred", {}))
        groups: dict[tuple[dg.AssetKey, str | None, str], _Group] = {}

        def group(target: _Target, partition: str | None, label: str) -> _Group:
            gkey = (target.results, partition, label)
            if gkey not in groups:
                groups[gkey] = _Group(target.results, partition, label)
            return groups[gkey]

        # 1. per-input errors the assets recorded since the cursor
        newest = after
        for errors_key, target in by_errors.items():
            records = context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=errors_key, after_storage_id=after or None),
                limit=1000,
                ascending=True,
            ).records
            for record in records:
                newest = max(newest, record.storage_id)
                mat = record.asset_materialization
                if mat is None:
                    continue
                entry = mat.metadata.get(NEW_ERRORS_KEY)
                summary = entry.value if entry is not None else {}
                for label, info in (summary or {}).items():
                    if label not in ignore:
                        group(target, mat.partition, label).add(info, record.run_id)

        # 2. runs that failed with a Captain Data error, not surfaced by the run-failure sensor
        newest_run = runs_after
        failed = context.instance.get_run_records(
            filters=dg.RunsFilter(
                statuses=[dg.DagsterRunStatus.FAILURE],
                updated_after=datetime.fromtimestamp(runs_after, timezone.utc)
                if runs_after
                else None,
            ),
            limit=200,
        )
        for record in failed:
            newest_run = max(newest_run, record.update_timestamp.timestamp())
            run = record.dagster_run
            if run.tags.get(SURFACED_TAG):
                continue
            failures = _run_failures(context.instance, run.run_id, by_op)
            for target, info in failures:
                label = info["error_label"]
                if label not in ignore:
                    group(target, run.tags.get("dagster/partition"), label).add(info, run.run_id)
            if failures:
                context.instance.add_run_tags(run.run_id, {SURFACED_TAG: name})

        # 3. report, re-run what is transient, say what needs a person
        now = _now()
        observations, requests, lines = [], [], []
        to_rerun = _due_deferred(deferred, now)
        for g in groups.values():
            target = next(t for t in targets if t.results == g.asset_key)
            wanted = g.label in retry
            rerun = False
            waits = g.retry_not_before and now < datetime.fromisoformat(g.retry_not_before)
            if wanted and waits:
                slot = f"{g.asset_key.to_user_string()}|{g.partition or ''}"
                entry = deferred.setdefault(slot, {"not_before": g.retry_not_before, "labels": []})
                entry["not_before"] = max(entry["not_before"], g.retry_not_before)
                entry["labels"] = sorted({*entry["labels"], g.label})
            elif wanted:
                slot = f"{g.asset_key.to_user_string()}|{g.partition or ''}"
                last = reruns.get(slot)
                due = last is None or now - datetime.fromisoformat(last) >= rerun_window
                if due:
                    to_rerun.setdefault((g.asset_key.to_user_string(), g.partition), set()).add(
                        g.label
                    )
                    rerun = True
            hint = g.hint(retry, "look at the errors table")
            observations.append(g.observation(target.action, rerun, hint))
            where = f"{g.asset_key.to_user_string()}" + (f" / {g.partition}" if g.partition else "")
            if rerun:
                what = "re-run requested"
            elif wanted and waits:
                what = f"rate-limited: re-run requested after {g.retry_not_before}"
            elif wanted:
                what = f"re-run already requested within {rerun_window}"
            else:
                what = f"needs a person: {hint}"
            lines.append(f"{where}: {g.label} x{g.count} ({what})")
        for (asset, partition), labels in sorted(to_rerun.items(), key=lambda kv: str(kv[0])):
            target = next(t for t in targets if t.results.to_user_string() == asset)
            slot = f"{asset}|{partition or ''}"
            reruns[slot] = now.isoformat()
            requests.append(
                dg.RunRequest(
                    run_key=f"captaindata-rerun:{slot}:{now.isoformat()}",
                    asset_selection=target.keys,
                    partition_key=partition,
                    tags={RERUN_TAG: ",".join(sorted(labels)), "captaindata/rerun_of": asset},
                )
            )
        horizon = now - 2 * rerun_window
        reruns = {k: v for k, v in reruns.items() if datetime.fromisoformat(v) >= horizon}
        message = "; ".join(lines) if lines else "no new Captain Data errors"
        context.log.info(message)
        new_cursor = json.dumps(
            {"after": newest, "runs_after": newest_run, "reruns": reruns, "deferred": deferred}
        )
        return dg.SensorResult(
            run_requests=requests,
            asset_events=observations,
            cursor=new_cursor,
            skip_reason=None if requests else message,
        )

    return _sensor


def _due_deferred(
    deferred: dict[str, dict[str, Any]], now: datetime
) -> dict[tuple[str, str | None], set[str]]:
    """Take out of `deferred` the re-runs whose rate limit has passed: (asset, partition) ->
    labels, to request now."""
    due: dict[tuple[str, str | None], set[str]] = {}
    for slot, entry in list(deferred.items()):
        if now >= datetime.fromisoformat(entry["not_before"]):
            asset, partition = slot.split("|", 1)
            due.setdefault((asset, partition or None), set()).update(entry["labels"])
            del deferred[slot]
    return due


def _run_failures(
    instance: dg.DagsterInstance, run_id: str, by_op: dict[str, _Target]
) -> list[tuple[_Target, dict[str, Any]]]:
    """The Captain Data step failures of one run: (asset, envelope fields) for each step."""
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
        at = datetime.fromtimestamp(event.timestamp, timezone.utc).isoformat()
        ref = getattr(md.get("error_ref"), "value", None)
        status = getattr(md.get("status_code"), "value", None)
        users = getattr(md.get("user_uids"), "value", None)
        wait = getattr(md.get("retry_not_before"), "value", None)
        found.append(
            (
                target,
                {
                    "error_label": label.value,
                    "error_scope": getattr(md.get("error_scope"), "value", None),
                    "status_code": status if isinstance(status, int) and status >= 0 else None,
                    "error_refs": [ref] if ref else [],
                    "user_uids": [str(u) for u in users] if isinstance(users, list) else [],
                    "count": 1,
                    "first_seen": at,
                    "last_seen": at,
                    "retry_not_before": wait,
                },
            )
        )
    return found


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
    """
    by_op = {t.op_name: t for t in _targets(assets)}

    @dg.run_failure_sensor(
        name=name,
        default_status=default_status,
        monitor_all_code_locations=False,
        description="Reports Captain Data failures (label, scope, ref) of failed runs at once.",
    )
    def _sensor(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        if context.instance.get_run_by_id(run.run_id).tags.get(SURFACED_TAG):
            return  # the error sensor got there first
        failures = _run_failures(context.instance, run.run_id, by_op)
        if not failures:
            return
        partition = run.tags.get("dagster/partition")
        lines = []
        for target, info in failures:
            g = _Group(target.results, partition, info["error_label"])
            g.add(info, run.run_id)
            hint = g.hint(RETRY_LABELS, "look at the run's failure")
            context.instance.report_runless_asset_event(g.observation(target.action, False, hint))
            lines.append(
                f"{target.results.to_user_string()}"
                + (f" / {partition}" if partition else "")
                + f": {g.label} (ref {', '.join(g.refs) or '-'})"
                + (f", needs a person: {hint}" if hint else "")
            )
        context.instance.add_run_tags(run.run_id, {SURFACED_TAG: name})
        context.log.info("; ".join(lines))

    return _sensor
