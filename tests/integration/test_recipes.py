"""The README's recipes (examples/recipes/): each loads with no HTTP call and does what it says.

The CRM recipe's sensor is ticked by Dagster's own sensor machinery against a real instance (the
daemon's iteration over an in-process code location), so the partitions it adds and the runs it
requests are Dagster's doing; partitions then run against the simulator into DuckDB. The
PostgreSQL IO manager runs against the test suite's real PostgreSQL server.
"""

import importlib.util
import logging
import time
import uuid
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import dagster as dg
import duckdb
import pandas as pd
import pytest

from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "examples" / "recipes"
PARIS = "https://www.linkedin.com/search/results/people/?keywords=data%20engineer&geoUrn=%5B%22105015875%22%5D"
BERLIN = "https://www.linkedin.com/search/results/people/?keywords=cto%20saas&geoUrn=%5B%22106967730%22%5D"
LONDON = (
    "https://www.linkedin.com/search/results/people/?keywords=growth&geoUrn=%5B%22102257491%22%5D"
)


def load_recipe(name: str) -> ModuleType:
    """Import examples/recipes/<name>.py afresh: its settings are read from the env at load."""
    return load_script(RECIPES / f"{name}.py", f"recipe_{name}_{uuid.uuid4().hex[:8]}")


@pytest.fixture
def env(sim, tmp_path, monkeypatch):
    """Every recipe pointed at the simulator, with its ledger and warehouse under tmp_path."""
    for name in (
        "CAPTAINDATA_SANDBOX",
        "CAPTAINDATA_LEDGER_URL",
        "CAPTAINDATA_INTEGRATION_USERS",
        "SALES_NAVIGATOR_USERS",
        "WAREHOUSE",
        "WAREHOUSE_POSTGRES_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAPTAINDATA_BASE_URL", sim.base_url)
    monkeypatch.setenv("CAPTAINDATA_API_KEY", sim.api_key)
    monkeypatch.setenv("CAPTAINDATA_LEDGER", str(tmp_path / "ledger.sqlite"))
    monkeypatch.setenv("CAPTAINDATA_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("CAPTAINDATA_REQUESTS_PER_SECOND", "1000")
    monkeypatch.setenv("CRM_DATABASE", str(tmp_path / "crm.duckdb"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def query(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


# ------------------------------------------------------------------------------ every recipe


@pytest.mark.parametrize(
    ("recipe", "warehouse"),
    [
        ("crm_dynamic_searches", None),
        ("sales_navigator", None),
        ("warehouses", None),
        ("warehouses", "postgres"),
    ],
)
def test_each_recipe_loads_with_no_http_call(env, sim, monkeypatch, recipe, warehouse):
    if warehouse:
        monkeypatch.setenv("WAREHOUSE", warehouse)
    monkeypatch.delenv("CAPTAINDATA_API_KEY")  # read when a step runs, not at load
    module = load_recipe(recipe)
    assert module.__doc__ and "Recipe:" in module.__doc__
    dg.Definitions.validate_loadable(module.defs)
    jobs = module.defs.resolve_all_job_defs()
    assert jobs and module.defs.resolve_asset_graph().get_all_asset_keys()
    assert {"captaindata", "io_manager"} <= set(module.defs.resources)
    assert sim.requests == []  # loading a recipe fetches nothing


# ------------------------------------------------------------------------ CRM -> dynamic partitions


def write_crm(path: Path, rows: list[tuple[str, str, bool]]) -> None:
    """The CRM table as sales ops keep it (the file is named crm.duckdb, like its schema)."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists crm.crm")
        con.execute(
            "create or replace table crm.crm.linkedin_searches(name text, url text, active boolean)"
        )
        con.executemany("insert into crm.crm.linkedin_searches values (?, ?, ?)", rows)


class SensorTicks:
    """The daemon's sensor iteration over the recipe loaded as a code location, tick by tick.

    Time is moved past the sensor's minimum interval before each tick, as the daemon would wait.
    """

    def __init__(self, instance: dg.DagsterInstance, python_file: Path, sensor_name: str):
        from dagster._core.remote_origin import InProcessCodeLocationOrigin
        from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
        from dagster._core.workspace.context import WorkspaceProcessContext
        from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(python_file=str(python_file), attribute="defs"),
            location_name="recipe",
        )
        self.instance = instance
        self.context = WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin))
        entry = next(
            iter(self.context.create_request_context().get_code_location_entries().values())
        )
        assert entry.load_error is None, entry.load_error
        repo = next(iter(entry.code_location.get_repositories().values()))
        self.sensor = repo.get_sensor(sensor_name)
        instance.start_sensor(self.sensor)
        self.now = time.time()

    def tick(self):
        from dagster._core.test_utils import freeze_time
        from dagster._daemon.sensor import execute_sensor_iteration

        self.now += 3600
        with freeze_time(self.now):
            list(execute_sensor_iteration(self.context, logging.getLogger("recipe"), None, None))
        ticks = self.instance.get_ticks(self.sensor.get_remote_origin_id(), self.sensor.selector_id)
        assert ticks[0].error is None, ticks[0].error
        return ticks[0]

    def runs_of(self, tick) -> dict[str, dg.DagsterRun]:
        runs = [self.instance.get_run_by_id(run_id) for run_id in tick.run_ids]
        return {run.tags["dagster/partition"]: run for run in runs}

    def close(self) -> None:
        self.context.__exit__(None, None, None)


@pytest.fixture
def instance():
    # Runs requested by a tick stay queued (no daemon dequeues them): the test runs them itself.
    queued = {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}
    with dg.instance_for_test(overrides={"run_coordinator": queued}) as inst:
        yield inst


def test_crm_sensor_adds_runs_and_removes_searches_as_the_crm_table_changes(env, sim, instance):
    crm = env / "crm.duckdb"
    write_crm(
        crm,
        [
            ("data-engineers-paris", PARIS, True),
            ("cto-saas-berlin", BERLIN, True),
            ("growth-london", LONDON, False),  # inactive: never a partition
            ("typo", "https://example.com/people?q=cto", True),  # refused by the catalog
            ("bad\tname", PARIS, True),  # not a usable partition key
        ],
    )
    ticks = SensorTicks(instance, RECIPES / "crm_dynamic_searches.py", "crm_searches_sensor")
    try:
        first = ticks.tick()
        assert sorted(instance.get_dynamic_partitions("crm_searches")) == [
            "cto-saas-berlin",
            "data-engineers-paris",
        ]
        runs = ticks.runs_of(first)
        assert sorted(runs) == ["cto-saas-berlin", "data-engineers-paris"]
        assert {r.job_name for r in runs.values()} == {"crm_searches_job"}
        assert {r.status for r in runs.values()} == {dg.DagsterRunStatus.QUEUED}
        assert sim.requests == []  # the sensor reads the CRM, never the API

        # Run one requested partition: people, then their profiles, into DuckDB.
        recipe = load_recipe("crm_dynamic_searches")
        result = recipe.defs.resolve_job_def("crm_searches_job").execute_in_process(
            partition_key="data-engineers-paris", instance=instance
        )
        assert result.success
        searched = [r for r in sim.calls("linkedin-search-people")]
        assert {r.input["linkedin_people_search_url"] for r in searched} == {PARIS}
        warehouse = env / "warehouse.duckdb"
        people = query(warehouse, "select partition_key, count(*) from crm.crm_people group by 1")
        assert people == [("data-engineers-paris", 50)]  # max_results=50
        profiles = query(
            warehouse,
            "select count(*), count(distinct p._input) from crm.crm_profiles p "
            "join crm.crm_people s on p._input = s.linkedin_profile_url "
            "where p.partition_key = 'data-engineers-paris'",
        )
        assert profiles == [(50, 50)]

        # Sales ops deactivate Berlin, edit Paris's URL and activate London.
        paris_v2 = PARIS + "&title=lead"
        write_crm(
            crm,
            [
                ("data-engineers-paris", paris_v2, True),
                ("cto-saas-berlin", BERLIN, False),
                ("growth-london", LONDON, True),
            ],
        )
        second = ticks.tick()
        assert sorted(instance.get_dynamic_partitions("crm_searches")) == [
            "data-engineers-paris",
            "growth-london",
        ]
        runs = ticks.runs_of(second)
        assert sorted(runs) == ["data-engineers-paris", "growth-london"]
        assert runs["data-engineers-paris"].tags["crm/url_changed"] == "True"
        assert runs["growth-london"].tags["crm/url_changed"] == "False"
        # the deleted partition's rows stay in the warehouse, as history
        assert query(warehouse, "select count(*) from crm.crm_people") == [(50,)]

        # A typo in an existing search's URL keeps its partition and requests no run.
        write_crm(
            crm,
            [
                ("data-engineers-paris", "linkedin.com/search", True),
                ("growth-london", LONDON, True),
            ],
        )
        third = ticks.tick()
        assert sorted(instance.get_dynamic_partitions("crm_searches")) == [
            "data-engineers-paris",
            "growth-london",
        ]
        assert third.run_ids == []
        # ... and a step run for it fails with a message naming the table and the fix.
        result = recipe.defs.resolve_job_def("crm_searches_job").execute_in_process(
            partition_key="data-engineers-paris", instance=instance, raise_on_error=False
        )
        assert not result.success
        failure = result.failure_data_for_node("crm_people").error.message
        assert "crm.linkedin_searches" in failure and "fix its URL" in failure
    finally:
        ticks.close()


def test_crm_sensor_skips_with_a_reason_when_the_crm_file_is_missing(env, instance):
    ticks = SensorTicks(instance, RECIPES / "crm_dynamic_searches.py", "crm_searches_sensor")
    try:
        tick = ticks.tick()
        assert tick.status.value == "SKIPPED"
        assert "CRM_DATABASE" in tick.skip_reason
        assert instance.get_dynamic_partitions("crm_searches") == []
    finally:
        ticks.close()


def test_crm_schedule_refreshes_every_current_search(env, instance):
    recipe = load_recipe("crm_dynamic_searches")
    instance.add_dynamic_partitions("crm_searches", ["a", "b"])
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=pd.Timestamp("2026-03-02T05:00Z")
    )
    requests = list(recipe.crm_searches_daily(context))
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("a", "a:2026-03-02"),
        ("b", "b:2026-03-02"),
    ]


# ------------------------------------------------------------------------------ Sales Navigator


def test_sales_navigator_searches_land_leads_and_their_profiles(env, sim, monkeypatch, instance):
    monkeypatch.setenv("SALES_NAVIGATOR_USERS", "sn-user-1")
    recipe = load_recipe("sales_navigator")
    url = recipe.LEAD_SEARCHES["cto-saas-france"]
    result = dg.materialize(
        [recipe.leads, recipe.lead_profiles],
        partition_key="cto-saas-france",
        resources=recipe.defs.resources,
        instance=instance,
    )
    assert result.success
    pages = sim.calls("salesnavigator-search-people")
    assert len(pages) == 2  # 50 leads at 25 a page: a 3rd page is never fetched
    assert {r.input["sales_navigator_profile_search_url"] for r in pages} == {url}
    assert all(r.body["parameters"] == {"exclude_crm_contacts": True} for r in pages)
    assert {r.account for r in sim.calls()} == {"sn-user-1"}
    warehouse = env / "warehouse.duckdb"
    leads = query(
        warehouse,
        "select partition_key, count(*), count(distinct linkedin_profile_url) "
        "from sales_navigator.salesnav_leads group by 1",
    )
    assert leads == [("cto-saas-france", 50, 50)]
    profiles = query(
        warehouse,
        "select count(*) from sales_navigator.salesnav_lead_profiles p "
        "join sales_navigator.salesnav_leads l on p._input = l.linkedin_profile_url",
    )
    assert profiles == [(50,)]
    assert len(sim.calls("linkedin-extract-people")) == 50


def test_sales_navigator_refuses_a_plain_linkedin_search_url():
    from captaindata_dagster import build_people_search_asset
    from captaindata_dagster.api import ValidationError

    with pytest.raises(ValidationError) as err:
        build_people_search_asset(
            name="leads", action_id="salesnavigator-search-people", searches={"x": PARIS}
        )
    assert err.value.field == "searches['x']"
    assert "sales_navigator_profile_search_url" in str(err.value)


# ------------------------------------------------------------------------------ warehouses


def test_unknown_or_missing_warehouses_are_named(env):
    recipe = load_recipe("warehouses")
    with pytest.raises(ValueError, match="WAREHOUSE='oracle'.*duckdb, postgres, snowflake"):
        recipe.io_manager_for("oracle")
    for name, package in (
        ("snowflake", "dagster_snowflake_pandas"),
        ("bigquery", "dagster_gcp_pandas"),
    ):
        if importlib.util.find_spec(package) is not None:
            continue  # installed here: nothing to name
        with pytest.raises(ImportError, match=f"pip install {package.replace('_', '-')}"):
            recipe.io_manager_for(name)


def pg_rows(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_postgres_io_manager_lands_partitions_replaces_reruns_and_loads_them_back(
    env, sim, monkeypatch, pg_url, instance
):
    monkeypatch.setenv("WAREHOUSE", "postgres")
    monkeypatch.setenv("WAREHOUSE_POSTGRES_URL", pg_url)
    recipe = load_recipe("warehouses")
    assert isinstance(recipe.defs.resources["io_manager"], recipe.PostgresPandasIOManager)

    def run(assets, partition):
        return dg.materialize(
            assets, partition_key=partition, resources=recipe.defs.resources, instance=instance
        )

    for partition in ("data-engineers-paris", "cto-saas-berlin"):
        assert run([recipe.people], partition).success
    count = "select partition_key, count(*), bool_and(_from_cache) from linkedin.linkedin_people "
    count += "group by 1 order by 1"
    assert pg_rows(pg_url, count) == [
        ("cto-saas-berlin", 30, False),
        ("data-engineers-paris", 30, False),
    ]

    # Re-materializing Paris replaces its rows (now served from the ledger), Berlin untouched.
    assert run([recipe.people], "data-engineers-paris").success
    assert pg_rows(pg_url, count) == [
        ("cto-saas-berlin", 30, False),
        ("data-engineers-paris", 30, True),
    ]
    assert pg_rows(pg_url, "select count(*) from linkedin.linkedin_people_errors") == [(0,)]

    # Profiles of Berlin read back Berlin's people only (the partition, not the whole table).
    result = run([*recipe.people.to_source_assets(), recipe.profiles], "cto-saas-berlin")
    assert result.success
    joined = pg_rows(
        pg_url,
        "select count(*), count(distinct s.partition_key) from linkedin.linkedin_profiles p "
        "join linkedin.linkedin_people s on p._input = s.linkedin_profile_url",
    )
    assert joined == [(30, 1)]
    assert pg_rows(pg_url, "select distinct partition_key from linkedin.linkedin_profiles") == [
        ("cto-saas-berlin",)
    ]
    extracted = {r.input["linkedin_profile_url"] for r in sim.calls("linkedin-extract-people")}
    berlin = pg_rows(
        pg_url,
        "select linkedin_profile_url from linkedin.linkedin_people "
        "where partition_key = 'cto-saas-berlin'",
    )
    assert extracted == {u for (u,) in berlin}
    # The URL was given as an EnvVar: its password is in no resource repr, run config or event.
    password = urlsplit(pg_url).password
    assert password and password not in repr(recipe.defs.resources["io_manager"])
    for run in instance.get_runs():
        assert password not in repr(run.run_config)
        assert all(password not in repr(event) for event in instance.all_logs(run.run_id))


def test_postgres_io_manager_time_and_multi_partitions_and_atomic_rewrites(env, pg_url, instance):
    """Dates and searches x dates by their columns; a failed rewrite keeps the old rows."""
    io = load_recipe("warehouses").PostgresPandasIOManager(url=pg_url, schema="t")
    days = dg.DailyPartitionsDefinition(start_date="2026-01-01")
    grid = dg.MultiPartitionsDefinition(
        {"search": dg.StaticPartitionsDefinition(["a", "b"]), "date": days}
    )

    def frame(context: dg.AssetExecutionContext, **columns) -> pd.DataFrame:
        start = context.partition_time_window.start.replace(tzinfo=None)
        value = int(context.run.tags.get("value", "1"))
        out = {"day": [start, start + pd.Timedelta(hours=23)], "v": [value, value], **columns}
        if context.run.tags.get("break"):
            out["not_a_column"] = ["x", "y"]  # the append fails: the table has no such column
        return pd.DataFrame(out)

    @dg.asset(partitions_def=days, metadata={"partition_expr": "day"})
    def daily(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return frame(context)

    by_columns = {"partition_expr": {"search": "search", "date": "day"}}

    @dg.asset(partitions_def=grid, metadata=by_columns)
    def cells(context: dg.AssetExecutionContext) -> pd.DataFrame:
        search = context.partition_key.keys_by_dimension["search"]
        return frame(context, search=[search, search])

    @dg.asset(partitions_def=grid, metadata=by_columns)
    def cell_view(cells: pd.DataFrame) -> pd.DataFrame:
        return cells

    def run(assets, key, **tags):
        return dg.materialize(
            assets,
            partition_key=key,
            resources={"io_manager": io},
            instance=instance,
            tags={k: str(v) for k, v in tags.items()},
            raise_on_error=False,
        )

    for day in ("2026-01-01", "2026-01-02"):
        assert run([daily], day).success
    assert run([daily], "2026-01-01", value=2).success
    by_day = "select day::date, sum(v) from t.daily group by 1 order by 1"
    assert [(str(d), v) for d, v in pg_rows(pg_url, by_day)] == [
        ("2026-01-01", 4),
        ("2026-01-02", 2),
    ]
    failed = run([daily], "2026-01-02", value=5, **{"break": 1})
    assert not failed.success
    assert "not_a_column" in failed.failure_data_for_node("daily").error.to_string()
    assert [(str(d), v) for d, v in pg_rows(pg_url, by_day)] == [
        ("2026-01-01", 4),
        ("2026-01-02", 2),  # rolled back: the delete did not happen without the append
    ]

    def cell(search: str, day: str) -> dg.MultiPartitionKey:
        return dg.MultiPartitionKey({"search": search, "date": day})

    for search, day in (("a", "2026-01-01"), ("b", "2026-01-01"), ("a", "2026-01-02")):
        assert run([cells], cell(search, day)).success
    assert run([cells], cell("b", "2026-01-01"), value=3).success
    by_cell = "select search, day::date, sum(v) from t.cells group by 1, 2 order by 1, 2"
    assert [(s, str(d), v) for s, d, v in pg_rows(pg_url, by_cell)] == [
        ("a", "2026-01-01", 2),
        ("a", "2026-01-02", 2),
        ("b", "2026-01-01", 6),
    ]
    view = run([cells.to_source_asset(), cell_view], cell("a", "2026-01-02"))
    assert view.success
    loaded = view.output_for_node("cell_view")
    assert sorted(loaded["search"]) == ["a", "a"]
    assert {str(d.date()) for d in loaded["day"]} == {"2026-01-02"}
