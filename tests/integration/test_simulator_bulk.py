"""Bulk mode on the simulator: `run/async` and `run/schedule` over loopback, processed in the
background, callbacks POSTed to a tiny receiver run by the test, and the runs, callbacks and
schedules endpoints answering under the spec's schemas.

No assertion on wall-clock durations: pacing is checked through the simulator's own request log
and its per-account peak of calls in flight; waits use `wait_until` (a timeout only stops a stall).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from captaindata_dagster.api.catalog import load_catalog
from captaindata_dagster.simulator import Simulator, run_simulator
from tests.helpers import wait_until
from tests.spec import problems

ACTION = "linkedin-extract-people"
CATALOG = load_catalog()


class Receiver:
    """A callback receiver on 127.0.0.1: records every POST (headers, JSON body); answers 503
    while `down`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.paths: list[str] = []  # each POST's path, query string included
        self.refused = 0
        self.down = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.down:
                    receiver.refused += 1
                    self.send_response(503)
                else:
                    receiver.received.append((dict(self.headers), json.loads(raw)))
                    receiver.paths.append(self.path)
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"

    def payloads(self) -> list[dict[str, Any]]:
        return [body for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def call(sim: Simulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request to the simulator: (status, decoded JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        sim.base_url + path, data=data, method=method,
        headers={"X-API-Key": sim.api_key, "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def profiles(n: int) -> list[dict[str, Any]]:
    return [
        {"linkedin_profile_url": f"https://www.linkedin.com/in/person-{i}", "custom_data": {"i": i}}
        for i in range(n)
    ]


def submit(sim: Simulator, url: str, inputs: list[dict[str, Any]], **extra: Any) -> str:
    status, answer = call(sim, "POST", f"/actions/{ACTION}/run/async",
                          {"inputs": inputs, "callback": {"url": url, "headers": {"X-Test": "t1"}},
                           **extra})  # fmt: skip
    assert status == 200, answer
    assert not problems(CATALOG.bulk_schema("async_submission") or {}, answer)
    return answer["run_uid"]


def final_run(sim: Simulator, uid: str) -> dict[str, Any]:
    """The run once a final callback was attempted for it."""
    wait_until(lambda: call(sim, "GET", f"/runs/{uid}")[1]["finished_at"], "the run never ended")
    wait_until(lambda: any(c.payload["run"]["status"] != "RUNNING" and c.status != "RUNNING"
                           and c.status != "PENDING" for c in sim.routes.bulk.runs.callbacks.values()
                           if c.run_uid == uid), "no final callback")  # fmt: skip
    wait_until(lambda: all(c.status not in ("RUNNING", "PENDING")
                           for c in sim.routes.bulk.runs.callbacks.values() if c.run_uid == uid),
               "a callback still in flight")  # fmt: skip
    run = call(sim, "GET", f"/runs/{uid}")[1]
    assert not problems(CATALOG.bulk_schema("run") or {}, run)
    return run


def payload_schema(action_id: str) -> Mapping[str, Any]:
    """The callback body the spec declares for one action (`callbacks.onSave` of run/async)."""
    action = CATALOG.get(action_id)
    assert action is not None and action.callback_schema is not None
    return action.callback_schema


def test_async_run_posts_a_callback_per_result_then_a_final_one(receiver: Receiver) -> None:
    n = 4
    with run_simulator(seed=3) as sim:
        uid = submit(sim, receiver.url, profiles(n))
        run = final_run(sim, uid)
        assert run["status"] == "SUCCEEDED" and run["execution_mode"] == "ASYNC"
        bodies = receiver.payloads()
        assert len(bodies) == n + 1
        assert [b["run"]["status"] for b in bodies] == ["RUNNING"] * n + ["SUCCEEDED"]
        assert all(h.get("X-Test") == "t1" for h, _ in receiver.received)
        assert [b["custom_data"] for b in bodies[:n]] == [{"i": i} for i in range(n)]
        assert sim.credits_used == sum(b["results_count"] for b in bodies) == n
        schema = payload_schema(ACTION)
        assert all(not problems(schema, b) for b in bodies), [problems(schema, b) for b in bodies]
        calls = [c for c in sim.calls(ACTION) if c.performed]  # the submission is logged too
        assert len(calls) == n and all(c.path.endswith("/run/async") for c in calls)
        status, page = call(sim, "GET", f"/runs/callbacks?run_uid={uid}&limit=20")
        assert status == 200 and len(page) == n + 1
        assert {c["status"] for c in page} == {"SUCCESS"}
        assert not problems(CATALOG.bulk_schema("callbacks_page") or {}, page)
        status, runs = call(sim, "GET", "/runs?status=SUCCEEDED&execution_mode=ASYNC")
        assert status == 200 and [r["uid"] for r in runs] == [uid]
        assert not problems(CATALOG.bulk_schema("runs_page") or {}, runs)
        assert call(sim, "GET", "/runs?status=FAILED")[1] == []


def test_a_search_posts_one_callback_per_page(receiver: Receiver) -> None:
    search = "linkedin-search-people"
    url = "https://www.linkedin.com/search/results/people/?keywords=data"
    with run_simulator(seed=1, search_total=25) as sim:
        status, answer = call(sim, "POST", f"/actions/{search}/run/async",
                              {"inputs": [{"linkedin_people_search_url": url}],
                               "callback": {"url": receiver.url}})  # fmt: skip
        assert status == 200, answer
        final_run(sim, answer["run_uid"])
        counts = [b["results_count"] for b in receiver.payloads()]
        assert counts == [10, 10, 5, 0]
        assert sim.credits_used == 25
        schema = payload_schema(search)
        assert all(not problems(schema, b) for b in receiver.payloads())


def test_runs_are_paced_one_call_at_a_time_per_account(receiver: Receiver) -> None:
    with run_simulator(latency_ms=5, rps=200) as sim:
        uids = [submit(sim, receiver.url, profiles(5), identity_ids=["acct-1"]) for _ in range(3)]
        for uid in uids:
            assert final_run(sim, uid)["status"] == "SUCCEEDED"
        calls = [c for c in sim.calls(ACTION) if c.performed]
        assert len(calls) == 15 and {c.account for c in calls} == {"acct-1"}
        runs = sim.routes.bulk.runs
        assert runs.peak_inflight == {"acct-1": 1}  # three runs, never two calls at once
        assert runs.paced_calls == 15  # every call took a token of the rate bucket
        assert sim.credits_used == 15


def test_a_run_uses_its_accounts_in_turn(receiver: Receiver) -> None:
    with run_simulator() as sim:
        uid = submit(sim, receiver.url, profiles(4), identity_ids=["acct-1", "acct-2"])
        assert final_run(sim, uid)["status"] == "SUCCEEDED"
        calls = [c for c in sim.calls(ACTION) if c.performed]
        assert [c.account for c in calls] == ["acct-1", "acct-2"] * 2
        assert [c.body["identity_ids"] for c in calls] == [["acct-1"], ["acct-2"]] * 2
        assert sim.routes.bulk.runs.peak_inflight == {"acct-1": 1, "acct-2": 1}


def test_the_request_log_hides_callback_headers(receiver: Receiver) -> None:
    with run_simulator() as sim:
        final_run(sim, submit(sim, receiver.url, profiles(1)))
        assert receiver.received[0][0].get("X-Test") == "t1"  # the receiver gets the secret
        logged = [r.body for r in sim.requests if r.path.endswith("/run/async") and r.body]
        submitted = [b for b in logged if "callback" in b]
        assert [b["callback"]["headers"] for b in submitted] == [{"X-Test": "***"}]
        assert "t1" not in json.dumps([r.to_dict() for r in sim.requests])


def test_two_resumes_at_once_start_one_worker(receiver: Receiver) -> None:
    with run_simulator(run_halt_after=1) as sim:
        uid = submit(sim, receiver.url, profiles(3))
        assert final_run(sim, uid)["status"] == "FAILED"
        bulk = sim.routes.bulk
        started: list[str] = []
        start = bulk.processor.start
        gate = threading.Barrier(2)

        def slow_start(run: Any) -> None:  # widen the window between the check and the start
            started.append(run.uid)
            time.sleep(0.2)  # before the fix, the other resume passed the status check meanwhile
            start(run)

        bulk.processor.start = slow_start  # type: ignore[method-assign]
        answers: list[int] = []

        def resume() -> None:
            gate.wait()
            answers.append(call(sim, "POST", f"/runs/{uid}/resume", {})[0])

        threads = [threading.Thread(target=resume) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answers) == [200, 400] and started == [uid]
        wait_until(lambda: call(sim, "GET", f"/runs/{uid}")[1]["status"] == "SUCCEEDED", "resume")
        assert sim.credits_used == 3 and len([c for c in sim.calls(ACTION) if c.performed]) == 3


def test_stop_ends_the_workers_and_a_restart_does_not_revive_them(receiver: Receiver) -> None:
    sim = Simulator(latency_ms=1).start()
    bulk = sim.routes.bulk
    sim.state.acquire_account("acct-1", 1)  # the run's worker waits for the slot
    uid = submit(sim, receiver.url, profiles(2), identity_ids=["acct-1"])
    wait_until(lambda: bulk.runs.runs[uid].status == "RUNNING", "the run never started")
    workers = list(bulk.processor._workers)
    sim.stop()
    assert workers and not any(w.is_alive() for w in workers)
    assert bulk.runs.runs[uid].status == "STOPPED"
    sim.state.release_account("acct-1")
    sim.start()
    try:
        assert bulk.runs.runs[uid].status == "STOPPED" and sim.calls(ACTION)[1:] == []
        assert receiver.received == []
    finally:
        sim.stop()


def test_a_stopping_simulator_makes_no_more_callback_tries(receiver: Receiver) -> None:
    receiver.down = True
    sim = Simulator(callback_retries=50, callback_backoff_s=0.01).start()
    uid = submit(sim, receiver.url, profiles(1))
    wait_until(lambda: receiver.refused >= 2, "no callback try")
    sim.stop()
    tries = receiver.refused
    records = [c for c in sim.routes.bulk.runs.callbacks.values() if c.run_uid == uid]
    assert records and all(c.status == "FAILED" for c in records)
    assert all(len(c.attempts) < 51 for c in records) and receiver.refused == tries


def test_a_live_call_on_a_busy_account_is_refused(receiver: Receiver) -> None:
    with run_simulator() as sim:
        sim.state.acquire_account("acct-1", 1)  # a bulk (or live) call holds the account
        uid = submit(sim, receiver.url, profiles(1), identity_ids=["acct-1"])
        status, answer = call(sim, "POST", f"/actions/{ACTION}/run/live",
                              {"input": profiles(1)[0], "identity_ids": ["acct-1"]})  # fmt: skip
        assert status == 429 and answer["error_label"] == "STATUS_429"
        assert call(sim, "GET", f"/runs/{uid}")[1]["status"] in ("QUEUED", "RUNNING")
        sim.state.release_account("acct-1")
        assert final_run(sim, uid)["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inputs": profiles(1), "callback": {"url": "https://example.com/cb"}}, "callback.url"),
        ({"inputs": profiles(1), "callback": {"url": "http://10.0.0.1/cb"}}, "callback.url"),
        ({"inputs": [], "callback": {"url": "http://127.0.0.1:1/cb"}}, "inputs"),
        (
            {
                "inputs": [{"linkedin_profile_url": "nope"}],
                "callback": {"url": "http://127.0.0.1:1/"},
            },
            "inputs[0].linkedin_profile_url",
        ),
        ({"inputs": profiles(1)}, "callback"),
        ({"input": profiles(1)[0], "callback": {"url": "http://127.0.0.1:1/"}}, "input"),
    ],
)
def test_a_refused_submission_answers_the_error_envelope(body: dict, field: str) -> None:
    with run_simulator() as sim:
        status, answer = call(sim, "POST", f"/actions/{ACTION}/run/async", body)
        assert status == 400 and answer["params"]["field"] == field, answer
        assert not problems(CATALOG.error_schema, answer)
        assert call(sim, "GET", "/runs")[1] == []


def test_receiver_down_fails_callbacks_and_replay_reposts(receiver: Receiver) -> None:
    with run_simulator(callback_retries=2, callback_backoff_s=0.0) as sim:
        receiver.down = True
        uid = submit(sim, receiver.url, profiles(2))
        final_run(sim, uid)
        assert receiver.received == [] and receiver.refused == 3 * 3  # 3 callbacks x 3 tries
        status, failed = call(sim, "GET", f"/runs/callbacks?status=FAILED&run_uid={uid}")
        assert status == 200 and len(failed) == 3
        assert all(c["retry_count"] == 2 and c["http_status"] == 503 for c in failed)
        receiver.down = False
        status, replayed = call(sim, "POST", f"/runs/callbacks/{failed[-1]['uid']}/replay", {})
        assert status == 200 and replayed["status"] == "SUCCESS"
        assert replayed["parent_uid"] == failed[-1]["uid"]
        assert not problems(CATALOG.bulk_schema("callback") or {}, replayed)
        assert len(receiver.received) == 1 and receiver.received[0][0].get("X-Test") == "t1"
        assert receiver.payloads()[0]["input"] == profiles(2)[0]
        status, one = call(sim, "GET", f"/runs/callbacks/{replayed['uid']}")
        assert status == 200 and one == replayed


def test_unreachable_fault_fails_every_callback(receiver: Receiver) -> None:
    with run_simulator(callback_faults={"unreachable": 1.0}, callback_backoff_s=0.0) as sim:
        final_run(sim, submit(sim, receiver.url, profiles(2)))
        assert receiver.received == [] and receiver.refused == 0
        statuses = [c.status for c in sim.routes.bulk.runs.callbacks.values()]
        assert statuses == ["FAILED"] * 3


def test_duplicate_and_out_of_order_delivery(receiver: Receiver) -> None:
    with run_simulator(callback_faults={"duplicate": 1.0}) as sim:
        final_run(sim, submit(sim, receiver.url, profiles(2)))
        wait_until(lambda: len(receiver.received) == 6, "the duplicate deliveries")
        inputs = [b.get("input", {}).get("custom_data") for b in receiver.payloads()]
        assert inputs == [{"i": 0}, {"i": 0}, {"i": 1}, {"i": 1}, None, None]
    receiver.received.clear()
    with run_simulator(callback_faults={"out_of_order": 1.0}) as sim:
        final_run(sim, submit(sim, receiver.url, profiles(3)))
        order = [(b.get("custom_data") or {}).get("i") for b in receiver.payloads()]
        assert order == [1, 0, 2, None]  # the first held back, delivered after the second


@pytest.mark.parametrize("halt", ["BLOCKED", "FAILED"])
def test_a_run_stopped_halfway_resumes_where_it_stopped(receiver: Receiver, halt: str) -> None:
    with run_simulator(run_halt_after=2, run_halt_status=halt) as sim:
        uid = submit(sim, receiver.url, profiles(4))
        run = final_run(sim, uid)
        assert run["status"] == halt and run["last_error"]["label"]
        assert [b["run"]["status"] for b in receiver.payloads()] == ["RUNNING"] * 2 + [halt]
        assert sim.credits_used == 2
        status, resumed = call(sim, "POST", f"/runs/{uid}/resume", {})
        assert status == 200 and resumed["retry_count"] == 1
        wait_until(lambda: call(sim, "GET", f"/runs/{uid}")[1]["status"] == "SUCCEEDED", "resume")
        wait_until(lambda: len(receiver.received) == 2 + 1 + 2 + 1, "the resumed callbacks")
        assert sim.credits_used == 4
        status, again = call(sim, "POST", f"/runs/{uid}/resume", {})
        assert status == 400 and again["params"]["field"] == "run_uid"


def test_a_schedule_creates_its_run_when_schedule_at_comes(receiver: Receiver) -> None:
    now = [datetime(2030, 1, 1, tzinfo=timezone.utc)]
    with run_simulator() as sim:
        bulk = sim.routes.bulk
        bulk.runs.clock = lambda: now[0]
        at = (now[0] + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        status, answer = call(sim, "POST", f"/actions/{ACTION}/run/schedule",
                              {"inputs": profiles(2), "callback": {"url": receiver.url},
                               "schedule_at": at, "timezone": "Europe/Paris"})  # fmt: skip
        assert status == 200, answer
        assert not problems(CATALOG.bulk_schema("schedule_submission") or {}, answer)
        assert answer["status"] == "ACTIVE" and answer["next_execution_at"] == at.replace(
            "T01:00:00Z", "T01:00:00.000Z"
        )
        uid = answer["schedule_uid"]
        assert bulk.fire_due_schedules() == [] and call(sim, "GET", "/runs")[1] == []
        now[0] += timedelta(hours=2)
        wait_until(lambda: call(sim, "GET", "/runs")[1], "the scheduled run was never created")
        run_uid = call(sim, "GET", "/runs")[1][0]["uid"]
        assert final_run(sim, run_uid)["status"] == "SUCCEEDED"
        status, schedule = call(sim, "GET", f"/schedules/{uid}")
        assert status == 200 and schedule["status"] == "COMPLETED" and schedule["last_executed_at"]
        assert not problems(CATALOG.bulk_schema("schedule") or {}, schedule)
        status, listed = call(sim, "GET", "/schedules?status=COMPLETED")
        assert [s["uid"] for s in listed] == [uid]
        assert not problems(CATALOG.bulk_schema("schedules_page") or {}, listed)
        assert call(sim, "POST", f"/schedules/{uid}/pause", {})[0] == 400


def test_a_schedule_pauses_resumes_and_cancels(receiver: Receiver) -> None:
    with run_simulator() as sim:
        status, answer = call(sim, "POST", f"/actions/{ACTION}/run/schedule",
                              {"inputs": profiles(1), "callback": {"url": receiver.url},
                               "schedule_at": "2999-01-01T00:00:00Z"})  # fmt: skip
        assert status == 200, answer
        uid = answer["schedule_uid"]
        for verb, after in (("pause", "PAUSED"), ("resume", "ACTIVE"), ("cancel", "CANCELLED")):
            status, schedule = call(sim, "POST", f"/schedules/{uid}/{verb}", {})
            assert status == 200 and schedule["status"] == after, schedule
            assert not problems(CATALOG.bulk_schema("schedule") or {}, schedule)
        assert call(sim, "POST", f"/schedules/{uid}/resume", {})[0] == 400
        refused = call(sim, "POST", f"/actions/{ACTION}/run/schedule",
                       {"inputs": profiles(1), "callback": {"url": receiver.url}})  # fmt: skip
        assert refused[0] == 400 and refused[1]["params"]["field"] == "schedule_at"


def test_lists_check_limit_and_unknown_uids() -> None:
    with run_simulator() as sim:
        assert call(sim, "GET", "/runs?limit=101")[0] == 400
        assert call(sim, "GET", "/runs/callbacks?limit=21")[0] == 400
        assert call(sim, "GET", "/schedules?offset=-1")[0] == 400
        status, answer = call(sim, "GET", "/runs/00000000-0000-4000-8000-000000000000")
        assert status == 404 and answer["error_label"] == "STATUS_404"
        assert call(sim, "DELETE", "/runs")[0] == 405


def schedule(sim: Simulator, url: str, n: int = 1, **fields: Any) -> dict[str, Any]:
    status, answer = call(sim, "POST", f"/actions/{ACTION}/run/schedule",
                          {"inputs": profiles(n), "callback": {"url": url,
                           "headers": {"X-Schedule": "s1"}}, **fields})  # fmt: skip
    assert status == 200, answer
    assert not problems(CATALOG.bulk_schema("schedule_submission") or {}, answer)
    return answer


def run_uids(sim: Simulator) -> list[str]:
    return [r["uid"] for r in call(sim, "GET", "/runs?limit=100")[1]]


def test_a_cron_schedule_starts_a_run_at_each_matching_minute(receiver: Receiver) -> None:
    now = [datetime(2030, 1, 7, 8, 59, 30, tzinfo=timezone.utc)]  # a Monday
    with run_simulator() as sim:
        bulk = sim.routes.bulk
        bulk.runs.clock = lambda: now[0]
        answer = schedule(sim, receiver.url, cron="*/30 9-10 * * mon-fri")
        uid = answer["schedule_uid"]
        assert answer["next_execution_at"] == "2030-01-07T09:00:00.000Z"
        assert bulk.fire_due_schedules() == [] and run_uids(sim) == []
        now[0] = datetime(2030, 1, 7, 9, 0, 5, tzinfo=timezone.utc)
        wait_until(lambda: run_uids(sim), "the 09:00 run was never started")
        now[0] += timedelta(seconds=40)  # a later tick in the same minute
        assert bulk.fire_due_schedules() == [] and len(run_uids(sim)) == 1
        status, shown = call(sim, "GET", f"/schedules/{uid}")
        assert (
            shown["status"] == "ACTIVE" and shown["next_execution_at"] == "2030-01-07T09:30:00.000Z"
        )
        assert not problems(CATALOG.bulk_schema("schedule") or {}, shown)
        final_run(sim, run_uids(sim)[0])
        assert all(h.get("X-Schedule") == "s1" for h, _ in receiver.received)
        now[0] = datetime(2030, 1, 7, 9, 30, tzinfo=timezone.utc)
        wait_until(lambda: len(run_uids(sim)) == 2, "the 09:30 run was never started")
        assert bulk.runs.schedules[uid].run_uids == run_uids(sim)
        assert call(sim, "POST", f"/schedules/{uid}/pause", {})[0] == 200
        now[0] = datetime(2030, 1, 7, 10, 0, tzinfo=timezone.utc)
        assert bulk.fire_due_schedules() == []  # paused: none
        now[0] = datetime(2030, 1, 7, 10, 10, tzinfo=timezone.utc)
        status, resumed = call(sim, "POST", f"/schedules/{uid}/resume", {})
        assert resumed["next_execution_at"] == "2030-01-07T10:30:00.000Z"  # 10:00 not run late
        now[0] = datetime(2030, 1, 7, 10, 30, tzinfo=timezone.utc)
        wait_until(lambda: len(run_uids(sim)) == 3, "the 10:30 run was never started")
        assert call(sim, "POST", f"/schedules/{uid}/cancel", {})[0] == 200
        now[0] = datetime(2030, 1, 8, 9, 0, tzinfo=timezone.utc)
        assert bulk.fire_due_schedules() == [] and len(run_uids(sim)) == 3  # cancelled: never
        for run_uid in run_uids(sim):
            assert final_run(sim, run_uid)["status"] == "SUCCEEDED"


def test_a_cron_schedule_reads_its_timezone_and_a_bad_cron_is_refused(receiver: Receiver) -> None:
    now = [datetime(2030, 7, 1, 12, 0, tzinfo=timezone.utc)]
    with run_simulator() as sim:
        sim.routes.bulk.runs.clock = lambda: now[0]
        paris = schedule(sim, receiver.url, cron="0 6 * * *", timezone="Europe/Paris")
        assert paris["next_execution_at"] == "2030-07-02T04:00:00.000Z"  # 06:00 CEST
        later = schedule(sim, receiver.url, cron="@hourly", schedule_at="2030-07-03T00:00:00Z")
        assert later["next_execution_at"] == "2030-07-03T00:00:00.000Z"
        for cron in ("61 * * * *", "every day", "0 0 30 2 *"):
            status, answer = call(sim, "POST", f"/actions/{ACTION}/run/schedule",
                                  {"inputs": profiles(1), "callback": {"url": receiver.url},
                                   "cron": cron})  # fmt: skip
            assert status == 400 and answer["params"]["field"] == "cron", (cron, answer)


def test_reset_forgets_runs_callbacks_and_schedules_and_stops_their_workers(
    receiver: Receiver,
) -> None:
    with run_simulator(rps=1000) as sim:
        bulk = sim.routes.bulk
        pause = threading.Event()
        bulk.runs.sleep = lambda s: pause.wait(0.01)
        receiver.down = True  # callbacks retried: the run's worker is still busy at reset
        sim.configure(callback_retries=10_000, callback_backoff_s=0.01)
        uid = submit(sim, receiver.url, profiles(3))
        schedule(sim, receiver.url, schedule_at="2999-01-01T00:00:00Z")
        wait_until(lambda: bulk.runs.callbacks, "no callback was tried")
        worker = next(t for t in threading.enumerate() if t.name.endswith(uid[:8]))
        sim.reset()
        assert not worker.is_alive() and bulk._ticker is None
        assert bulk.runs.listed() == {"runs": [], "callbacks": [], "schedules": []}
        for path in ("/runs", "/runs/callbacks", "/schedules"):
            assert call(sim, "GET", path) == (200, [])
        assert sim.requests[-1].path == "/v4/schedules" and sim.credits_used == 0
        receiver.down = False
        sim.configure(callback_retries=0)
        again = submit(sim, receiver.url, profiles(1))  # still serving, workers start again
        assert final_run(sim, again)["status"] == "SUCCEEDED"


def test_runs_list_sorts_and_filters_by_user_and_workspace(receiver: Receiver) -> None:
    with run_simulator() as sim:
        uids = [submit(sim, receiver.url, profiles(1)) for _ in range(3)]
        for uid in uids:
            final_run(sim, uid)
        status, runs = call(sim, "GET", "/runs")
        assert [r["uid"] for r in runs] == uids  # default: created_at, creation order on ties
        assert not problems(CATALOG.bulk_schema("runs_page") or {}, runs)
        assert [r["uid"] for r in call(sim, "GET", "/runs?sort=-id")[1]] == uids[::-1]
        assert [r["uid"] for r in call(sim, "GET", "/runs?sort=status,-id")[1]] == uids[::-1]
        user, ws = runs[0]["user_uid"], runs[0]["workspace_uid"]
        assert len(call(sim, "GET", f"/runs?user_uid={user}&workspace_uid={ws}")[1]) == 3
        other = "00000000-0000-4000-8000-000000000000"
        assert call(sim, "GET", f"/runs?user_uid={other}")[1] == []
        assert call(sim, "GET", f"/runs?workspace_uid={other}")[1] == []
        assert call(sim, "GET", "/runs?execution_mode=LIVE")[1] == []  # live runs are not kept
        assert [r["uid"] for r in call(sim, "GET", f"/runs?uid={uids[1]},{uids[2]}")[1]] == uids[1:]
        status, refused = call(sim, "GET", "/runs?sort=colour")
        assert status == 400 and refused["params"]["field"] == "sort"
        status, callbacks = call(sim, "GET", "/runs/callbacks?limit=20")
        created = [c["created_at"] for c in callbacks]
        assert created == sorted(created, reverse=True)  # callbacks: newest first by default


def test_a_callback_url_with_a_query_string_is_posted_to_as_given(receiver: Receiver) -> None:
    with run_simulator() as sim:
        url = receiver.url + "?submission=abc&part=2"
        uid = submit(sim, url, profiles(1))
        final_run(sim, uid)
        assert receiver.paths == ["/callbacks?submission=abc&part=2"] * 2
        assert call(sim, "GET", f"/runs/{uid}")[1]["callback"]["url"] == url
        status, callbacks = call(sim, "GET", f"/runs/callbacks?run_uid={uid}")
        assert {c["callback_url"] for c in callbacks} == {url}
