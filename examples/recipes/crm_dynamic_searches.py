"""Recipe: LinkedIn searches kept in a CRM table become dynamic partitions.

Sales ops edit a table, `crm.linkedin_searches(name, url, active)`; nobody edits code. A sensor
reads it and keeps the `crm_searches` partitions equal to the active searches: a new active row
becomes a partition and gets a run (people -> profiles), a changed URL gets a run, a row that is
deactivated or removed loses its partition (its rows stay in the warehouse, as history). Rows with
a bad name or a URL the catalog refuses are skipped and logged, never sent (no credit spent).
The asset looks the URL up in the CRM when its step runs, so a URL edited since is used.

Environment: `CRM_DATABASE` (the CRM's DuckDB file, default `crm.duckdb`; keep it apart from the
warehouse file, which the steps write to), `CAPTAINDATA_WAREHOUSE` (default `warehouse.duckdb`),
and the key as for every code location (`CAPTAINDATA_API_KEY`, or `CAPTAINDATA_SANDBOX=1`).
Turn the sensor on in the UI (it starts stopped: each new search spends credits). Run it with
`dagster dev -f examples/recipes/crm_dynamic_searches.py`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

import dagster as dg

from captaindata_dagster import (
    CaptainDataResource,
    DuckDBWarehouseIOManager,
    build_people_search_asset,
    build_profile_extraction_asset,
)
from captaindata_dagster.api import resolve_action

CRM_DATABASE_ENV = "CRM_DATABASE"
CRM_TABLE = "crm.linkedin_searches"  # columns: name (text), url (text), active (boolean)
ACTION_ID = "linkedin-search-people"
# A partition key shows in the UI, in run tags and in the warehouse's partition_key column.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:@+()-]{0,99}$")

crm_searches = dg.DynamicPartitionsDefinition(name="crm_searches")


def crm_database() -> str:
    """The CRM's DuckDB file, read when a sensor ticks or a step runs (never at load)."""
    return os.environ.get(CRM_DATABASE_ENV, "crm.duckdb")


@dataclass
class CrmSearches:
    """What the CRM table says: the searches to run, and the active rows refused, with why."""

    active: dict[str, str] = field(default_factory=dict)  # name -> URL, valid and active
    refused: set[str] = field(default_factory=set)  # active rows with a bad name or URL
    problems: list[str] = field(default_factory=list)


def read_crm_searches(database: str) -> CrmSearches:
    """Read `crm.linkedin_searches` and check each active row before it can cost a credit.

    A row is refused, with a problem naming it, when its name cannot be a partition key or its
    URL does not match the action's input pattern in the catalog.
    """
    import duckdb  # only when a tick or a step reads the CRM

    if not os.path.exists(database):
        raise FileNotFoundError(
            f"no CRM database at {database!r}: set {CRM_DATABASE_ENV} to the DuckDB file "
            f"holding {CRM_TABLE}(name, url, active)"
        )
    try:
        with duckdb.connect(database, read_only=True) as con:
            # Qualified by the file's catalog: a file named crm.duckdb has a catalog named crm too.
            (catalog,) = con.execute("select current_database()").fetchone()
            rows = con.execute(
                f'select name, url, active from "{catalog}".{CRM_TABLE} order by name'
            ).fetchall()
    except duckdb.Error as exc:
        raise RuntimeError(
            f"cannot read {CRM_TABLE}(name, url, active) in {database!r}: {exc}"
        ) from exc
    action = resolve_action(ACTION_ID)
    out = CrmSearches()
    for raw_name, raw_url, is_active in rows:
        name = str(raw_name or "").strip()
        url = str(raw_url or "").strip()
        if not is_active:
            continue
        if not NAME_PATTERN.match(name) or "..." in name:
            out.problems.append(
                f"{CRM_TABLE}: name {name!r} is not a usable partition key: use 1-100 letters, "
                "digits, spaces or _ . : @ + ( ) -, starting with a letter or digit"
            )
            continue
        if name in out.active:
            out.problems.append(f"{CRM_TABLE}: name {name!r} appears twice; the first row is used")
            continue
        refused = action.input_problems({action.primary_field: url})
        if refused:
            out.refused.add(name)
            out.problems.append(f"{CRM_TABLE}: search {name!r}: url {url!r}: {refused[0].message}")
            continue
        out.active[name] = url
    return out


def crm_search_url(name: str) -> str:
    """The URL of one search, read from the CRM when its step runs (the asset's `searches=`)."""
    active = read_crm_searches(crm_database()).active
    if name not in active:
        raise dg.Failure(
            description=(
                f"search {name!r} is not an active row with a valid URL in {CRM_TABLE} of "
                f"{crm_database()}: reactivate it or fix its URL, then run the partition again"
            ),
            metadata={"partition_key": name},
            allow_retries=False,
        )
    return active[name]


people = build_people_search_asset(
    name="crm_people",
    searches=crm_search_url,
    partitions_def=crm_searches,
    max_results=50,  # per search: 5 pages of 10, a 6th is never fetched
)
profiles = build_profile_extraction_asset(
    name="crm_profiles", upstream=people, max_age_days=30, parameters={"experiences": True}
)

crm_searches_job = dg.define_asset_job(
    "crm_searches_job", selection=[people, profiles], partitions_def=crm_searches
)


@dg.sensor(job=crm_searches_job, minimum_interval_seconds=300)
def crm_searches_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """Keep the partitions equal to the CRM's active searches; run the new and the changed ones.

    The cursor holds the URLs seen at the last tick, so an edited URL is fetched again once.
    """
    try:
        crm = read_crm_searches(crm_database())
    except FileNotFoundError as exc:
        return dg.SkipReason(str(exc))
    active = crm.active
    for problem in crm.problems:
        context.log.warning(problem)
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    existing = set(context.instance.get_dynamic_partitions(crm_searches.name))
    added = sorted(k for k in active if k not in existing)
    changed = sorted(k for k in active if k in existing and k in seen and seen[k] != active[k])
    # A row with a typo stays a partition (fix it in the CRM); an inactive or removed one goes.
    removed = sorted(k for k in existing if k not in active and k not in crm.refused)
    requests = []
    if added:
        requests.append(crm_searches.build_add_request(added))
    if removed:
        requests.append(crm_searches.build_delete_request(removed))
    runs = [
        dg.RunRequest(partition_key=k, tags={"crm/search": k, "crm/url_changed": str(k in changed)})
        for k in [*added, *changed]
    ]
    context.log.info(
        "CRM searches: %d active, added %s, changed %s, removed %s",
        len(active),
        added or "none",
        changed or "none",
        removed or "none",
    )
    return dg.SensorResult(
        run_requests=runs, dynamic_partitions_requests=requests, cursor=json.dumps(active)
    )


@dg.schedule(job=crm_searches_job, cron_schedule="0 5 * * *", execution_timezone="UTC")
def crm_searches_daily(context: dg.ScheduleEvaluationContext):
    """Every morning, one run per current search; fresh profiles cost nothing (the ledger)."""
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    for key in context.instance.get_dynamic_partitions(crm_searches.name):
        yield dg.RunRequest(run_key=f"{key}:{day}", partition_key=key)


defs = dg.Definitions(
    assets=[people, profiles],
    jobs=[crm_searches_job],
    sensors=[crm_searches_sensor],
    schedules=[crm_searches_daily],
    resources={
        # The key is read from CAPTAINDATA_API_KEY when a step runs (or CAPTAINDATA_SANDBOX=1).
        "captaindata": CaptainDataResource(
            integration_users=[
                u.strip()
                for u in os.environ.get("CAPTAINDATA_INTEGRATION_USERS", "").split(",")
                if u.strip()
            ],
            # your plan's limit: trial 1, low 2, mid 10, high 20, highest 40
            requests_per_second=float(os.environ.get("CAPTAINDATA_REQUESTS_PER_SECOND", "2")),
        ),
        "io_manager": DuckDBWarehouseIOManager(
            database=os.environ.get("CAPTAINDATA_WAREHOUSE", "warehouse.duckdb"), schema="crm"
        ),
    },
)
