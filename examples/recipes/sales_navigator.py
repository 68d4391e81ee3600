"""Recipe: Sales Navigator lead searches -> full LinkedIn profiles, in DuckDB.

`salesnavigator-search-people` takes a Sales Navigator search URL
(`https://www.linkedin.com/sales/search/people?...`, input field
`sales_navigator_profile_search_url`; a plain LinkedIn search URL is refused before any call) and
returns leads 25 per page, each with its `linkedin_profile_url`, which the profile extraction
reads. The search runs on a user whose LinkedIn account has Sales Navigator: connect it with both
cookies, `li_at` and `li_a` (`CAPTAINDATA_LI_AT=... CAPTAINDATA_LI_A=... captaindata-dagster users
connect <user uid>`), and list those users in `SALES_NAVIGATOR_USERS` (comma-separated uids).

Environment: `SALES_NAVIGATOR_USERS`, `CAPTAINDATA_WAREHOUSE` (default `warehouse.duckdb`), and
the key as for every code location (`CAPTAINDATA_API_KEY`, or `CAPTAINDATA_SANDBOX=1`). Run it
with `dagster dev -f examples/recipes/sales_navigator.py`.
"""

from __future__ import annotations

import os

import dagster as dg

from captaindata_dagster import (
    CaptainDataResource,
    DuckDBWarehouseIOManager,
    build_people_search_asset,
    build_profile_extraction_asset,
)

# Partition key -> Sales Navigator search URL (copy it from the browser's address bar).
LEAD_SEARCHES = {
    "cto-saas-france": "https://www.linkedin.com/sales/search/people?query=(keywords%3Acto%20saas%2Cfilters%3AList((type%3AREGION%2Cvalues%3AList((id%3A105015875)))))",
    "vp-sales-dach": "https://www.linkedin.com/sales/search/people?query=(keywords%3Avp%20sales%2Cfilters%3AList((type%3AREGION%2Cvalues%3AList((id%3A91000006)))))",
}

leads = build_people_search_asset(
    name="salesnav_leads",
    action_id="salesnavigator-search-people",
    searches=LEAD_SEARCHES,  # checked against the action's URL pattern when this module loads
    max_results=50,  # per search: 2 pages of 25, a 3rd is never fetched
    parameters={"exclude_crm_contacts": True},  # leads already in your CRM are not returned
)
lead_profiles = build_profile_extraction_asset(
    name="salesnav_lead_profiles",
    upstream=leads,  # reads the leads' linkedin_profile_url column
    max_age_days=30,
)

defs = dg.Definitions(
    assets=[leads, lead_profiles],
    resources={
        "captaindata": CaptainDataResource(
            # Sales Navigator accounts only: a user connected without li_a cannot run the search.
            integration_users=[
                u.strip()
                for u in os.environ.get("SALES_NAVIGATOR_USERS", "").split(",")
                if u.strip()
            ],
            # your plan's limit: trial 1, low 2, mid 10, high 20, highest 40
            requests_per_second=float(os.environ.get("CAPTAINDATA_REQUESTS_PER_SECOND", "2")),
        ),
        "io_manager": DuckDBWarehouseIOManager(
            database=os.environ.get("CAPTAINDATA_WAREHOUSE", "warehouse.duckdb"),
            schema="sales_navigator",
        ),
    },
)
