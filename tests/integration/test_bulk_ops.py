"""The bulk ops in jobs run in process against the simulator: resume a run, create, pause, resume
and cancel a schedule.

What is pinned: a BLOCKED run is really resumed by `resume_captaindata_run`; a resume the ledger
(the resource's) says would pay twice fails the step with the reason, and `force: true` resumes
it; a run that cannot be resumed fails the step with its status; a schedule created by the op has
its submission registered in the callback store (mode "schedule") and its run's callbacks land
through a real receiver; pause, resume and cancel change its status on the simulator; an API
refusal fails the step with its error label.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from captaindata_dagster.api import CaptainDataClient
from captaindata_dagster.orchestration.bulk_control import NOT_RESUMABLE, PAID_TWICE
from captaindata_dagster.orchestration.bulk_ops import (
    cancel_captaindata_schedule,
    create_captaindata_schedule,
    pause_captaindata_schedule,
    resume_captaindata_run,
    resume_captaindata_schedule,
)
from captaindata_dagster.receiver import ReceiverServer, ReceiverSettings
from captaindata_dagster.simulator import Simulator
from captaindata_dagster.storage.callbacks import FINAL, PAGE, SCHEDULE_MODE, CallbackStore
from captaindata_dagster.storage.ledger import Ledger
from tests.helpers import async_resource, simulator_resource, wait_until

ACTION = "linkedin-extract-people"
NOWHERE = "http://127.0.0.1:9/callbacks"


@dg.job
def resume_job() -> None:
    resume_captaindata_run()


@dg.job
def create_schedule_job() -> None:
    create_captaindata_schedule()


@dg.job
def schedule_states_job() -> None:
    cancel_captaindata_schedule(
        after=resume_captaindata_schedule(after=pause_captaindata_schedule())
    )


def profiles(n: int) -> list[dict[str, Any]]:
    return [{"linkedin_profile_url": f"https://www.linkedin.com/in/person-{i}"} for i in range(n)]


def ops_config(**ops: dict[str, Any]) -> dict[str, Any]:
    return {"ops": {name: {"config": config} for name, config in ops.items()}}


def failure(result: dg.ExecuteInProcessResult) -> tuple[dict[str, Any], str]:
    (event,) = result.get_step_failure_events()
    data = event.step_failure_data.user_failure_data
    assert data is not None, "the step failed with an exception, not a dagster.Failure"
    return {k: v.value for k, v in data.metadata.items()}, data.description or ""


@pytest.fixture
def bulk_sim(make_sim) -> Simulator:
    return make_sim(run_halt_after=1, run_halt_status="BLOCKED", callback_retries=0,
                    callback_backoff_s=0.0)  # fmt: skip


@pytest.fixture
def client(bulk_sim: Simulator, make_client: Any) -> CaptainDataClient:
    return make_client(bulk_sim, max_retries=1)


@pytest.fixture
def run(bulk_sim, tmp_path: Path):
    """Execute a job in process with the simulator's resource (its ledger in tmp_path)."""

    def execute(job: dg.JobDefinition, **ops: dict[str, Any]) -> dg.ExecuteInProcessResult:
        return job.execute_in_process(
            run_config=ops_config(**ops),
            resources={"captaindata": simulator_resource(bulk_sim, tmp_path)},
            raise_on_error=False,
        )

    return execute


def blocked_run(client: CaptainDataClient) -> str:
    uid = client.run_async(ACTION, profiles(2), callback_url=NOWHERE).run_uid
    wait_until(lambda: client.get_run(uid).status == "BLOCKED", "the run never stopped BLOCKED")
    return uid


def test_the_resume_op_resumes_a_blocked_run(client, run):
    uid = blocked_run(client)
    result = run(resume_job, resume_captaindata_run={"run_uid": uid})
    assert result.success
    resumed = result.output_for_node("resume_captaindata_run")
    assert resumed.uid == uid and resumed.retry_count == 1
    wait_until(lambda: client.get_run(uid).status == "SUCCEEDED", "the resumed run never ended")

    refused = run(resume_job, resume_captaindata_run={"run_uid": uid})
    metadata, description = failure(refused)
    assert metadata == {"reason": NOT_RESUMABLE, "run_uid": uid, "run_status": "SUCCEEDED"}
    assert "cannot be resumed" in description


def test_a_resume_that_would_pay_twice_fails_the_step_unless_forced(client, run, tmp_path):
    uid = blocked_run(client)
    with Ledger(tmp_path / "ledger.sqlite") as ledger:  # the resource's ledger
        ledger.record_bulk_submission("sub-1", ACTION, ["k1", "k2"])
        ledger.attach_bulk_run("sub-1", uid)
        ledger.close_bulk_submission("sub-1", "BLOCKED")
    refused = run(resume_job, resume_captaindata_run={"run_uid": uid})
    metadata, description = failure(refused)
    assert metadata["reason"] == PAID_TWICE and "twice" in description and "force" in description
    assert client.get_run(uid).status == "BLOCKED"

    forced = run(resume_job, resume_captaindata_run={"run_uid": uid, "force": True})
    assert forced.success
    wait_until(lambda: client.get_run(uid).status == "SUCCEEDED", "the forced resume")


def test_schedule_ops_create_pause_resume_and_cancel(client, run, tmp_path):
    store_path = str(tmp_path / "callbacks.sqlite")
    created = run(create_schedule_job, create_captaindata_schedule={
        "action_id": ACTION, "inputs": profiles(1), "schedule_at": "2999-01-01T00:00:00Z",
        "callback_url": NOWHERE, "callback_store": store_path,
    })  # fmt: skip
    assert created.success
    record = created.output_for_node("create_captaindata_schedule")
    uid = record.schedule.schedule_uid
    with CallbackStore(store_path) as store:
        submission = store.submission(record.submission_id)
    assert submission is not None and submission.mode == SCHEDULE_MODE
    assert client.get_schedule(uid).status == "ACTIVE"

    states = run(schedule_states_job, **{
        f"{verb}_captaindata_schedule": {"schedule_uid": uid}
        for verb in ("pause", "resume", "cancel")
    })  # fmt: skip
    assert states.success
    shown = [states.output_for_node(f"{v}_captaindata_schedule").status
             for v in ("pause", "resume", "cancel")]  # fmt: skip
    assert shown == ["PAUSED", "ACTIVE", "CANCELLED"]
    assert client.get_schedule(uid).status == "CANCELLED"

    again = run(schedule_states_job, **{
        f"{verb}_captaindata_schedule": {"schedule_uid": uid}
        for verb in ("pause", "resume", "cancel")
    })  # fmt: skip
    metadata, description = failure(again)  # a cancelled schedule cannot be paused
    assert metadata["error_label"] == "BAD_PARAMETERS" and "CANCELLED" in description


def test_a_scheduled_runs_callbacks_land_through_the_receiver(bulk_sim, client, run, tmp_path):
    bulk_sim.configure(run_halt_after=None)
    now = [datetime(2030, 1, 1, tzinfo=timezone.utc)]
    bulk_sim.routes.bulk.runs.clock = lambda: now[0]
    store_path = tmp_path / "callbacks.sqlite"
    with (
        CallbackStore(store_path) as store,
        ReceiverServer(ReceiverSettings(port=0), store=store) as receiver,
    ):
        created = run(create_schedule_job, create_captaindata_schedule={
            "action_id": ACTION, "inputs": profiles(2), "schedule_at": "2030-01-01T01:00:00Z",
            "callback_url": receiver.callback_url, "callback_store": str(store_path),
        })  # fmt: skip
        assert created.success
        sub_id = created.output_for_node("create_captaindata_schedule").submission_id
        now[0] += timedelta(hours=2)
        wait_until(lambda: store.final_status(sub_id), "the scheduled run's callbacks never landed")
        assert [c.kind for c in store.callbacks(sub_id)] == [PAGE, PAGE, FINAL]


def test_the_schedule_op_defaults_to_the_resource_s_receiver_and_store(
    bulk_sim, tmp_path, receiver, store
):
    """Unset in the op's config, the callback URL and store are the resource's: the callbacks of
    the scheduled run land where the resource's steps and its receiver read and write."""
    bulk_sim.configure(run_halt_after=None)
    now = [datetime(2030, 1, 1, tzinfo=timezone.utc)]
    bulk_sim.routes.bulk.runs.clock = lambda: now[0]
    created = create_schedule_job.execute_in_process(
        run_config=ops_config(
            create_captaindata_schedule={
                "action_id": ACTION,
                "inputs": profiles(1),
                "schedule_at": "2030-01-01T01:00:00Z",
            }
        ),  # fmt: skip
        resources={"captaindata": async_resource(bulk_sim, tmp_path, receiver)},
    )
    record = created.output_for_node("create_captaindata_schedule")
    assert record.callback_url == receiver.base_url + "/callbacks"
    now[0] += timedelta(hours=2)
    wait_until(lambda: store.final_status(record.submission_id), "the callbacks never landed")
    assert [c.kind for c in store.callbacks(record.submission_id)] == [PAGE, FINAL]


def test_the_schedule_op_refuses_plain_http_to_a_public_host(run):
    refused = run(create_schedule_job, create_captaindata_schedule={
        "action_id": ACTION, "inputs": profiles(1), "schedule_at": "2999-01-01T00:00:00Z",
        "callback_url": "http://hooks.example.com/callbacks",
    })  # fmt: skip
    metadata, description = failure(refused)
    assert "https" in description
