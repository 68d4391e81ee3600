"""`CaptainDataActionsComponent`: a LinkedIn pipeline declared in a dg `defs.yaml`.

The YAML names searches (they become the partitions) and the enrichments that follow them; the
component calls the package's asset and sensor factories, so a YAML project builds the same assets,
checks, sensors and schedule as a Python one. `dg scaffold defs
captaindata_dagster.CaptainDataActionsComponent <path>` writes a commented example that runs in sandbox
mode as it is. Importing this module costs Dagster only: no pandas, no DuckDB, no HTTP.

The YAML's sections are modelled in `settings`, the assets built in `steps`, the resources in
`resources`, the scaffolded example in `scaffold` (all in this package).

Example:
    >>> defs = CaptainDataActionsComponent(searches={"paris": url}, profiles={}).build_definitions()
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from captaindata_dagster.api.labels import RERUN_LABELS
from captaindata_dagster.orchestration.components.resources import (
    ResourceSettings,
    shared_resource,
    shared_warehouse,
)
from captaindata_dagster.orchestration.components.scaffold import ComponentScaffolder
from captaindata_dagster.orchestration.components.settings import (
    CatalogAction,
    CompanyExtraction,
    ErrorSensorSettings,
    PeopleSearch,
    ProfileExtraction,
    RetryPolicySettings,
    RunFailureSensorSettings,
    ScheduleSettings,
    WarehouseSettings,
)
from captaindata_dagster.orchestration.components.steps import build_component_assets
from captaindata_dagster.orchestration.metadata import DEFAULT_POOL
from captaindata_dagster.orchestration.schedules import build_search_schedule


@dg.scaffold_with(ComponentScaffolder)
class CaptainDataActionsComponent(dg.Component, dg.Model, dg.Resolvable):
    """LinkedIn searches -> people -> profiles -> companies (and any catalog action), from YAML.

    Each entry of `searches` (name -> LinkedIn search URL) is a partition. Builds, with the
    package's factories: one results and one errors table per step, their asset checks, the error
    and run-failure sensors, a schedule running every search, the `captaindata` resource and
    optionally a DuckDB warehouse as `io_manager`.
    """

    searches: dict[str, str] = Field(
        description="Partition name -> LinkedIn people search URL (Sales Navigator URLs with "
        "people.action_id: salesnavigator-search-people)."
    )
    people: PeopleSearch = Field(
        default_factory=PeopleSearch, description="The search step (always built)."
    )
    profiles: ProfileExtraction | None = Field(default=None, description="{} for the defaults.")
    companies: CompanyExtraction | None = Field(default=None, description="{} for the defaults.")
    actions: list[CatalogAction] = Field(default_factory=list, description="More catalog actions.")
    resource: ResourceSettings = Field(
        default_factory=dict,
        description="CaptainDataResource settings (table above); null: the resource of another "
        "defs file.",
    )
    warehouse: WarehouseSettings | None = Field(
        default=None,
        description="DuckDB file and schema; unset: the io_manager of another defs file.",
    )
    budget: float | None = Field(
        default=None, description="Credits one partition of one asset may spend."
    )
    max_error_rate: float = Field(
        default=0.5, description="Fail a step above this share of failed inputs."
    )
    pool: str | None = Field(
        default=DEFAULT_POOL, description="Dagster concurrency pool of every step."
    )
    retry_policy: RetryPolicySettings | None = Field(
        default=None, description="Step retry policy (default: 3 re-runs, 30 s, exponential)."
    )
    group_name: str | None = Field(default="captaindata", description="Asset group in the UI.")
    key_prefix: list[str] = Field(
        default_factory=list, description="Asset key prefix (also the DuckDB schema if unset)."
    )
    checks: bool = Field(default=True, description="Build the asset checks of every results table.")
    error_sensor: bool | ErrorSensorSettings = Field(
        default=True, description="Build the error sensor (true, false or its settings)."
    )
    run_failure_sensor: bool | RunFailureSensorSettings = Field(
        default=True, description="Build the run-failure sensor (true, false or its settings)."
    )
    schedule: ScheduleSettings | None = Field(default=None, description="Unset: no schedule.")

    @classmethod
    def get_spec(cls) -> dg.ComponentTypeSpec:
        """What `dg list components` says of the component."""
        return dg.ComponentTypeSpec(
            description="Captain Data LinkedIn searches and enrichments as partitioned assets, "
            "with checks, error sensors and a schedule.",
            tags=["captaindata", "linkedin"],
            produces=["asset", "asset_check", "job", "schedule", "sensor", "resource"],
        )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The definitions of a `defs.yaml` (dg calls this; see `build_definitions`)."""
        return self.build_definitions()

    def build_definitions(self) -> dg.Definitions:
        """The definitions this component declares (also usable without a dg project).

        Example:
            >>> CaptainDataActionsComponent(searches={"paris": url}).build_definitions().sensors
        """
        assets = [a for a, _ in build_component_assets(self).values()]
        jobs, schedules = self._schedule(assets)
        return dg.Definitions(
            assets=assets,
            sensors=self._sensors(assets),
            jobs=jobs,
            schedules=schedules,
            resources=self._resources(),
        )

    def _sensors(self, assets: list[dg.AssetsDefinition]) -> list[dg.SensorDefinition]:
        """The error and run-failure sensors, as `error_sensor` and `run_failure_sensor` say."""
        from captaindata_dagster.orchestration.sensors.factories import (
            build_captaindata_error_sensor,
            build_captaindata_run_failure_sensor,
        )

        people_name = self.people.name
        sensors: list[dg.SensorDefinition] = []
        if self.error_sensor:
            cfg = (
                self.error_sensor
                if isinstance(self.error_sensor, ErrorSensorSettings)
                else ErrorSensorSettings()
            )
            sensors.append(
                build_captaindata_error_sensor(
                    assets,
                    name=cfg.name or f"{people_name}_error_sensor",
                    retry_labels=cfg.retry_labels if cfg.retry_labels is not None else RERUN_LABELS,
                    ignore_labels=cfg.ignore_labels,
                    rerun_window=timedelta(hours=cfg.rerun_window_hours),
                    minimum_interval_seconds=cfg.minimum_interval_seconds,
                    default_status=_status(cfg.running),
                )
            )
        if self.run_failure_sensor:
            rcfg = (
                self.run_failure_sensor
                if isinstance(self.run_failure_sensor, RunFailureSensorSettings)
                else RunFailureSensorSettings()
            )
            sensors.append(
                build_captaindata_run_failure_sensor(
                    assets,
                    name=rcfg.name or f"{people_name}_run_failure_sensor",
                    default_status=_status(rcfg.running),
                )
            )
        return sensors

    def _schedule(
        self, assets: list[dg.AssetsDefinition]
    ) -> tuple[
        list[dg.JobDefinition | dg.UnresolvedAssetJobDefinition], list[dg.ScheduleDefinition]
    ]:
        """A job over every asset and its per-search schedule, when `schedule` is set."""
        if self.schedule is None:
            return [], []
        partitions = assets[0].partitions_def
        job = dg.define_asset_job(
            self.schedule.job_name or f"refresh_{self.people.name}",
            selection=[k for a in assets for k in a.keys],
            partitions_def=partitions,
        )
        schedule = build_search_schedule(
            job,
            partitions,  # type: ignore[arg-type]
            cron_schedule=self.schedule.cron,
            execution_timezone=self.schedule.timezone,
            name=self.schedule.name,
            running=self.schedule.running,
        )
        return [job], [schedule]

    def _resources(self) -> dict[str, Any]:
        """The `captaindata` resource and the DuckDB `io_manager`, when they are declared here."""
        resources: dict[str, Any] = {}
        if self.resource is not None:
            resources["captaindata"] = shared_resource(self.resource)
        if self.warehouse is not None:
            resources["io_manager"] = shared_warehouse(
                self.warehouse.database, self.warehouse.schema_
            )
        return resources


def _status(running: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED
