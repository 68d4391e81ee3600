"""The simulator in a separate process, so its CPU is not the bench's and its lifetime is ours.

`SimProcess` starts `python -m captaindata_dagster simulator` on a free loopback port, reads the
URL it prints, reconfigures it between scenarios (`POST /_simulator/config`, `/_simulator/reset`)
and always stops it: on exit of the `with` block, on an exception, and at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import requests

REPO = Path(__file__).resolve().parent.parent
_LINE = re.compile(r"captaindata simulator on (\S+)\s+key=(\S+)")


def child_env(**extra: str | None) -> dict[str, str]:
    """The environment for a bench subprocess: the repo importable, no real key, `extra` applied.

    A value of None removes the variable.
    """
    env = dict(os.environ)
    for name in ("CAPTAINDATA_API_KEY", "CAPTAINDATA_BASE_URL", "CAPTAINDATA_SANDBOX"):
        env.pop(name, None)
    paths = [str(REPO), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class SimProcess:
    """A simulator subprocess on 127.0.0.1; `base_url`, `api_key`, `state()`, `configure()`."""

    def __init__(self, seed: int = 5, start_timeout_s: float = 30.0) -> None:
        self.api_key = f"bench-{secrets.token_hex(8)}"
        self.seed = seed
        self.start_timeout_s = start_timeout_s
        self.base_url = ""
        self.proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._http = requests.Session()

    def start(self) -> SimProcess:
        cmd = [
            sys.executable,
            "-m",
            "captaindata_dagster",
            "simulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--api-key",
            self.api_key,
            "--seed",
            str(self.seed),
        ]
        # stderr to a file: a pipe nobody reads would block the simulator once full.
        self._stderr = tempfile.TemporaryFile(mode="w+", prefix="cd-bench-sim-")
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=child_env(),
            cwd=REPO,
        )
        atexit.register(self.stop)
        line = self._first_line()
        m = _LINE.search(line)
        if m is None:
            self.stop()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.base_url = m.group(1)
        return self

    def _first_line(self) -> str:
        """The simulator's one line, or a clear error if it does not come in time."""
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.append(stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(self.start_timeout_s)
        if not out or not out[0]:
            err = ""
            if self.proc.poll() is not None and self._stderr is not None:
                self._stderr.seek(0)
                err = self._stderr.read()[-2000:]
            self.stop()
            raise RuntimeError(f"the simulator did not print its URL in time {err.strip()}")
        return out[0]

    def stop(self) -> None:
        """Terminate the simulator (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        proc, self.proc = self.proc, None
        self._http.close()
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for stream in (proc.stdout, self._stderr):
            if stream is not None:
                stream.close()
        self._stderr = None

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the simulator's own endpoints

    @property
    def root(self) -> str:
        return self.base_url.rsplit("/v4", 1)[0]

    def state(self) -> dict[str, Any]:
        """`GET /_simulator/state`: credits_used, calls, status_counts, requests."""
        resp = self._http.get(f"{self.root}/_simulator/state", timeout=30)
        resp.raise_for_status()
        return resp.json()

    def reset(self) -> None:
        """Forget the request log, the credits and the rate window."""
        self._http.post(f"{self.root}/_simulator/reset", timeout=30).raise_for_status()

    def configure(self, **changes: Any) -> None:
        """Change settings at runtime (rps, latency_ms, search_total, ...), then reset."""
        resp = self._http.post(f"{self.root}/_simulator/config", json=changes, timeout=30)
        if resp.status_code != 200:
            raise RuntimeError(f"simulator refused {changes}: {resp.text}")
        self.reset()

    def settle(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """The state once the request count stops moving (answers are logged as they are sent)."""
        state = self.state()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(0.05)
            again = self.state()
            if again["requests"] == state["requests"]:
                return again
            state = again
        return state
