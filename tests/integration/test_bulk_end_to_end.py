"""Bulk mode end to end on loopback: the client submits an async run to the simulator, which POSTs
its callbacks to the receiver (uvicorn on a free port), which lands them in a SQLite callback store.

What is pinned: every input's results land exactly once and the credits billed match them, even
when the simulator delivers callbacks twice or out of order; a post with a forged secret lands
nothing; callbacks the API could not deliver (receiver stopped, or the "unreachable" fault) end
FAILED in `list_callbacks` and land once each when replayed with the receiver back.

No assertion on wall-clock durations: waits use `wait_until` (its timeout only stops a stall).
"""

from __future__ import annotations

from collections import Counter
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

ACTION = "linkedin-extract-people"


def profiles(n: int) -> list[dict[str, Any]]:
    return [
        {"linkedin_profile_url": f"https://www.linkedin.com/in/person-{i}", "custom_data": {"i": i}}
        for i in range(n)
    ]


def client_of(sim: Simulator) -> CaptainDataClient:
    return CaptainDataClient(sim.api_key, sim.base_url, max_retries=2)


def submit(
    sim: Simulator, store: CallbackStore, url: str, inputs: list[dict[str, Any]], sub_id: str
) -> str:
    """Register the submission, submit the run with its callback headers, attach the run."""
    secret = new_secret()
    store.register_submission(sub_id, secret, ACTION, inputs=len(inputs))
    submission = client_of(sim).run_async(
        ACTION, inputs, callback_url=url, callback_headers=callback_headers(sub_id, secret)
    )
    store.attach_run(sub_id, submission.run_uid)
    return submission.run_uid


def landed_inputs(store: CallbackStore, sub_id: str) -> Counter[int]:
    """How many page callbacks landed per input (by its custom_data index)."""
    pages = [c for c in store.callbacks(sub_id) if c.kind == PAGE]
    return Counter(c.payload["input"]["custom_data"]["i"] for c in pages)


def results_landed(store: CallbackStore, sub_id: str) -> int:
    return sum(len(c.payload.get("results") or []) for c in store.callbacks(sub_id))


@pytest.mark.parametrize("faults", [{}, {"duplicate": 1.0}, {"out_of_order": 1.0}])
def test_every_input_lands_exactly_once_and_credits_match_results(
    store: CallbackStore, receiver: ReceiverServer, faults: dict[str, float]
) -> None:
    n = 4
    with run_simulator(seed=5, callback_faults=faults, callback_backoff_s=0.0) as sim:
        run_uid = submit(sim, store, receiver.callback_url, profiles(n), "sub-1")
        wait_until(lambda: store.final_status("sub-1"), "the final callback never landed")
        assert store.final_status("sub-1") == "SUCCEEDED"
        assert landed_inputs(store, "sub-1") == Counter(range(n))  # each input once
        kinds = Counter(c.kind for c in store.callbacks("sub-1"))
        assert kinds == {PAGE: n, FINAL: 1}
        assert all(c.run_uid == run_uid for c in store.callbacks("sub-1"))
        results = results_landed(store, "sub-1")
        assert results == n and sim.credits_used == results
        expected = [2 if "duplicate" in faults else 1] * (n + 1)
        wait_until(  # a duplicate's second delivery may still be in flight
            lambda: [c.deliveries for c in store.callbacks("sub-1")] == expected,
            "the callbacks were not delivered as often as sent",
        )
        assert [c.deliveries for c in store.callbacks("sub-1")] == expected
        # the API marks a delivery SUCCESS once it has the receiver's answer, which comes just
        # after the commit the deliveries count above saw: wait for it too
        wait_until(
            lambda: (
                {c.status for c in client_of(sim).list_callbacks(run_uid=run_uid).items}
                == {"SUCCESS"}
            ),
            "a delivery was not marked SUCCESS",
        )


def test_a_forged_secret_lands_nothing(store: CallbackStore, receiver: ReceiverServer) -> None:
    with run_simulator(seed=5) as sim:
        submit(sim, store, receiver.callback_url, profiles(1), "sub-1")
        wait_until(lambda: store.final_status("sub-1"), "the final callback never landed")
    before = store.callbacks("sub-1")
    forged = {
        "run": {"run_uid": before[0].run_uid, "batch_uid": "b", "status": "RUNNING"},
        "input": {"linkedin_profile_url": "https://www.linkedin.com/in/mallory"},
        "results": [{"full_name": "Mallory"}],
    }
    answer = requests.post(
        receiver.callback_url, json=forged, headers=callback_headers("sub-1", "guess"), timeout=10
    )
    assert answer.status_code == 401
    assert store.callbacks("sub-1") == before


@pytest.mark.parametrize("outage", ["receiver_stopped", "unreachable"])
def test_failed_callbacks_are_replayed_once_the_receiver_is_back(
    store: CallbackStore, receiver: ReceiverServer, outage: str
) -> None:
    n = 2
    with run_simulator(seed=5, callback_retries=1, callback_backoff_s=0.0) as sim:
        url, port = receiver.callback_url, receiver.port
        if outage == "receiver_stopped":
            receiver.stop()  # nothing listens on its port: every POST is refused
        else:
            sim.configure(callback_faults={"unreachable": 1.0})
        client = client_of(sim)
        run_uid = submit(sim, store, url, profiles(n), "sub-1")
        wait_until(
            lambda: len(client.list_callbacks(run_uid=run_uid, status="FAILED").items) == n + 1,
            "the callbacks never ended FAILED",
        )
        assert store.callbacks("sub-1") == []  # nothing reached the store
        assert sim.credits_used == n  # the run was done and billed all the same
        failed = client.list_callbacks(run_uid=run_uid, status="FAILED").items

        if outage == "receiver_stopped":
            back = ReceiverServer(ReceiverSettings(port=port), store=store).start()
        else:
            sim.configure(callback_faults={})
            back = None
        try:
            replays = [client.replay_callback(c.uid) for c in failed]
            assert all(r.status == "SUCCESS" and r.parent_uid is not None for r in replays)
            assert {r.parent_uid for r in replays} == {c.uid for c in failed}
            assert landed_inputs(store, "sub-1") == Counter(range(n))
            assert store.final_status("sub-1") == "SUCCEEDED"
            assert results_landed(store, "sub-1") == n == sim.credits_used
            # a second replay is acknowledged as a duplicate and lands nothing new
            again = client.replay_callback(failed[0].uid)
            assert again.status == "SUCCESS" and len(store.callbacks("sub-1")) == n + 1
            assert sum(c.deliveries for c in store.callbacks("sub-1")) == n + 2
        finally:
            if back is not None:
                back.stop()
