"""What bulk mode remembers: its runs, their callbacks and the schedules, as the API shows them.

A run (`POST .../run/async`, or a schedule coming due) is CREATED then QUEUED, RUNNING while a
background thread works through its inputs (`simulator/bulk_processing.py`), then SUCCEEDED,
PARTIAL_SUCCEEDED (some inputs failed), FAILED or BLOCKED. One lock guards the three tables; it is
held for dictionary operations only, never across a call or a callback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from captaindata_dagster.api.bulk_statuses import ENDED_RUN_STATUSES, RESUMABLE_RUN_STATUSES
from captaindata_dagster.simulator.bulk_submission import Submission
from captaindata_dagster.simulator.callback_delivery import CallbackRecord
from captaindata_dagster.simulator.cron import next_cron_run

# The statuses a run's worker leaves it in (it gets a `finished_at`): ended, or waiting for a
# resume. Both sets come from the one table of run statuses, shared with the client.
STOPPED_OR_ENDED = ENDED_RUN_STATUSES | RESUMABLE_RUN_STATUSES


def iso(moment: datetime) -> str:
    """A moment in the API's timestamp form: UTC, milliseconds, a Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def utc_now() -> datetime:
    """The real time, aware; `BulkRuns.clock` defaults to it (a test injects its own)."""
    return datetime.now(timezone.utc)


@dataclass
class BulkRun:
    """One async run: the submission (`common` holds the body's fields other than `inputs` and
    `callback`), how far it got (`next_index`), and its counters."""

    id: int
    uid: str
    batch_uid: str
    action_id: str
    action_number: int
    user_uid: str
    inputs: list[dict[str, Any]]
    common: dict[str, Any]
    callback_url: str
    callback_headers: dict[str, str]
    created_at: str
    status: str = "CREATED"
    next_index: int = 0
    results: int = 0
    failed_inputs: int = 0
    retry_count: int = 0
    halted_once: bool = False
    last_error: dict[str, str] | None = None
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None

    def to_api(self, workspace_uid: str) -> dict[str, Any]:
        """The run as `GET /v4/runs/{uid}` answers it."""
        return {
            "id": self.id,
            "uid": self.uid,
            "action_id": self.action_number,
            "action_name": self.action_id,
            "retry_count": self.retry_count,
            "user_uid": self.user_uid,
            "workspace_uid": workspace_uid,
            "execution_mode": "ASYNC",
            "last_error": dict(self.last_error) if self.last_error else None,
            "callback": {"url": self.callback_url},
            "status": self.status,
            "postponed_until": None,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "synced_at": self.finished_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def submission(self, workspace_uid: str) -> dict[str, Any]:
        """The answer of `POST .../run/async`: the spec's lower-case status, "pending"."""
        return {
            "run_id": self.id,
            "run_uid": self.uid,
            "workspace_uid": workspace_uid,
            "user_uid": self.user_uid,
            "action_name": self.action_id,
            "status": "pending",
            "postponed_until": None,
            "created_at": self.created_at,
            "synced_at": None,
            "updated_at": None,
        }


@dataclass
class Schedule:
    """One schedule: the submission to repeat, and when it next fires (`schedule_at` once, or
    each minute its `cron` matches on the wall clock of its `timezone`, UTC by default).
    `run_uids` are the runs it started (the spec's run has no field naming its schedule)."""

    uid: str
    action_id: str
    action_number: int
    user_uid: str
    submission: Submission
    cron: str | None
    timezone: str | None
    next_execution_at: datetime | None
    created_at: str
    status: str = "ACTIVE"
    last_executed_at: str | None = None
    updated_at: str | None = None
    run_uids: list[str] = field(default_factory=list)

    def to_api(self, workspace_uid: str) -> dict[str, Any]:
        """The schedule as `GET /v4/schedules/{uid}` answers it."""
        nxt = self.next_execution_at
        return {
            "uid": self.uid,
            "action_id": self.action_number,
            "action_name": self.action_id,
            "user_uid": self.user_uid,
            "workspace_uid": workspace_uid,
            "status": self.status,
            "postponed_until": None,
            "cron": self.cron,
            "timezone": self.timezone,
            "next_execution_at": iso(nxt) if nxt is not None and self.status == "ACTIVE" else None,
            "last_executed_at": self.last_executed_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def submitted(self, workspace_uid: str) -> dict[str, Any]:
        """The answer of `POST .../run/schedule`."""
        shown = self.to_api(workspace_uid)
        keys = ("status", "cron", "timezone", "next_execution_at", "created_at")
        return {"schedule_uid": self.uid, **{k: shown[k] for k in keys}}


class BulkRuns:
    """The runs, callbacks and schedules of one simulator, in creation order.

    `clock` (aware datetimes) decides when a schedule is due; `sleep` paces the background work
    and the callbacks' back-off (None: wait on the simulator's stopping event, so `stop()` cuts a
    wait short). Both are attributes so a test can inject its own. `peak_inflight` and
    `paced_calls` (calls that took a token of the rate bucket) let a test check the pacing
    without reading the clock.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[str, BulkRun] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.schedules: dict[str, Schedule] = {}
        self.clock: Callable[[], datetime] = utc_now
        self.sleep: Callable[[float], None] | None = None
        self.peak_inflight: dict[str, int] = {}  # account -> most bulk calls seen at once
        self.paced_calls = 0  # bulk calls that took a token of the workspace's rate bucket

    def now(self) -> str:
        return iso(self.clock())

    def add_run(self, run: BulkRun) -> None:
        with self.lock:
            self.runs[run.uid] = run

    def add_callback(self, record: CallbackRecord) -> None:
        with self.lock:
            self.callbacks[record.uid] = record

    def add_schedule(self, schedule: Schedule) -> None:
        with self.lock:
            self.schedules[schedule.uid] = schedule

    def set_status(self, run: BulkRun, status: str, error: Mapping[str, str] | None = None) -> None:
        """Move a run on (timestamps follow), with its `last_error` when it ends badly."""
        with self.lock:
            now = self.now()
            run.status = status
            run.updated_at = now
            if status == "RUNNING" and run.started_at is None:
                run.started_at = now
            if status in STOPPED_OR_ENDED:
                run.finished_at = now
            if error is not None:
                run.last_error = {"label": error["label"], "message": error["message"]}

    def claim_resume(self, run: BulkRun) -> bool:
        """Move a stopped run back to QUEUED (one more retry) if it may resume; False if not.

        The check and the move happen under the lock, so of two resumes at once only one starts
        a worker (the other is refused): no input is worked, nor billed, twice.
        """
        with self.lock:
            if run.status not in RESUMABLE_RUN_STATUSES:
                return False
            run.status = "QUEUED"
            run.retry_count += 1
            run.updated_at = self.now()
            return True

    def listed(self) -> dict[str, list[Any]]:
        """The runs, callbacks and schedules (by list name), each in creation order."""
        with self.lock:
            return {"runs": list(self.runs.values()), "callbacks": list(self.callbacks.values()),
                    "schedules": list(self.schedules.values())}  # fmt: skip

    def clear(self) -> None:
        """Forget every run, callback and schedule and the pacing counters (the injected `clock`
        and `sleep` stay); the caller has stopped the workers first."""
        with self.lock:
            self.runs.clear()
            self.callbacks.clear()
            self.schedules.clear()
            self.peak_inflight.clear()
            self.paced_calls = 0

    def due_schedules(self) -> list[Schedule]:
        """ACTIVE schedules whose next execution has come, each marked as executed: a one-shot
        (`schedule_at` only) is COMPLETED; a cron one stays ACTIVE, its next execution the cron's
        next minute after the current one (so two ticks in one minute start one run)."""
        now = self.clock()
        after = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        due = []
        with self.lock:
            for s in self.schedules.values():
                nxt = s.next_execution_at
                if s.status == "ACTIVE" and nxt is not None and nxt <= now:
                    s.last_executed_at = s.updated_at = iso(now)
                    s.next_execution_at = None
                    if s.cron is None:
                        s.status = "COMPLETED"
                    else:
                        s.next_execution_at = next_cron_run(s.cron, s.timezone, after)
                    due.append(s)
        return due
