"""The asset factories, materialized with a real DagsterInstance against the simulator over HTTP."""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster_duckdb_pandas import DuckDBPandasIOManager

from captaindata_dagster import (
    CaptainDataResource,
    build_action_asset,
    build_company_extraction_asset,
    build_people_search_asset,
    build_profile_extraction_asset,
)
from captaindata_dagster.api import ValidationError
from tests.helpers import SEARCHES, simulator_resource


def pipeline(max_results=20, **profile_kw):
    people = build_people_search_asset(searches=SEARCHES, max_results=max_results)
    profiles = build_profile_extraction_asset(upstream=people, **profile_kw)
    companies = build_company_extraction_asset(upstream=profiles)
    return people, profiles, companies


def materializations(result):
    out = {}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        out[mat.asset_key.to_user_string()] = {
            k: getattr(v, "value", v) for k, v in mat.metadata.items()
        }
    return out


def step_failure_metadata(result):
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    data = failure.step_failure_data.user_failure_data
    return {k: getattr(v, "value", v) for k, v in data.metadata.items()}


def test_pipeline_over_several_partitions(make_sim, tmp_path, instance):
    sim = make_sim(search_total=200)
    people, profiles, companies = pipeline(max_results=20)
    res = simulator_resource(sim, tmp_path)
    for key in SEARCHES:
        result = dg.materialize(
            [people, profiles, companies],
            partition_key=key,
            resources={"captaindata": res},
            instance=instance,
        )
        assert result.success
        found = result.output_for_node("linkedin_people", "results")
        assert len(found) == 20 and found["linkedin_profile_url"].is_unique
        assert set(found["partition_key"]) == {key}
        got = result.output_for_node("linkedin_profiles", "results")
        assert set(got["linkedin_profile_url"]) == set(found["linkedin_profile_url"])
        assert got["linkedin_profile_id"].dtype == "Int64"
        md = materializations(result)
        assert md["linkedin_people"]["captaindata/credits_spent"] == 20
        assert md["linkedin_profiles"]["captaindata/credits_spent"] == 20
        assert md["linkedin_profiles"]["captaindata/calls"] == 20
        assert md["linkedin_profiles"]["captaindata/action_id"] == "linkedin-extract-people"
        # one partition's rows: Dagster reads dagster/row_count as the whole table's
        assert md["linkedin_profiles_errors"]["dagster/partition_row_count"] == 0
        assert md["linkedin_profiles"]["dagster/partition_row_count"] == 20
        assert "dagster/row_count" not in md["linkedin_profiles"]
        assert md["linkedin_people"]["captaindata/search_url"] == SEARCHES[key]
        assert "captaindata/latency_p95_s" in md["linkedin_profiles"]
        comps = result.output_for_node("linkedin_companies", "results")
        assert comps["linkedin_company_url"].notna().all() and len(comps) > 0
    # the asset catalog of the instance knows both partitions of every table
    for asset in ("linkedin_people", "linkedin_profiles", "linkedin_companies"):
        keys = instance.get_materialized_partitions(dg.AssetKey(asset))
        assert keys == set(SEARCHES)


def test_second_run_spends_nothing_and_a_changed_search_only_pays_new_people(
    make_sim, tmp_path, instance
):
    sim = make_sim(search_total=200)
    res = {"captaindata": simulator_resource(sim, tmp_path)}
    people, profiles, _ = pipeline(max_results=20)
    assert dg.materialize(
        [people, profiles], partition_key="paris", resources=res, instance=instance
    ).success
    first = sim.credits_used
    assert first == 40
    again = dg.materialize(
        [people, profiles], partition_key="paris", resources=res, instance=instance
    )
    assert again.success and sim.credits_used == first  # searches and profiles fresh in the ledger
    md = materializations(again)
    assert md["linkedin_profiles"]["captaindata/skipped_fresh"] == 20
    assert md["linkedin_profiles"]["captaindata/credits_spent"] == 0
    assert len(again.output_for_node("linkedin_profiles", "results")) == 20

    wider_people, wider_profiles, _ = pipeline(max_results=30)  # the search changed: 10 more people
    wider = dg.materialize(
        [wider_people, wider_profiles], partition_key="paris", resources=res, instance=instance
    )
    assert wider.success
    md = materializations(wider)
    assert md["linkedin_people"]["captaindata/credits_spent"] == 30  # the new search itself
    assert md["linkedin_profiles"]["captaindata/credits_spent"] == 10  # only the new people
    assert md["linkedin_profiles"]["captaindata/skipped_fresh"] == 20


def test_per_input_errors_land_in_the_errors_table(make_sim, tmp_path, instance):
    sim = make_sim(search_total=200)
    res = {"captaindata": simulator_resource(sim, tmp_path)}
    people, profiles, _ = pipeline(max_results=20)
    first = dg.materialize([people], partition_key="paris", resources=res, instance=instance)
    urls = list(first.output_for_node("linkedin_people", "results")["linkedin_profile_url"])
    sim.set_fail_inputs({urls[0]: "LK_BAD_COOKIE", urls[1]: "NO_RESULT", urls[2]: "STATUS_404"})
    result = dg.materialize(
        [people, profiles], partition_key="paris", resources=res, instance=instance
    )
    assert result.success
    errors = result.output_for_node("linkedin_profiles", "errors")
    assert sorted(errors["error_label"]) == ["LK_BAD_COOKIE", "NO_RESULT", "STATUS_404"]
    assert set(errors["input"]) == set(urls[:3])
    assert errors["error_ref"].str.startswith("ERR-").all()
    assert set(errors.columns) >= {"action_id", "error_scope", "message", "status_code", "at"}
    assert (errors["partition_key"] == "paris").all()
    assert len(result.output_for_node("linkedin_profiles", "results")) == 17
    md = materializations(result)
    assert md["linkedin_profiles"]["captaindata/errors_by_label"] == {
        "LK_BAD_COOKIE": 1,
        "NO_RESULT": 1,
        "STATUS_404": 1,
    }


def test_authentication_failure_fails_the_step_with_its_label(sim, tmp_path, instance):
    bad = simulator_resource(sim, tmp_path, api_key="not-the-key")
    people, _, _ = pipeline()
    result = dg.materialize(
        [people], partition_key="paris", resources={"captaindata": bad}, instance=instance,
        raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    md = step_failure_metadata(result)
    assert md["error_label"] == "UNAUTHORIZED" and md["status_code"] == 401
    assert md["error_ref"].startswith("ERR-") and md["error_scope"] == "config"
    assert "not-the-key" not in str(md)
    assert len(sim.requests) == 1  # stopped at once, never retried


def test_error_rate_over_the_threshold_fails_the_step_without_checks(make_sim, tmp_path, instance):
    # checks=False: above max_error_rate the step itself fails, once both tables landed
    sim = make_sim(search_total=200, faults={"LK_BAD_COOKIE": 0.8})
    people = build_people_search_asset(searches=SEARCHES, max_results=10, max_error_rate=1.0)
    profiles = build_profile_extraction_asset(upstream=people, max_error_rate=0.3, checks=False)
    sim.set_faults({})
    res = {"captaindata": simulator_resource(sim, tmp_path)}
    assert dg.materialize([people], partition_key="paris", resources=res, instance=instance).success
    sim.set_faults({"LK_BAD_COOKIE": 0.8})
    result = dg.materialize(
        [people, profiles], partition_key="paris", resources=res, instance=instance,
        raise_on_error=False, selection=[profiles],
    )  # fmt: skip
    assert not result.success
    md = step_failure_metadata(result)
    assert md["error_label"] == "LK_BAD_COOKIE" and md["error_rate"] > 0.3
    assert md["action_id"] == "linkedin-extract-people"
    landed = materializations(result)  # what was paid for landed before the failure
    assert {"linkedin_profiles", "linkedin_profiles_errors"} <= set(landed)


def test_the_error_rate_counts_attempted_inputs_not_those_a_budget_left(
    make_sim, tmp_path, instance
):
    # one account: inputs run in order. 5 of the first 9 fail, then a budget of 4 credits is
    # spent on the next 4: 5/9 attempted failed (over 50 %), though only 5/20 of all the inputs
    urls = [f"https://www.linkedin.com/in/budget-{i}" for i in range(20)]
    sim = make_sim(fail_inputs={u: "NO_RESULT" for u in urls[:5]})
    profiles = build_action_asset(
        "linkedin-extract-people", name="budgeted", inputs=urls, budget=4, max_error_rate=0.5,
        checks=False,
    )  # fmt: skip
    res = {"captaindata": simulator_resource(sim, tmp_path, integration_users=["u1"])}
    result = dg.materialize([profiles], resources=res, instance=instance, raise_on_error=False)
    assert not result.success
    md = step_failure_metadata(result)
    assert md["error_label"] == "NO_RESULT" and md["error_rate"] == pytest.approx(5 / 9, abs=1e-3)
    assert sim.credits_used == 4


def test_budget_stops_new_calls(make_sim, tmp_path, instance):
    sim = make_sim(search_total=200)
    res = {"captaindata": simulator_resource(sim, tmp_path)}
    people = build_people_search_asset(searches=SEARCHES, max_results=20)
    profiles = build_profile_extraction_asset(upstream=people, budget=5)
    dg.materialize([people], partition_key="paris", resources=res, instance=instance)
    before = sim.credits_used
    result = dg.materialize(
        [people, profiles],
        partition_key="paris",
        resources=res,
        instance=instance,
        selection=[profiles],
    )
    assert result.success
    assert sim.credits_used - before <= 5
    md = materializations(result)
    assert md["linkedin_profiles"]["captaindata/budget_exhausted"] is True
    assert md["linkedin_profiles"]["captaindata/not_started"] >= 15
    assert len(result.output_for_node("linkedin_profiles", "results")) <= 5


def test_missing_key_fails_naming_both_variables(tmp_path, instance, monkeypatch):
    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    monkeypatch.delenv("CAPTAINDATA_SANDBOX", raising=False)
    people, _, _ = pipeline()
    res = CaptainDataResource(ledger_path=str(tmp_path / "l.sqlite"))
    result = dg.materialize(
        [people], partition_key="paris", resources={"captaindata": res}, instance=instance,
        raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    md = step_failure_metadata(result)
    assert md["error_label"] == "MISSING_API_KEY"
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    text = failure.step_failure_data.user_failure_data.description
    assert "CAPTAINDATA_API_KEY" in text and "CAPTAINDATA_SANDBOX" in text


def test_sandbox_mode_uses_the_bundled_simulator(tmp_path, instance, monkeypatch, caplog):
    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    monkeypatch.setenv("CAPTAINDATA_SANDBOX", "1")
    people, _, _ = pipeline(max_results=10)
    res = CaptainDataResource(ledger_path=str(tmp_path / "l.sqlite"))
    result = dg.materialize(
        [people], partition_key="berlin", resources={"captaindata": res}, instance=instance
    )
    assert result.success
    assert len(result.output_for_node("linkedin_people", "results")) == 10
    logs = instance.all_logs(result.run_id)
    assert any("SANDBOX" in (e.user_message or "") for e in logs)


def test_landing_in_duckdb_replaces_partitions(make_sim, tmp_path, instance):
    sim = make_sim(search_total=200, fail_inputs={})
    people, profiles, companies = pipeline(max_results=10)
    db = str(tmp_path / "warehouse.duckdb")
    res = {
        "captaindata": simulator_resource(sim, tmp_path),
        "io_manager": DuckDBPandasIOManager(database=db, schema="linkedin"),
    }
    for key in SEARCHES:
        assert dg.materialize(
            [people, profiles, companies], partition_key=key, resources=res, instance=instance
        ).success
    again = dg.materialize(
        [people, profiles, companies], partition_key="paris", resources=res, instance=instance
    )
    assert again.success
    with duckdb.connect(db, read_only=True) as con:
        counts = dict(
            con.execute(
                "select partition_key, count(*) from linkedin.linkedin_profiles group by 1"
            ).fetchall()
        )
        assert counts == {"paris": 10, "berlin": 10}  # re-run replaced its partition, no dupes
        cols = {r[0] for r in con.execute("describe linkedin.linkedin_people").fetchall()}
        assert {"linkedin_profile_url", "full_name", "partition_key", "_fetched_at"} <= cols
        (companies_rows,) = con.execute(
            "select count(*) from linkedin.linkedin_companies"
        ).fetchone()
        assert companies_rows > 0


def test_daily_snapshots_cross_searches_with_days(make_sim, tmp_path, instance):
    sim = make_sim(search_total=40)
    people = build_people_search_asset(
        searches=SEARCHES, daily_start_date="2026-11-01", max_results=10
    )
    profiles = build_profile_extraction_asset(upstream=people)
    assert isinstance(people.partitions_def, dg.MultiPartitionsDefinition)
    db = str(tmp_path / "w.duckdb")
    res = {
        "captaindata": simulator_resource(sim, tmp_path),
        "io_manager": DuckDBPandasIOManager(database=db, schema="li"),
    }
    for day in ("2026-11-02", "2026-11-03"):
        key = dg.MultiPartitionKey({"search": "paris", "date": day})
        assert dg.materialize(
            [people, profiles], partition_key=key, resources=res, instance=instance
        ).success
    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute(
            "select search, cast(date as date), count(*) from li.linkedin_profiles group by 1, 2 order by 2"
        ).fetchall()
    assert [(r[0], str(r[1]), r[2]) for r in rows] == [
        ("paris", "2026-11-02", 10),
        ("paris", "2026-11-03", 10),
    ]


def test_dynamic_partitions_take_searches_added_at_run_time(sim, tmp_path, instance):
    searches = dg.DynamicPartitionsDefinition(name="linkedin_searches")
    known = dict(SEARCHES)  # e.g. read from a CRM table when the step runs
    people = build_people_search_asset(
        partitions_def=searches, searches=known.__getitem__, max_results=10
    )
    instance.add_dynamic_partitions("linkedin_searches", ["berlin"])
    result = dg.materialize(
        [people], partition_key="berlin", resources={"captaindata": simulator_resource(sim, tmp_path)},
        instance=instance,
    )  # fmt: skip
    assert result.success
    assert len(result.output_for_node("linkedin_people", "results")) == 10
    assert sim.requests[0].input["linkedin_people_search_url"] == SEARCHES["berlin"]


def test_a_search_url_can_be_the_partition_key_itself(sim, tmp_path, instance):
    searches = dg.DynamicPartitionsDefinition(name="search_urls")
    people = build_people_search_asset(partitions_def=searches, max_results=10)
    url = SEARCHES["paris"]
    instance.add_dynamic_partitions("search_urls", [url])
    res = {
        "captaindata": simulator_resource(sim, tmp_path),
        # a URL is no file name: land such partitions in a database, not the default pickles
        "io_manager": DuckDBPandasIOManager(database=str(tmp_path / "w.duckdb"), schema="li"),
    }
    assert dg.materialize([people], partition_key=url, resources=res, instance=instance).success
    assert sim.requests[0].input["linkedin_people_search_url"] == url


def test_generic_action_asset_from_a_static_list(sim, tmp_path, instance):
    urls = [f"https://www.linkedin.com/company/acme-{i}" for i in range(3)]
    asset = build_action_asset(
        "linkedin-extract-company", name="acme_companies", inputs=urls + urls[:1]
    )
    result = dg.materialize(
        [asset], resources={"captaindata": simulator_resource(sim, tmp_path)}, instance=instance
    )
    assert result.success
    table = result.output_for_node("acme_companies", "results")
    assert sorted(table["_input"]) == sorted(urls)  # the repeated URL was one call
    assert sim.credits_used == 3
    assert "partition_key" not in table.columns


def test_bad_declarations_are_refused_when_built():
    with pytest.raises(ValidationError, match="linkedin-extract-company"):
        build_action_asset("linkedin-extract-compny", name="x", inputs=["a"])
    with pytest.raises(ValidationError) as info:
        build_people_search_asset(searches={"bad": "https://example.com/not-a-search"})
    assert "bad" in info.value.field
    with pytest.raises(ValidationError) as info:
        build_profile_extraction_asset(upstream="people", parameters={"skillz": True})
    assert info.value.field == "skillz"
    with pytest.raises(ValidationError):
        build_action_asset("linkedin-extract-company", name="y")  # neither upstream nor inputs


def test_assets_declare_pool_retry_policy_and_types():
    people, profiles, _ = pipeline()
    for asset in (people, profiles):
        assert asset.op.pool == "captaindata"
        assert asset.op.retry_policy is not None and asset.op.retry_policy.max_retries == 3
    keys = {k.to_user_string() for k in profiles.keys}
    assert keys == {"linkedin_profiles", "linkedin_profiles_errors"}
    out_type = people.op.outs["results"].dagster_type
    good = pd.DataFrame({"linkedin_profile_url": ["a", "b"]})
    dup = pd.DataFrame({"linkedin_profile_url": ["a", "a"]})
    assert out_type.type_check(None, people_frame(good)).success
    assert not out_type.type_check(None, people_frame(dup)).success


def people_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A frame with every column the people type requires, around the given URLs."""
    from captaindata_dagster.api.catalog import load_catalog
    from captaindata_dagster.engine.frames import results_table

    action = load_catalog().get("linkedin-search-people")
    base = df.assign(
        _input="s", _input_key="k", _fetched_at=pd.Timestamp.now(tz="UTC"), _from_cache=False
    )
    return results_table(action, base, {"partition_key": "paris"})


CHILD = """
import sys
import dagster as dg
sys.path.insert(0, {root!r})
from captaindata_dagster import CaptainDataResource, build_people_search_asset, build_profile_extraction_asset
people = build_people_search_asset(searches={searches!r}, max_results=60)
profiles = build_profile_extraction_asset(upstream=people)
res = CaptainDataResource(api_key={key!r}, base_url={url!r}, ledger_path={ledger!r})
dg.materialize([people, profiles], partition_key="paris", resources={{"captaindata": res}})
"""


def test_a_killed_materialization_resumes_without_paying_twice(make_sim, tmp_path, instance):
    import os
    import signal
    import subprocess
    import sys
    import time
    from collections import Counter
    from pathlib import Path

    from captaindata_dagster.storage.ledger import Ledger

    sim = make_sim(search_total=200, latency_ms=30)
    ledger_path = tmp_path / "ledger.sqlite"
    script = tmp_path / "child.py"
    root = str(Path(__file__).resolve().parents[2])
    script.write_text(
        CHILD.format(
            root=root, searches=SEARCHES, key=sim.api_key, url=sim.base_url, ledger=str(ledger_path)
        )
    )
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    watcher = Ledger(ledger_path)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (
                ledger_path.exists()
                and len(watcher.entries("linkedin-extract-people", results=False)) >= 15
            ):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the child finished before it could be killed"
        proc.send_signal(signal.SIGKILL)  # mid-batch, wherever it is
        proc.wait()
    finally:
        proc.kill()
        watcher.close()
    with Ledger(ledger_path) as led:
        assert led.integrity_ok()
        kept = len(led.entries("linkedin-extract-people", results=False))
    assert 15 <= kept < 60

    people = build_people_search_asset(searches=SEARCHES, max_results=60)
    profiles = build_profile_extraction_asset(upstream=people)
    res = simulator_resource(sim, tmp_path)  # the ledger the killed child wrote
    result = dg.materialize(
        [people, profiles], partition_key="paris", resources={"captaindata": res}, instance=instance
    )
    assert result.success
    table = result.output_for_node("linkedin_profiles", "results")
    found = result.output_for_node("linkedin_people", "results")
    assert len(table) == 60 and table["linkedin_profile_url"].is_unique
    assert set(table["linkedin_profile_url"]) == set(found["linkedin_profile_url"])
    assert materializations(result)["linkedin_profiles"]["captaindata/skipped_fresh"] == kept
    answered = Counter(
        r.input["linkedin_profile_url"]
        for r in sim.calls("linkedin-extract-people")
        if r.status == 200
    )
    twice = [u for u, n in answered.items() if n > 1]
    assert len(twice) <= 1  # at most the one answer in flight when the child died
    search_pages = [r for r in sim.calls("linkedin-search-people") if r.status == 200]
    assert len(search_pages) == 6  # the search was walked once: the re-run read it from the ledger


def test_an_asset_binds_its_own_resource_and_io_manager(sim, tmp_path, instance):
    # nothing under the project's keys: the asset carries its resource and IO manager itself
    db = str(tmp_path / "own.duckdb")
    people = build_people_search_asset(
        searches=SEARCHES, max_results=5, resource_key="captaindata_crm",
        io_manager_key="crm_warehouse", storage_kind="duckdb",
        resource_defs={
            "captaindata_crm": simulator_resource(sim, tmp_path),
            "crm_warehouse": DuckDBPandasIOManager(database=db, schema="crm"),
        },
    )  # fmt: skip
    assert people.required_resource_keys >= {"captaindata_crm", "crm_warehouse"}
    assert "captaindata" not in people.required_resource_keys
    result = dg.materialize([people], partition_key="paris", instance=instance)
    assert result.success
    with duckdb.connect(db, read_only=True) as con:
        (rows,) = con.execute("select count(*) from crm.linkedin_people").fetchone()
    assert rows == 5
    with pytest.raises(ValidationError, match="resource_key"):
        build_people_search_asset(searches=SEARCHES, resource_key="not an identifier")


def test_a_sales_navigator_search_given_to_the_linkedin_search_names_the_action_that_takes_it():
    url = "https://www.linkedin.com/sales/search/people?query=(keywords%3Adata)"
    with pytest.raises(ValidationError) as info:
        build_people_search_asset(searches={"sn": url})
    assert info.value.field == "searches['sn']"
    assert "action_id='salesnavigator-search-people'" in str(info.value)
    built = build_people_search_asset(
        searches={"sn": url}, action_id="salesnavigator-search-people"
    )
    assert built.keys  # the hint is right: that action takes it
    with pytest.raises(ValidationError) as plain:  # a URL no search takes gets no hint
        build_people_search_asset(searches={"x": "https://example.com/nope"})
    assert "action_id=" not in str(plain.value)
