"""`CaptainDataActionsComponent`: a LinkedIn pipeline declared in a dg `defs.yaml`.

The YAML names searches (they become the partitions) and the enrichments that follow them; the
component calls the package's asset and sensor factories, so a YAML project builds the same assets,
checks, sensors and schedule as a Python one. `dg scaffold defs
captaindata_dagster.CaptainDataActionsComponent <path>` writes a commented example that runs in sandbox
mode as it is. Importing this module costs Dagster only: no pandas, no DuckDB, no HTTP.

The YAML's sections are modelled in `settings`, the assets built in `steps`, the `resource:`
block in `resources`, the keys its resource and warehouse are bound under in `binding`, the
`translation:` in `translation`, the scaffolded example in `scaffold` (all in this package). The
schedule is Dagster's `build_schedule_from_partitioned_job` (through `build_search_schedule`).

Example:
    >>> defs = CaptainDataActionsComponent(searches={"paris": url}, profiles={}).build_definitions()
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import dagster as dg
from pydantic import ConfigDict, Field

from captaindata_dagster.api.labels import RERUN_LABELS
from captaindata_dagster.orchestration.checks import DEFAULT_MAX_ERROR_RATE
from captaindata_dagster.orchestration.components.binding import ResourceBinding, bind_resources
from captaindata_dagster.orchestration.components.resources import ResourceSettings
from captaindata_dagster.orchestration.components.scaffold import ComponentScaffolder
from captaindata_dagster.orchestration.components.settings import (
    AUTOMATION_HELP,
    BLOCKING_HELP,
    MAX_ERROR_RATE_HELP,
    MODE_HELP,
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
from captaindata_dagster.orchestration.components.steps import Steps, build_component_assets
from captaindata_dagster.orchestration.components.translation import (
    TRANSLATION_HELP,
    ResolvedTranslation,
)
from captaindata_dagster.orchestration.metadata import DEFAULT_POOL
from captaindata_dagster.orchestration.schedules import build_search_schedule
from captaindata_dagster.orchestration.translator import (
    CaptainDataAssetProps,
    DagsterCaptainDataTranslator,
)


@dg.scaffold_with(ComponentScaffolder)
class CaptainDataActionsComponent(dg.Component, dg.Model, dg.Resolvable):
    """LinkedIn searches -> people -> profiles -> companies (and any catalog action), from YAML.

    Each entry of `searches` (name -> LinkedIn search URL) is a partition. Builds, with the
    package's factories: one results and one errors table per step, their asset checks, the error
    and run-failure sensors, a schedule running every search, and, when a step has `mode: async`
    and `defer: true`, the sensor landing its partitions once their runs end. Its resource and
    DuckDB warehouse are bound on its own assets under keys of its own (`captaindata_<people>`,
    `io_manager_<people>`), never the project's `captaindata` or `io_manager`.

    Override `get_asset_spec(props)` in a subclass to change every table's spec in Python, or
    set `translation:` (asset attributes templated with `props`) in YAML.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)  # AutomationCondition, callables

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
        description="CaptainDataResource settings, bound on this component's assets alone; "
        "null: the `captaindata` resource of another defs file.",
    )
    warehouse: WarehouseSettings | None = Field(
        default=None,
        description="DuckDB file and schema, bound on this component's assets alone; unset: the "
        "`io_manager` of another defs file.",
    )
    budget: float | None = Field(
        default=None, description="Credits one partition of one asset may spend."
    )
    max_error_rate: float = Field(default=DEFAULT_MAX_ERROR_RATE, description=MAX_ERROR_RATE_HELP)
    blocking: bool = Field(default=True, description=BLOCKING_HELP)
    automation_condition: Annotated[
        dg.AutomationCondition | None,
        dg.Resolver.default(model_field_type=str | None, description=AUTOMATION_HELP),
    ] = Field(default=None, description=AUTOMATION_HELP)
    mode: str = Field(default="live", description=MODE_HELP + " Steps may override it.")
    translation: ResolvedTranslation = Field(default=None, description=TRANSLATION_HELP)
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
        binding = self.resource_binding()
        steps = build_component_assets(self, binding)
        assets = [s.asset for s in steps.values()]
        jobs, schedules = self._schedule(assets)
        landing = self._landing_sensor(steps, binding.sensor_resource_key)
        return dg.Definitions(
            assets=assets,
            sensors=[*self._sensors(assets), *landing],
            jobs=jobs,
            schedules=schedules,
            resources=binding.sensor_resources() if landing else None,  # top-level: sensors'
        )

    def get_asset_spec(self, props: CaptainDataAssetProps) -> dg.AssetSpec:
        """The spec of one table before `translation`; override it in a subclass to change all.

        Args:
            props: what is known of the table (its action, upstream, partitions, storage...).

        Example:
            >>> class Growth(CaptainDataActionsComponent):
            ...     def get_asset_spec(self, props):
            ...         return super().get_asset_spec(props).replace_attributes(owners=["team:growth"])
        """
        return DagsterCaptainDataTranslator().get_asset_spec(props)

    def resource_binding(self) -> ResourceBinding:
        """The resource and IO manager keys this component's steps read, and what it binds.

        Example:
            >>> CaptainDataActionsComponent(searches={"p": url}).resource_binding().resource_key
            'captaindata_linkedin_people'
        """
        owner = "__".join([*self.key_prefix, self.people.name])
        warehouse = self.warehouse
        return bind_resources(
            owner,
            self.resource,
            (warehouse.database, warehouse.schema_) if warehouse is not None else None,
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

    def _landing_sensor(self, steps: Steps, resource_key: str) -> list[dg.SensorDefinition]:
        """The landing sensor of the deferred steps (`defer: true`), reading the resource under
        `resource_key`; none when no step defers. Without it a deferred partition never lands."""
        from captaindata_dagster.orchestration.sensors.bulk_landing import (
            build_bulk_landing_sensor,
        )

        deferred = [s.asset for s in steps.values() if s.deferred]
        if not deferred:
            return []
        return [
            build_bulk_landing_sensor(
                deferred,
                name=f"{self.people.name}_bulk_landing_sensor",
                resource_key=resource_key,
            )
        ]

    def _schedule(
        self, assets: list[dg.AssetsDefinition]
    ) -> tuple[
        list[dg.JobDefinition | dg.UnresolvedAssetJobDefinition], list[dg.ScheduleDefinition]
    ]:
        """A job over every asset and its per-search schedule, when `schedule` is set."""
        if self.schedule is None:
            return [], []
        partitions = assets[0].partitions_def
        assert partitions is not None  # the people search is always partitioned
        job = dg.define_asset_job(
            self.schedule.job_name or f"refresh_{self.people.name}",
            selection=[k for a in assets for k in a.keys],
            partitions_def=partitions,
        )
        schedule = build_search_schedule(
            job,
            partitions,
            cron_schedule=self.schedule.cron,
            execution_timezone=self.schedule.timezone,
            name=self.schedule.name,
            running=self.schedule.running,
        )
        return [job], [schedule]


def _status(running: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED
