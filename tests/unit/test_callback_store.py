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
    SECRET_HEADER,
    SUBMISSION_HEADER,
    CallbackStore,
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


def final(status: str = "SUCCEEDED", run_uid: str = "run-1") -> dict:
    return {"run": {"run_uid": run_uid, "batch_uid": None, "status": status}, "input": None}


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
    with pytest.raises(ValueError, match="already has run"):
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
    assert store.land_callback("sub-1", final("FAILED")) == LANDED
    assert store.final_status("sub-1") == "FAILED"
    assert store.land_callback("sub-1", final("SUCCEEDED")) == LANDED  # resumed, then ended
    assert store.land_callback("sub-1", final("SUCCEEDED")) == DUPLICATE
    assert store.final_status("sub-1") == "SUCCEEDED"
    assert [c.kind for c in store.callbacks("sub-1")].count(FINAL) == 2


def test_callbacks_landed_from_many_threads_land_once_each(store, secret):
    calls = [page(f"https://www.linkedin.com/in/p{i}", [{"n": i}]) for i in range(20)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def post(payload: dict) -> None:
        outcome = store.land_callback("sub-1", payload)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=post, args=(c,)) for c in calls + calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == sorted([LANDED] * 20 + [DUPLICATE] * 20)
    assert len(store.callbacks("sub-1")) == 20


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
        (b"{}", "`run` must be an object"),
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
