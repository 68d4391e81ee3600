"""The ledger and the outreach store on a real PostgreSQL server (see tests/postgres_fixtures.py).

The contract tests written for the SQLite ledger, the batch engine and the outreach store (every
test of theirs that takes only the `ledger` or `store` fixture and simulators) run here again
against PostgreSQL, unchanged: this module gives them a `ledger` / `store` on a database of their
own. Then what only a server has: the URL and its password, connections killed or lost, a server
restarted, forks, several processes claiming the same inputs at once.
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

import captaindata_dagster
from captaindata_dagster import CaptainDataResource
from captaindata_dagster.api import ValidationError
from captaindata_dagster.orchestration import build_outreach_op
from captaindata_dagster.storage.errors import StoreError, StoreUnavailable
from captaindata_dagster.storage.ledger import (
    BUSY,
    CLAIMED,
    DONE,
    LEDGER_URL_ENV,
    Ledger,
    resolve_ledger_location,
)
from captaindata_dagster.storage.locations import redact_url, scrub
from captaindata_dagster.storage.outreach_records import OutreachStore, default_store_path
from tests.helpers import TEST_KEY
from tests.integration import test_batch as batch_contract
from tests.slow.reliability import test_outreach as outreach_contract
from tests.unit import test_ledger as ledger_contract

PKG_ROOT = str(Path(captaindata_dagster.__file__).resolve().parents[1])
PROFILE = "linkedin-extract-people"
SEARCH = "linkedin-search-people"
CONNECT = "linkedin-connect-profile"
KNOWN_FIXTURES = {"ledger", "store", "sim", "make_sim", "make_client"}
SQLITE_ONLY = {  # they open the SQLite file itself
    "test_daily_cap_per_account_holds_across_runs_and_campaigns",
    "test_sigkill_between_record_and_settle_leaves_it_for_review",
}


def child_env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [PKG_ROOT, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


# ---------------------------------------------------------------- the contract, on PostgreSQL


def _adopt(module, fixture: str) -> dict:
    """`module`'s tests that need `fixture` and nothing this module cannot give."""
    found = {}
    for name, fn in vars(module).items():
        if not name.startswith("test_") or not inspect.isfunction(fn) or name in SQLITE_ONLY:
            continue
        params = set(inspect.signature(fn).parameters)
        marks = getattr(fn, "pytestmark", [])
        params -= {a for m in marks if m.name == "parametrize" for a in _argnames(m.args[0])}
        if fixture in params and params <= KNOWN_FIXTURES:
            found[name] = fn
    return found


def _argnames(spec) -> list[str]:
    return [a.strip() for a in spec.split(",")] if isinstance(spec, str) else list(spec)


CONTRACT = {
    **_adopt(ledger_contract, "ledger"),
    **_adopt(batch_contract, "ledger"),
    **_adopt(outreach_contract, "store"),
}
globals().update(CONTRACT)  # collected by pytest as tests of this module, with its fixtures


def test_the_contract_tests_are_adopted():
    """The adoption above finds the tests it should (a rename there must not empty it here)."""
    for name in (
        "test_fresh_results_and_max_age",
        "test_search_pages_resume_and_complete",
        "test_entries_stats_delete_and_integrity",
        "test_second_run_is_free_and_served_from_the_ledger",
        "test_interrupted_search_resumes_without_repaying_pages",
        "test_fault_storm_after_the_effect_never_sends_twice",
        "test_unknown_and_pending_count_toward_the_cap",
    ):
        assert name in CONTRACT, name
    assert len(CONTRACT) >= 20


@pytest.fixture
def ledger(pg_url):
    with Ledger(pg_url) as led:
        yield led


@pytest.fixture
def store(pg_url):
    with OutreachStore(pg_url) as s:
        yield s


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path):
    """A ledger location on each backend (the PostgreSQL one only when a server is there)."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite")
    return request.getfixturevalue("pg_url")


def password_of(url: str) -> str:
    secret = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert len(secret) >= 8
    return secret


# ---------------------------------------------------------------- lazy import, settings


def test_psycopg_is_imported_only_when_a_postgres_url_is_used(pg_url, tmp_path):
    code = textwrap.dedent(
        """
        import sys
        from captaindata_dagster import CaptainDataResource
        from captaindata_dagster.storage.ledger import Ledger
        from captaindata_dagster.storage.outreach_records import OutreachStore
        led = Ledger(sys.argv[2])
        led.save_result("a", "k", [{"x": 1}])
        OutreachStore(sys.argv[3]).records()
        assert "psycopg" not in sys.modules, "imported for SQLite"
        pg = Ledger(sys.argv[1])
        assert "psycopg" not in sys.modules, "imported before the first call"
        assert pg.get("a", "k") is None
        assert "psycopg" in sys.modules
        print("ok")
        """
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            pg_url,
            str(tmp_path / "l.sqlite"),
            str(tmp_path / "o.sqlite"),
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_ledger_location_comes_from_the_settings_then_the_environment(
    pg_url, tmp_path, monkeypatch
):
    monkeypatch.delenv(LEDGER_URL_ENV, raising=False)
    monkeypatch.delenv("CAPTAINDATA_LEDGER", raising=False)
    monkeypatch.delenv("CAPTAINDATA_OUTREACH_STORE", raising=False)
    sqlite = str(tmp_path / "l.sqlite")
    assert resolve_ledger_location() == Path(".captaindata") / "ledger.sqlite"
    assert resolve_ledger_location(pg_url) == pg_url
    assert resolve_ledger_location(None, sqlite) == Path(sqlite)
    monkeypatch.setenv(LEDGER_URL_ENV, pg_url)
    assert resolve_ledger_location() == pg_url  # the environment when nothing is set in code
    assert resolve_ledger_location(None, sqlite) == Path(sqlite)  # code wins
    assert Ledger().url == redact_url(pg_url)
    # the outreach store follows the ledger to PostgreSQL
    assert default_store_path() == pg_url
    assert default_store_path(pg_url) == pg_url
    assert default_store_path(sqlite) == tmp_path / "outreach.sqlite"

    secret = password_of(pg_url)
    bad = pg_url.replace("postgresql://", "mysql://")
    with pytest.raises(ValidationError) as e:
        resolve_ledger_location(bad)
    assert e.value.field == "ledger_url" and "postgresql://" in str(e.value)
    assert secret not in str(e.value) and "***" in str(e.value)
    monkeypatch.setenv(LEDGER_URL_ENV, "/srv/ledger.sqlite")
    with pytest.raises(ValidationError) as e:
        resolve_ledger_location()
    assert e.value.field == LEDGER_URL_ENV and "ledger_path" in str(e.value)
    with pytest.raises(ValidationError) as e:
        resolve_ledger_location(pg_url, sqlite)
    assert e.value.field == "ledger_url" and "ledger_path" in str(e.value)
    with pytest.raises(ValueError, match="postgresql://"):
        Ledger("mysql://u:p@h/db")

    res = CaptainDataResource(api_key="k", ledger_url=pg_url)
    assert res.get_ledger().dialect == "postgres"
    assert secret not in repr(res) + str(res)
    with pytest.raises(ValidationError) as e:
        CaptainDataResource(api_key="k", ledger_url=pg_url, ledger_path=sqlite).get_ledger()
    assert e.value.field == "ledger_url"
    monkeypatch.setenv(LEDGER_URL_ENV, pg_url)
    assert CaptainDataResource(api_key="k").get_ledger().url == redact_url(pg_url)
    monkeypatch.delenv(LEDGER_URL_ENV)
    assert CaptainDataResource(api_key="k").get_ledger().dialect == "sqlite"  # the default


def test_the_password_never_shows(pg_url):
    secret = password_of(pg_url)
    assert redact_url("postgresql://ada:s3cr%40t@db.example:5432/x?sslmode=require") == (
        "postgresql://ada:***@db.example:5432/x?sslmode=require"
    )
    assert redact_url("postgres://db/x?user=ada&password=hunter2&sslmode=require") == (
        "postgres://db/x?user=ada&password=***&sslmode=require"
    )
    assert redact_url("postgresql://ada@db/x") == "postgresql://ada@db/x"
    assert scrub("failed for s3cr@t and s3cr%40t", "postgresql://a:s3cr%40t@h/x") == (
        "failed for *** and ***"
    )
    with Ledger(pg_url) as led, OutreachStore(pg_url) as out:
        led.save_result("a", "k", [{"x": 1}])
        out.records()
        shown = [repr(led), str(led), led.describe(), str(led.url), json.dumps(led.stats())]
        shown += [repr(out), str(out), out.describe()]
        assert not [s for s in shown if secret in s]
        assert "***" in led.stats()["path"] and led.stats()["size_bytes"] > 0
        clone = pickle.loads(pickle.dumps(led))  # Dagster may ship a resource to a subprocess
        assert clone.get("a", "k").results == [{"x": 1}]
        clone.close()


# ---------------------------------------------------------------- lost connections, restarts


def _pid_of(led: Ledger) -> int:
    pid = led._backend.backend_pid()
    assert pid is not None
    return pid


def test_a_killed_session_is_replaced_at_the_next_call(pg_url, postgres_server):
    with Ledger(pg_url) as led:
        led.save_result("a", "k1", [{"x": 1}])
        first = _pid_of(led)
        with postgres_server.admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        led.save_result("a", "k2", [{"x": 2}])  # a new session, nothing lost
        second = _pid_of(led)
        assert second != first
        assert [e.input_key for e in led.entries("a")] == ["k1", "k2"]
        with postgres_server.admin() as admin:  # and outside a transaction (claims) too
            admin.execute("SELECT pg_terminate_backend(%s)", (second,))
        assert led.claim("a", "k3").state == CLAIMED and _pid_of(led) != second
        led.release("a", "k3")


def test_a_connection_lost_inside_a_write_commits_nothing_and_says_so(pg_url, postgres_server):
    secret = password_of(pg_url)
    with Ledger(pg_url) as led:
        led.save_result("a", "before", [])
        with pytest.raises(StoreUnavailable) as e, led._write() as conn:
            conn.execute("DELETE FROM entries")
            with postgres_server.admin() as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (_pid_of(led),))
            conn.execute("SELECT 1")
        assert "nothing was committed" in str(e.value) and secret not in str(e.value)
        assert "***" in str(e.value)
        assert led.get("a", "before") is not None  # the DELETE never happened


def test_a_restarted_server_is_survived(pg_url, postgres_server):
    with Ledger(pg_url) as led, OutreachStore(pg_url) as store:
        led.save_result("a", "k1", [{"x": 1}])
        store.records()
        postgres_server.restart()
        led.save_result("a", "k2", [{"x": 2}])
        assert {e.input_key for e in led.entries("a")} == {"k1", "k2"}
        assert (
            store.reserve("c", CONNECT, "https://www.linkedin.com/in/x", account="u1").attempt == 1
        )


def test_an_unreachable_server_fails_with_a_clear_error_naming_no_password(pg_url, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://ada:N0t-In-Any-Log-42@127.0.0.1:{port}/ledger"
    led = Ledger(url, timeout_s=1)
    with pytest.raises(StoreUnavailable) as e:
        led.get("a", "k")
    text = str(e.value)
    assert "N0t-In-Any-Log-42" not in text and f"ada:***@127.0.0.1:{port}" in text
    assert "CAPTAINDATA_LEDGER_URL" in text and "cannot connect" in text
    # a wrong password is refused at once, not retried until the timeout: the store's sleeper
    # (injected) is never asked to wait before another attempt
    waits: list[float] = []
    monkeypatch.setattr("captaindata_dagster.storage.postgres.time.sleep", waits.append)
    wrong = pg_url.replace(password_of(pg_url), "Wr0ng-Pa55word")
    with pytest.raises(StoreUnavailable) as e:
        Ledger(wrong, timeout_s=60).get("a", "k")
    assert "authentication failed" in str(e.value) and "Wr0ng-Pa55word" not in str(e.value)
    assert waits == []


def test_a_writer_stuck_on_the_same_record_gives_a_clear_error(pg_url):
    with Ledger(pg_url, timeout_s=1) as a, Ledger(pg_url, timeout_s=1) as b:
        a.save_result("a", "k", [])
        with a._write() as conn:
            a._lock_keys(conn, "captaindata:ledger:a:k")
            with pytest.raises(StoreError, match="lock_timeout"):
                b.save_result("a", "k", [{"x": 1}])
        b.save_result("a", "k", [{"x": 2}])  # free again once the other commits
        assert a.get("a", "k").results == [{"x": 2}]


def test_a_user_who_may_not_create_the_schema_is_told_what_it_needs(pg_url, postgres_server):
    import psycopg

    role = "cd_limited_" + pg_url.rsplit("_", 1)[1][:8]
    with postgres_server.admin() as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'Lim1ted-Pa55'")
    try:
        url = pg_url.replace(pg_url.split("://", 1)[1].split("@", 1)[0], f"{role}:Lim1ted-Pa55")
        with pytest.raises(StoreError) as e:
            Ledger(url, timeout_s=5).get("a", "k")
        assert "CREATE" in str(e.value) and "'captaindata'" in str(e.value)
        assert "Lim1ted-Pa55" not in str(e.value)
        with psycopg.connect(pg_url, autocommit=True) as owner:  # a DBA provisions the schema
            owner.execute(f"CREATE SCHEMA captaindata AUTHORIZATION {role}")
        with Ledger(url) as led:
            led.save_result("a", "k", [{"x": 1}])
            assert led.get("a", "k").results == [{"x": 1}]
    finally:
        with postgres_server.admin() as admin:
            name = pg_url.rsplit("/", 1)[1]
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {role}")


# ---------------------------------------------------------------- threads, processes, forks


def test_threads_and_processes_write_one_postgres_ledger_at_once(pg_url, tmp_path):
    with ledger_contract.write_at_once(pg_url, tmp_path, n=60) as check:
        assert check.stats()["credits"] == 7 * 60


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_session_and_leaves_the_parents_alone(pg_url):
    with Ledger(pg_url) as led:
        led.save_result("a", "parent", [])
        parent_session = _pid_of(led)
        pid = os.fork()
        if pid == 0:  # the child: the inherited ledger must work, on a session of its own
            code = 1
            try:
                led.save_result("a", "child", [{"from": "child"}])
                code = 0 if _pid_of(led) != parent_session else 2
                led.close()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # the child closing its copy did not end the parent's session
        assert led.get("a", "child").results == [{"from": "child"}]
        assert _pid_of(led) == parent_session


# ---------------------------------------------------------------- claims


def test_a_claim_is_held_by_one_ledger_and_dies_with_its_process(location, tmp_path):
    with Ledger(location) as a, Ledger(location) as b:
        assert a.claim(PROFILE, "k").state == CLAIMED
        assert a.claim(PROFILE, "k").state == BUSY  # even for the same ledger: one fetch
        assert b.claim(PROFILE, "k").state == BUSY
        a.save_result(PROFILE, "k", [{"x": 1}], credits=1)
        a.release(PROFILE, "k")
        done = b.claim(PROFILE, "k")  # fetched meanwhile: use it, do not call
        assert done.state == DONE and done.entry.results == [{"x": 1}]
        assert b.claim(PROFILE, "other").state == CLAIMED
        b.close()  # closing gives back what it held
        assert a.claim(PROFILE, "other").state == CLAIMED
        a.release(PROFILE, "other")

        # a process holding a claim is SIGKILLed: the claim is free at once
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time\n"
                "from captaindata_dagster.storage.ledger import Ledger\n"
                "led = Ledger(sys.argv[1])\n"
                "print(led.claim('act', 'held').state, flush=True)\n"
                "time.sleep(120)\n",
                str(location),
            ],
            env=child_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == CLAIMED
            assert a.claim("act", "held").state == BUSY
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
        deadline = time.monotonic() + 30  # the server notices the closed socket at once
        while (state := a.claim("act", "held").state) == BUSY and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state == CLAIMED


BATCH_CHILD = textwrap.dedent(
    """
    import json, sys
    from captaindata_dagster import CaptainDataClient
    from captaindata_dagster.engine.batch.run import run_batch
    from captaindata_dagster.storage.ledger import Ledger

    base_url, key, location, users = sys.argv[1:5]
    client = CaptainDataClient(key, base_url, integration_users=users.split(","))
    ledger = Ledger(location)
    search = run_batch(client, "linkedin-search-people",
                       ["https://www.linkedin.com/search/results/people/?keywords=claims"],
                       ledger=ledger, max_results=50)
    people = list(search.results["linkedin_profile_url"])
    out = run_batch(client, "linkedin-extract-people", people, ledger=ledger)
    print(json.dumps({
        "people": people,
        "profiles": sorted(out.results["linkedin_profile_url"]),
        "errors": len(out.errors) + len(search.errors),
        "credits": out.stats.credits + search.stats.credits,
        "from_ledger": int(out.results["_from_cache"].sum()),
    }))
    """
)


def test_two_processes_on_the_same_inputs_pay_for_each_once(location, make_sim):
    sim = make_sim(search_total=50, latency_ms=15)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BATCH_CHILD, sim.base_url, sim.api_key, str(location), users],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for users in ("a-1,a-2,a-3", "b-1,b-2,b-3")
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(out) for out, _ in outs]
    people = results[0]["people"]
    assert len(people) == 50 and results[1]["people"] == people  # both got the whole search
    for r in results:  # and every profile, fetched by one or the other
        assert r["profiles"] == sorted(people) and r["errors"] == 0
    answers = Counter(
        r.input["linkedin_profile_url"] for r in sim.calls(PROFILE) if r.status == 200 and r.input
    )
    assert answers == Counter({u: 1 for u in people}), "an input was paid for twice"
    pages = Counter(r.query.get("page", "1") for r in sim.calls(SEARCH) if r.status == 200)
    assert all(n == 1 for n in pages.values()), f"a search page was paid for twice: {pages}"
    spent = sum(r["credits"] for r in results)
    assert spent == sim.credits_used == 50 + 50  # 50 results over the pages, 50 profiles
    assert sum(r["from_ledger"] for r in results) == 50  # what one paid for, the other read


# ---------------------------------------------------------------- Dagster, on PostgreSQL


def scan_instance(instance: dg.DagsterInstance, secret: str) -> list[str]:
    found = []
    for run in instance.get_runs():
        if secret in repr(run):
            found.append(f"run {run.run_id}")
        for entry in instance.all_logs(run.run_id):
            if secret in repr(entry):
                found.append(f"event {entry.dagster_event_type} of {run.run_id}")
    return found


def test_assets_and_outreach_on_a_postgres_ledger(pg_url, sim, tmp_path, caplog, monkeypatch):
    from captaindata_dagster import build_people_search_asset, build_profile_extraction_asset

    for var in (LEDGER_URL_ENV, "CAPTAINDATA_LEDGER", "CAPTAINDATA_OUTREACH_STORE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # where SQLite files would land by default: none must
    secret = password_of(pg_url)
    people = build_people_search_asset(
        searches={"pg": "https://www.linkedin.com/search/results/people/?keywords=pg"},
        max_results=20,
    )
    profiles = build_profile_extraction_asset(upstream=people)
    res = CaptainDataResource(
        api_key=TEST_KEY, base_url=sim.base_url, ledger_url=pg_url, integration_users=["u1", "u2"]
    )
    io = dg.FilesystemIOManager(base_dir=str(tmp_path / "io"))
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        first = dg.materialize(
            [people, profiles],
            partition_key="pg",
            resources={"captaindata": res, "io_manager": io},
            instance=instance,
        )
        assert first.success
        spent = sim.credits_used
        assert spent == 20 + 20
        calls = len(sim.requests)
        again = dg.materialize(
            [people, profiles],
            partition_key="pg",
            resources={"captaindata": res, "io_manager": io},
            instance=instance,
        )
        assert again.success and sim.credits_used == spent and len(sim.requests) == calls
        assert len(again.asset_value(dg.AssetKey("linkedin_profiles"))) == 20

        op = build_outreach_op(CONNECT, campaign="pg", message="Hi", name="connect_pg")

        @dg.job(resource_defs={"captaindata": res})
        def outreach_pg():
            op()

        urls = [f"https://www.linkedin.com/in/pg-{i}" for i in range(4)]
        run_config = {"ops": {"connect_pg": {"config": {"profiles": urls}}}}
        assert outreach_pg.execute_in_process(instance=instance, run_config=run_config).success
        assert outreach_pg.execute_in_process(instance=instance, run_config=run_config).success
        leaks = scan_instance(instance, secret)
    assert leaks == [], f"the ledger password leaked into {leaks}"
    assert secret not in caplog.text
    with Ledger(pg_url) as led, OutreachStore(pg_url) as store:
        assert led.stats()["ok"] == 1 + 20  # the search and its profiles, in PostgreSQL
        assert {r.state for r in store.records("pg")} == {"sent"} and len(store.records()) == 4
    assert len(sim.calls(CONNECT)) == 4  # the second run sent nothing
    assert not (tmp_path / ".captaindata").exists()  # nothing went to a SQLite file
