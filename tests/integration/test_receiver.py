"""The callback receiver over real HTTP on loopback (uvicorn in a thread), and its store on
PostgreSQL.

What a post is answered and what lands: a valid callback lands once, a redelivery is acknowledged
and lands nothing, a forged secret or an unknown submission (both 401: the answer does not tell
which ids exist) lands nothing, a body over the limit is refused while it is read (413), garbage
is 400, a callback of another run 409, and 20 callbacks posted at once land exactly once each.
Callbacks posted together are committed together (the group commit), each answered on its own,
and a transaction the database fails is a 503 for each of its callbacks. The command's options parse into the receiver's settings, which refuse plain http to the Internet.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from captaindata_dagster.cli import main
from captaindata_dagster.receiver import ReceiverServer, ReceiverSettings
from captaindata_dagster.receiver.group_commit import GroupCommitter
from captaindata_dagster.receiver.settings import PUBLIC_URL_ENV
from captaindata_dagster.storage.callbacks import (
    DUPLICATE,
    LANDED,
    CallbackStore,
    callback_headers,
    new_secret,
)
from tests.helpers import FakeClock, wait_until

ACTION = "linkedin-extract-people"
LIMIT = 4096


def page(n: int, run_uid: str = "run-1") -> dict:
    return {
        "run": {"run_uid": run_uid, "batch_uid": "b-1", "status": "RUNNING"},
        "input": {"linkedin_profile_url": f"https://www.linkedin.com/in/p{n}"},
        "custom_data": None,
        "error": None,
        "results": [{"full_name": f"Person {n}"}],
    }


@pytest.fixture
def store(tmp_path: Path):
    with CallbackStore(tmp_path / "callbacks.sqlite") as s:
        yield s


@pytest.fixture
def headers(store: CallbackStore) -> dict[str, str]:
    secret = new_secret()
    store.register_submission("sub-1", secret, ACTION)
    store.attach_run("sub-1", "run-1")
    return callback_headers("sub-1", secret)


@pytest.fixture
def receiver(store: CallbackStore):
    settings = ReceiverSettings(port=0, max_body_bytes=LIMIT, public_url="https://hooks.example")
    with ReceiverServer(settings, store=store) as server:
        yield server


def post(receiver: ReceiverServer, body, headers: dict[str, str]) -> requests.Response:
    data = body if isinstance(body, (bytes, str)) or hasattr(body, "__next__") else json.dumps(body)
    return requests.post(
        receiver.base_url + "/callbacks",
        data=data,
        headers={"Content-Type": "application/json", **headers},
        timeout=30,
    )


def test_a_valid_callback_lands_once_and_a_redelivery_lands_nothing(receiver, store, headers):
    assert receiver.callback_url == "https://hooks.example/callbacks"
    first = post(receiver, page(1), headers)
    assert (first.status_code, first.json()) == (200, {"outcome": LANDED})
    again = post(receiver, page(1), headers)
    assert (again.status_code, again.json()) == (200, {"outcome": DUPLICATE})
    (landed,) = store.callbacks("sub-1")
    assert landed.payload == page(1) and landed.deliveries == 2


def test_a_forged_secret_or_an_unknown_submission_lands_nothing(receiver, store, headers):
    forged = {**headers, "X-Captaindata-Secret": new_secret()}
    assert post(receiver, page(1), forged).status_code == 401
    unknown = callback_headers("sub-404", headers["X-Captaindata-Secret"])
    answer = post(receiver, page(1), unknown)
    assert (answer.status_code, answer.json()) == (401, post(receiver, page(1), forged).json())
    assert post(receiver, page(1), {}).status_code == 401
    assert store.callbacks() == []


def test_a_body_over_the_limit_is_refused_declared_or_streamed(receiver, store, headers):
    big = json.dumps({**page(1), "results": ["x" * LIMIT]}).encode()
    assert post(receiver, big, headers).status_code == 413  # by its Content-Length
    chunks = iter([big[i : i + 512] for i in range(0, len(big), 512)])
    assert post(receiver, chunks, headers).status_code == 413  # chunked: counted while read
    assert store.callbacks() == []


def test_garbage_is_400_and_another_run_409(receiver, store, headers):
    assert post(receiver, b"{not json", headers).status_code == 400
    assert post(receiver, {"run": {}}, headers).status_code == 400
    assert post(receiver, page(1, run_uid="run-2"), headers).status_code == 409
    deep = b'{"run": {"run_uid": "run-1"}, "input": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    assert post(receiver, deep, headers).status_code == 400  # nested past the parser: not a 500
    assert store.callbacks() == []


def test_before_the_run_is_attached_the_first_callback_s_run_is_the_submission_s(receiver, store):
    secret = new_secret()
    store.register_submission("sub-2", secret, ACTION)  # the API has not answered yet
    headers = callback_headers("sub-2", secret)
    assert post(receiver, page(1, run_uid="run-1"), headers).json() == {"outcome": LANDED}
    assert post(receiver, page(2, run_uid="run-9"), headers).status_code == 409
    with pytest.raises(ValueError, match="run-1"):
        store.attach_run("sub-2", "run-9")
    assert [c.run_uid for c in store.callbacks("sub-2")] == ["run-1"]


def test_a_callback_off_its_action_s_schema_is_400(receiver, store, headers):
    """The submission ran linkedin-extract-people: its callback schema decides, not just shape."""
    off = {**page(1), "run": {"run_uid": "run-1", "batch_uid": "b-1", "status": "DONE"}}
    refused = post(receiver, off, headers)
    assert refused.status_code == 400 and "run.status" in refused.json()["error"]
    not_people = {**page(1), "results": [{"data": {}, "meta": {}}]}
    assert post(receiver, not_people, headers).status_code == 400
    assert store.callbacks() == []
    secret = new_secret()  # an action the catalog does not know: the structural check alone
    store.register_submission("sub-2", secret, "no-such-action")
    assert post(receiver, off, callback_headers("sub-2", secret)).json() == {"outcome": LANDED}


def test_health_says_whether_the_store_answers(receiver, tmp_path):
    ok = requests.get(receiver.base_url + "/health", timeout=30)
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    (tmp_path / "file").write_text("")
    broken = CallbackStore(tmp_path / "file" / "callbacks.sqlite")  # its folder is a file
    with ReceiverServer(ReceiverSettings(port=0), store=broken) as down:
        assert requests.get(down.base_url + "/health", timeout=30).status_code == 503


def test_twenty_callbacks_posted_at_once_land_exactly_once_each(receiver, store, headers):
    bodies = [page(n) for n in range(20)] * 2  # each twice, all at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda b: post(receiver, b, headers), bodies))
    assert {a.status_code for a in answers} == {200}
    outcomes = sorted(a.json()["outcome"] for a in answers)
    assert outcomes == sorted([LANDED] * 20 + [DUPLICATE] * 20)
    landed = store.callbacks("sub-1")
    assert len(landed) == 20 and {c.deliveries for c in landed} == {2}


def test_the_command_parses_its_options_into_the_settings(monkeypatch, tmp_path):
    served: list[tuple[ReceiverSettings, CallbackStore]] = []
    monkeypatch.setattr(
        "captaindata_dagster.receiver.server.serve_receiver",
        lambda settings, store: served.append((settings, store)),
    )
    args = ["receiver", "--host", "0.0.0.0", "--port", "9000", "--public-url",
            "https://hooks.example/x/", "--store", str(tmp_path / "cb.sqlite"),
            "--max-body-bytes", "1000", "--json"]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "callback_url": "https://hooks.example/x/callbacks",
        "store": str(tmp_path / "cb.sqlite"),
    }
    ((settings, store),) = served
    assert (settings.host, settings.port, settings.max_body_bytes) == ("0.0.0.0", 9000, 1000)
    assert store.path == tmp_path / "cb.sqlite"
    for bad in (["--port", "70000"], ["--public-url", "ftp://x"], ["--max-body-bytes", "0"],
                ["--public-url", "http://hooks.example"]):  # fmt: skip
        refused = CliRunner().invoke(main, ["receiver", *bad])
        assert refused.exit_code == 2, (bad, refused.output)
    public = CliRunner().invoke(main, ["receiver", "--host", "0.0.0.0", "--port", "9000"])
    assert public.exit_code == 2 and "--public-url" in public.output
    assert served == [served[0]]


def test_the_public_url_is_https_unless_loopback_and_read_once(monkeypatch):
    monkeypatch.delenv(PUBLIC_URL_ENV, raising=False)
    with pytest.raises(ValueError, match="https"):
        ReceiverSettings(public_url="http://hooks.example")
    for local in ("http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000"):
        assert ReceiverSettings(public_url=local).callback_url() == local + "/callbacks"
    assert ReceiverSettings(port=9).callback_url() == "http://127.0.0.1:9/callbacks"
    with pytest.raises(ValueError, match="--public-url"):
        ReceiverSettings(host="0.0.0.0").callback_url()
    monkeypatch.setenv(PUBLIC_URL_ENV, "https://one.example")
    settings = ReceiverSettings(host="0.0.0.0")
    monkeypatch.setenv(PUBLIC_URL_ENV, "http://two.example")  # refused, were it read again
    assert settings.public_url == "https://one.example"
    assert settings.callback_url() == "https://one.example/callbacks"
    with pytest.raises(ValueError, match="https"):
        ReceiverSettings()


def test_a_receiver_that_does_not_start_gives_up_on_the_injected_clock(store):
    fake = FakeClock()
    server = ReceiverServer(
        ReceiverSettings(port=0), store=store, start_timeout_s=0.05, clock=fake, sleep=fake.sleep
    )
    told_to_exit = threading.Event()

    def never_listens(*args: object, **kwargs: object) -> None:  # alive, never started
        while not server.server.should_exit and not told_to_exit.wait(0.005):
            pass

    server.server.run = never_listens
    try:
        with pytest.raises(RuntimeError, match="did not start"):
            server.start()
    finally:
        told_to_exit.set()
        server.stop()
    assert fake.waits and set(fake.waits) == {0.01} and len(fake.waits) <= 6


def test_the_store_on_postgresql_lands_each_callback_once(pg_url: str):
    with CallbackStore(pg_url) as store, CallbackStore(pg_url) as other:
        secret = new_secret()
        store.register_submission("sub-pg", secret, ACTION)
        assert store.authenticate("sub-pg", secret) and not store.authenticate("sub-pg", "x")
        store.attach_run("sub-pg", "run-1")
        bodies = [page(n) for n in range(20)] * 2  # each once through each store, at once
        jobs = [(s, b) for b in bodies[:20] for s in (store, other)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = sorted(pool.map(lambda j: j[0].land_callback("sub-pg", j[1]), jobs))
        assert outcomes == sorted([LANDED] * 20 + [DUPLICATE] * 20)
        final = {"run": {"run_uid": "run-1", "status": "SUCCEEDED"}, "input": None}
        with pytest.raises(ValueError):
            other.land_callback("sub-pg", {**final, "run": {**final["run"], "run_uid": "run-2"}})
        assert store.land_callback("sub-pg", final) == LANDED
        assert store.final_status("sub-pg") == "SUCCEEDED"
        assert len(store.callbacks("sub-pg")) == 21 and store.integrity_ok()
        store.register_submission("sub-pg2", new_secret(), ACTION)  # no run attached yet
        batch = [("sub-pg2", page(1, run_uid="run-5")), ("sub-pg", page(1))]
        batch += [("sub-pg2", page(2, run_uid="run-6")), ("sub-404", page(3))]
        outcomes = store.land_callbacks(batch)
        assert outcomes[:2] == [LANDED, DUPLICATE]
        assert isinstance(outcomes[2], ValueError) and isinstance(outcomes[3], KeyError)
        with ThreadPoolExecutor(max_workers=2) as pool:  # two batches at once lock in one order
            pages = [("sub-pg2", page(n, run_uid="run-5")) for n in range(3, 9)]
            twice = list(pool.map(lambda s: s.land_callbacks(pages), (store, other)))
        assert sorted(twice[0] + twice[1]) == sorted([LANDED] * 6 + [DUPLICATE] * 6)


def test_what_arrives_during_a_commit_is_the_next_batch_and_each_hears_its_own_outcome():
    """The group commit alone, on an event loop: no waiting for a batch to fill, no mixing."""
    batches: list[list[int]] = []
    committing, release = threading.Event(), threading.Event()

    def commit(items: list[int]) -> list[str | Exception]:
        batches.append(items)
        committing.set()
        release.wait(30)
        if 99 in items:
            raise sqlite3.OperationalError("disk I/O error")
        return [ValueError(i) if i % 2 else f"ok {i}" for i in items]

    async def scenario() -> list[object]:
        committer: GroupCommitter[int, str] = GroupCommitter(commit, max_batch=3)
        first = asyncio.ensure_future(committer.submit(0))
        await asyncio.to_thread(committing.wait, 30)  # batch [0] is committing
        rest = [asyncio.ensure_future(committer.submit(i)) for i in (1, 2, 3, 4)]
        await asyncio.sleep(0)  # each of them queued
        release.set()
        answers = await asyncio.gather(first, *rest, return_exceptions=True)
        failed = await asyncio.gather(committer.submit(99), return_exceptions=True)
        return [*answers, *failed]

    answers = asyncio.run(scenario())
    assert batches == [[0], [1, 2, 3], [4], [99]]
    assert [str(a) for a in answers[:5]] == ["ok 0", "1", "ok 2", "3", "ok 4"]
    assert isinstance(answers[1], ValueError) and isinstance(answers[5], sqlite3.OperationalError)


class _HeldStore(CallbackStore):
    """A store whose first `land_callbacks` waits until released: the next posts queue up."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[int] = []
        self.release = threading.Event()

    def land_callbacks(self, items):
        self.batches.append(len(items))
        self.release.wait(30)
        return super().land_callbacks(items)


def test_posts_queued_behind_a_commit_land_together_each_answered_alone(tmp_path):
    with _HeldStore(tmp_path / "callbacks.sqlite") as store:
        secret = new_secret()
        store.register_submission("sub-1", secret, ACTION)
        headers = callback_headers("sub-1", secret)
        settings = ReceiverSettings(port=0, max_body_bytes=LIMIT)
        with ReceiverServer(settings, store=store) as server, ThreadPoolExecutor(5) as pool:
            first = pool.submit(post, server, page(0), headers)
            wait_until(lambda: store.batches == [1], "the first commit never started")
            app: Any = server.server.config.app  # the receiver's queue, to see the posts wait
            pending = app.routes[0].endpoint.__self__._committer._waiting
            bodies = [b"{not json", page(1, run_uid="run-2"), page(2), page(2)]
            answers = [pool.submit(post, server, b, headers) for b in bodies]
            wait_until(lambda: len(pending) == 4, "the posts never queued behind the commit")
            store.release.set()
            codes = [a.result().status_code for a in (first, *answers)]
            outcomes = [a.result().json()["outcome"] for a in answers[2:]]
        assert store.batches == [1, 3]  # the garbage is refused before the store
        assert codes == [200, 400, 409, 200, 200] and sorted(outcomes) == [DUPLICATE, LANDED]
        assert [c.deliveries for c in store.callbacks("sub-1")] == [1, 2]


def test_a_transaction_the_database_fails_is_a_503_and_lands_nothing(receiver, store, headers):
    db = sqlite3.connect(store.location)
    db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON callbacks WHEN NEW.payload_json LIKE '%/p666%' "
        "BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    db.commit()
    db.close()
    assert post(receiver, page(666), headers).status_code == 503
    assert store.callbacks() == []
    assert post(receiver, page(1), headers).json() == {"outcome": LANDED}
