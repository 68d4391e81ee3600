"""The cost preview against real runs: a DagsterInstance, `dg.materialize` and the simulator.

The preview reads the ledger, the catalog and the stored upstream partitions; the simulator's
request log shows it never calls the API, and its credit counter is the real spend it predicts.
"""

from __future__ import annotations

import dagster as dg
import pytest

from captaindata_dagster import build_people_search_asset, build_profile_extraction_asset
from captaindata_dagster.orchestration.estimate import (
    EstimateRequestError,
    build_captaindata_estimate_job,
    estimate_asset,
    text_table,
)
from captaindata_dagster.orchestration.estimate.report import SUMMARY_KEYS
from tests.helpers import SEARCHES, simulator_resource

PEOPLE, PROFILES = dg.AssetKey("linkedin_people"), dg.AssetKey("linkedin_profiles")


def pipeline():
    people = build_people_search_asset(searches=SEARCHES, max_results=20)
    return people, build_profile_extraction_asset(upstream=people)


def http_requests(sim) -> int:
    """Every request the simulator answered (any endpoint)."""
    return len(sim.requests)


def metadata_of(result, key: dg.AssetKey) -> dict:
    [mat] = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key == key
    ]
    return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


def test_the_preview_matches_what_the_run_then_spends(make_sim, tmp_path, instance):
    sim = make_sim(search_total=200)
    people, profiles = pipeline()
    res = simulator_resource(sim, tmp_path, requests_per_second=10)
    defs = dg.Definitions(assets=[people, profiles], resources={"captaindata": res})
    assert dg.materialize([people], partition_key="paris", resources={"captaindata": res},
                          instance=instance).success  # fmt: skip
    calls, spent = http_requests(sim), sim.credits_used
    assert spent == 20

    before = estimate_asset(defs, "linkedin_profiles", ["paris"], instance=instance)
    [part] = before.partitions
    est = part.estimate
    assert part.inputs_from == "upstream" and est is not None
    assert (est.inputs, est.fresh, est.to_fetch) == (20, 0, 20)
    assert est.credits == 20 * est.price_per_result == 20.0  # inputs x the catalog's price
    assert est.workers == 1 and est.seconds == pytest.approx(20 * 2.0)  # 1 account, 2 s a call
    # the search itself is fresh in the ledger: free
    [search] = estimate_asset(defs, PEOPLE, ["paris"], instance=instance).partitions
    assert search.inputs_from == "search" and search.estimate is not None
    assert (search.estimate.fresh, search.estimate.credits) == (1, 0.0)
    assert (http_requests(sim), sim.credits_used) == (calls, spent)  # no call, no credit

    run = dg.materialize([people, profiles], partition_key="paris",
                         resources={"captaindata": res}, instance=instance)  # fmt: skip
    assert run.success
    md = metadata_of(run, PROFILES)
    assert md["captaindata/estimated_credits"] == est.credits == md["captaindata/credits_spent"]
    assert sim.credits_used - spent == est.credits

    after = estimate_asset(defs, "linkedin_profiles", ["paris"], instance=instance)
    assert after.partitions[0].estimate is not None
    assert (after.partitions[0].estimate.fresh, after.totals()["credits"]) == (20, 0.0)


def test_an_upstream_not_materialized_bounds_the_figures(make_sim, tmp_path, instance):
    sim = make_sim(search_total=200)
    people, profiles = pipeline()
    defs = dg.Definitions(assets=[people, profiles],
                          resources={"captaindata": simulator_resource(sim, tmp_path)})  # fmt: skip
    preview = estimate_asset(defs, PROFILES, all_partitions=True, instance=instance)
    assert [p.partition_key for p in preview.partitions] == list(SEARCHES)
    for part in preview.partitions:
        assert part.inputs_from == "upstream estimate" and part.estimate is not None
        assert part.estimate.credits is None  # unknown people: only a bound
        assert part.estimate.credits_upper_bound == 20.0  # max_results=20 people per search
    totals = preview.totals()
    assert totals["credits"] is None and totals["credits_upper_bound"] == 40.0
    table = text_table(preview)
    assert "TOTAL" in table and "upstream estimate" in table and "not materialized" in table
    assert http_requests(sim) == 0 and sim.credits_used == 0


def test_a_bad_request_names_what_exists(make_sim, tmp_path, instance):
    sim = make_sim()
    people, profiles = pipeline()
    defs = dg.Definitions(assets=[people, profiles],
                          resources={"captaindata": simulator_resource(sim, tmp_path)})  # fmt: skip
    with pytest.raises(EstimateRequestError, match="linkedin_people"):
        estimate_asset(defs, "nope", ["paris"], instance=instance)
    with pytest.raises(EstimateRequestError, match="unknown partition"):
        estimate_asset(defs, PEOPLE, ["rome"], instance=instance)
    with pytest.raises(EstimateRequestError, match="name partitions"):
        estimate_asset(defs, PEOPLE, instance=instance)


def test_the_estimate_job_records_the_preview_beside_the_asset(make_sim, tmp_path, instance):
    sim = make_sim(search_total=200)
    people, profiles = pipeline()
    # a stored upstream, as a deployment has it (execute_in_process would keep outputs in memory)
    resources = {
        "captaindata": simulator_resource(sim, tmp_path),
        "io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path / "storage")),
    }
    assert dg.materialize([people], partition_key="berlin", resources=resources,
                          instance=instance).success  # fmt: skip
    spent = sim.credits_used
    job = build_captaindata_estimate_job([people, profiles])
    defs = dg.Definitions(assets=[people, profiles], jobs=[job], resources=resources)
    config = {"ops": {"captaindata_estimate_op": {"config": {"asset": "linkedin_profiles",
                                                             "partitions": ["berlin"]}}}}  # fmt: skip
    result = defs.resolve_job_def("captaindata_estimate").execute_in_process(
        run_config=config, instance=instance
    )
    assert result.success and sim.credits_used == spent
    [obs] = [
        e.asset_observation_data.asset_observation
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    assert obs.asset_key == PROFILES and obs.partition == "berlin"
    md = {k: getattr(v, "value", v) for k, v in obs.metadata.items()}
    assert md["captaindata/estimated_credits"] == 20.0 and md["estimate/to_fetch"] == 20
    assert md["estimate/inputs_from"] == "upstream"
    # the instance keeps it with the asset, where the UI shows it beside its materializations
    stored = instance.fetch_observations(PROFILES, limit=5).records
    assert [r.partition_key for r in stored] == ["berlin"]
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    shown = str(output.step_output_data.metadata[SUMMARY_KEYS["table"]].value)
    assert "| berlin | upstream | 20 |" in shown


DEFINITIONS_FILE = """
import dagster as dg
from captaindata_dagster import (
    CaptainDataResource, build_people_search_asset, build_profile_extraction_asset,
)

SEARCHES = {searches!r}
people = build_people_search_asset(searches=SEARCHES, max_results=20)
profiles = build_profile_extraction_asset(upstream=people)
defs = dg.Definitions(
    assets=[people, profiles],
    resources={{
        "captaindata": CaptainDataResource(ledger_path={ledger!r}, requests_per_second=2),
        "io_manager": dg.FilesystemIOManager(base_dir={storage!r}),
    }},
)
"""


def test_the_cli_prints_the_preview_of_a_code_location(make_sim, tmp_path, instance):
    import json

    from click.testing import CliRunner

    from captaindata_dagster.cli import main
    from tests.helpers import load_script

    sim = make_sim(search_total=200)
    path = tmp_path / "location.py"
    storage = str(tmp_path / "storage")
    path.write_text(DEFINITIONS_FILE.format(searches=SEARCHES, ledger=str(tmp_path / "ledger.sqlite"),
                                            storage=storage))  # fmt: skip
    location = load_script(path)
    resources = {"captaindata": simulator_resource(sim, tmp_path),  # the file's ledger
                 "io_manager": dg.FilesystemIOManager(base_dir=storage)}  # fmt: skip
    assert dg.materialize([location.people], partition_key="paris", resources=resources,
                          instance=instance).success  # fmt: skip
    seen = http_requests(sim)

    runner = CliRunner()
    args = ["estimate", "-f", str(path), "--asset", "linkedin_profiles"]
    shown = runner.invoke(main, [*args, "--all-partitions", "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    by_partition = {p["partition"]: p for p in data["partitions"]}
    paris, berlin = by_partition["paris"], by_partition["berlin"]
    assert paris["inputs_from"] == "upstream" and paris["estimate"]["to_fetch"] == 20
    assert paris["estimate"]["credits"] == 20.0 and paris["estimate"]["paced_rate"] == 1.9
    assert berlin["inputs_from"] == "upstream estimate" and berlin["estimate"]["credits"] is None
    assert data["totals"]["credits_upper_bound"] == 40.0 and data["totals"]["credits"] is None

    text = runner.invoke(main, [*args, "--partition", "paris"])
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0] == "linkedin_profiles (linkedin-extract-people)"
    [total] = [line for line in text.stdout.splitlines() if line.startswith("TOTAL")]
    assert total.split()[1:5] == ["20", "0", "20", "20"]  # inputs, fresh, to fetch, credits
    assert http_requests(sim) == seen  # the CLI called nothing

    unknown = runner.invoke(main, [*args[:3], "--asset", "nope", "--partition", "paris"])
    assert unknown.exit_code == 2 and "linkedin_profiles" in unknown.output
    both = runner.invoke(main, [*args, "--partition", "paris", "--all-partitions"])
    assert both.exit_code == 2


def test_the_budget_caps_each_partition_as_it_caps_the_run(make_sim, tmp_path, instance):
    sim = make_sim(search_total=200)
    people = build_people_search_asset(searches=SEARCHES, max_results=20)
    profiles = build_profile_extraction_asset(upstream=people, budget=5)
    res = simulator_resource(sim, tmp_path)
    defs = dg.Definitions(assets=[people, profiles], resources={"captaindata": res})
    assert dg.materialize([people], partition_key="paris", resources={"captaindata": res},
                          instance=instance).success  # fmt: skip
    spent = sim.credits_used

    preview = estimate_asset(defs, PROFILES, all_partitions=True, instance=instance)
    by_key = {p.partition_key: p.estimate for p in preview.partitions}
    paris, berlin = by_key["paris"], by_key["berlin"]
    assert paris is not None and berlin is not None
    assert (paris.to_fetch, paris.credits, paris.credits_upper_bound) == (20, 5.0, 5.0)
    assert paris.calls == 5 and paris.budget == 5
    assert any("budget" in note for note in paris.notes)
    assert berlin.credits_upper_bound == 5.0  # a bound, capped too: per partition
    assert preview.totals()["credits_upper_bound"] == 10.0

    run = dg.materialize([people, profiles], partition_key="paris",
                         resources={"captaindata": res}, instance=instance)  # fmt: skip
    assert run.success
    assert sim.credits_used - spent == paris.credits  # the run stopped where the preview said
    md = run.asset_materializations_for_node("linkedin_profiles")[0].metadata
    assert md["captaindata/estimated_credits"].value == paris.credits  # the step's own figure too


NO_KEY_FILE = """
import dagster as dg
from captaindata_dagster import (
    CaptainDataResource, build_people_search_asset, build_profile_extraction_asset,
)

people = build_people_search_asset(searches={searches!r}, max_results=20)
profiles = build_profile_extraction_asset(upstream=people)
defs = dg.Definitions(
    assets=[people, profiles],
    resources={{"captaindata": CaptainDataResource(
        api_key=dg.EnvVar("CAPTAINDATA_API_KEY"),
        requests_per_second=2,
        {ledger_setting},
    )}},
)
"""


def test_the_preview_needs_no_api_key(tmp_path, instance, monkeypatch):
    from click.testing import CliRunner

    from captaindata_dagster import CaptainDataResource
    from captaindata_dagster.cli import main

    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    people, profiles = pipeline()
    resource = CaptainDataResource(
        api_key=dg.EnvVar("CAPTAINDATA_API_KEY"),
        ledger_path=str(tmp_path / "ledger.sqlite"),
        requests_per_second=2,
        integration_users=["u-1", "u-2"],
    )
    defs = dg.Definitions(assets=[people, profiles], resources={"captaindata": resource})
    preview = estimate_asset(defs, PROFILES, ["paris"], instance=instance)
    [part] = preview.partitions
    assert part.estimate is not None and part.estimate.credits_upper_bound == 20.0
    assert part.estimate.paced_rate == 1.9 and part.estimate.workers == 2  # its settings, read

    path = tmp_path / "location.py"
    ledger = f"ledger_path={str(tmp_path / 'ledger.sqlite')!r}"
    path.write_text(NO_KEY_FILE.format(searches=SEARCHES, ledger_setting=ledger))
    shown = CliRunner().invoke(main, ["estimate", "-f", str(path), "--asset",
                                      "linkedin_profiles", "--partition", "paris"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "TOTAL" in shown.stdout


def test_a_setting_the_preview_cannot_read_is_named_and_exits_2(tmp_path, instance, monkeypatch):
    from click.testing import CliRunner

    from captaindata_dagster import CaptainDataResource
    from captaindata_dagster.cli import main
    from captaindata_dagster.orchestration.estimate import EstimateSettingsError

    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    monkeypatch.delenv("NO_SUCH_LEDGER_URL", raising=False)
    people, profiles = pipeline()
    resource = CaptainDataResource(ledger_url=dg.EnvVar("NO_SUCH_LEDGER_URL"))
    defs = dg.Definitions(assets=[people, profiles], resources={"captaindata": resource})
    with pytest.raises(EstimateSettingsError, match="ledger_url.*NO_SUCH_LEDGER_URL"):
        estimate_asset(defs, PROFILES, ["paris"], instance=instance)

    path = tmp_path / "location.py"
    ledger = 'ledger_url=dg.EnvVar("NO_SUCH_LEDGER_URL")'
    path.write_text(NO_KEY_FILE.format(searches=SEARCHES, ledger_setting=ledger))
    shown = CliRunner().invoke(main, ["estimate", "-f", str(path), "--asset",
                                      "linkedin_profiles", "--partition", "paris"])  # fmt: skip
    assert shown.exit_code == 2, shown.output
    [message] = shown.stderr.strip().splitlines()[-1:]
    assert "ledger_url" in message and "NO_SUCH_LEDGER_URL" in message
    assert "Traceback" not in shown.output


def test_an_unreadable_resource_of_another_kind_is_one_line_too(tmp_path, instance, monkeypatch):
    from captaindata_dagster.orchestration.estimate import EstimateSettingsError

    monkeypatch.delenv("NO_SUCH_RATE", raising=False)

    @dg.resource(config_schema={"rate": dg.StringSource})
    def captaindata(init_context):  # a resource function, configured by run config
        raise AssertionError("not built: its config cannot be read")

    people, profiles = pipeline()
    bound = captaindata.configured({"rate": {"env": "NO_SUCH_RATE"}})
    defs = dg.Definitions(assets=[people, profiles], resources={"captaindata": bound})
    with pytest.raises(EstimateSettingsError, match="resource 'captaindata': .*rate") as caught:
        estimate_asset(defs, PROFILES, ["paris"], instance=instance)
    assert "\n" not in str(caught.value) and "NO_SUCH_RATE" in str(caught.value)
