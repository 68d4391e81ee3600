"""The `captaindata-dagster` command line against servers on loopback: refusals, the simulator.

The identities/users flows run in tests/integration/test_accounts.py and test_identities.py; here:
an API refusal exits 1 without printing the key, `simulator` serves until Ctrl-C (in this process,
through click's `CliRunner`) or refuses a taken port, and `python -m captaindata_dagster` is the
same command.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading

import requests
from click.testing import CliRunner, Result

from captaindata_dagster.cli import main
from tests.helpers import ROOT, TEST_KEY, wait_until


def cli(*args: str) -> Result:
    """Run `captaindata-dagster ARGS` in this process; an unexpected exception fails the test."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_an_api_refusal_exits_1_and_never_prints_the_key(sim, api_env, monkeypatch):
    monkeypatch.setenv("CAPTAINDATA_API_KEY", "cd-wrong-key-DO-NOT-LEAK")
    for group in ("identities", "users"):
        refused = cli(group, "list", "--json")
        assert refused.exit_code == 1 and refused.stdout == ""
        assert "the API refused" in refused.stderr and "401" in refused.stderr
        assert "DO-NOT-LEAK" not in refused.output
    monkeypatch.setenv("CAPTAINDATA_API_KEY", sim.api_key)
    listed = cli("identities", "list", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
    assert TEST_KEY not in listed.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_the_simulator_command_serves_until_ctrl_c():
    port = _free_port()
    finished = threading.Event()
    answers: list[int] = []

    def call_then_interrupt() -> None:
        wait_until(
            lambda: _reachable(port), "the simulator serves", alive=lambda: not finished.is_set()
        )
        base = f"http://127.0.0.1:{port}/v4"
        answers.append(
            requests.get(f"{base}/workspaces", headers={"X-API-Key": "k"}, timeout=5).status_code
        )
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: the command's handler stops the server

    caller = threading.Thread(target=call_then_interrupt, daemon=True)
    before = signal.getsignal(signal.SIGINT)
    caller.start()
    try:
        served = cli("simulator", "--port", str(port), "--api-key", "k", "--seed", "7", "--json")
    finally:
        finished.set()
        caller.join(timeout=30)
    assert served.exit_code == 0, served.output
    assert json.loads(served.stdout) == {"base_url": f"http://127.0.0.1:{port}/v4", "api_key": "k"}
    assert answers == [200]
    assert not _reachable(port)  # stopped
    assert signal.getsignal(signal.SIGINT) is before  # the handler it set is undone


def test_the_simulator_command_refuses_a_taken_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        refused = cli("simulator", "--port", str(taken.getsockname()[1]))
    assert refused.exit_code == 2 and "Error:" in refused.stderr and refused.stdout == ""


def test_python_m_runs_the_same_command():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    shown = subprocess.run(
        [sys.executable, "-m", "captaindata_dagster", "simulator", "--help"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0 and "--fault NAME=RATE" in shown.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "captaindata_dagster", "users", "list", "--sandbox", "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == [
        "Ada Lovelace", "Grace Hopper", "Alan Turing",
    ]  # fmt: skip
