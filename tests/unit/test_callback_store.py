"""The callback store on SQLite: submissions and their secrets, callbacks landed once, reads.

The receiver's HTTP side is tests/integration/test_receiver.py's; here the store alone decides
what lands, whatever order or how often a callback comes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from captaindata_dagster.api.catalog import load_catalog
from captaindata_dagster.receiver.payload import BadPayload, parse_callback
from captaindata_dagster.storage.callbacks import (
    CALLBACK_STORE_ENV,
    DUPLICATE,
    FINAL,
    LANDED,
    PAGE,
    SCHEDULE_MODE,
    SECRET_HEADER,
    SUBMISSION_HEADER,
    CallbackStore,
    WrongRun,
    callback_headers,
    default_callback_store_location,
    new_secret,
)
from captaindata_dagster.storage.locations import LEDGER_ENV, LEDGER_URL_ENV

ACTION = "linkedin-extract-people"


def page(input_url: str, results: list, run_uid: str = "run-1", batch: str = "b-1") -> dict:
    return {
        "run": {"run_uid": run_uid, "batch_uid": batch, "status": "RUNNING"},
        "input": {"linkedin_profile_url": input_url},
        "custom_data": {"ours": 1},
        "error": None,
        "results": results,
    }


def final(status: str = "SUCCEEDED", run_uid: str = "run-1", batch: str | None = None) -> dict:
    return {"run": {"run_uid": run_uid, "batch_uid": batch, "status": status}, "input": None}


@pytest.fixture
def store(tmp_path: Path):
    with CallbackStore(tmp_path / "callbacks.sqlite") as s:
        yield s


@pytest.fixture
def secret(store: CallbackStore) -> str:
    value = new_secret()
    store.register_submission("sub-1", value, ACTION, inputs=3)
    return value


def test_the_headers_are_the_agreed_names():
    assert (SUBMISSION_HEADER, SECRET_HEADER) == (
        "X-Captaindata-Submission",
        "X-Captaindata-Secret",
    )
    assert callback_headers("s", "x") == {SUBMISSION_HEADER: "s", SECRET_HEADER: "x"}


def test_only_the_hash_of_the_secret_is_stored(store, secret, tmp_path):
    with sqlite3.connect(tmp_path / "callbacks.sqlite") as raw:
        dump = "\n".join(raw.iterdump())
    assert secret not in dump
    assert store.authenticate("sub-1", secret)
    assert not store.authenticate("sub-1", secret + "x")
    assert not store.authenticate("sub-1", "")
    assert not store.authenticate("sub-2", secret)


def test_a_submission_is_registered_once_and_given_one_run(store, secret):
    with pytest.raises(ValueError, match="already registered"):
        store.register_submission("sub-1", new_secret(), ACTION)
    assert store.authenticate("sub-1", secret)  # the first secret stays
    assert store.submission("sub-1").run_uid is None
    store.attach_run("sub-1", "run-1")
    store.attach_run("sub-1", "run-1")  # the same run again is fine
    with pytest.raises(WrongRun, match="already has run"):
        store.attach_run("sub-1", "run-2")
    with pytest.raises(KeyError):
        store.attach_run("nope", "run-1")
    sub = store.submission("sub-1")
    assert (sub.action_id, sub.run_uid, sub.inputs, sub.mode) == (ACTION, "run-1", 3, "async")
    assert store.submission("nope") is None


def test_a_callback_lands_once_however_often_it_is_delivered(store, secret):
    first = page("https://www.linkedin.com/in/ada", [{"full_name": "Ada"}])
    assert store.land_callback("sub-1", first) == LANDED
    assert store.land_callback("sub-1", dict(first)) == DUPLICATE
    reordered = dict(reversed(list(first.items())))  # the same JSON, keys in another order
    assert store.land_callback("sub-1", reordered) == DUPLICATE
    (landed,) = store.callbacks("sub-1")
    assert landed.kind == PAGE and landed.deliveries == 3
    assert landed.payload == first and landed.run_uid == "run-1" and landed.batch_uid == "b-1"


def test_two_pages_of_one_input_and_two_inputs_are_distinct_callbacks(store, secret):
    ada, grace = "https://www.linkedin.com/in/ada", "https://www.linkedin.com/in/grace"
    calls = [page(ada, [{"n": 1}]), page(ada, [{"n": 2}]), page(grace, [{"n": 1}])]
    assert [store.land_callback("sub-1", c) for c in calls] == [LANDED] * 3
    # out of order and again: nothing new
    assert [store.land_callback("sub-1", c) for c in reversed(calls)] == [DUPLICATE] * 3
    assert len(store.callbacks("sub-1")) == 3
    assert len(store.callbacks(run_uid="run-1")) == 3 and store.callbacks(run_uid="run-9") == []


def test_custom_data_is_not_part_of_a_callbacks_identity(store, secret):
    one = page("https://www.linkedin.com/in/ada", [])
    assert store.land_callback("sub-1", one) == LANDED
    assert store.land_callback("sub-1", {**one, "custom_data": {"other": 2}}) == DUPLICATE


def test_the_final_status_is_the_latest_final_callback(store, secret):
    assert store.final_status("sub-1") is None
    store.land_callback("sub-1", page("https://www.linkedin.com/in/ada", []))
    assert store.final_status("sub-1") is None
    assert store.land_callback("sub-1", final("FAILED", batch="b-1")) == LANDED
    assert store.final_status("sub-1") == "FAILED"
    assert store.land_callback("sub-1", final("SUCCEEDED", batch="b-2")) == LANDED  # resumed
    assert store.land_callback("sub-1", final("SUCCEEDED", batch="b-2")) == DUPLICATE
    assert store.final_status("sub-1") == "SUCCEEDED"
    assert [c.kind for c in store.callbacks("sub-1")].count(FINAL) == 2


def test_a_run_failed_resumed_and_failed_again_lands_both_finals(store, secret):
    """The batch is part of a final callback's identity: a second FAILED is not a duplicate."""
    assert store.land_callback("sub-1", final("FAILED", batch="b-1")) == LANDED
    assert store.land_callback("sub-1", final("FAILED", batch="b-2")) == LANDED
    assert store.land_callback("sub-1", final("FAILED", batch="b-2")) == DUPLICATE
    assert [c.batch_uid for c in store.callbacks("sub-1") if c.kind == FINAL] == ["b-1", "b-2"]
    error = {"error_label": "LK_BAD_COOKIE", "message": "the cookie expired"}
    assert store.land_callback("sub-1", {**final("FAILED", batch="b-3"), "error": error}) == LANDED
    assert store.final_status("sub-1") == "FAILED"  # a run's error does not make it a page


def test_pages_without_an_input_are_pages_not_the_final_status(store, secret):
    """The API may omit `input`: only an ended run with no results is the final status."""
    running = {"run": {"run_uid": "run-1", "batch_uid": "b-1", "status": "RUNNING"}}
    one, two = {**running, "results": [{"n": 1}]}, {**running, "results": [{"n": 2}]}
    ended = {"run": {**running["run"], "status": "SUCCEEDED"}, "results": [{"n": 3}]}
    assert [store.land_callback("sub-1", c) for c in (one, two, ended)] == [LANDED] * 3
    assert store.land_callback("sub-1", {**running, "results": []}) == LANDED  # an empty page
    assert [c.kind for c in store.callbacks("sub-1")] == [PAGE] * 4
    assert store.final_status("sub-1") is None
    assert store.land_callback("sub-1", final(batch="b-1")) == LANDED
    assert store.final_status("sub-1") == "SUCCEEDED"


def test_a_callback_of_another_run_is_refused_in_the_store(store, secret):
    ada = "https://www.linkedin.com/in/ada"
    # before the API answered, the first callback's run is the submission's
    assert store.land_callback("sub-1", page(ada, [{"n": 1}], run_uid="run-1")) == LANDED
    with pytest.raises(WrongRun):
        store.land_callback("sub-1", page(ada, [{"n": 2}], run_uid="run-2"))
    with pytest.raises(WrongRun, match="landed callbacks of run 'run-1'"):
        store.attach_run("sub-1", "run-2")
    assert store.submission("sub-1").run_uid is None
    store.attach_run("sub-1", "run-1")
    with pytest.raises(WrongRun):
        store.land_callback("sub-1", final(run_uid="run-2"))
    with pytest.raises(KeyError):
        store.land_callback("nope", final())
    assert [c.run_uid for c in store.callbacks()] == ["run-1"]


def test_callbacks_landed_from_two_stores_at_once_land_once_each(store, secret, tmp_path):
    """Two stores on one database: concurrent transactions meet on the callbacks' key."""
    calls = [page(f"https://www.linkedin.com/in/p{i}", [{"n": i}]) for i in range(20)]
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def post(each: CallbackStore) -> None:
        barrier.wait()
        for payload in calls:
            outcome = each.land_callback("sub-1", payload)
            with lock:
                outcomes.append(outcome)

    with CallbackStore(tmp_path / "callbacks.sqlite") as other:
        threads = [threading.Thread(target=post, args=(s,)) for s in (store, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(outcomes) == sorted([LANDED] * 20 + [DUPLICATE] * 20)
    assert [c.deliveries for c in store.callbacks("sub-1")] == [2] * 20


def test_the_store_survives_a_reopen(tmp_path, secret, store):
    store.land_callback("sub-1", final())
    store.close()
    with CallbackStore(tmp_path / "callbacks.sqlite") as again:
        assert again.authenticate("sub-1", secret)
        assert again.final_status("sub-1") == "SUCCEEDED"
        assert again.ping() and again.integrity_ok()


def test_the_store_lives_beside_the_ledger_unless_told(monkeypatch, tmp_path):
    monkeypatch.delenv(CALLBACK_STORE_ENV, raising=False)
    monkeypatch.delenv(LEDGER_URL_ENV, raising=False)
    monkeypatch.setenv(LEDGER_ENV, str(tmp_path / "l" / "ledger.sqlite"))
    assert default_callback_store_location() == tmp_path / "l" / "callbacks.sqlite"
    assert CallbackStore().path == tmp_path / "l" / "callbacks.sqlite"
    url = "postgresql://u:pw@db:5432/x"
    assert default_callback_store_location(url) == url
    monkeypatch.setenv(CALLBACK_STORE_ENV, str(tmp_path / "cb.sqlite"))
    assert default_callback_store_location(url) == tmp_path / "cb.sqlite"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not UTF-8 JSON"),
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"{}", "lacks run"),
        (b'{"run": "r1"}', "`run` must be object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"run": {"run_uid": ""}}', "run_uid"),
        (b'{"run": {"run_uid": "r", "status": 3}}', "run.status"),
        (b'{"run": {"run_uid": "r"}, "input": "x"}', "`input`"),
        (b'{"run": {"run_uid": "r"}, "results": {}}', "`results`"),
    ],
)
def test_a_body_that_is_not_a_callback_is_refused(body: bytes, problem: str):
    with pytest.raises(BadPayload, match=problem):
        parse_callback(body)


PEOPLE = "linkedin-extract-people"
SEARCH = "salesnavigator-search-people"


def _callback(**parts: object) -> dict:
    run = {"run_uid": "r", "batch_uid": "b", "status": "RUNNING"}
    return {"run": run, "input": {"linkedin_profile_url": "https://www.linkedin.com/in/ada"},
            "results_count": 1, "results": [{"full_name": "Ada"}], "custom_data": {"k": 1},
            **parts}  # fmt: skip


def test_a_callback_of_a_known_action_passes_its_callback_schema():
    people = load_catalog().get(PEOPLE)
    assert parse_callback(json.dumps(_callback()).encode(), people)["custom_data"] == {"k": 1}
    error = {"error_label": "PROFILE_NOT_FOUND", "error_scope": "input", "message": "gone"}
    final = {"run": {"run_uid": "r", "batch_uid": "b", "status": "PARTIAL_SUCCEEDED"},
             "error": error, "input": None, "results": None}  # fmt: skip
    assert parse_callback(json.dumps(final).encode(), people)["error"] == error


@pytest.mark.parametrize(
    ("action_id", "parts", "problem"),
    [
        (PEOPLE, {"run": {"run_uid": "r", "batch_uid": "b", "status": "DONE"}}, "run.status"),
        (PEOPLE, {"run": {"run_uid": "r", "status": "RUNNING"}}, "`run` lacks batch_uid"),
        (PEOPLE, {"input": {"linkedin_profile_url": "u", "nickname": "x"}}, "nickname"),
        (PEOPLE, {"error": {"message": "m", "why": "?"}}, "`error` has fields"),
        (PEOPLE, {"results_count": "1"}, "results_count"),
        (PEOPLE, {"results_count": True}, "results_count"),
        (PEOPLE, {"results": [{"data": {}, "meta": {}}]}, "item 0 names none of the fields"),
        (PEOPLE, {"results": ["Ada"]}, "item 0 expected one JSON object"),
        (SEARCH, {"input": None, "results": [{"full_name": "A"}, 3]}, "item 1 is a"),
    ],
)
def test_a_callback_off_its_action_schema_is_refused(action_id: str, parts: dict, problem: str):
    action = load_catalog().get(action_id)
    body = json.dumps(_callback(**parts)).encode()
    parse_callback(body)  # structurally a callback: only the action's schema refuses it
    with pytest.raises(BadPayload, match=problem):
        parse_callback(body, action)


def test_a_schedules_submission_lands_the_callbacks_of_each_of_its_runs(store):
    store.register_submission("sched-1", new_secret(), ACTION, mode=SCHEDULE_MODE, inputs=1)
    ada = "https://www.linkedin.com/in/ada"
    for run in ("run-1", "run-2"):  # two executions of the schedule, the same input each time
        assert store.land_callback("sched-1", page(ada, [{"n": 1}], run_uid=run)) == LANDED
        assert store.land_callback("sched-1", final(run_uid=run)) == LANDED
    assert store.land_callback("sched-1", page(ada, [{"n": 1}], run_uid="run-2")) == DUPLICATE
    assert [c.run_uid for c in store.callbacks("sched-1")] == ["run-1"] * 2 + ["run-2"] * 2
    assert [c.kind for c in store.callbacks("sched-1", run_uid="run-2")] == [PAGE, FINAL]
    with pytest.raises(ValueError, match="schedule's"):
        store.attach_run("sched-1", "run-1")
    assert store.submission("sched-1").run_uid is None


def test_an_async_submission_keeps_its_one_run_beside_a_schedules(store, secret):
    store.register_submission("sched-1", new_secret(), ACTION, mode=SCHEDULE_MODE)
    ada = "https://www.linkedin.com/in/ada"
    assert store.land_callback("sched-1", page(ada, [], run_uid="run-7")) == LANDED
    assert store.land_callback("sub-1", page(ada, [], run_uid="run-1")) == LANDED
    with pytest.raises(WrongRun):
        store.land_callback("sub-1", page(ada, [], run_uid="run-7"))


def test_a_batch_lands_in_one_transaction_each_item_judged_alone(store, secret):
    """The receiver's group commit: a duplicate, a wrong run, an unknown submission, a payload
    without a run and a schedule's callback in one batch; each gets what it would alone."""
    store.register_submission("sched-1", new_secret(), ACTION, mode=SCHEDULE_MODE)
    ada, bob = "https://www.linkedin.com/in/ada", "https://www.linkedin.com/in/bob"
    store.land_callback("sub-1", page(bob, [{"n": 0}]))  # landed before: its run is run-1
    outcomes = store.land_callbacks(
        [
            ("sub-1", page(ada, [{"n": 1}])),
            ("sub-1", page(ada, [{"n": 1}])),  # the same callback twice in one batch
            ("sub-1", page(ada, [{"n": 2}], run_uid="run-2")),  # another run, in the middle
            ("nope", page(ada, [{"n": 3}])),
            ("sub-1", {"input": None}),  # no run: no identity
            ("sched-1", page(ada, [], run_uid="run-7")),
            ("sub-1", page(bob, [{"n": 0}])),  # landed by an earlier transaction
            ("sub-1", final()),
        ]
    )
    assert outcomes[:2] == [LANDED, DUPLICATE] and outcomes[5:] == [LANDED, DUPLICATE, LANDED]
    assert isinstance(outcomes[2], WrongRun) and "run-2" in str(outcomes[2])
    assert isinstance(outcomes[3], KeyError) and isinstance(outcomes[4], KeyError)
    landed = store.callbacks("sub-1")
    assert [c.deliveries for c in landed] == [2, 2, 1] and {c.run_uid for c in landed} == {"run-1"}
    assert [c.run_uid for c in store.callbacks("sched-1")] == ["run-7"]
    assert store.land_callbacks([]) == []


def test_in_a_batch_the_first_callback_s_run_becomes_the_submission_s(store, secret):
    ada = "https://www.linkedin.com/in/ada"
    outcomes = store.land_callbacks(
        [("sub-1", page(ada, [], run_uid="run-5")), ("sub-1", page(ada, [1], run_uid="run-6"))]
    )
    assert outcomes[0] == LANDED and isinstance(outcomes[1], WrongRun)
    with pytest.raises(WrongRun, match="run-5"):
        store.attach_run("sub-1", "run-6")


def test_a_batch_the_database_fails_lands_none_of_its_callbacks(store, secret, tmp_path):
    ada = "https://www.linkedin.com/in/ada"
    with sqlite3.connect(tmp_path / "callbacks.sqlite") as db:  # a real failure, mid-batch
        db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON callbacks WHEN NEW.run_uid = 'run-1' "
            "AND NEW.kind = 'final' BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="boom"):
        store.land_callbacks([("sub-1", page(ada, [{"n": 1}])), ("sub-1", final())])
    assert store.callbacks() == []
    assert store.land_callback("sub-1", page(ada, [{"n": 1}])) == LANDED  # nothing half-landed
