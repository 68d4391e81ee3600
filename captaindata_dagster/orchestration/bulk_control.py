"""What the `runs` and `schedules` commands and the bulk ops share: the resume guard, and a
server-side schedule created with its callback submission.

Resuming an async run can pay twice. When the ledger closed the run's submission (`closed`: the
run ended and what its callbacks brought was landed; an input without an outcome became a
retryable error) or never sent it (`not_sent`), the submission's inputs were released: the next
materialization submits them again. Resuming the run would then work through the same inputs a
second time, at the API's price. `resume_run_guarded` refuses that (unless forced), and refuses a
run whose status cannot be resumed, before any call that changes something.

A server-side schedule answers through the same receiver as an async run: its submission is
registered in the callback store (`mode="schedule"`, so every run of the schedule lands under it)
with a fresh secret BEFORE the API is called, and the schedule carries the headers that prove its
callbacks. `create_schedule_with_callbacks` does both.

No Dagster here: the command line imports this module without loading Dagster.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from captaindata_dagster.api.bulk_records import RunInfo, ScheduleSubmission
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.storage.callbacks import (
    SCHEDULE_MODE,
    CallbackStore,
    callback_headers,
    new_secret,
)
from captaindata_dagster.storage.ledger import Ledger
from captaindata_dagster.storage.ledger_bulk_records import CLOSED, NOT_SENT, BulkSubmissionRecord

RELEASED_STATES = (CLOSED, NOT_SENT)  # the submission's inputs go to the next materialization
PAID_TWICE = "paid_twice"  # ResumeRefused.reason: the ledger released the run's inputs
NOT_RESUMABLE = "not_resumable"  # ResumeRefused.reason: the run's status cannot be resumed


class ResumeRefused(Exception):
    """A resume refused before any call that changes something; `reason` says why.

    `reason` is `PAID_TWICE` (the ledger released the run's inputs: force it to resume anyway)
    or `NOT_RESUMABLE` (the run's status, in `status`, is not one `resume_run` starts again).
    """

    def __init__(self, message: str, *, reason: str, run_uid: str, status: str | None = None):
        super().__init__(message)
        self.reason, self.run_uid, self.status = reason, run_uid, status


def released_submissions(ledger: Ledger, run_uid: str) -> list[BulkSubmissionRecord]:
    """The ledger's submissions of `run_uid` whose inputs were released (`closed`, `not_sent`).

    Example:
        >>> released_submissions(Ledger(), "5f0c2a9e-...")  # doctest: +SKIP
        []
    """
    return [
        s for s in ledger.bulk_submissions() if s.run_uid == run_uid and s.state in RELEASED_STATES
    ]


def resume_run_guarded(
    client: CaptainDataClient, ledger: Ledger, run_uid: str, *, force: bool = False
) -> RunInfo:
    """Resume an async run, unless the ledger released its inputs or its status forbids it.

    Args:
        client: the API client.
        ledger: the ledger the run's submission was recorded in.
        run_uid: the run to resume.
        force: resume even when the ledger released the run's inputs (they may be paid twice:
            once by the resumed run, once by the next materialization).

    Raises:
        ResumeRefused: the ledger holds the run's submission as `closed` or `not_sent` (and not
            `force`), or the run is not resumable (its status is in the message).
        CaptainDataError: the API refused or failed (`resume_run` is not re-sent once it may
            have arrived: look at the run with `get_run`).

    Example:
        >>> resume_run_guarded(client, Ledger(), run_uid).status  # doctest: +SKIP
        'QUEUED'
    """
    released = [] if force else released_submissions(ledger, run_uid)
    if released:
        sub = released[0]
        raise ResumeRefused(
            f"run {run_uid} was not resumed: the ledger's submission {sub.submission_id} of it is "
            f"{sub.state}, so its {len(sub.input_keys)} input(s) were released and the next "
            "materialization submits them again; resuming the run would pay for them twice. "
            "Resume anyway with force (--force, or force: true in the op's config).",
            reason=PAID_TWICE,
            run_uid=run_uid,
        )
    run = client.get_run(run_uid)
    if not run.resumable:
        raise ResumeRefused(
            f"run {run_uid} was not resumed: its status is {run.status}, which cannot be resumed "
            "(only FAILED, BLOCKED and STOPPED runs can).",
            reason=NOT_RESUMABLE,
            run_uid=run_uid,
            status=run.status,
        )
    return client.resume_run(run_uid)


@dataclass(frozen=True)
class ScheduleCreated:
    """A schedule the API created, and the callback-store submission its runs land under."""

    schedule: ScheduleSubmission
    submission_id: str
    callback_url: str


def create_schedule_with_callbacks(
    client: CaptainDataClient,
    store: CallbackStore,
    action_id: str,
    inputs: Sequence[Mapping[str, Any]],
    *,
    callback_url: str,
    cron: str | None = None,
    timezone: str | None = None,
    schedule_at: datetime | str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> ScheduleCreated:
    """Register a schedule's submission in the callback store, then create the schedule.

    The submission (`mode="schedule"`, a fresh secret) is registered before the API is called,
    so the callbacks of every run of the schedule land through the receiver serving `store`.

    Args:
        client: the API client.
        store: the callback store the receiver lands into.
        action_id: the catalog id, e.g. "linkedin-extract-people".
        inputs: 1..100 input objects.
        callback_url: the receiver's callback URL (its public URL + `/callbacks`).
        cron: a cron expression (with `timezone`) to repeat; or
        schedule_at: one run at this date-time.
        timezone: the cron's time zone.
        parameters: the action's options.

    Raises:
        ValidationError: a bad input, parameter or timing; nothing was sent (the submission stays
            registered, unused).
        SubmissionOutcomeUnknownError: the schedule may exist: see `list_schedules`.

    Example:
        >>> created = create_schedule_with_callbacks(client, CallbackStore(),  # doctest: +SKIP
        ...     "linkedin-extract-people", inputs, callback_url=url, cron="0 6 * * *")
        >>> created.schedule.schedule_uid, created.submission_id  # doctest: +SKIP
    """
    submission_id = f"schedule-{uuid.uuid4()}"
    secret = new_secret()
    store.register_submission(
        submission_id, secret, action_id, mode=SCHEDULE_MODE, inputs=len(inputs)
    )
    schedule = client.schedule_run(
        action_id,
        inputs,
        callback_url=callback_url,
        callback_headers=callback_headers(submission_id, secret),
        cron=cron,
        timezone=timezone,
        schedule_at=schedule_at,
        parameters=parameters,
    )
    return ScheduleCreated(schedule, submission_id, callback_url)
