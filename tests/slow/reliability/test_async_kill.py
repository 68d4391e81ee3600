"""Async mode's step SIGKILLed, then relaunched: nothing lost, nothing submitted or landed twice.

A child process runs `run_bulk_batch` over N profiles; the simulator and a real receiver run here,
on loopback, the simulator slow enough (per-call latency) that the run lasts a few seconds. Two
kill points:

- while it waits: once its submission is recorded with its run and some callbacks landed in the
  ledger, the child is SIGKILLed from here;
- between recording the submission and the API's answer: the child's `run_async` makes the real
  call and then kills its own process, so the ledger holds a `sending` submission with no run.

A new child then runs the same batch. Every input has exactly one result, the simulator saw one
submission and billed N credits, and the ledger holds each key once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from captaindata_dagster.receiver import ReceiverServer, ReceiverSettings
from captaindata_dagster.simulator import Simulator, run_simulator
from captaindata_dagster.storage.callbacks import CallbackStore
from captaindata_dagster.storage.ledger import Ledger
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[3]
ACTION = "linkedin-extract-people"
N = 40

CHILD = """
import json, os, signal, sys
from captaindata_dagster.api import CaptainDataClient
from captaindata_dagster.engine.bulk import BulkSettings, run_bulk_batch
from captaindata_dagster.storage.callbacks import CallbackStore
from captaindata_dagster.storage.ledger import Ledger

url, key, callback_url, store_path, ledger_path, n, die_after_submit = sys.argv[1:8]
client = CaptainDataClient(key, url, max_retries=2)
if die_after_submit == "1":
    real = client.run_async

    def run_async_then_die(*args, **kwargs):
        real(*args, **kwargs)  # the API queued the run; the step dies before reading the answer
        os.kill(os.getpid(), signal.SIGKILL)

    client.run_async = run_async_then_die
inputs = [f"https://www.linkedin.com/in/async-kill-{i}" for i in range(int(n))]
with CallbackStore(store_path) as store, Ledger(ledger_path) as ledger:
    bulk = BulkSettings(callback_url=callback_url, store=store, poll_s=0.02, run_check_s=0.2,
                        final_check_s=0.0, replay_wait_s=10.0)
    result = run_bulk_batch(client, "linkedin-extract-people", inputs, bulk=bulk, ledger=ledger)
print(json.dumps({
    "inputs": sorted(result.results["_input"]),
    "errors": len(result.errors),
    "submitted": result.stats.submitted,
    "skipped_fresh": result.stats.skipped_fresh,
}))
"""


def urls(n: int) -> list[str]:
    return [f"https://www.linkedin.com/in/async-kill-{i}" for i in range(n)]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with run_simulator(seed=11, latency_ms=80, callback_backoff_s=0.0) as s:
        yield s


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallbackStore]:
    with CallbackStore(tmp_path / "callbacks.sqlite") as s:
        yield s


@pytest.fixture
def receiver(store: CallbackStore) -> Iterator[ReceiverServer]:
    with ReceiverServer(ReceiverSettings(port=0), store=store) as server:
        yield server


def start_child(
    tmp_path: Path, sim: Simulator, receiver: ReceiverServer, *, die_after_submit: bool = False
) -> subprocess.Popen[str]:
    script = tmp_path / "async_child.py"
    script.write_text(textwrap.dedent(CHILD))
    args = [
        sim.base_url,
        sim.api_key,
        receiver.callback_url,
        str(tmp_path / "callbacks.sqlite"),
        str(tmp_path / "ledger.sqlite"),
        str(N),
        "1" if die_after_submit else "0",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def submissions_seen(sim: Simulator) -> int:
    """The `run/async` submissions the simulator received (its own processing calls carry no
    `inputs` list)."""
    return sum(
        1
        for c in sim.calls()
        if c.method == "POST" and c.path.endswith("/run/async") and "inputs" in (c.body or {})
    )


def landed_keys(tmp_path: Path) -> list[str]:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        return [e.input_key for e in ledger.entries(ACTION, results=False)]


def assert_once_each(tmp_path: Path, sim: Simulator, relaunched: dict[str, Any]) -> None:
    assert relaunched["inputs"] == sorted(urls(N)), "an input is missing or doubled"
    assert relaunched["errors"] == 0 and relaunched["submitted"] == 0
    assert submissions_seen(sim) == 1
    assert sim.credits_used == N
    keys = landed_keys(tmp_path)
    assert len(keys) == len(set(keys)) == N
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert [r.state for r in ledger.bulk_submissions(ACTION)] == ["closed"]


def test_a_step_killed_while_waiting_resumes_its_run(
    tmp_path: Path, sim: Simulator, store: CallbackStore, receiver: ReceiverServer
) -> None:
    child = start_child(tmp_path, sim, receiver)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:

        def waiting_with_some_landed() -> bool:
            subs = ledger.bulk_submissions(ACTION)
            return bool(subs and subs[0].run_uid) and 3 <= len(landed_keys(tmp_path)) < N

        wait_until(
            waiting_with_some_landed,
            "the child never landed a callback while waiting",
            alive=lambda: child.poll() is None,
        )
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        (record,) = ledger.bulk_submissions(ACTION)
        assert record.is_open and record.run_uid is not None
        landed_before = len(landed_keys(tmp_path))
        assert landed_before < N  # killed mid-run: the relaunch has work left
    finally:
        ledger.close()

    relaunched = finished(start_child(tmp_path, sim, receiver))
    assert relaunched["skipped_fresh"] >= landed_before
    assert_once_each(tmp_path, sim, relaunched)


def test_a_step_killed_before_the_submissions_answer_finds_its_run(
    tmp_path: Path, sim: Simulator, store: CallbackStore, receiver: ReceiverServer
) -> None:
    child = start_child(tmp_path, sim, receiver, die_after_submit=True)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        (record,) = ledger.bulk_submissions(ACTION)
    assert record.state == "sending" and record.run_uid is None  # the answer never read
    assert submissions_seen(sim) == 1

    relaunched = finished(start_child(tmp_path, sim, receiver))
    assert_once_each(tmp_path, sim, relaunched)
