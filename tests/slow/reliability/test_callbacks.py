"""Bulk mode's callbacks under abuse: a receiver SIGKILLed mid-stream, every callback sent twice
and out of order, and forged posts while a real run delivers.

Each scenario ends with the same three checks on the callback store: no input lost (every input's
page landed), none twice (exactly one row per input, whatever the deliveries), no forged row (every
row is one the simulator sent for the submission's run). The store is reopened from its file
before it is read, so what is checked is what was committed. Waits use `wait_until` (its timeout
only stops a stall); nothing asserts a duration.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from captaindata_dagster.api import CaptainDataClient
from captaindata_dagster.receiver import ReceiverServer, ReceiverSettings
from captaindata_dagster.simulator import Simulator, run_simulator
from captaindata_dagster.storage.callbacks import (
    FINAL,
    PAGE,
    CallbackStore,
    callback_headers,
    new_secret,
)
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[3]
ACTION = "linkedin-extract-people"
CLI = "from captaindata_dagster.cli import main; main()"
FINISHED = ("SUCCEEDED", "PARTIAL_SUCCEEDED", "FAILED", "BLOCKED", "STOPPED")


def profiles(n: int, tag: str = "rel") -> list[dict[str, Any]]:
    return [
        {"linkedin_profile_url": f"https://www.linkedin.com/in/{tag}-{i}", "custom_data": {"i": i}}
        for i in range(n)
    ]


def client_of(sim: Simulator) -> CaptainDataClient:
    return CaptainDataClient(sim.api_key, sim.base_url, max_retries=2)


def submit(sim: Simulator, store: CallbackStore, url: str, n: int, sub_id: str, tag: str = "rel"):
    """Register, submit with the callback headers, attach: (run_uid, the callback headers)."""
    secret = new_secret()
    store.register_submission(sub_id, secret, ACTION, inputs=n)
    headers = callback_headers(sub_id, secret)
    with client_of(sim) as client:
        run = client.run_async(ACTION, profiles(n, tag), callback_url=url, callback_headers=headers)
    store.attach_run(sub_id, run.run_uid)
    return run.run_uid, headers


def assert_each_input_once(path: Path, sub_id: str, run_uid: str, n: int, tag: str = "rel"):
    """The committed store, reopened: one page per input, one final, all of the run, no other."""
    with CallbackStore(path) as store:
        rows = store.callbacks(sub_id)
        every = store.callbacks()
        final = store.final_status(sub_id)
    pages = [c for c in rows if c.kind == PAGE]
    landed = Counter(c.payload["input"]["custom_data"]["i"] for c in pages)
    assert landed == Counter(range(n)), "an input is missing or landed twice"
    assert Counter(c.kind for c in rows) == {PAGE: n, FINAL: 1}
    assert final == "SUCCEEDED"
    assert all(c.run_uid == run_uid for c in rows)  # no forged run
    urls = {c.payload["input"]["linkedin_profile_url"] for c in pages}
    assert urls == {p["linkedin_profile_url"] for p in profiles(n, tag)}  # no forged input
    assert all(len(c.payload["results"]) == 1 for c in pages)
    return every


# ------------------------------------------------------------------ a receiver SIGKILLed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_receiver(port: int, store: Path) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-c", CLI, "receiver", "--port", str(port), "--store", str(store)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)

    def healthy() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(healthy, "the receiver never answered", alive=lambda: proc.poll() is None)
    return proc


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_receiver_killed_mid_stream_loses_nothing_once_failed_callbacks_are_replayed(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    n, path, port = 30, tmp_path / "callbacks.sqlite", free_port()
    url = f"http://127.0.0.1:{port}/callbacks"
    processes.append(start_receiver(port, path))
    with (
        run_simulator(seed=15, latency_ms=20, callback_retries=1, callback_backoff_s=0.0) as sim,
        CallbackStore(path) as store,
        client_of(sim) as client,
    ):
        run_uid, _ = submit(sim, store, url, n, "sub-kill")
        wait_until(lambda: len(store.callbacks("sub-kill")) >= n // 2, "no callback landed")
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait(timeout=30)
        landed_before = len(store.callbacks("sub-kill"))
        assert landed_before < n + 1, "the run ended before the kill: nothing was tested"

        def settled() -> bool:
            if client.get_run(run_uid).status not in FINISHED:
                return False
            sent = list(client.iter_callbacks(run_uid=run_uid))
            return len(sent) == n + 1 and all(c.status in ("SUCCESS", "FAILED") for c in sent)

        wait_until(settled, "the run's callbacks never all ended")
        failed = list(client.iter_callbacks(run_uid=run_uid, status="FAILED"))
        assert failed, "no callback failed while the receiver was down"
        assert len(failed) >= n + 1 - landed_before  # one in flight at the kill may have landed
        assert sim.credits_used == n  # the run was done and billed all the same

        processes.append(start_receiver(port, path))  # same port, same store
        replays = [client.replay_callback(c.uid) for c in failed]
        assert all(r.status == "SUCCESS" for r in replays)
        assert {r.parent_uid for r in replays} == {c.uid for c in failed}
    processes[1].send_signal(signal.SIGKILL)  # what it answered 2xx for is committed
    processes[1].wait(timeout=30)
    rows = assert_each_input_once(path, "sub-kill", run_uid, n)
    assert sum(len(c.payload["results"]) for c in rows if c.kind == PAGE) == n


# ------------------------------------------------------------------ duplicates and reorders


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "callbacks.sqlite"


@pytest.fixture
def receiver(store_path: Path) -> Iterator[tuple[ReceiverServer, CallbackStore]]:
    settings = ReceiverSettings(port=0, max_body_bytes=256 * 1024)
    with CallbackStore(store_path) as store, ReceiverServer(settings, store=store) as server:
        yield server, store


def test_every_callback_sent_twice_and_out_of_order_lands_once(receiver, store_path) -> None:
    server, store = receiver
    n = 50
    faults = {"duplicate": 1.0, "out_of_order": 1.0}
    with run_simulator(seed=16, callback_faults=faults, callback_backoff_s=0.0) as sim:
        run_uid, _ = submit(sim, store, server.callback_url, n, "sub-dup")
        wait_until(lambda: store.final_status("sub-dup"), "the final callback never landed")
        wait_until(  # each callback's second delivery may still be in flight
            lambda: sum(c.deliveries for c in store.callbacks("sub-dup")) == 2 * (n + 1),
            "the callbacks were not each delivered twice",
        )
        billed = sim.credits_used
    rows = assert_each_input_once(store_path, "sub-dup", run_uid, n)
    assert [c.deliveries for c in rows] == [2] * (n + 1)
    order = [c.payload["input"]["custom_data"]["i"] for c in rows if c.kind == PAGE]
    assert order != sorted(order), "the pages arrived in order: the reorder fault did nothing"
    assert sum(len(c.payload["results"]) for c in rows) == n == billed


# ------------------------------------------------------------------ forged callbacks


def forgeries(headers: dict[str, str], run_uid: str, other_run: str) -> list[tuple[Any, Any, int]]:
    """(headers, body, the answer expected) of each kind of forged post."""
    sub_id = headers["X-Captaindata-Submission"]

    def page(run: str, who: str) -> bytes:
        return json.dumps(
            {
                "run": {"run_uid": run, "batch_uid": "b-forged", "status": "RUNNING"},
                "input": {"linkedin_profile_url": f"https://www.linkedin.com/in/{who}"},
                "results": [{"full_name": who}],
            }
        ).encode()

    wrong = {**headers, "X-Captaindata-Secret": new_secret()}
    unknown = callback_headers("sub-nobody", headers["X-Captaindata-Secret"])
    deep = b'{"run": {"run_uid": "%s"}, "input": ' % run_uid.encode()
    deep += b"[" * 5000 + b"]" * 5000 + b"}"
    huge = page(run_uid, "mallory-huge")[:-1] + b', "pad": "' + b"x" * (512 * 1024) + b'"}'
    return [
        (wrong, page(run_uid, "mallory-secret"), 401),
        (unknown, page(run_uid, "mallory-unknown"), 401),
        ({"X-Captaindata-Submission": sub_id}, page(run_uid, "mallory-nosecret"), 401),
        (headers, page(other_run, "mallory-other-run"), 409),
        (headers, huge, 413),
        (headers, deep, 400),
        (headers, b"\x00not json at all", 400),
        (headers, b'["a list"]', 400),
    ]


def test_forged_callbacks_posted_during_a_real_run_land_nothing(receiver, store_path) -> None:
    server, store = receiver
    n = 30
    answers: Counter[tuple[int, int]] = Counter()
    with run_simulator(seed=17, latency_ms=10, callback_backoff_s=0.0) as sim:
        other_run, _ = submit(sim, store, server.callback_url, 2, "sub-other", tag="other")
        wait_until(lambda: store.final_status("sub-other"), "the other run never ended")
        run_uid, headers = submit(sim, store, server.callback_url, n, "sub-real")
        posts = forgeries(headers, run_uid, other_run)
        stop = threading.Event()

        def forge() -> None:
            with requests.Session() as session:
                while not stop.is_set():
                    for i, (h, body, expected) in enumerate(posts):
                        got = session.post(server.callback_url, data=body, headers=h, timeout=30)
                        answers[(i, got.status_code)] += 1
                        assert got.status_code == expected, (i, got.status_code, got.text[:200])

        forger = threading.Thread(target=forge, name="forger", daemon=True)
        forger.start()
        try:
            wait_until(lambda: store.final_status("sub-real"), "the real run never ended")
        finally:
            stop.set()
            forger.join(timeout=60)
        assert not forger.is_alive()
    expected = {(i, code) for i, (_, _, code) in enumerate(posts)}
    assert set(answers) == expected, f"a forged post was answered otherwise: {answers}"
    assert min(answers.values()) >= 1
    every = assert_each_input_once(store_path, "sub-real", run_uid, n)
    assert len(every) == (n + 1) + (2 + 1)  # the real run's and the other run's, nothing else
    assert not any("mallory" in json.dumps(c.payload) for c in every)
