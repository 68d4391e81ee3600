"""The API key is nowhere but where the user put it, after a night of faults and failures.

One long scenario under a temporary `DAGSTER_HOME`: the demo pipeline of `definitions.py`
(people -> profiles -> companies) materialized for its partitions against a simulator injecting
5xx, timeouts, dropped connections, HTML pages and LinkedIn errors; a run whose answers turn into
an HTML 401; a run with a wrong key; a run with no credits left; an outreach job with faults after
the effect; the error sensors ticked. Then every place a key could land is read: captured logs and
stdout/stderr, every file under the Dagster home and the working directory (SQLite event logs,
compute logs, the ledger, the outreach store, DuckDB) both as bytes and through their own query
engines, events' metadata, runs, exception texts and tracebacks, reprs of the resource and client.

The scan is shown to work: the same functions find the key in control files, in a SQLite WAL, in a
DuckDB table and in the event log of a run that logs it on purpose.
"""

from __future__ import annotations

import base64
import logging
import pickle
import sqlite3
import traceback
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from captaindata_dagster import CaptainDataClient, CaptainDataError, CaptainDataResource
from captaindata_dagster.orchestration.outreach.factories import build_outreach_op
from captaindata_dagster.storage.outreach_records import OutreachStore
from tests.helpers import TEST_KEY, load_script

WRONG_KEY = "cd-wrong-key-3c9d17e2-DO-NOT-LEAK"
KEYS = (TEST_KEY, WRONG_KEY)


def needles(keys=KEYS) -> list[bytes]:
    """Each key as it could be written: plain, UTF-16 (Windows APIs) or base64."""
    out = []
    for k in keys:
        out += [k.encode(), k.encode("utf-16-le"), base64.b64encode(k.encode())]
    return out


# ---------------------------------------------------------------- the scanner


def scan_text(where: str, text: str, keys=KEYS) -> list[str]:
    return [f"{where}: {k[:6]}..." for k in keys if k in text]


def scan_bytes(path: Path, keys=KEYS) -> list[str]:
    data = path.read_bytes()
    return [f"{path} (bytes)" for n in needles(keys) if n in data][:1]


def scan_sqlite(path: Path, keys=KEYS) -> list[str]:
    """Every cell of every table, through SQLite itself (the WAL included, not yet checkpointed)."""
    found = []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            for row in conn.execute(f'select * from "{table}"'):
                for cell in row:
                    blob = cell if isinstance(cell, bytes) else str(cell).encode("utf-8", "replace")
                    if any(n in blob for n in needles(keys)):
                        found.append(f"{path}:{table}")
                        break
    except sqlite3.DatabaseError:
        return []  # not a SQLite file after all
    finally:
        conn.close()
    return sorted(set(found))


def scan_duckdb(path: Path, keys=KEYS) -> list[str]:
    """Every cell of every table, through DuckDB (its file compresses strings: bytes are not enough)."""
    found = []
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        for schema, table in tables:
            for row in con.execute(f'select * from "{schema}"."{table}"').fetchall():
                if any(k in str(cell) for cell in row for k in keys):
                    found.append(f"{path}:{schema}.{table}")
                    break
    return found


def scan_tree(root: Path, keys=KEYS) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        found += scan_bytes(path, keys)
        head = path.read_bytes()[:16]
        if head.startswith(b"SQLite format 3") and not path.name.endswith(("-wal", "-shm")):
            found += scan_sqlite(path, keys)
        if path.suffix == ".duckdb":
            found += scan_duckdb(path, keys)
    return found


def scan_instance(instance: dg.DagsterInstance, keys=KEYS) -> list[str]:
    """Runs (config, tags) and every event of every run (logs, metadata, failures), as Dagster
    hands them back."""
    found = []
    for run in instance.get_runs():
        found += scan_text(f"run {run.run_id}", repr(run), keys)
        for entry in instance.all_logs(run.run_id):
            found += scan_text(f"event of {run.run_id}", repr(entry), keys)
            event = entry.dagster_event
            if event is not None and event.is_step_failure:
                found += scan_text("failure", event.step_failure_data.error.to_string(), keys)
    return found


# ---------------------------------------------------------------- the scanner can fail


def test_the_scanner_finds_a_key_wherever_it_is_put(tmp_path):
    (tmp_path / "control.txt").write_text(f"oops {TEST_KEY} oops")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "b64.log").write_bytes(base64.b64encode(WRONG_KEY.encode()))
    conn = sqlite3.connect(tmp_path / "wal.sqlite")
    conn.execute("pragma journal_mode=wal")
    conn.execute("create table t (v text)")
    conn.execute("insert into t values (?)", (f"x{TEST_KEY}x",))
    conn.commit()  # in the WAL, not yet in the main file
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema s")
        con.execute(
            "create table s.t as select ? || range::varchar as v from range(5000)", [TEST_KEY]
        )
    found = scan_tree(tmp_path)
    conn.close()
    assert any("control.txt" in f for f in found)
    assert any("b64.log" in f for f in found)
    assert any("wal.sqlite:t" in f for f in found)
    assert any("w.duckdb:s.t" in f for f in found)
    assert scan_text("x", repr(ValueError(TEST_KEY))) != []

    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:

        @dg.op
        def leaky(context):
            context.log.info(f"the key is {TEST_KEY}")
            yield dg.Output(1, metadata={"k": WRONG_KEY})

        @dg.job
        def leaky_job():
            leaky()

        assert leaky_job.execute_in_process(instance=instance).success
        assert len({f.split(":")[0] for f in scan_instance(instance)}) >= 1
        assert any(TEST_KEY[:6] in f for f in scan_instance(instance))
        assert any(WRONG_KEY[:6] in f for f in scan_instance(instance))
        assert any("home" in f for f in scan_tree(tmp_path / "home"))


# ---------------------------------------------------------------- the night


def _load_definitions():
    return load_script("definitions.py", "captaindata_secrets_defs")


TRANSIENT = {  # about one call in five fails, every kind of failure represented
    "500": 0.04,
    "503": 0.02,
    "timeout": 0.02,
    "drop": 0.02,
    "html_502": 0.02,
    "malformed_json": 0.02,
    "LK_BAD_COOKIE": 0.04,  # the account's failure: it retires, its input goes to another
    "NO_RESULT": 0.02,  # the input's failure: an error row for the error sensor to report
    "STATUS_429": 0.02,
}


def test_the_key_is_nowhere_after_a_night_of_faults(make_sim, tmp_path, monkeypatch, caplog, capfd):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # the ledger and the outreach store land here by default
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("CAPTAINDATA_WAREHOUSE", str(work / "warehouse.duckdb"))
    monkeypatch.setenv("CAPTAINDATA_REQUESTS_PER_SECOND", "200")
    monkeypatch.setenv("CAPTAINDATA_INTEGRATION_USERS", "u1,u2,u3,u4,u5,u6")  # 6 workers
    monkeypatch.delenv("CAPTAINDATA_SANDBOX", raising=False)
    monkeypatch.delenv("CAPTAINDATA_LEDGER", raising=False)
    monkeypatch.delenv("CAPTAINDATA_OUTREACH_STORE", raising=False)
    caplog.set_level(logging.DEBUG)

    sim = make_sim(faults=TRANSIENT, hang_s=0.2, retry_after_s=0, seed=3, fault_after_effect=True)
    monkeypatch.setenv("CAPTAINDATA_API_KEY", TEST_KEY)
    monkeypatch.setenv("CAPTAINDATA_BASE_URL", sim.base_url)
    demo = _load_definitions()
    job = demo.defs.resolve_job_def("refresh_linkedin")
    texts: list[tuple[str, str]] = []  # (where, text) gathered on the way
    outcomes = []

    with dg.DagsterInstance.get() as instance:
        # 1. failing runs first (later, fresh data in the ledger would spare them any call):
        # answers turn into an HTML 401 page; a wrong key; no credits left
        sim.set_faults({"html_401": 1.0})
        outcomes.append(
            job.execute_in_process(
                partition_key="cto-saas-berlin", instance=instance, raise_on_error=False
            )
        )
        sim.set_faults({})
        monkeypatch.setenv("CAPTAINDATA_API_KEY", WRONG_KEY)
        outcomes.append(
            job.execute_in_process(
                partition_key="growth-marketers-london", instance=instance, raise_on_error=False
            )
        )
        monkeypatch.setenv("CAPTAINDATA_API_KEY", TEST_KEY)
        sim.configure(credits=0)
        outcomes.append(
            job.execute_in_process(
                partition_key="data-engineers-paris", instance=instance, raise_on_error=False
            )
        )
        sim.configure(credits=None)
        # 2. every partition, with transient faults everywhere
        sim.set_faults(TRANSIENT)
        for key in job.partitions_def.get_partition_keys():
            outcomes.append(
                job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False)
            )
        met = {r.fault for r in sim.requests if r.fault}
        assert sim.credits_used > 0 and len(met) >= 5, f"too few kinds of fault met: {met}"
        failed = [r for r in outcomes if not r.success]
        assert len(failed) >= 3, "the failing runs did not fail"
        labels = set()
        for r in failed:
            for event in r.get_step_failure_events():
                data = event.step_failure_data
                texts.append(("failure", data.error.to_string() if data.error else ""))
                if data.user_failure_data is not None:
                    md = {k: v.value for k, v in data.user_failure_data.metadata.items()}
                    labels.add(md.get("error_label"))
                    texts.append(("failure metadata", repr(md)))
                    texts.append(("failure description", data.user_failure_data.description or ""))
        assert {"UNAUTHORIZED", "NO_CREDITS"} <= labels

        # 3. outreach with faults after the effect, the key given as an EnvVar and as a literal
        sim.set_faults({"500": 0.2, "timeout": 0.2, "LK_BAD_COOKIE": 0.1})
        op = build_outreach_op(
            "linkedin-connect-profile", campaign="night", message="Hi", name="connect_night"
        )
        for api_key in (dg.EnvVar("CAPTAINDATA_API_KEY"), TEST_KEY):
            res = CaptainDataResource(api_key=api_key, timeout=0.3, integration_users=["u1", "u2"])

            @dg.job(resource_defs={"captaindata": res})
            def outreach_night():
                op()

            profiles = [f"https://www.linkedin.com/in/night-{i}" for i in range(12)]
            result = outreach_night.execute_in_process(
                instance=instance,
                run_config={"ops": {"connect_night": {"config": {"profiles": profiles}}}},
            )
            assert result.success
            texts.append(("resource repr", repr(res) + str(res)))
            texts.append(
                ("needs_review", result.output_for_node("connect_night", "needs_review").to_csv())
            )

        # 4. the sensors read it all and report (the run-failure one writes observations)
        for r in failed:
            failure = next(e for e in r.all_events if e.event_type_value == "PIPELINE_FAILURE")
            ctx = dg.build_run_status_sensor_context(
                sensor_name=demo.run_failure_sensor.name,
                dagster_event=failure,
                dagster_instance=instance,
                dagster_run=instance.get_run_by_id(r.run_id),
            ).for_run_failure()
            demo.run_failure_sensor(ctx)
        tick = demo.error_sensor(dg.build_sensor_context(instance=instance))
        texts.append(("error sensor tick", repr(tick)))
        assert tick.asset_events, "the error sensor saw nothing to report"

        # 5. direct client use: exceptions, tracebacks, reprs
        for key in KEYS:
            client = CaptainDataClient(
                key if key == WRONG_KEY else TEST_KEY, sim.base_url, max_retries=0
            )
            texts.append(("client repr", repr(client) + str(client)))
            try:
                client.run_action(
                    "linkedin-extract-people",
                    {"linkedin_profile_url": "https://www.linkedin.com/in/x"},
                )
            except CaptainDataError as err:
                texts.append(("exception", f"{err} {err!r} {err.to_dict()}"))
                texts.append(("traceback", "".join(traceback.format_exception(err))))
            client.close()
        resource = demo.defs.resources["captaindata"]
        texts.append(("demo resource repr", repr(resource) + str(resource)))
        texts.append(("store repr", repr(OutreachStore())))

        leaks = scan_instance(instance)
    out, err = capfd.readouterr()
    texts += [("stdout", out), ("stderr", err), ("caplog", caplog.text)]
    texts += [("log record", repr(r.__dict__)) for r in caplog.records]
    for where, text in texts:
        leaks += scan_text(where, text)
    leaks += scan_tree(home)
    leaks += scan_tree(work)

    # what was scanned is what the night produced
    assert (work / ".captaindata" / "ledger.sqlite").exists()
    assert (work / ".captaindata" / "outreach.sqlite").exists()
    assert (work / "warehouse.duckdb").exists()
    assert any(home.rglob("*.db")), "no Dagster event log under DAGSTER_HOME"
    assert "[no captured" not in caplog.text and len(caplog.records) > 50
    assert leaks == [], f"the API key leaked into: {leaks}"


def test_an_error_crossing_processes_holds_no_key(sim):
    """Dagster pickles a step's exception to report it: what it pickles holds no key."""
    client = CaptainDataClient(TEST_KEY, sim.base_url + "x", max_retries=0)
    with client, pytest.raises(CaptainDataError) as e:
        client.run_action(
            "linkedin-extract-people", {"linkedin_profile_url": "https://www.linkedin.com/in/x"}
        )
    assert e.value.status_code == 404
    assert TEST_KEY.encode() not in pickle.dumps(e.value)
    assert TEST_KEY not in "".join(traceback.format_exception(e.value))
