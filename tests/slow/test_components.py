"""CaptainDataActionsComponent: YAML loaded by Dagster's component machinery, run against a simulator.

Definitions are built from a `defs.yaml` in a `create_defs_folder_sandbox` (Dagster's own test
helper), materialized against the simulator over loopback, and the example project under
`examples/` is loaded from its folder and listed by the real `dg` CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox

from captaindata_dagster import CaptainDataActionsComponent, CaptainDataResource
from captaindata_dagster.api.labels import PERSON_FIXES, RERUN_LABELS
from captaindata_dagster.orchestration.components.resources import build_resource
from captaindata_dagster.orchestration.components.scaffold import TYPE_NAME
from tests.helpers import SEARCHES, TEST_KEY

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "linkedin_warehouse"
DG = Path(sys.executable).parent / "dg"

ACTIONS = ["linkedin_people", "linkedin_profiles", "linkedin_companies", "company_insights"]
CHECKS = {  # every action here runs on a LinkedIn account: the accounts check too
    "captaindata_error_rate", "captaindata_required_columns", "captaindata_unique_key",
    "captaindata_accounts",
}  # fmt: skip


def attributes(tmp_path: Path | None = None, **over: Any) -> dict[str, Any]:
    """A full component: 2 searches, profiles, companies, one more catalog action."""
    attrs: dict[str, Any] = {
        "searches": dict(SEARCHES),
        "people": {"max_results": 5},
        "profiles": {"parameters": {"experiences": True}},
        "companies": {"max_age_days": 90},
        "actions": [
            {
                "action_id": "linkedin-extract-company-employees-insights",
                "name": "company_insights",
                "upstream": "companies",
                "parameters": {"affiliates": False},
            }
        ],
        "resource": {"api_key": "{{ env.CAPTAINDATA_API_KEY }}"},
        "pool": "linkedin",
        "retry_policy": {"max_retries": 2, "delay": 7, "backoff": "linear", "jitter": None},
        "schedule": {"cron": "0 6 * * 1", "timezone": "Europe/Paris"},
    }
    if tmp_path is not None:
        attrs["resource"]["ledger_path"] = str(tmp_path / "ledger.sqlite")
        attrs["warehouse"] = {"database": str(tmp_path / "warehouse.duckdb"), "schema": "li"}
    attrs.update(over)
    return attrs


@contextmanager
def yaml_defs(attrs: dict[str, Any]):
    """Write `attrs` as a defs.yaml in a fresh dg defs folder; load and build it like dg does."""
    with create_defs_folder_sandbox() as sandbox:
        path = write_component(sandbox, attrs)
        with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
            yield component, defs


def write_component(sandbox, attrs: dict[str, Any]) -> Path:
    path = sandbox.scaffold_component(
        component_cls=CaptainDataActionsComponent, defs_path="linkedin"
    )
    document = {"type": TYPE_NAME, "attributes": attrs}
    # in YAML order, as a person writes it: the searches' order is the partitions' order
    (path / "defs.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def bound(defs: dg.Definitions, key: str, asset: str = "linkedin_people") -> Any:
    """The resource the component bound on one of its assets under `key`."""
    return defs.resolve_assets_def(asset).resource_defs[key]


def shown_config(resource_def: Any) -> dict[str, Any]:
    """What the Dagster UI shows as a bound resource's config."""
    return json.loads(resource_def.config_schema.default_value_as_json_str)


def load_error(attrs: dict[str, Any]) -> str:
    with pytest.raises(Exception) as info:
        with yaml_defs(attrs):
            pass
    return "\n".join(str(e) for e in _chain(info.value))


def _chain(exc: BaseException | None):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


@pytest.fixture
def sim_env(sim, monkeypatch):
    monkeypatch.setenv("CAPTAINDATA_API_KEY", sim.api_key)
    monkeypatch.setenv("CAPTAINDATA_BASE_URL", sim.base_url)
    monkeypatch.delenv("CAPTAINDATA_SANDBOX", raising=False)
    return sim


# ---------------------------------------------------------------------------------- the shape


def test_yaml_builds_the_factories_assets_checks_sensors_and_schedule(monkeypatch):
    monkeypatch.setenv("CAPTAINDATA_API_KEY", TEST_KEY)
    with yaml_defs(attributes()) as (component, defs):
        assert isinstance(component, CaptainDataActionsComponent)
        graph = defs.resolve_asset_graph()
        keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
        assert keys == {*ACTIONS, *(f"{a}_errors" for a in ACTIONS)}

        # partitions are the searches, everywhere
        for asset in defs.assets:
            assert asset.partitions_def.get_partition_keys() == list(SEARCHES)
            assert asset.op.pool == "linkedin"
            assert asset.op.retry_policy == dg.RetryPolicy(
                max_retries=2, delay=7, backoff=dg.Backoff.LINEAR
            )
        # each step reads its upstream's results table
        deps = {
            k.to_user_string(): {d.to_user_string() for d in graph.get(k).parent_keys}
            for k in graph.get_all_asset_keys()
        }
        assert deps["linkedin_profiles"] == {"linkedin_people"}
        assert deps["linkedin_companies"] == {"linkedin_profiles"}
        assert deps["company_insights"] == {"linkedin_companies"}

        # the factories' checks on each results table
        checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
        assert {n for a, n in checks if a == "linkedin_people"} == CHECKS
        assert {n for a, n in checks if a == "company_insights"} == CHECKS
        assert not {a for a, _ in checks} & {f"{a}_errors" for a in ACTIONS}

        sensors = {s.name: s for s in defs.sensors}
        assert set(sensors) == {
            "linkedin_people_error_sensor",
            "linkedin_people_run_failure_sensor",
        }
        assert sensors["linkedin_people_error_sensor"].default_status == (
            dg.DefaultSensorStatus.RUNNING
        )
        [schedule] = defs.schedules
        assert schedule.name == "refresh_linkedin_people_schedule"
        assert schedule.cron_schedule == "0 6 * * 1"
        assert schedule.execution_timezone == "Europe/Paris"
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        job = defs.resolve_job_def("refresh_linkedin_people")
        assert job.partitions_def.get_partition_keys() == list(SEARCHES)

        # the key is an EnvVar: what the UI shows as resource config names the variable only
        resource = bound(defs, "captaindata_linkedin_people")
        shown = resource.config_schema.default_value_as_json_str
        assert TEST_KEY not in shown
        assert json.loads(shown)["api_key"] == {"env": "CAPTAINDATA_API_KEY"}
        # bound on its own assets under its own key, never the project's keys
        assert not defs.resources
        assert (
            "io_manager_linkedin_people"
            not in defs.resolve_assets_def("linkedin_people").resource_defs
        )


def test_flags_turn_checks_sensors_and_schedule_off():
    attrs = attributes(checks=False, error_sensor=False, run_failure_sensor=False, resource=None)
    attrs.pop("schedule")
    with create_defs_folder_sandbox() as sandbox:
        write_component(sandbox, attrs)
        # resource: null -> the `captaindata` resource comes from another defs file
        (sandbox.defs_folder_path / "resources.py").write_text(
            "import dagster as dg\n"
            "from captaindata_dagster import CaptainDataResource\n\n\n"
            "@dg.definitions\n"
            "def resources():\n"
            "    return dg.Definitions(\n"
            "        resources={'captaindata': CaptainDataResource(requests_per_second=3)}\n"
            "    )\n"
        )
        with sandbox.build_all_defs() as defs:
            assert not defs.resolve_asset_graph().asset_check_keys
            assert not list(defs.sensors or []) and not list(defs.schedules or [])
            assert defs.resources["captaindata"].requests_per_second == 3


def test_sensor_settings_are_passed_to_the_factories():
    attrs = attributes(
        error_sensor={"name": "cd_errors", "running": False, "minimum_interval_seconds": 45},
        run_failure_sensor={"running": False},
    )
    with yaml_defs(attrs) as (_, defs):
        sensors = {s.name: s for s in defs.sensors}
        assert sensors["cd_errors"].minimum_interval_seconds == 45
        assert sensors["cd_errors"].default_status == dg.DefaultSensorStatus.STOPPED
        assert sensors["linkedin_people_run_failure_sensor"].default_status == (
            dg.DefaultSensorStatus.STOPPED
        )


def test_schedule_requests_one_run_per_search_each_day():
    with yaml_defs(attributes()) as (_, defs):
        [schedule] = defs.schedules
        when = datetime(2026, 11, 30, 5, tzinfo=timezone.utc)
        with (
            dg.instance_for_test() as instance,
            dg.build_schedule_context(
                instance=instance,
                scheduled_execution_time=when,
                repository_def=defs.get_repository_def(),
            ) as ctx,
        ):
            requests = list(schedule.evaluate_tick(ctx).run_requests or [])
    assert sorted(r.partition_key for r in requests) == sorted(SEARCHES)
    assert sorted(r.run_key for r in requests) == sorted(SEARCHES)  # unique within the tick


def test_daily_snapshots_cross_searches_with_days_and_the_schedule_takes_yesterday():
    attrs = attributes(people={"max_results": 5, "daily_start_date": "2026-11-01"})
    attrs["schedule"] = {"cron": "0 5 * * *", "timezone": "UTC"}
    with yaml_defs(attrs) as (_, defs):
        people = defs.resolve_assets_def("linkedin_people")
        pdef = people.partitions_def
        assert isinstance(pdef, dg.MultiPartitionsDefinition)
        assert {d.name for d in pdef.partitions_defs} == {"search", "date"}
        [schedule] = defs.schedules
        fn = schedule._execution_fn  # Dagster's partitioned schedule evaluates it
        assert getattr(fn, "decorated_fn", fn).__module__.endswith("partitioned_schedule")
        ticks = {}
        with dg.instance_for_test() as instance:
            for day in (30, 1):
                with dg.build_schedule_context(
                    instance=instance,
                    scheduled_execution_time=datetime(2026, 11, day, 5, tzinfo=timezone.utc),
                    repository_def=defs.get_repository_def(),
                ) as ctx:
                    ticks[day] = list(schedule.evaluate_tick(ctx).run_requests or [])
    # on the 30th at 05:00, one run per search for the 29th, the last full day
    assert sorted(r.partition_key for r in ticks[30]) == [
        dg.MultiPartitionKey({"search": s, "date": "2026-11-29"}) for s in sorted(SEARCHES)
    ]
    assert ticks[1] == []  # the first day is not over yet: nothing to snapshot


def test_a_daily_snapshot_materializes_from_yaml(sim_env, tmp_path):
    import duckdb

    attrs = attributes(
        tmp_path,
        people={"max_results": 5, "daily_start_date": "2026-11-01"},
        actions=[],
        companies=None,
    )
    key = dg.MultiPartitionKey({"search": "paris", "date": "2026-11-27"})
    with yaml_defs(attrs) as (_, defs), dg.instance_for_test() as instance:
        job = defs.resolve_implicit_global_asset_job_def()
        assert job.execute_in_process(partition_key=key, instance=instance).success
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select search, cast(date as date), count(*) from li.linkedin_profiles group by 1, 2"
        ).fetchall()
    assert [(r[0], str(r[1]), r[2]) for r in rows] == [("paris", "2026-11-27", 5)]


# ---------------------------------------------------------------------------------- running it


def test_yaml_defs_materialize_against_the_simulator(sim_env, tmp_path):
    """Both searches through every enrichment, landed in DuckDB; errors surface; reruns are free."""
    import duckdb

    sim = sim_env
    attrs = attributes(tmp_path, max_error_rate=1.0, retry_policy={"max_retries": 0})
    sim.set_fail_inputs({SEARCHES["berlin"]: "LK_BAD_COOKIE"})
    with yaml_defs(attrs) as (_, defs), dg.instance_for_test() as instance:
        job = defs.resolve_implicit_global_asset_job_def()
        assert job.execute_in_process(partition_key="paris", instance=instance).success
        paid = sim.credits_used
        assert paid > 0
        assert job.execute_in_process(partition_key="berlin", instance=instance).success

        con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
        try:
            rows = {
                t: con.execute(
                    f"select count(*) from li.{t} where partition_key = 'paris'"
                ).fetchone()[0]
                for t in ACTIONS
            }
            errors = con.execute(
                "select partition_key, error_label from li.linkedin_people_errors"
            ).fetchall()
        finally:
            con.close()
        assert rows["linkedin_people"] == 5
        assert rows["linkedin_profiles"] == 5
        assert (
            rows["linkedin_companies"] >= 1
            and rows["company_insights"] == rows["linkedin_companies"]
        )
        assert errors == [("berlin", "LK_BAD_COOKIE")]
        errors_key = dg.AssetKey("linkedin_people_errors")
        assert instance.get_latest_materialization_event(errors_key) is not None

        # the error sensor the YAML built names the label and what a person should do
        sensor = next(s for s in defs.sensors if s.name == "linkedin_people_error_sensor")
        tick = sensor(dg.build_sensor_context(instance=instance))
        [obs] = [o for o in tick.asset_events if o.partition == "berlin"]
        assert obs.metadata["error_label"].value == "LK_BAD_COOKIE"
        assert obs.metadata["needs_a_person"].value == PERSON_FIXES["LK_BAD_COOKIE"]
        assert tick.run_requests == []  # a bad cookie is not re-run

        # fresh in the ledger (people 12 h, profiles 30 d, companies 90 d): a re-run is free
        sim.set_fail_inputs({})
        before = sim.credits_used
        assert before == paid  # the failed search cost nothing
        result = job.execute_in_process(partition_key="paris", instance=instance)
        assert result.success and sim.credits_used == before
        md = result.asset_materializations_for_node("linkedin_profiles")[0].metadata
        assert md["captaindata/skipped_fresh"].value == 5

        # the key was never written to the run's events
        events = [e.to_json() for e in instance.all_logs(result.run_id)]
        assert not any(sim.api_key in e for e in events)


def test_freshness_from_yaml_decides_what_is_fetched_again(sim_env, tmp_path):
    sim = sim_env
    attrs = attributes(tmp_path, profiles={"max_age_days": 0}, actions=[])
    attrs.pop("companies")
    with yaml_defs(attrs) as (_, defs), dg.instance_for_test() as instance:
        job = defs.resolve_implicit_global_asset_job_def()
        assert job.execute_in_process(partition_key="paris", instance=instance).success
        first = sim.credits_used
        result = job.execute_in_process(partition_key="paris", instance=instance)
        assert result.success
        people = result.asset_materializations_for_node("linkedin_people")[0].metadata
        profiles = result.asset_materializations_for_node("linkedin_profiles")[0].metadata
    assert people["captaindata/credits_spent"].value == 0  # searched within 12 hours
    assert profiles["captaindata/skipped_fresh"].value == 0  # max_age_days: 0 -> stale at once
    assert profiles["captaindata/credits_spent"].value == 5
    assert sim.credits_used == first + 5


def test_without_checks_a_partition_still_materializes(sim_env, tmp_path):
    attrs = attributes(tmp_path, checks=False, actions=[])
    attrs.pop("profiles")
    attrs.pop("companies")
    with yaml_defs(attrs) as (_, defs), dg.instance_for_test() as instance:
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(partition_key="berlin", instance=instance)
        assert result.success
        assert not result.get_asset_check_evaluations()


def test_budget_from_yaml_caps_the_credits_of_a_partition(sim_env, tmp_path):
    sim = sim_env
    attrs = attributes(tmp_path, actions=[], people={"max_results": 10}, budget=3)
    attrs.pop("companies")
    attrs["people"]["budget"] = 100  # a step's own budget wins over the component's
    with yaml_defs(attrs) as (_, defs), dg.instance_for_test() as instance:
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(partition_key="paris", instance=instance)
        assert result.success
        people = result.asset_materializations_for_node("linkedin_people")[0].metadata
        profiles = result.asset_materializations_for_node("linkedin_profiles")[0].metadata
    assert people["captaindata/credits_spent"].value == 10
    assert profiles["captaindata/credits_spent"].value <= 3
    assert profiles["captaindata/budget_exhausted"].value is True
    assert sim.credits_used <= 13


# ---------------------------------------------------------------------------------- bad YAML


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            {"actions": [{"action_id": "linkedin-extract-compny", "upstream": "companies"}]},
            ["actions[0].action_id", "unknown action 'linkedin-extract-compny'", "did you mean"],
        ),
        (
            {"searches": {"paris": SEARCHES["paris"], "bad": "https://example.com/people?q=cto"}},
            ["searches.bad", "linkedin_people_search_url"],
        ),
        (
            {"resource": {"requests_per_secnd": 10}},
            ["resource.requests_per_secnd", "did you mean 'requests_per_second'"],
        ),
        (
            {"resource": {"requests_per_second": "fast"}},
            ["resource.requests_per_second", "valid number"],
        ),
        (
            {"resource": {"api_key": "cd-literal-key-123"}},
            ["resource.api_key", "{{ env.CAPTAINDATA_API_KEY }}"],
        ),
        (
            {"companies": {"input_column": "company_linkedin_url"}},
            ["companies.input_column", "no column 'company_linkedin_url'", "linkedin_company_url"],
        ),
        (
            {
                "actions": [
                    {
                        "action_id": "linkedin-extract-company-employees-insights",
                        "upstream": "profiles",
                        "input_column": "company_url",
                    }
                ]
            },
            ["actions[0].input_column", "no column 'company_url'", "linkedin_company_url"],
        ),
        (
            {"actions": [{"action_id": "linkedin-extract-post", "upstream": "posts"}]},
            ["actions[0].upstream", "'posts'", "people (linkedin_people), profiles (linkedin"],
        ),
        (
            {"actions": [{"action_id": "linkedin-connect-profile", "upstream": "profiles"}]},
            ["actions[0].action_id", "build_outreach_asset"],
        ),
        (
            {"profiles": {"parameters": {"experience": True}}},
            ["profiles.parameters.experience", "accepted: sections, experiences"],
        ),
        ({"searches": {}}, ["searches: give at least one search"]),
        (
            {"people": {"daily_start_date": "2026-13-01"}},
            ["people.daily_start_date", "'2026-13-01' is not a date", "YYYY-MM-DD"],
        ),
    ],
    ids=[
        "unknown-action",
        "not-a-linkedin-search",
        "unknown-resource-field",
        "bad-resource-value",
        "literal-key",
        "missing-column",
        "action-missing-column",
        "unknown-upstream",
        "side-effect-action",
        "bad-parameter",
        "no-search",
        "bad-date",
    ],
)
def test_bad_yaml_names_the_field_to_fix(change, expected):
    message = load_error(attributes(**change))
    for text in expected:
        assert text in message, f"{text!r} not in:\n{message}"


def test_a_literal_key_is_never_echoed():
    message = load_error(attributes(resource={"api_key": "cd-literal-key-123"}))
    assert "cd-literal-key-123" not in message


# ---------------------------------------------------------------------------------- resource


def test_every_resource_field_is_accepted_without_touching_the_component():
    """Fields added to CaptainDataResource later work in YAML at once (no list to keep in sync)."""
    for name, info in CaptainDataResource.model_fields.items():
        if name == "api_key":
            value: Any = dg.EnvVar("CAPTAINDATA_API_KEY")
        else:  # the field's own default, given explicitly: the name is what is tested
            value = info.get_default(call_default_factory=True)
        resource = build_resource({name: value})
        assert isinstance(resource, CaptainDataResource), name
    with pytest.raises(ValueError, match="resource.no_such_setting"):
        build_resource({"no_such_setting": 1})


def test_env_templates_become_envvars_for_text_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPTAINDATA_API_KEY", TEST_KEY)
    monkeypatch.setenv("MY_LEDGER", str(tmp_path / "l.sqlite"))
    monkeypatch.setenv("MY_RPS", "7")
    attrs = attributes(
        resource={
            "api_key": "{{ env('CAPTAINDATA_API_KEY') }}",
            "ledger_path": "{{ env.MY_LEDGER }}",
            "requests_per_second": "{{ env.MY_RPS }}",
        }
    )
    with yaml_defs(attrs) as (_, defs):
        shown = shown_config(bound(defs, "captaindata_linkedin_people"))
    assert shown["api_key"] == {"env": "CAPTAINDATA_API_KEY"}
    assert shown["ledger_path"] == {"env": "MY_LEDGER"}
    assert shown["requests_per_second"] == 7  # not text: rendered at load as usual


def test_no_key_in_sandbox_mode_is_fine_and_an_unset_custom_variable_is_named(monkeypatch):
    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    monkeypatch.delenv("MY_CD_KEY", raising=False)
    monkeypatch.setenv("CAPTAINDATA_SANDBOX", "1")
    assert build_resource({"api_key": dg.EnvVar("MY_CD_KEY")}).api_key is None
    monkeypatch.delenv("CAPTAINDATA_SANDBOX")
    # the default variable unset: the resource reads it (or the sandbox) when a step runs
    assert build_resource({"api_key": dg.EnvVar("CAPTAINDATA_API_KEY")}).api_key is None
    kept = build_resource({"api_key": dg.EnvVar("MY_CD_KEY")})
    shown = json.loads(kept.get_resource_definition().config_schema.default_value_as_json_str)
    assert shown["api_key"] == {"env": "MY_CD_KEY"}  # a run without it fails naming MY_CD_KEY


def test_two_components_with_the_same_settings_load_side_by_side(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPTAINDATA_API_KEY", TEST_KEY)
    first = attributes(tmp_path, actions=[])
    second = attributes(
        tmp_path,
        searches={"london": SEARCHES["paris"].replace("paris", "london")},
        people={"name": "uk_people"},
        profiles={"name": "uk_profiles"},
        companies={"name": "uk_companies"},
        actions=[],
        schedule={"job_name": "refresh_uk"},
    )
    with create_defs_folder_sandbox() as sandbox:
        write_component(sandbox, first)
        path = sandbox.scaffold_component(component_cls=CaptainDataActionsComponent, defs_path="uk")
        (path / "defs.yaml").write_text(
            yaml.safe_dump({"type": TYPE_NAME, "attributes": second}, sort_keys=False)
        )
        with sandbox.build_all_defs() as defs:
            keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
            assert {"linkedin_people", "uk_people", "uk_companies_errors"} <= keys
            assert {s.name for s in defs.sensors} >= {
                "linkedin_people_error_sensor",
                "uk_people_error_sensor",
            }
            assert {s.name for s in defs.schedules} == {
                "refresh_linkedin_people_schedule",
                "refresh_uk_schedule",
            }
            for people in ("linkedin_people", "uk_people"):
                keys = set(defs.resolve_assets_def(people).resource_defs)
                assert {f"captaindata_{people}", f"io_manager_{people}"} <= keys


def test_the_component_works_from_python_too(monkeypatch):
    monkeypatch.setenv("CAPTAINDATA_API_KEY", TEST_KEY)
    component = CaptainDataActionsComponent(
        searches=SEARCHES,
        profiles={},
        resource={"api_key": dg.EnvVar("CAPTAINDATA_API_KEY")},
        error_sensor=False,
    )
    defs = component.build_definitions()
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {"linkedin_people", "linkedin_people_errors"} | {
        "linkedin_profiles",
        "linkedin_profiles_errors",
    }
    assert [s.name for s in defs.sensors] == ["linkedin_people_run_failure_sensor"]
    assert RERUN_LABELS  # the default re-run labels are the labels table's


# ---------------------------------------------------------------------------------- its own keys

OTHER_DEFS = """\
import dagster as dg


@dg.asset
def other_table():
    return {"not": "a data frame"}  # a DuckDB IO manager would refuse this


other_job = dg.define_asset_job("other_job", selection=["other_table"])
"""


def test_an_unrelated_asset_keeps_the_projects_io_manager(monkeypatch, tmp_path):
    """A component's warehouse is bound on its assets, not as the project's `io_manager`."""
    monkeypatch.setenv("CAPTAINDATA_API_KEY", TEST_KEY)
    with create_defs_folder_sandbox() as sandbox:
        write_component(sandbox, attributes(tmp_path, actions=[]))
        (sandbox.defs_folder_path / "other.py").write_text(OTHER_DEFS)
        with sandbox.build_all_defs() as defs, dg.instance_for_test() as instance:
            assert "io_manager" not in defs.resources and "captaindata" not in defs.resources
            job = defs.resolve_job_def("other_job")
            assert job.execute_in_process(instance=instance).success
            stored = Path(instance.storage_directory()) / "other_table"
            assert stored.exists()  # Dagster's default IO manager pickled it
    assert not (tmp_path / "warehouse.duckdb").exists()


PROJECT_WAREHOUSE = """\
import dagster as dg
from dagster_duckdb_pandas import DuckDBPandasIOManager

defs = dg.Definitions(
    resources={"io_manager": DuckDBPandasIOManager(database=%r, schema="shared")}
)
"""


def test_without_a_warehouse_the_component_lands_in_the_projects_io_manager(sim_env, tmp_path):
    """Its own resource bound on its assets must not hide the project's `io_manager`."""
    import duckdb

    attrs = attributes(tmp_path, actions=[], companies=None, profiles=None)
    del attrs["warehouse"]
    project_db = tmp_path / "project.duckdb"
    with create_defs_folder_sandbox() as sandbox:
        write_component(sandbox, attrs)
        (sandbox.defs_folder_path / "warehouse.py").write_text(PROJECT_WAREHOUSE % str(project_db))
        with sandbox.build_all_defs() as defs, dg.instance_for_test() as instance:
            people = defs.resolve_assets_def("linkedin_people")
            assert "captaindata_linkedin_people" in people.resource_defs
            result = defs.resolve_job_def("refresh_linkedin_people").execute_in_process(
                partition_key="paris", instance=instance
            )
            assert result.success
    with duckdb.connect(str(project_db), read_only=True) as con:
        tables = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
    assert "shared.linkedin_people" in tables


def test_two_components_with_different_settings_each_land_in_their_own_warehouse(sim_env, tmp_path):
    import duckdb

    france = attributes(tmp_path, actions=[], companies=None)
    france["resource"]["requests_per_second"] = 40
    france["warehouse"] = {"database": str(tmp_path / "france.duckdb"), "schema": "fr"}
    uk = attributes(
        tmp_path,
        searches={"london": SEARCHES["paris"].replace("paris", "london")},
        people={"name": "uk_people", "max_results": 5},
        profiles={"name": "uk_profiles"},
        companies=None,
        actions=[],
        schedule={"job_name": "refresh_uk"},
        warehouse={"database": str(tmp_path / "uk.duckdb"), "schema": "gb"},
    )
    uk["resource"] = {
        "api_key": "{{ env.CAPTAINDATA_API_KEY }}",
        "requests_per_second": 20,
        "ledger_path": str(tmp_path / "uk-ledger.sqlite"),
    }
    with create_defs_folder_sandbox() as sandbox:
        write_component(sandbox, france)
        path = sandbox.scaffold_component(component_cls=CaptainDataActionsComponent, defs_path="uk")
        (path / "defs.yaml").write_text(
            yaml.safe_dump({"type": TYPE_NAME, "attributes": uk}, sort_keys=False)
        )
        with sandbox.build_all_defs() as defs, dg.instance_for_test() as instance:
            assert (
                shown_config(bound(defs, "captaindata_linkedin_people"))["requests_per_second"]
                == 40
            )
            assert (
                shown_config(bound(defs, "captaindata_uk_people", "uk_people"))[
                    "requests_per_second"
                ]
                == 20
            )
            profiles = defs.resolve_assets_def("uk_profiles")
            assert {"captaindata_uk_people", "io_manager_uk_people"} <= set(profiles.resource_defs)
            assert "duckdb" in profiles.specs_by_key[dg.AssetKey("uk_profiles")].kinds
            for job, key in (("refresh_linkedin_people", "paris"), ("refresh_uk", "london")):
                result = defs.resolve_job_def(job).execute_in_process(
                    partition_key=key, instance=instance
                )
                assert result.success
    tables = {}
    for db in ("france", "uk"):
        with duckdb.connect(str(tmp_path / f"{db}.duckdb"), read_only=True) as con:
            tables[db] = {
                f"{schema}.{name}"
                for schema, name in con.execute(
                    "select table_schema, table_name from information_schema.tables"
                ).fetchall()
            }
    assert {"fr.linkedin_people", "fr.linkedin_profiles"} <= tables["france"]
    assert {"gb.uk_people", "gb.uk_profiles"} <= tables["uk"]
    assert not any("uk_" in t for t in tables["france"])
    assert not any("linkedin_" in t for t in tables["uk"])


def test_the_resource_block_is_typed_from_the_resources_fields():
    """dg's JSON schema lists every CaptainDataResource field with its type and description."""
    schema = CaptainDataActionsComponent.model().model_json_schema()
    block = schema["$defs"]["CaptainDataResourceSettings"]
    assert set(block["properties"]) == set(CaptainDataResource.model_fields)
    assert block["additionalProperties"] is False  # editors flag a typo
    rps = block["properties"]["requests_per_second"]
    assert {"type": "number"} in rps["anyOf"] and "plan's limit" in rps["description"]
    assert {"type": "boolean"} in block["properties"]["rotate_connected_users"]["anyOf"]
    assert "{{ env.CAPTAINDATA_API_KEY }}" in block["properties"]["api_key"]["description"]


# ---------------------------------------------------------------------------------- translation


def test_translation_changes_the_tables_specs(sim_env, tmp_path):
    attrs = attributes(tmp_path, actions=[], companies=None)
    attrs["translation"] = {
        "group_name": "growth",
        "tags": {"team": "growth"},
        "key": "crm/{{ props.table_name }}",
        "description": "{{ props.action.id }} for growth",
    }
    with yaml_defs(attrs) as (_, defs), dg.instance_for_test() as instance:
        graph = defs.resolve_asset_graph()
        keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
        assert keys == {
            "crm/linkedin_people",
            "crm/linkedin_people_errors",
            "crm/linkedin_profiles",
            "crm/linkedin_profiles_errors",
        }
        profiles = graph.get(dg.AssetKey(["crm", "linkedin_profiles"]))
        assert {k.to_user_string() for k in profiles.parent_keys} == {"crm/linkedin_people"}
        assert profiles.group_name == "growth" and profiles.tags["team"] == "growth"
        assert profiles.description == "linkedin-extract-people for growth"
        # the renamed tables still run: the steps find their upstream by its new key
        job = defs.resolve_job_def("refresh_linkedin_people")
        result = job.execute_in_process(partition_key="paris", instance=instance)
        assert result.success
        mats = result.get_asset_materialization_events()
        assert {e.asset_key.to_user_string() for e in mats} >= {"crm/linkedin_profiles"}


def test_translation_and_get_asset_spec_from_python(monkeypatch):
    monkeypatch.setenv("CAPTAINDATA_API_KEY", TEST_KEY)

    class Growth(CaptainDataActionsComponent):
        def get_asset_spec(self, props):
            return super().get_asset_spec(props).replace_attributes(owners=["team:growth"])

    component = Growth(
        searches=SEARCHES,
        profiles={},
        translation=lambda spec, props: spec.merge_attributes(tags={"table": props.table}),
    )
    specs = {
        s.key.to_user_string(): s
        for a in component.build_definitions().assets or []
        for s in a.specs  # type: ignore[union-attr]
    }
    assert specs["linkedin_profiles"].owners == ["team:growth"]
    assert specs["linkedin_profiles"].tags["table"] == "results"
    assert specs["linkedin_profiles_errors"].tags["table"] == "errors"


# ---------------------------------------------------------------------------------- automation


def test_automation_and_blocking_reach_the_specs_and_checks(monkeypatch):
    monkeypatch.setenv("CAPTAINDATA_API_KEY", TEST_KEY)
    attrs = attributes(actions=[], companies=None)
    attrs["automation_condition"] = "{{ dg.AutomationCondition.on_missing() }}"
    attrs["profiles"] = {
        "automation_condition": "{{ dg.AutomationCondition.eager() }}",
        "blocking": False,
    }
    with yaml_defs(attrs) as (_, defs):
        graph = defs.resolve_asset_graph()

        def condition(key: str) -> Any:
            return graph.get(dg.AssetKey(key)).automation_condition

        assert condition("linkedin_people") == dg.AutomationCondition.on_missing()
        assert condition("linkedin_profiles") == dg.AutomationCondition.eager()
        # the pair can be subset: the errors table carries its results table's condition
        assert condition("linkedin_people_errors") == dg.AutomationCondition.on_missing()
        blocking = {
            (spec.asset_key.to_user_string(), spec.name): spec.blocking
            for a in defs.assets or []
            for spec in a.check_specs  # type: ignore[union-attr]
        }
    assert blocking[("linkedin_people", "captaindata_error_rate")] is True  # the default
    assert blocking[("linkedin_profiles", "captaindata_error_rate")] is False


# ---------------------------------------------------------------------------------- scaffold


def test_scaffolded_defs_yaml_builds_as_it_is(monkeypatch):
    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    monkeypatch.setenv("CAPTAINDATA_SANDBOX", "1")
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(component_cls=CaptainDataActionsComponent)
        text = (path / "defs.yaml").read_text()
        # the public type, whatever module defines the class: the YAML survives moves inside
        assert text.splitlines()[3] == "type: captaindata_dagster.CaptainDataActionsComponent"
        assert "{{ env.CAPTAINDATA_API_KEY }}" in text
        with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
            assert len(component.searches) == 2
            keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
            assert {"linkedin_people", "linkedin_profiles", "linkedin_companies"} <= keys
            resource = bound(defs, "captaindata_linkedin_people")
            assert shown_config(resource)["requests_per_second"] == 40  # sandbox: simulator
            warehouse = bound(defs, "io_manager_linkedin_people")
            assert shown_config(warehouse)["schema"] == "linkedin"


# ---------------------------------------------------------------------------------- the example


@contextmanager
def example_defs():
    """The example project's definitions, loaded from its folder (it is not installed)."""
    src = str(EXAMPLE / "src")
    sys.path.insert(0, src)
    try:
        yield dg.load_from_defs_folder(path_within_project=EXAMPLE)
    finally:
        sys.path.remove(src)
        for name in [m for m in sys.modules if m.split(".")[0] == "linkedin_warehouse"]:
            del sys.modules[name]


def test_example_project_builds(monkeypatch):
    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    monkeypatch.setenv("CAPTAINDATA_SANDBOX", "1")
    with example_defs() as defs:
        graph = defs.resolve_asset_graph()
        keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
        tables = ["linkedin_people", "linkedin_profiles", "linkedin_companies"]
        tables.append("linkedin_company_insights")
        assert keys == {*tables, *(f"{t}_errors" for t in tables)}
        people = defs.resolve_assets_def("linkedin_people")
        assert people.partitions_def.get_partition_keys() == [
            "data-engineers-paris",
            "cto-saas-berlin",
        ]
        assert {s.name for s in defs.sensors} == {
            "linkedin_people_error_sensor",
            "linkedin_people_run_failure_sensor",
        }
        assert [s.name for s in defs.schedules] == ["refresh_linkedin_people_schedule"]
        warehouse = bound(defs, "io_manager_linkedin_people")
        assert shown_config(warehouse)["schema"] == "linkedin"


def test_example_project_runs_in_sandbox_mode(monkeypatch, tmp_path):
    """No key, CAPTAINDATA_SANDBOX=1: one search through every enrichment into DuckDB."""
    import duckdb

    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    monkeypatch.setenv("CAPTAINDATA_SANDBOX", "1")
    monkeypatch.setenv("CAPTAINDATA_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("CAPTAINDATA_LEDGER", str(tmp_path / "ledger.sqlite"))
    with example_defs() as defs, dg.instance_for_test() as instance:
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(partition_key="cto-saas-berlin", instance=instance)
        assert result.success
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        counts = {
            t: con.execute(f"select count(*) from linkedin.{t}").fetchone()[0]
            for t in ("linkedin_people", "linkedin_profiles", "linkedin_company_insights")
        }
    finally:
        con.close()
    assert counts["linkedin_people"] == 20 and counts["linkedin_profiles"] == 20
    assert counts["linkedin_company_insights"] >= 1


def test_loading_the_example_imports_neither_pandas_nor_duckdb():
    code = (
        "import sys, dagster as dg; sys.path.insert(0, 'src'); "
        "defs = dg.load_from_defs_folder(path_within_project=__import__('pathlib').Path('.')); "
        "defs.get_repository_def(); "
        "print(sorted(m for m in ('pandas', 'numpy', 'duckdb', 'dagster_pandas') if m in sys.modules))"
    )
    env = {**os.environ, "CAPTAINDATA_SANDBOX": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=EXAMPLE, capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


# ---------------------------------------------------------------------------------- the dg CLI


def dg_cli(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    """The real `dg` in a project folder; the project's package is found on PYTHONPATH, as if
    installed with `pip install -e .`."""
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CAPTAINDATA_SANDBOX": "1",
        "NO_COLOR": "1",
        "PYTHONPATH": str(cwd / "src"),
    }
    env.pop("CAPTAINDATA_API_KEY", None)
    return subprocess.run(
        [str(DG), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=240
    )


needs_dg = pytest.mark.skipif(
    not DG.exists(), reason="dg is not installed: pip install -e '.[dev]' (dagster-dg-cli)"
)


@needs_dg
def test_dg_lists_the_component_in_the_example_project(tmp_path):
    out = dg_cli("list", "components", "--json", cwd=EXAMPLE, home=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    listed = {c["key"]: c for c in json.loads(out.stdout)["items"]}
    assert TYPE_NAME in listed, sorted(listed)
    assert "LinkedIn" in listed[TYPE_NAME]["summary"]


@needs_dg
def test_dg_scaffolds_a_defs_yaml_that_loads(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.duckdb"))
    shutil.rmtree(project / "src" / "linkedin_warehouse" / "defs" / "linkedin")
    home = tmp_path / "home"
    home.mkdir()
    out = dg_cli("scaffold", "defs", TYPE_NAME, "leads", cwd=project, home=home)
    assert out.returncode == 0, out.stderr[-3000:]
    written = project / "src" / "linkedin_warehouse" / "defs" / "leads" / "defs.yaml"
    assert f"type: {TYPE_NAME}" in written.read_text()
    out = dg_cli("list", "defs", "--json", cwd=project, home=home)
    assert out.returncode == 0, out.stderr[-3000:]
    listed = json.loads(out.stdout)
    assets = {a["asset_key"] for a in listed["assets"]}
    assert {"linkedin_people", "linkedin_profiles", "linkedin_companies"} <= assets
    assert {s["name"] for s in listed["sensors"]} == {
        "linkedin_people_error_sensor",
        "linkedin_people_run_failure_sensor",
    }
    # bound on the component's assets (dg lists the project's resources): the project's keys stay
    # free; the launch below lands in the component's DuckDB file through them
    assert not {"captaindata", "io_manager"} & {r["name"] for r in listed["resources"]}
    assert [s["name"] for s in listed["schedules"]] == ["refresh_linkedin_people_schedule"]

    # and it runs as written, in sandbox mode, through dg's own launcher
    out = dg_cli(
        "launch", "--assets", "key:linkedin_people*", "--partition", "cto-saas-berlin",
        cwd=project, home=home,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RUN_SUCCESS" in out.stderr + out.stdout
    assert (project / "warehouse.duckdb").exists()
