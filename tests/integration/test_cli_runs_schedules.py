"""`captaindata-dagster runs ...` and `schedules ...` against the simulator on loopback.

What is pinned: a BLOCKED run is listed, shown and really resumed on the simulator; a resume the
ledger says would pay twice (its submission closed) is refused with exit 2 naming why and
`--force`, and `--force` resumes it; a run that cannot be resumed is refused with its status;
FAILED callbacks are replayed into a real receiver's store; the ledger's submissions are listed
and released with a warning; a schedule created from the command line shows in `list`, pause,
resume and cancel change its status on the simulator, and its run's callbacks land through a real
receiver under the schedule's submission.

No assertion on wall-clock durations: waits use `wait_until` (its timeout only stops a stall).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from click.testing import CliRunner, Result

from captaindata_dagster.api import CaptainDataClient
from captaindata_dagster.cli import main
from captaindata_dagster.receiver import ReceiverServer, ReceiverSettings
from captaindata_dagster.simulator import Simulator
from captaindata_dagster.storage.callbacks import (
    FINAL,
    PAGE,
    SCHEDULE_MODE,
    callback_headers,
    new_secret,
)
from captaindata_dagster.storage.ledger import Ledger
from tests.helpers import TEST_KEY, wait_until

ACTION = "linkedin-extract-people"
NOWHERE = "http://127.0.0.1:9/callbacks"  # discard port: nothing listens, every POST fails


def cli(*args: str) -> Result:
    """Run `captaindata-dagster ARGS` in this process; an unexpected exception fails the test."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def profiles(n: int) -> list[dict[str, Any]]:
    return [{"linkedin_profile_url": f"https://www.linkedin.com/in/person-{i}"} for i in range(n)]


@pytest.fixture
def bulk_sim(make_sim, monkeypatch) -> Simulator:
    """A simulator whose async runs stop BLOCKED after one input; the CLI's environment aims at
    it."""
    sim = make_sim(run_halt_after=1, run_halt_status="BLOCKED", callback_retries=0,
                   callback_backoff_s=0.0)  # fmt: skip
    monkeypatch.setenv("CAPTAINDATA_API_KEY", sim.api_key)
    monkeypatch.setenv("CAPTAINDATA_BASE_URL", sim.base_url)
    monkeypatch.delenv("CAPTAINDATA_SANDBOX", raising=False)
    return sim


@pytest.fixture
def client(bulk_sim: Simulator, make_client: Any) -> CaptainDataClient:
    return make_client(bulk_sim, max_retries=1)


def blocked_run(client: CaptainDataClient, n: int = 2, url: str = NOWHERE, **kw: Any) -> str:
    uid = client.run_async(ACTION, profiles(n), callback_url=url, **kw).run_uid
    wait_until(lambda: client.get_run(uid).status == "BLOCKED", "the run never stopped BLOCKED")
    return uid


def test_a_blocked_run_is_listed_shown_and_resumed_until_it_succeeds(client, tmp_path):
    uid = blocked_run(client)
    listed = cli("runs", "list", "--status", "BLOCKED", "--json")
    assert listed.exit_code == 0, listed.output
    assert [r["uid"] for r in json.loads(listed.stdout)] == [uid]
    assert json.loads(cli("runs", "list", "--status", "SUCCEEDED", "--json").stdout) == []
    wait_until(lambda: client.list_callbacks(run_uid=uid, status="FAILED").items, "no FAILED")
    shown = cli("runs", "show", uid, "--json")
    row = json.loads(shown.stdout)
    assert shown.exit_code == 0 and row["status"] == "BLOCKED" and row["resumable"] is True
    assert row["last_error_label"] and row["callback_url"] == NOWHERE
    assert row["failed_callbacks"] == len(client.list_callbacks(run_uid=uid, status="FAILED").items)
    assert row["failed_callbacks"] >= 1

    resumed = cli("runs", "resume", uid, "--ledger", str(tmp_path / "ledger.sqlite"), "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["retry_count"] == 1
    wait_until(lambda: client.get_run(uid).status == "SUCCEEDED", "the resumed run never ended")

    again = cli("runs", "resume", uid, "--ledger", str(tmp_path / "ledger.sqlite"))
    assert (
        again.exit_code == 2 and "SUCCEEDED" in again.stderr and "cannot be resumed" in again.stderr
    )
    assert TEST_KEY not in again.output


def test_a_resume_the_ledger_says_would_pay_twice_is_refused_unless_forced(client, tmp_path):
    uid = blocked_run(client)
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.record_bulk_submission("sub-1", ACTION, ["k1", "k2"])
        ledger.attach_bulk_run("sub-1", uid)
        ledger.close_bulk_submission("sub-1", "BLOCKED", "RUN_BLOCKED")
    refused = cli("runs", "resume", uid, "--ledger", str(tmp_path / "ledger.sqlite"))
    assert refused.exit_code == 2 and refused.stdout == ""
    for said in ("sub-1", "closed", "twice", "--force"):
        assert said in refused.stderr
    assert client.get_run(uid).status == "BLOCKED"  # nothing was asked of the API

    forced = cli("runs", "resume", uid, "--force", "--ledger", str(tmp_path / "ledger.sqlite"))
    assert forced.exit_code == 0, forced.output
    wait_until(lambda: client.get_run(uid).status == "SUCCEEDED", "the forced resume")


def test_replay_delivers_every_failed_callback_to_the_receiver(bulk_sim, client, store):
    bulk_sim.configure(run_halt_after=None, callback_faults={"unreachable": 1.0})
    with ReceiverServer(ReceiverSettings(port=0), store=store) as receiver:
        secret = new_secret()
        store.register_submission("sub-1", secret, ACTION, inputs=2)
        uid = client.run_async(ACTION, profiles(2), callback_url=receiver.callback_url,
                               callback_headers=callback_headers("sub-1", secret)).run_uid  # fmt: skip
        wait_until(lambda: len(client.list_callbacks(run_uid=uid, status="FAILED").items) == 3,
                   "the callbacks never ended FAILED")  # fmt: skip
        assert store.callbacks("sub-1") == []
        bulk_sim.configure(callback_faults={})
        replayed = cli("runs", "replay", uid)
        assert replayed.exit_code == 0 and "replayed 3 failed callback(s)" in replayed.stdout
        assert [c.kind for c in store.callbacks("sub-1")].count(PAGE) == 2
        assert store.final_status("sub-1") == "SUCCEEDED"


def test_the_ledgers_submissions_are_listed_and_released_with_a_warning(tmp_path):
    path = str(tmp_path / "ledger.sqlite")
    with Ledger(path) as ledger:
        ledger.record_bulk_submission("lost-1", ACTION, ["k1", "k2", "k3"], origin={"a": 1})
        ledger.record_bulk_submission("done-1", ACTION, ["k4"])
        ledger.mark_bulk_not_sent("done-1")
    listed = cli("runs", "submissions", "--open", "--ledger", path, "--json")
    rows = json.loads(listed.stdout)
    assert [(r["submission_id"], r["state"], r["inputs"], r["origin"]) for r in rows] == [
        ("lost-1", "sending", 3, {"a": 1})
    ]
    assert len(json.loads(cli("runs", "submissions", "--ledger", path, "--json").stdout)) == 2

    released = cli("runs", "release", "lost-1", "--ledger", path, "--json")
    assert released.exit_code == 0 and json.loads(released.stdout)["state"] == "not_sent"
    assert "3 input(s) again" in released.stderr and "paid twice" in released.stderr
    assert json.loads(cli("runs", "submissions", "--open", "--ledger", path, "--json").stdout) == []
    unknown = cli("runs", "release", "nope", "--ledger", path)
    assert unknown.exit_code == 2 and "no bulk submission 'nope'" in unknown.stderr


def test_a_schedule_is_created_listed_paused_resumed_and_cancelled(client, store, tmp_path):
    created = cli(
        "schedules", "create", ACTION, "--input", json.dumps(profiles(1)[0]),
        "--at", "2999-01-01T00:00:00Z", "--public-url", "http://127.0.0.1:8787",
        "--callback-store", str(tmp_path / "callbacks.sqlite"), "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    answer = json.loads(created.stdout)
    uid, sub_id = answer["schedule_uid"], answer["submission_id"]
    assert (
        answer["status"] == "ACTIVE" and answer["callback_url"] == "http://127.0.0.1:8787/callbacks"
    )
    submission = store.submission(sub_id)
    assert submission is not None and submission.mode == SCHEDULE_MODE and submission.inputs == 1
    listed = json.loads(cli("schedules", "list", "--status", "ACTIVE", "--json").stdout)
    assert [s["uid"] for s in listed] == [uid]
    for verb, status in (("pause", "PAUSED"), ("resume", "ACTIVE"), ("cancel", "CANCELLED")):
        changed = cli("schedules", verb, uid)
        assert changed.exit_code == 0 and status in changed.stdout, changed.output
        assert client.get_schedule(uid).status == status
    assert json.loads(cli("schedules", "show", uid, "--json").stdout)["status"] == "CANCELLED"
    refused = cli("schedules", "resume", uid)  # a cancelled schedule stays cancelled
    assert refused.exit_code == 1 and "the API refused" in refused.stderr
    assert "CANCELLED" in refused.stderr and client.get_schedule(uid).status == "CANCELLED"


def test_a_scheduled_runs_callbacks_land_through_the_receiver(bulk_sim, client, store, tmp_path):
    bulk_sim.configure(run_halt_after=None)
    now = [datetime(2030, 1, 1, tzinfo=timezone.utc)]
    bulk_sim.routes.bulk.runs.clock = lambda: now[0]
    inputs = tmp_path / "people.jsonl"
    inputs.write_text("\n".join(json.dumps(p) for p in profiles(2)) + "\n")
    with ReceiverServer(ReceiverSettings(port=0), store=store) as receiver:
        created = cli(
            "schedules", "create", ACTION, "--input-file", str(inputs),
            "--at", "2030-01-01T01:00:00Z", "--public-url", receiver.base_url,
            "--callback-store", str(tmp_path / "callbacks.sqlite"),
        )  # fmt: skip
        assert created.exit_code == 0, created.output
        sub_id = created.stdout.rsplit("submission ", 1)[1].strip()
        assert "created schedule" in created.stdout and store.submission(sub_id) is not None
        now[0] += timedelta(hours=2)  # the schedule comes due
        wait_until(lambda: store.final_status(sub_id), "the scheduled run's callbacks never landed")
        landed = store.callbacks(sub_id)
        assert [c.kind for c in landed] == [PAGE, PAGE, FINAL]
        (run_uid,) = {c.run_uid for c in landed}
        assert client.get_run(run_uid).status == "SUCCEEDED" == store.final_status(sub_id)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--input", "{}"], "exactly one of --cron"),
        (["--input", "{}", "--cron", "0 6 * * *", "--at", "2999-01-01T00:00:00Z"], "exactly one"),
        (["--input", "not json", "--cron", "0 6 * * *"], "not JSON"),
        (["--input", "[1]", "--cron", "0 6 * * *"], "not JSON objects"),
        (["--cron", "0 6 * * *"], "no inputs"),
        (["--input", "{}", "--cron", "0 6 * * *", "--parameters", "[]"], "a JSON object"),
    ],
)
def test_a_bad_schedule_is_refused_before_any_call(bulk_sim, args, said, tmp_path):
    refused = cli("schedules", "create", ACTION, *args, "--public-url", "http://127.0.0.1:1",
                  "--callback-store", str(tmp_path / "cb.sqlite"))  # fmt: skip
    assert refused.exit_code == 2 and said in refused.stderr, refused.output
    assert not [c for c in bulk_sim.calls(ACTION) if c.path.endswith("/run/schedule")]
