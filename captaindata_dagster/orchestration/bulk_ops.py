"""Ops for async runs and server-side schedules: resume a run; create, pause, resume or cancel a
schedule, from a job.

The same operations as `captaindata-dagster runs resume` and `captaindata-dagster schedules ...`,
for teams that manage bulk mode from the Dagster UI. Each op reads what to do from its config and
calls the API through the `captaindata` resource; its output is the API's record (`RunInfo`,
`ScheduleCreated` or `ScheduleInfo`), also shown in its metadata and logs. In the launchpad::

    ops:
      create_captaindata_schedule:
        config:
          action_id: linkedin-extract-people
          inputs: [{linkedin_profile_url: https://www.linkedin.com/in/ada-lovelace}]
          cron: "0 6 * * *"                    # or schedule_at: "2030-01-01T06:00:00Z"
          timezone: Europe/Paris
          callback_url: https://hooks.example.com/callbacks   # the receiver's
      resume_captaindata_run:
        config: {run_uid: 5f0c2a9e-..., force: false}

`resume_captaindata_run` refuses, like the command, a run whose inputs the ledger released (they
would be paid twice; `force: true` resumes anyway) or whose status cannot be resumed
(`bulk_control.resume_run_guarded`). `create_captaindata_schedule` registers the schedule's
submission in the callback store first (`bulk_control.create_schedule_with_callbacks`), so every
run's callbacks land through the receiver. A failure raises `dagster.Failure` with the error label
in its metadata. The outputs are small records, stored by the job's `io_manager` (the default
filesystem one pickles them).
"""

# No `from __future__ import annotations`: Dagster reads the ops' annotations as objects.
from typing import Any

import dagster as dg
from pydantic import Field

from captaindata_dagster.api.bulk_records import RunInfo, ScheduleInfo
from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.orchestration.bulk_control import (
    ResumeRefused,
    ScheduleCreated,
    create_schedule_with_callbacks,
    resume_run_guarded,
)
from captaindata_dagster.orchestration.bulk_mode import receiver_callback_url
from captaindata_dagster.orchestration.metadata import failure_for_error
from captaindata_dagster.orchestration.metadata_set import BULK_TAG
from captaindata_dagster.orchestration.resource import CaptainDataResource
from captaindata_dagster.storage.callbacks import CallbackStore


class ResumeRunConfig(dg.Config):
    """The run to resume."""

    run_uid: str = Field(description="The async run to resume (`captaindata-dagster runs list`).")
    force: bool = Field(
        default=False,
        description="Resume even when the ledger released the run's inputs: they are then paid "
        "twice, by the resumed run and by the next materialization.",
    )


class CreateScheduleConfig(dg.Config):
    """A server-side schedule: the action, its inputs, when, and where its callbacks go."""

    action_id: str = Field(description="The catalog id, e.g. linkedin-extract-people.")
    inputs: list[dict] = Field(description="1..100 input objects.")
    cron: str | None = Field(default=None, description='Repeat on this cron, e.g. "0 6 * * *".')
    timezone: str | None = Field(default=None, description="The cron's IANA time zone.")
    schedule_at: str | None = Field(
        default=None, description="Or run once at this date-time, with its zone."
    )
    callback_url: str | None = Field(
        default=None,
        description="The receiver's callback URL (public URL + /callbacks). Unset: the "
        "resource's receiver_url (or $CAPTAINDATA_RECEIVER_PUBLIC_URL) + /callbacks.",
    )
    parameters: dict | None = Field(default=None, description="The action's options.")
    callback_store: str | None = Field(
        default=None,
        description="The receiver's callback store (path or postgresql:// URL). Unset: the "
        "resource's (its callback_store, else $CAPTAINDATA_CALLBACK_STORE, else beside its "
        "ledger).",
    )


class ScheduleConfig(dg.Config):
    """The schedule to pause, resume or cancel."""

    schedule_uid: str = Field(description="The schedule (`captaindata-dagster schedules list`).")


AFTER = {"after": dg.In(dg.Nothing, description="Run after this op (ordering only).")}


@dg.op(
    name="resume_captaindata_run",
    description="Resume a FAILED, BLOCKED or STOPPED async run, unless the ledger released its "
    "inputs (they would be paid twice; force: true resumes anyway).",
    ins=AFTER,
    out=dg.Out(RunInfo, description="The run as the API answered the resume."),
    tags={BULK_TAG: "resume"},
)
def resume_captaindata_run(
    context: dg.OpExecutionContext, config: ResumeRunConfig, captaindata: CaptainDataResource
) -> dg.Output:
    try:
        run = resume_run_guarded(
            captaindata.get_client(), captaindata.get_ledger(), config.run_uid, force=config.force
        )
    except ResumeRefused as refused:
        raise dg.Failure(
            description=str(refused),
            metadata={
                "reason": refused.reason,
                "run_uid": refused.run_uid,
                "run_status": refused.status or "",
            },
            allow_retries=False,
        ) from refused
    except CaptainDataError as err:
        raise failure_for_error(err) from err
    context.log.info(f"resumed run {run.uid}: {run.status} (retry {run.retry_count})")
    return dg.Output(run, metadata={"run_uid": run.uid, "status": run.status or ""})


@dg.op(
    name="create_captaindata_schedule",
    description="Create a server-side schedule whose runs post their callbacks to the receiver "
    "(its submission is registered in the callback store first).",
    ins=AFTER,
    out=dg.Out(ScheduleCreated, description="The schedule and its callback submission."),
    tags={BULK_TAG: "schedule"},
)
def create_captaindata_schedule(
    context: dg.OpExecutionContext, config: CreateScheduleConfig, captaindata: CaptainDataResource
) -> dg.Output:
    store = (
        CallbackStore(config.callback_store)
        if config.callback_store
        else captaindata.get_callback_store()
    )
    try:
        created = create_schedule_with_callbacks(
            captaindata.get_client(),
            store,
            config.action_id,
            config.inputs,
            callback_url=receiver_callback_url(captaindata, config.callback_url),
            cron=config.cron,
            timezone=config.timezone,
            schedule_at=config.schedule_at,
            parameters=config.parameters,
        )
    except CaptainDataError as err:
        raise failure_for_error(err) from err
    finally:
        if config.callback_store:
            store.close()
    sched = created.schedule
    context.log.info(
        f"created schedule {sched.schedule_uid} ({sched.status}) of {config.action_id}, next run "
        f"{sched.next_execution_at or '-'}; callbacks to {created.callback_url} under submission "
        f"{created.submission_id}"
    )
    metadata = {
        "schedule_uid": sched.schedule_uid,
        "status": sched.status or "",
        "submission_id": created.submission_id,
        "next_execution_at": sched.next_execution_at or "",
    }
    return dg.Output(created, metadata=metadata)


def _schedule_op(verb: str, summary: str) -> dg.OpDefinition:
    @dg.op(
        name=f"{verb}_captaindata_schedule",
        description=summary,
        ins=AFTER,
        out=dg.Out(ScheduleInfo, description="The schedule as the API answered."),
        tags={BULK_TAG: verb},
    )
    def set_state(
        context: dg.OpExecutionContext, config: ScheduleConfig, captaindata: CaptainDataResource
    ) -> dg.Output:
        try:
            schedule = getattr(captaindata.get_client(), f"{verb}_schedule")(config.schedule_uid)
        except CaptainDataError as err:
            raise failure_for_error(err) from err
        context.log.info(f"schedule {schedule.uid}: {schedule.status}")
        metadata: dict[str, Any] = {"schedule_uid": schedule.uid, "status": schedule.status or ""}
        return dg.Output(schedule, metadata=metadata)

    return set_state


pause_captaindata_schedule = _schedule_op(
    "pause", "Pause a server-side schedule: no run starts until it is resumed."
)
resume_captaindata_schedule = _schedule_op("resume", "Resume a paused server-side schedule.")
cancel_captaindata_schedule = _schedule_op("cancel", "Cancel a server-side schedule for good.")
