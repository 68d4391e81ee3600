"""The Dagster layer: the resource, asset and op factories, sensors, checks, schedule, component.

Loading definitions built here never calls the API; every HTTP call happens when a step runs.

Example:
    >>> from captaindata_dagster.orchestration import CaptainDataResource, build_action_asset
"""

from typing import TYPE_CHECKING

from captaindata_dagster.lazy_exports import lazy_exports

if TYPE_CHECKING:  # each module is imported on first use below; a type checker sees them now
    from captaindata_dagster.engine.outreach import OutreachResult, run_outreach
    from captaindata_dagster.orchestration.account_ops import (
        connect_identity_linkedin_job,
        connect_identity_linkedin_op,
        connect_linkedin_job,
        connect_linkedin_op,
        create_captaindata_identity_op,
        create_captaindata_user_op,
        list_captaindata_identities_op,
        list_captaindata_users_op,
    )
    from captaindata_dagster.orchestration.assets.decorator import captaindata_assets
    from captaindata_dagster.orchestration.assets.factories import (
        build_action_asset,
        build_company_extraction_asset,
        build_people_search_asset,
        build_profile_extraction_asset,
    )
    from captaindata_dagster.orchestration.bulk_ops import (
        cancel_captaindata_schedule,
        create_captaindata_schedule,
        pause_captaindata_schedule,
        resume_captaindata_run,
        resume_captaindata_schedule,
    )
    from captaindata_dagster.orchestration.components.component import CaptainDataActionsComponent
    from captaindata_dagster.orchestration.estimate import (
        build_captaindata_estimate_job,
        estimate_asset,
    )
    from captaindata_dagster.orchestration.metadata_set import CaptainDataMetadataSet
    from captaindata_dagster.orchestration.ops import build_action_op, extract_profiles_job
    from captaindata_dagster.orchestration.outreach.factories import (
        build_outreach_asset,
        build_outreach_op,
    )
    from captaindata_dagster.orchestration.resource import CaptainDataResource
    from captaindata_dagster.orchestration.schedules import build_search_schedule
    from captaindata_dagster.orchestration.sensors.bulk_landing import build_bulk_landing_sensor
    from captaindata_dagster.orchestration.sensors.factories import (
        build_captaindata_error_sensor,
        build_captaindata_run_failure_sensor,
    )
    from captaindata_dagster.orchestration.translator import (
        CaptainDataAssetProps,
        DagsterCaptainDataTranslator,
    )
    from captaindata_dagster.orchestration.warehouse import DuckDBWarehouseIOManager

# Loading a code location that declares only a component or a few assets must not pay for pandas,
# DuckDB or modules it does not use: each name's module is imported when the name is first read
# (a module of this package by its short name, one of a layer below by its full name).
_MODULE_OF = {
    "CaptainDataActionsComponent": "components.component",
    "CaptainDataAssetProps": "translator",
    "CaptainDataMetadataSet": "metadata_set",
    "CaptainDataResource": "resource",
    "DagsterCaptainDataTranslator": "translator",
    "DuckDBWarehouseIOManager": "warehouse",
    "OutreachResult": "captaindata_dagster.engine.outreach",
    "build_action_asset": "assets.factories",
    "build_action_op": "ops",
    "build_bulk_landing_sensor": "sensors.bulk_landing",
    "build_captaindata_error_sensor": "sensors.factories",
    "build_captaindata_estimate_job": "estimate",
    "build_captaindata_run_failure_sensor": "sensors.factories",
    "captaindata_assets": "assets.decorator",
    "build_company_extraction_asset": "assets.factories",
    "build_outreach_asset": "outreach.factories",
    "build_outreach_op": "outreach.factories",
    "build_people_search_asset": "assets.factories",
    "build_profile_extraction_asset": "assets.factories",
    "build_search_schedule": "schedules",
    "cancel_captaindata_schedule": "bulk_ops",
    "connect_identity_linkedin_job": "account_ops",
    "connect_identity_linkedin_op": "account_ops",
    "connect_linkedin_job": "account_ops",
    "connect_linkedin_op": "account_ops",
    "create_captaindata_identity_op": "account_ops",
    "create_captaindata_schedule": "bulk_ops",
    "create_captaindata_user_op": "account_ops",
    "estimate_asset": "estimate",
    "extract_profiles_job": "ops",
    "list_captaindata_identities_op": "account_ops",
    "list_captaindata_users_op": "account_ops",
    "pause_captaindata_schedule": "bulk_ops",
    "resume_captaindata_run": "bulk_ops",
    "resume_captaindata_schedule": "bulk_ops",
    "run_outreach": "captaindata_dagster.engine.outreach",
}


__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF)

__all__ = [
    "CaptainDataActionsComponent",
    "CaptainDataAssetProps",
    "CaptainDataMetadataSet",
    "CaptainDataResource",
    "DagsterCaptainDataTranslator",
    "DuckDBWarehouseIOManager",
    "OutreachResult",
    "build_action_asset",
    "build_action_op",
    "build_bulk_landing_sensor",
    "build_captaindata_error_sensor",
    "build_captaindata_estimate_job",
    "build_captaindata_run_failure_sensor",
    "build_company_extraction_asset",
    "build_outreach_asset",
    "build_outreach_op",
    "build_people_search_asset",
    "build_profile_extraction_asset",
    "build_search_schedule",
    "cancel_captaindata_schedule",
    "captaindata_assets",
    "connect_identity_linkedin_job",
    "connect_identity_linkedin_op",
    "connect_linkedin_job",
    "connect_linkedin_op",
    "create_captaindata_identity_op",
    "create_captaindata_schedule",
    "create_captaindata_user_op",
    "estimate_asset",
    "extract_profiles_job",
    "list_captaindata_identities_op",
    "list_captaindata_users_op",
    "pause_captaindata_schedule",
    "resume_captaindata_run",
    "resume_captaindata_schedule",
    "run_outreach",
]
