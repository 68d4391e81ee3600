"""Asset factories: a Captain Data action as a (partitioned) Dagster asset.

`factories.py` holds the four public builders; `batch_asset.py` declares the multi-asset (results
and errors), `batch_step.py` is the step that runs the batch and yields outputs, metadata and
checks; `options.py` the records of their settings; `search_partitions.py`, `upstream.py`,
`partition_columns.py` and `frame_types.py` what partitions, upstream columns and typed frames
need.

Example:
    >>> from captaindata_dagster.orchestration.assets import build_people_search_asset
"""

from captaindata_dagster.orchestration.assets.factories import (
    build_action_asset,
    build_company_extraction_asset,
    build_people_search_asset,
    build_profile_extraction_asset,
)

__all__ = [
    "build_action_asset",
    "build_company_extraction_asset",
    "build_people_search_asset",
    "build_profile_extraction_asset",
]
