"""The cost preview of a Captain Data asset: its bill before a backfill, without a paid call.

For an asset and some partitions: how many inputs, how many fresh in the ledger (free), how many
to fetch, the credits at the catalog's prices and the time the plan's rate and accounts allow.
`estimate_asset(defs, key, partitions)` from Python (and `captaindata-dagster estimate`),
`build_captaindata_estimate_job(assets)` from the UI's launchpad. `records` holds what a preview
says, `partitions` how each partition's inputs are found and priced, `settings` what it reads of
the resource (no API key), `definitions` and `job` the two ways in, `report` how the figures are
shown.

Example:
    >>> from captaindata_dagster.orchestration.estimate import estimate_asset
    >>> print(text_table(estimate_asset(defs, "linkedin_profiles", ["paris"])))
"""

from captaindata_dagster.orchestration.estimate.definitions import estimate_asset
from captaindata_dagster.orchestration.estimate.job import (
    EstimateConfig,
    build_captaindata_estimate_job,
)
from captaindata_dagster.orchestration.estimate.records import (
    AssetEstimate,
    EstimateRequestError,
    EstimateSettingsError,
    PartitionEstimate,
)
from captaindata_dagster.orchestration.estimate.report import markdown_table, text_table

__all__ = [
    "AssetEstimate",
    "EstimateConfig",
    "EstimateRequestError",
    "EstimateSettingsError",
    "PartitionEstimate",
    "build_captaindata_estimate_job",
    "estimate_asset",
    "markdown_table",
    "text_table",
]
