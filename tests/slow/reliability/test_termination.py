"""Stopping means stopping: a terminated or orphaned step starts no new API call.

Real runs: `dagster asset materialize` (multiprocess executor: the step runs in a child process)
against a simulator slow enough (`latency_ms`) that the run is mid-way when it is signalled.

- SIGTERM to the materialize process (what the UI's "Terminate" amounts to): once the process has
  exited, the simulator gets no new request, and every call it answered is recorded (the batch
  ledger, the outreach store: nothing left `pending`).
- SIGKILL of the materialize process: its step process is sent nothing, notices its parent is gone,
  and stops calling too (then exits).

No timing is asserted beyond "no new request for QUIET_S seconds" and generous deadlines; each run
is bounded (a few hundred inputs), so a test that fails still ends by itself.
"""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from captaindata_dagster.api.stopping import CallStopped, Stop, bound
from captaindata_dagster.engine.outreach import run_outreach
from captaindata_dagster.storage.ledger import Ledger
from captaindata_dagster.storage.outreach_records import FAILED, PENDING, SENT, OutreachStore

ROOT = Path(__file__).resolve().parents[3]
PROFILE = "linkedin-extract-people"
CONNECT = "linkedin-connect-profile"
USERS = ["t-1", "t-2", "t-3", "t-4"]
INPUTS = 300  # at 4 calls in flight and LATENCY_MS each: ~15 s of calls, far more than a stop takes
LATENCY_MS = 200
STARTED = 12  # calls seen before the signal: the step is well under way
QUIET_S = 4.0  # no new request for this long after the stop: stopped
DEFS = """
import dagster as dg
import pandas as pd
from captaindata_dagster import CaptainDataResource, build_action_asset
from captaindata_dagster.orchestration.outreach.factories import build_outreach_asset

URLS = [f"https://www.linkedin.com/in/stop-{{i}}" for i in range({inputs})]
profiles = build_action_asset({profile!r}, name="profiles", inputs=URLS)


@dg.asset
def people() -> pd.DataFrame:
    return pd.DataFrame({{"linkedin_profile_url": URLS}})


connect = build_outreach_asset(
    {connect!r}, name="connect", upstream=people, campaign="stop", message="Hi",
    daily_cap_per_account={inputs}, store_path={store!r},
)
defs = dg.Definitions(
    assets=[profiles, people, connect],
    resources={{
        "captaindata": CaptainDataResource(
            api_key=dg.EnvVar("CAPTAINDATA_API_KEY"), base_url={url!r}, ledger_path={ledger!r},
            integration_users={users!r},
        ),
    }},
)
"""
ENGINES = {  # engine -> (asset selection, the action its calls go to)
    "batch": ("profiles,profiles_errors", PROFILE),
    "outreach": ("people*", CONNECT),
}


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def step_processes(root: int) -> list[int]:
    """The multiprocessing children (Dagster's step processes) under `root`."""
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    tree, found = {root}, True
    while found:
        found = False
        for pid in pids:
            if pid not in tree and _ppid(pid) in tree:
                tree.add(pid)
                found = True
    steps = []
    for pid in tree - {root}:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            steps.append(pid)
    return steps


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def quiet_for(sim, seconds: float, deadline_s: float = 90.0) -> int:
    """Wait until the simulator got no new request for `seconds`; the requests counted then."""
    end = time.monotonic() + deadline_s
    seen, since = len(sim.requests), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.25)
        now = len(sim.requests)
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return seen
    raise AssertionError(f"the API was still being called {deadline_s:g}s after the stop")


def start(sim, tmp_path: Path, engine: str) -> subprocess.Popen:
    defs = tmp_path / "stop_defs.py"
    defs.write_text(
        DEFS.format(
            inputs=INPUTS, profile=PROFILE, connect=CONNECT, users=USERS, url=sim.base_url,
            ledger=str(tmp_path / "ledger.sqlite"), store=str(tmp_path / "outreach.sqlite"),
        )
    )  # fmt: skip
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env["CAPTAINDATA_API_KEY"] = sim.api_key
    dagster = str(Path(sys.executable).with_name("dagster"))
    cmd = [dagster, "asset", "materialize", "-f", str(defs), "--select", ENGINES[engine][0]]
    with open(tmp_path / "materialize.log", "wb") as out:
        return subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)


def signal_mid_run(sim, tmp_path: Path, engine: str, signum: int) -> tuple[list[int], int]:
    """Start a run, signal it once its step made STARTED calls; (step pids, calls at signal)."""
    action = ENGINES[engine][1]
    proc = start(sim, tmp_path, engine)
    steps: list[int] = []
    try:
        deadline = time.monotonic() + 180
        while len(sim.calls(action)) < STARTED:
            log = (tmp_path / "materialize.log").read_text(errors="replace")
            assert proc.poll() is None, f"the run ended before the signal:\n{log[-3000:]}"
            assert time.monotonic() < deadline, f"no call in 180s:\n{log[-3000:]}"
            time.sleep(0.05)
        steps = step_processes(proc.pid)
        assert steps, "no step subprocess: the multiprocess executor is expected"
        at_signal = len(sim.calls(action))
        proc.send_signal(signum)
        proc.wait(timeout=180)
        return steps, at_signal
    except BaseException:
        for pid in [proc.pid, *steps]:  # the processes this test started, by their id
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        raise


def assert_recorded(sim, tmp_path: Path, engine: str) -> None:
    """Every call the simulator answered is in the ledger (batch) or settled (outreach)."""
    if engine == "batch":
        answered = {r.input["linkedin_profile_url"] for r in sim.calls(PROFILE) if r.status == 200}
        with Ledger(tmp_path / "ledger.sqlite") as led:
            assert led.integrity_ok()
            stored = {e.input["linkedin_profile_url"] for e in led.entries(PROFILE, results=False)}
        assert answered and answered <= stored, f"{len(answered - stored)} paid calls not in ledger"
        return
    performed = {r.input["linkedin_profile_url"] for r in sim.calls(CONNECT) if r.performed}
    urls = [f"https://www.linkedin.com/in/stop-{i}" for i in range(INPUTS)]
    with OutreachStore(tmp_path / "outreach.sqlite") as store:
        records = {u: store.get("stop", CONNECT, u) for u in urls}
    states = {u: r.state for u, r in records.items() if r is not None}
    assert performed and all(states.get(u) == SENT for u in performed)
    assert PENDING not in states.values(), "a send left pending: it was not settled"
    assert set(states.values()) <= {SENT, FAILED}


@pytest.mark.parametrize("engine", list(ENGINES))
def test_sigterm_stops_every_call_and_records_those_in_flight(make_sim, tmp_path, engine):
    sim = make_sim(latency_ms=LATENCY_MS)
    action = ENGINES[engine][1]
    steps, at_signal = signal_mid_run(sim, tmp_path, engine, signal.SIGTERM)
    at_exit = len(sim.requests)
    assert not any(alive(pid) for pid in steps), "the step process outlived the run"
    assert quiet_for(sim, QUIET_S) == at_exit, "requests were sent after the run exited"
    calls = len(sim.calls(action))
    assert calls < INPUTS, f"the run went on to the end ({calls} calls): it was not stopped"
    print(f"{engine}: {at_signal} calls at SIGTERM, {calls} in all, of {INPUTS} inputs")
    assert_recorded(sim, tmp_path, engine)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_sigkill_of_the_run_stops_its_orphaned_step(make_sim, tmp_path, engine):
    sim = make_sim(latency_ms=LATENCY_MS)
    action = ENGINES[engine][1]
    steps, at_signal = signal_mid_run(sim, tmp_path, engine, signal.SIGKILL)
    try:
        total = quiet_for(sim, QUIET_S)
        calls = len(sim.calls(action))
        assert calls < INPUTS, f"the orphaned step went on to the end ({calls} calls)"
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in steps) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(pid) for pid in steps), "the orphaned step process never exited"
        assert len(sim.requests) == total
    finally:
        for pid in steps:  # started by this test (through the killed run), by their id
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    print(f"{engine}: {at_signal} calls at SIGKILL, {calls} in all, of {INPUTS} inputs")
    assert_recorded(sim, tmp_path, engine)


# ---------------------------------------------------------------- in process, without Dagster


def test_ctrl_c_stops_run_outreach_and_settles_the_sends_in_flight(make_sim, make_client, tmp_path):
    sim = make_sim(latency_ms=LATENCY_MS)
    client = make_client(sim, integration_users=USERS)
    urls = [f"https://www.linkedin.com/in/stop-{i}" for i in range(INPUTS)]

    def interrupt() -> None:
        while len(sim.calls(CONNECT)) < STARTED:
            time.sleep(0.02)
        _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread

    threading.Thread(target=interrupt, daemon=True).start()
    with OutreachStore(tmp_path / "outreach.sqlite") as store, pytest.raises(KeyboardInterrupt):
        run_outreach(client, store, CONNECT, urls, campaign="stop", message="Hi",
                     daily_cap_per_account=INPUTS)  # fmt: skip
    at_return = len(sim.requests)
    assert quiet_for(sim, QUIET_S) == at_return, "requests were sent after run_outreach raised"
    assert len(sim.calls(CONNECT)) < INPUTS
    assert_recorded(sim, tmp_path, "outreach")


def test_a_stopped_thread_sends_no_retry(make_sim, make_client):
    """A call waiting out a 429's Retry-After when the run stops is not sent again."""
    sim = make_sim(faults={"STATUS_429": 1.0}, retry_after_s=20)
    client = make_client(sim, max_retries=1)
    stop, raised = Stop(), []

    def call() -> None:
        with bound(stop):
            try:
                client.run_action(
                    PROFILE, {"linkedin_profile_url": "https://www.linkedin.com/in/x"}
                )
            except BaseException as exc:
                raised.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while not sim.calls(PROFILE) and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    worker.join(timeout=10)  # well under the 20 s the retry would wait
    assert not worker.is_alive(), "the back-off before the retry was not cut short"
    assert len(raised) == 1 and isinstance(raised[0], CallStopped)
    assert len(sim.calls(PROFILE)) == 1
