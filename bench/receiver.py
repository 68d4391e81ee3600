"""The receiver's throughput against the callback store's own: can HTTP keep up with the database?

Bulk mode's callbacks land through the receiver (`captaindata_dagster.receiver`): uvicorn reads
the post, checks its headers and shape, and commits it to the `CallbackStore`. The store's commit
is the floor nobody can beat, so the receiver is measured against it, side by side in one run:

- raw: N page callbacks (a linkedin-extract-people page with one result item, the simulator's)
  landed with `CallbackStore.land_callback` in one thread, rows per second;
- receiver: the same N payloads POSTed over loopback HTTP to `captaindata-dagster receiver` in its
  own process, on a fresh store, rows per second. The client is the instrument, not what is
  measured (in production the API posts from its own servers), so it is as light as can be:
  `http.client` keep-alive connections, one per client thread, bodies serialized beforehand;
  enough threads (8) that the receiver's group commit has concurrent callbacks to batch.

The target is receiver/raw >= 0.5. Both run on SQLite, and on PostgreSQL when
`CAPTAINDATA_TEST_POSTGRES_URL` names a server (a superuser's URL: each measure gets a database of
its own, dropped afterwards, so the bench never meets the tests' data); without it the PostgreSQL
figures are reported as skipped in the notes.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import requests

from captaindata_dagster import CaptainDataClient
from captaindata_dagster.simulator import sample_input
from captaindata_dagster.storage.callbacks import (
    CALLBACK_STORE_ENV,
    LANDED,
    SUBMISSION_HEADER,
    CallbackStore,
    callback_headers,
)

from .report import Check, Result, check
from .sim import child_env

if TYPE_CHECKING:
    from .scenarios import Context

ACTION = "linkedin-extract-people"
POSTGRES_URL_ENV = "CAPTAINDATA_TEST_POSTGRES_URL"
TARGET_RATIO = 0.5
_CLI = "from captaindata_dagster.cli import main; main()"


@dataclass(frozen=True)
class ReceiverBenchSettings:
    """N payloads, posted by `threads` client threads; tiny under `--smoke`."""

    n: int = 3000
    threads: int = 8

    @classmethod
    def of(cls, ctx: Context) -> ReceiverBenchSettings:
        return cls(n=30, threads=2) if ctx.smoke else cls()


@dataclass(frozen=True)
class Throughput:
    """One side's figures: rows landed, the wall time they took, the CPU each process spent.

    `lander_cpu_s` is the CPU of whoever landed the rows (this process for raw, the receiver's
    process over HTTP: None when `/proc` cannot tell); `poster_cpu_s` the CPU the HTTP client
    threads spent posting (None for raw). On a machine with few cores the poster and the receiver
    share them, so the wall figure is bounded by both.
    """

    rows: int
    seconds: float
    lander_cpu_s: float | None = None
    poster_cpu_s: float | None = None

    def ms_per_row(self, cpu_s: float | None) -> float | None:
        return None if cpu_s is None or not self.rows else 1000 * cpu_s / self.rows

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("nan")


def page_payloads(item: dict[str, Any], n: int, run_uid: str) -> list[dict[str, Any]]:
    """`n` page callbacks of one run, one per input, each carrying `item` as its one result."""
    out = []
    for i in range(n):
        inp = {**sample_input(ACTION, i), "custom_data": {"i": i}}
        out.append(
            {
                "run": {"run_uid": run_uid, "batch_uid": "bench-batch", "status": "RUNNING"},
                "input": inp,
                "custom_data": inp["custom_data"],
                "error": None,
                "results_count": 1,
                "results": [item],
            }
        )
    return out


def one_item(ctx: Context) -> dict[str, Any]:
    """A real result item of the action: one live call to the bench's simulator."""
    with CaptainDataClient(ctx.sim.api_key, ctx.sim.base_url) as client:
        (item,) = client.run_action(ACTION, sample_input(ACTION, 0)).results[:1]
    return dict(item)


def _fresh_submission(store: CallbackStore, run_uid: str) -> dict[str, str]:
    sub_id, secret = f"bench-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    store.register_submission(sub_id, secret, ACTION)
    store.attach_run(sub_id, run_uid)
    return callback_headers(sub_id, secret)


def land_raw(store: CallbackStore, payloads: Sequence[dict[str, Any]]) -> Throughput:
    """Every payload landed straight in the store, one thread: the floor of the receiver."""
    sub_id = _fresh_submission(store, payloads[0]["run"]["run_uid"])[SUBMISSION_HEADER]
    cpu0, t0 = time.process_time(), time.perf_counter()
    outcomes = [store.land_callback(sub_id, p) for p in payloads]
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return Throughput(sum(o == LANDED for o in outcomes), seconds, lander_cpu_s=cpu)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a live process (Linux `/proc`); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def receiver_process(location: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`captaindata-dagster receiver` in its own process, as deployed: (callback URL, process)."""
    port = _free_port()
    cmd = [sys.executable, "-c", _CLI, "receiver", "--port", str(port)]
    env = child_env(**{CALLBACK_STORE_ENV: location})  # a URL's password stays out of `ps`
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"the receiver did not start: {err[-500:]}")
            time.sleep(0.05)
        yield base + "/callbacks", proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _post_share(url: str, bodies: Sequence[bytes], headers: Mapping[str, str]) -> int:
    """POST each body on one keep-alive connection: how many were answered `landed`.

    The client is the instrument, not what is measured (the API posts from its own servers), so
    it does as little as it can: `http.client` on a kept-alive socket, bodies serialized
    beforehand, the answer matched as bytes rather than parsed.
    """
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    landed_answer = json.dumps({"outcome": LANDED}, separators=(",", ":")).encode()
    ok = 0
    try:
        for body in bodies:
            conn.request("POST", parts.path, body, {**headers, "Content-Length": str(len(body))})
            answer = conn.getresponse()
            ok += answer.status == 200 and answer.read() == landed_answer
    finally:
        conn.close()
    return ok


def post_all(store: CallbackStore, payloads: Sequence[dict[str, Any]], threads: int) -> Throughput:
    """Every payload POSTed to a real receiver (its own process) on the store's database.

    The rows counted are those answered `landed` and found in the store afterwards.
    """
    headers = _fresh_submission(store, payloads[0]["run"]["run_uid"])
    sub_id = headers[SUBMISSION_HEADER]
    headers = {**headers, "Content-Type": "application/json"}
    bodies = [json.dumps(p).encode() for p in payloads]
    shares = [bodies[i::threads] for i in range(threads)]

    with receiver_process(str(store.location)) as (url, proc), ThreadPoolExecutor(threads) as pool:
        cpu0, poster0, t0 = _cpu_s(proc.pid), time.process_time(), time.perf_counter()
        answered = sum(pool.map(lambda share: _post_share(url, share, headers), shares))
        seconds, poster = time.perf_counter() - t0, time.process_time() - poster0
        cpu1 = _cpu_s(proc.pid)
    stored = len(store.callbacks(sub_id))
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return Throughput(min(answered, stored), seconds, lander_cpu_s=cpu, poster_cpu_s=poster)


@contextmanager
def _fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url`, dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"cd_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(admin_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def _side_by_side(
    open_store: Callable[[str], Any], payloads: Sequence[dict[str, Any]], threads: int
) -> tuple[Throughput, Throughput]:
    """raw then receiver, each on a fresh store: `open_store(tag)` is a context giving its location."""
    with open_store("raw") as location, CallbackStore(location) as store:
        raw = land_raw(store, payloads)
    with open_store("receiver") as location, CallbackStore(location) as store:
        http = post_all(store, payloads, threads)
    return raw, http


def _checks(db: str, raw: Throughput, http: Throughput, n: int) -> tuple[dict, list[Check]]:
    ratio = http.rows_per_s / raw.rows_per_s if raw.rows_per_s > 0 else float("nan")
    cpu = {
        f"{db}_raw_cpu_ms_per_row": raw.ms_per_row(raw.lander_cpu_s),
        f"{db}_receiver_cpu_ms_per_row": http.ms_per_row(http.lander_cpu_s),
        f"{db}_poster_cpu_ms_per_row": http.ms_per_row(http.poster_cpu_s),
    }
    figures = {
        f"{db}_raw_rows_per_s": raw.rows_per_s,
        f"{db}_receiver_rows_per_s": http.rows_per_s,
        f"{db}_receiver_over_raw": ratio,
        f"{db}_raw_rows": raw.rows,
        f"{db}_receiver_rows": http.rows,
        **cpu,
    }
    checks = [
        check(f"{db}: raw land_callback", raw.rows_per_s, fmt="{:.0f}", suffix=" rows/s"),
        check(f"{db}: receiver over HTTP", http.rows_per_s, fmt="{:.0f}", suffix=" rows/s"),
        check(f"{db}: receiver / raw", ratio, (">=", TARGET_RATIO), fmt="{:.2f}"),
        check(f"{db}: rows landed by the receiver", float(http.rows), ("==", float(n)), "{:.0f}"),
    ]
    for name, value in cpu.items():
        if value is not None:  # where the CPU goes: the lander's, the receiver's, the poster's
            label = name.removeprefix(f"{db}_").replace("_ms_per_row", "").replace("_", " ")
            checks.append(check(f"{db}: {label}", value, fmt="{:.3f}", suffix=" ms/row"))
    return figures, checks


def receiver_throughput(ctx: Context) -> Result:
    """The `receiver-throughput` scenario (see the module's docstring)."""
    s = ReceiverBenchSettings.of(ctx)
    payloads = page_payloads(one_item(ctx), s.n, run_uid=f"bench-run-{uuid.uuid4().hex[:8]}")
    figures: dict[str, Any] = {"n": s.n, "client_threads": s.threads}
    checks: list[Check] = []
    notes: list[str] = []

    @contextmanager
    def sqlite_file(tag: str) -> Iterator[str]:
        yield str(ctx.tmp / f"callbacks-{tag}-{uuid.uuid4().hex[:8]}.sqlite")

    more, rows = _checks("sqlite", *_side_by_side(sqlite_file, payloads, s.threads), s.n)
    figures.update(more)
    checks += rows
    pg_url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if pg_url:
        measured = _side_by_side(lambda _tag: _fresh_postgres(pg_url), payloads, s.threads)
        more, rows = _checks("postgres", *measured, s.n)
        figures.update(more)
        checks += rows
    else:
        figures["postgres"] = "skipped"
        notes.append(
            f"PostgreSQL skipped: set {POSTGRES_URL_ENV} (a superuser's URL) to measure it"
        )
    notes.append(
        "receiver / raw is bounded by the machine: the posting client and the receiver share its "
        f"{os.cpu_count()} CPU(s), so their CPU per row (the ms/row figures) adds up; the "
        "receiver's own capacity, as if the API posted from elsewhere, is 1000 / its ms per row"
    )
    setup = {"n": s.n, "client_threads": s.threads, "action": ACTION}
    text = f"N={s.n} one-item pages, {s.threads} keep-alive client threads, loopback"
    return Result("receiver-throughput", "receiver vs store", setup, text, figures, checks, notes)
