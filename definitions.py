"""The demo code location: `dagster dev` (or `dg dev`) opens it. Loading it makes no HTTP call."""

import dagster as dg

from captaindata_dagster import CaptainDataResource

defs = dg.Definitions(
    resources={
        # The key and base URL come from CAPTAINDATA_API_KEY / CAPTAINDATA_BASE_URL when a step runs.
        "captaindata": CaptainDataResource(),
    },
)
