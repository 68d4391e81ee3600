"""The demo code location: three LinkedIn searches -> people -> profiles -> companies, in DuckDB.

`dagster dev` (or `dg dev`) opens it; `make demo` materializes it in sandbox mode. Loading it makes no
HTTP call. Settings come from the environment when a step runs:

- `CAPTAINDATA_API_KEY` (and optionally `CAPTAINDATA_BASE_URL`): the real API;
- `CAPTAINDATA_SANDBOX=1`: the bundled simulator instead, with synthetic data (said loudly);
- neither: a Captain Data step fails with an error naming both.

`CAPTAINDATA_INTEGRATION_USERS` (comma-separated user uids) and `CAPTAINDATA_REQUESTS_PER_SECOND`
(your plan's limit) tune the pacing; `CAPTAINDATA_WAREHOUSE` is the DuckDB file (`warehouse.duckdb`).
"""

import os

import dagster as dg

from captaindata_dagster import (
    CaptainDataResource,
    build_captaindata_error_sensor,
    build_captaindata_run_failure_sensor,
    build_company_extraction_asset,
    build_people_search_asset,
    build_profile_extraction_asset,
)
from captaindata_dagster.orchestration.warehouse import DuckDBWarehouseIOManager
from captaindata_dagster.simulator.sandbox import sandbox_enabled

SEARCHES = {
    "data-engineers-paris": "https://www.linkedin.com/search/results/people/?keywords=data%20engineer&geoUrn=%5B%22105015875%22%5D",
    "cto-saas-berlin": "https://www.linkedin.com/search/results/people/?keywords=cto%20saas&geoUrn=%5B%22106967730%22%5D",
    "growth-marketers-london": "https://www.linkedin.com/search/results/people/?keywords=growth%20marketing&geoUrn=%5B%22102257491%22%5D",
}
searches = dg.StaticPartitionsDefinition(list(SEARCHES))

people = build_people_search_asset(
    name="linkedin_people",
    searches=SEARCHES,
    partitions_def=searches,
    max_results=30,  # per search: 3 pages of 10, a 4th is never fetched
)
profiles = build_profile_extraction_asset(
    name="linkedin_profiles",
    upstream=people,
    max_age_days=30,  # profiles fetched within 30 days come from the ledger, free
    parameters={"experiences": True, "skills": True},
)
companies = build_company_extraction_asset(
    name="linkedin_companies", upstream=profiles, max_age_days=90
)

# Both sensors run as soon as the code location is deployed: the on-call engineer sees every
# error_label on the asset pages, and partitions hit by 429s or 5xx are re-run once an hour.
linkedin_assets = [people, profiles, companies]
error_sensor = build_captaindata_error_sensor(
    assets=linkedin_assets,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
run_failure_sensor = build_captaindata_run_failure_sensor(
    assets=linkedin_assets, default_status=dg.DefaultSensorStatus.RUNNING
)

refresh_linkedin = dg.define_asset_job(
    "refresh_linkedin", selection=[people, profiles, companies], partitions_def=searches
)


# Every morning, one run per search; fresh profiles and companies cost nothing.
refresh_linkedin_daily = dg.build_schedule_from_partitioned_job(
    refresh_linkedin, name="refresh_linkedin_daily", cron_schedule="0 5 * * *"
)


def _users() -> list[str]:
    return [
        u.strip()
        for u in os.environ.get("CAPTAINDATA_INTEGRATION_USERS", "").split(",")
        if u.strip()
    ]


defs = dg.Definitions(
    assets=linkedin_assets,
    jobs=[refresh_linkedin],
    sensors=[error_sensor, run_failure_sensor],
    schedules=[refresh_linkedin_daily],
    resources={
        # The key is read from CAPTAINDATA_API_KEY when a step runs, never stored in the config.
        "captaindata": CaptainDataResource(
            integration_users=_users(),
            requests_per_second=float(
                os.environ.get(
                    "CAPTAINDATA_REQUESTS_PER_SECOND", "40" if sandbox_enabled() else "2"
                )
            ),
        ),
        # DuckDB + pandas, imported only when a step writes or reads a table.
        "io_manager": DuckDBWarehouseIOManager(
            database=os.environ.get("CAPTAINDATA_WAREHOUSE", "warehouse.duckdb"), schema="linkedin"
        ),
    },
)
