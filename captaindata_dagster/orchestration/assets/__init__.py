"""Asset factories: a Captain Data action as a (partitioned) Dagster asset.

`factories.py` holds the four public builders and `decorator.py` `@captaindata_assets`, for users
who write the asset's body; both declare their multi-asset (results and errors) with
`batch_asset.py`, whose step is a `BatchStep` (`batch_step.py`) that `registry.py` finds again from
the assets definition. `options.py` holds the records of their settings; `search_partitions.py`,
`upstream.py`, `partition_columns.py` and `frame_types.py` what partitions, upstream columns and
typed frames need. What Dagster shows of each table comes from the translator
(`orchestration/translator.py`).

The names below are imported on first read, so `orchestration.translator` (which reads
`partition_columns`) and the factories may import each other's modules without a cycle.

Example:
    >>> from captaindata_dagster.orchestration.assets import build_people_search_asset
"""

from typing import TYPE_CHECKING

from captaindata_dagster.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from captaindata_dagster.orchestration.assets.decorator import captaindata_assets
    from captaindata_dagster.orchestration.assets.factories import (
        build_action_asset,
        build_company_extraction_asset,
        build_people_search_asset,
        build_profile_extraction_asset,
    )
    from captaindata_dagster.orchestration.assets.registry import step_for

_MODULE_OF = {
    "build_action_asset": "factories",
    "build_company_extraction_asset": "factories",
    "build_people_search_asset": "factories",
    "build_profile_extraction_asset": "factories",
    "captaindata_assets": "decorator",
    "step_for": "registry",
}

__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF)

__all__ = [
    "build_action_asset",
    "build_company_extraction_asset",
    "build_people_search_asset",
    "build_profile_extraction_asset",
    "captaindata_assets",
    "step_for",
]
