"""Scale-out: Dagster runs in separate processes sharing one PostgreSQL ledger and outreach store.

Two `dagster asset materialize` processes start at the same moment on the same partition (as two
machines would), with the same real Dagster instance and one simulator: every search page and
every profile is paid for once, both runs end with the whole table, a third run spends nothing,
and the database password is in no run, event, log line or file. Then two processes run one
outreach campaign at once against a PostgreSQL store: every profile is invited exactly once.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import dagster as dg

from captaindata_dagster.api import load_catalog
from captaindata_dagster.storage.ledger import CLAIMED, Ledger, input_key
from captaindata_dagster.storage.outreach_records import SENT, OutreachStore
from captaindata_dagster.storage.postgres import APPLICATION_NAME
from tests.helpers import TEST_KEY
from tests.slow.reliability.test_kills import clean, materialize_cmd
from tests.slow.reliability.test_secrets import scan_instance, scan_text, scan_tree

ROOT = Path(__file__).resolve().parents[3]
SEARCH = "linkedin-search-people"
PROFILE = "linkedin-extract-people"
CONNECT = "linkedin-connect-profile"
PEOPLE = 60
SEARCH_URL = "https://www.linkedin.com/search/results/people/?keywords=scale&geo=paris"
DEFS = """
import os
import dagster as dg
from captaindata_dagster import (
    CaptainDataResource, build_people_search_asset, build_profile_extraction_asset,
)

people = build_people_search_asset(searches={"paris": "SEARCH_URL"}, max_results=PEOPLE)
profiles = build_profile_extraction_asset(upstream=people)
defs = dg.Definitions(
    assets=[people, profiles],
    resources={
        # the key, the API root and the ledger's URL come from the environment of each machine
        "captaindata": CaptainDataResource(
            integration_users=os.environ["TEST_USERS"].split(","),
        ),
        "io_manager": dg.FilesystemIOManager(base_dir=os.environ["TEST_OUT"]),
    },
)
""".replace("PEOPLE", str(PEOPLE)).replace("SEARCH_URL", SEARCH_URL)


def _password(url: str) -> str:
    return url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]


def _frame(out: Path, asset: str):
    with open(out / asset / "paris", "rb") as f:
        return pickle.load(f)


def _sessions_of_others(pg_url: str, holder: Ledger) -> int:
    """Sessions of this package on the test database, other than the holder's."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s AND pid <> %s",
            (APPLICATION_NAME, holder._backend.backend_pid()),
        ).fetchone()[0]


def test_two_runs_on_two_machines_share_one_postgres_ledger(make_sim, pg_url, tmp_path):
    secret = _password(pg_url)
    sim = make_sim(search_total=PEOPLE, latency_ms=40)
    defs = tmp_path / "scale_defs.py"
    defs.write_text(DEFS)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:  # storage created once
        instance.get_runs_count()
    base_env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "CAPTAINDATA_API_KEY": TEST_KEY,
        "CAPTAINDATA_BASE_URL": sim.base_url,
        "CAPTAINDATA_LEDGER_URL": pg_url,
    }
    for var in ("CAPTAINDATA_LEDGER", "CAPTAINDATA_OUTREACH_STORE", "CAPTAINDATA_SANDBOX"):
        base_env.pop(var, None)

    def launch(name: str, users: str) -> subprocess.Popen:
        (tmp_path / name).mkdir()
        env = {**base_env, "TEST_USERS": users, "TEST_OUT": str(tmp_path / name / "out")}
        with open(tmp_path / f"{name}.log", "wb") as log:
            return subprocess.Popen(
                materialize_cmd(defs, "paris"),
                env=env,
                cwd=tmp_path / name,  # a SQLite ledger would land here: none must
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(name: str) -> str:
        return (tmp_path / f"{name}.log").read_text(errors="replace")

    # Both runs must really be at it together: the test holds the search's claim until both
    # have reached the ledger (each waits for the claim, pays nothing), then lets them race.
    search = load_catalog().get(SEARCH)
    key = input_key(search, {"linkedin_people_search_url": SEARCH_URL}, None, PEOPLE)
    holder = Ledger(pg_url)
    assert holder.claim(SEARCH, key).state == CLAIMED
    procs = {"a": launch("a", "a-1,a-2,a-3"), "b": launch("b", "b-1,b-2,b-3")}
    deadline = time.monotonic() + 180
    while _sessions_of_others(pg_url, holder) < 2:
        for name, p in procs.items():
            assert p.poll() is None, f"run {name} ended early:\n{output(name)[-3000:]}"
        assert time.monotonic() < deadline, "the runs never reached the ledger"
        time.sleep(0.1)
    assert sim.calls() == []  # both wait for the claim: nobody pays meanwhile
    holder.release(SEARCH, key)
    holder.close()
    for p in procs.values():
        p.wait(timeout=300)
    logs = {name: output(name) for name in procs}
    for name, p in procs.items():
        assert p.returncode == 0, logs[name][-3000:]

    # nothing paid twice: each page and each profile answered once, credits as for one run
    pages = Counter(r.query.get("page", "1") for r in clean(sim, SEARCH))
    assert sum(pages.values()) == PEOPLE // 10 and set(pages.values()) == {1}, pages
    answers = Counter(r.input["linkedin_profile_url"] for r in clean(sim, PROFILE))
    assert len(answers) == PEOPLE and set(answers.values()) == {1}, "a profile was paid twice"
    assert sim.credits_used == PEOPLE + PEOPLE
    # ...and the runs' own accounts agree: what one paid for, the other read from the ledger
    with dg.DagsterInstance.from_config(str(home)) as instance:
        spent, read = 0.0, 0
        for run in instance.get_runs():
            for event in instance.all_logs(
                run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ):
                mat = event.asset_materialization
                md = {k: v.value for k, v in mat.metadata.items()}
                if mat.asset_key == dg.AssetKey("linkedin_profiles"):
                    spent += md["captaindata/credits_spent"]
                    read += md["captaindata/skipped_fresh"]
        assert spent == PEOPLE and read == PEOPLE
    # both runs have the whole tables
    for name in procs:
        out = tmp_path / name / "out"
        people, profiles = _frame(out, "linkedin_people"), _frame(out, "linkedin_profiles")
        assert len(people) == PEOPLE and people["linkedin_profile_url"].nunique() == PEOPLE
        assert sorted(profiles["linkedin_profile_url"]) == sorted(people["linkedin_profile_url"])
        assert not (tmp_path / name / ".captaindata").exists()

    # a third run, later, pays nothing
    calls = len(sim.calls())
    third = subprocess.run(
        materialize_cmd(defs, "paris"),
        env={**base_env, "TEST_USERS": "c-1", "TEST_OUT": str(tmp_path / "c")},
        cwd=tmp_path,
        capture_output=True,
    )
    assert third.returncode == 0, third.stdout.decode()[-2000:] + third.stderr.decode()[-2000:]
    assert len(sim.calls()) == calls and sim.credits_used == 2 * PEOPLE
    with Ledger(pg_url) as led:
        assert led.stats()["ok"] == 1 + PEOPLE and led.integrity_ok()
        assert led.get(SEARCH, key).ok  # the claim held above was the runs' own key

    # the ledger's password is nowhere: runs, events, metadata, logs, files of the instance
    keys = (secret,)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        leaks = scan_instance(instance, keys)
    for name, text in {**logs, "third": third.stdout.decode() + third.stderr.decode()}.items():
        leaks += scan_text(f"output of run {name}", text, keys)
    leaks += (
        scan_tree(home, keys) + scan_tree(tmp_path / "a", keys) + scan_tree(tmp_path / "b", keys)
    )
    assert leaks == [], f"the ledger password leaked into {leaks}"


OUTREACH_CHILD = textwrap.dedent(
    """
    import json, sys
    from captaindata_dagster import CaptainDataClient
    from captaindata_dagster.storage import OutreachStore
    from captaindata_dagster.engine.outreach import run_outreach

    base_url, key, store_url, account, *profiles = sys.argv[1:]
    client = CaptainDataClient(key, base_url, integration_users=[account])
    result = run_outreach(client, OutreachStore(store_url), "linkedin-connect-profile", profiles,
                          campaign="scale", message="Hi", daily_cap_per_account=100)
    print(json.dumps({"sent": sorted(result.sent["profile_url"]), "skipped": len(result.skipped),
                      "review": len(result.needs_review), "errors": len(result.errors)}))
    """
)


def test_two_machines_never_send_the_same_invitation_twice(make_sim, pg_url):
    sim = make_sim(latency_ms=15)
    profiles = [f"https://www.linkedin.com/in/scale-{i}" for i in range(24)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                OUTREACH_CHILD,
                sim.base_url,
                TEST_KEY,
                pg_url,
                account,
                *profiles,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for account in ("u1", "u2")
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(out) for out, _ in outs]
    performed = Counter(
        r.input["linkedin_profile_url"] for r in sim.calls(CONNECT) if r.input and r.performed
    )
    posted = Counter(r.input["linkedin_profile_url"] for r in sim.calls(CONNECT) if r.input)
    assert performed == posted == Counter({p: 1 for p in profiles})
    assert sorted(results[0]["sent"] + results[1]["sent"]) == sorted(profiles)
    for r in results:  # what the other machine had in flight is reported, never sent again
        assert r["errors"] == 0 and len(r["sent"]) + r["skipped"] + r["review"] == len(profiles)
    with OutreachStore(pg_url) as store:
        records = store.records("scale")
        assert len(records) == 24 and {r.state for r in records} == {SENT}
        assert {r.account for r in records} <= {"u1", "u2"}
