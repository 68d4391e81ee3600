"""`CaptainDataActionsComponent`: a LinkedIn pipeline declared in a dg `defs.yaml`.

The YAML names searches (they become the partitions) and the enrichments that follow them; the
component calls the package's asset and sensor factories, so a YAML project builds the same assets,
checks, sensors and schedule as a Python one. `dg scaffold defs
captaindata_dagster.CaptainDataActionsComponent <path>` writes a commented example that runs in sandbox
mode as it is. Importing this module costs Dagster only: no pandas, no DuckDB, no HTTP.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import threading
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import UnionType
from typing import Annotated, Any, Literal

import dagster as dg
import pydantic
from pydantic import Field

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import resolve_action
from captaindata_dagster.api.errors import CaptainDataError, ValidationError
from captaindata_dagster.engine.frames import META_COLUMNS, PROFILE_URL
from captaindata_dagster.orchestration.metadata import DEFAULT_POOL
from captaindata_dagster.orchestration.resource import API_KEY_ENV, CaptainDataResource
from captaindata_dagster.orchestration.schedules import build_search_schedule
from captaindata_dagster.orchestration.sensors import RETRY_LABELS
from captaindata_dagster.simulator.sandbox import sandbox_enabled

TYPE_NAME = "captaindata_dagster.CaptainDataActionsComponent"
_ENV_REFERENCE = re.compile(
    r"""^\s*\{\{\s*env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\))\s*\}\}\s*$"""
)


# --------------------------------------------------------------------------------- the YAML model


class PeopleSearch(dg.Resolvable, dg.Model):
    """The people search run once per partition (one partition per entry of `searches`)."""

    name: str = Field(default="linkedin_people", description="Asset name of the people table.")
    action_id: str = Field(
        default="linkedin-search-people",
        description="The search action: linkedin-search-people or salesnavigator-search-people.",
    )
    max_results: int = Field(
        default=100, description="People per search; later pages are never fetched."
    )
    max_age_hours: float | None = Field(
        default=12,
        description="A search walked this recently is served from the ledger (null: never again).",
    )
    parameters: dict[str, Any] = Field(default_factory=dict, description="The action's parameters.")
    daily_start_date: str | None = Field(
        default=None,
        description="YYYY-MM-DD: cross the searches with days from this date (dimensions search "
        "and date), one dated snapshot per search per day; the schedule takes the last full day.",
    )
    budget: float | None = Field(
        default=None, description="Credits one search may spend (default: the component's)."
    )
    max_error_rate: float | None = Field(
        default=None, description="Fail the step above this share of failed inputs."
    )


class ProfileExtraction(dg.Resolvable, dg.Model):
    """Full profiles of the people found (their `linkedin_profile_url`)."""

    name: str = Field(default="linkedin_profiles", description="Asset name of the profiles table.")
    action_id: str = Field(default="linkedin-extract-people", description="The extraction action.")
    input_column: str = Field(
        default=PROFILE_URL, description="Column of the people table holding the inputs."
    )
    max_age_days: float | None = Field(
        default=30,
        description="Profiles fetched this recently come from the ledger, free (null: never refetch).",
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="e.g. {experiences: true, skills: true}."
    )
    budget: float | None = Field(
        default=None, description="Credits one partition may spend (default: the component's)."
    )
    max_error_rate: float | None = Field(
        default=None, description="Fail the step above this share of failed inputs."
    )


class CompanyExtraction(dg.Resolvable, dg.Model):
    """The companies of the profiles (or of the people, without profiles), each fetched once."""

    name: str = Field(
        default="linkedin_companies", description="Asset name of the companies table."
    )
    action_id: str = Field(default="linkedin-extract-company", description="The extraction action.")
    input_column: str = Field(
        default="linkedin_company_url",
        description="Column of the upstream table holding the inputs.",
    )
    max_age_days: float | None = Field(
        default=30,
        description="Companies fetched this recently come from the ledger, free (null: never refetch).",
    )
    parameters: dict[str, Any] = Field(default_factory=dict, description="The action's parameters.")
    budget: float | None = Field(
        default=None, description="Credits one partition may spend (default: the component's)."
    )
    max_error_rate: float | None = Field(
        default=None, description="Fail the step above this share of failed inputs."
    )


class CatalogAction(dg.Resolvable, dg.Model):
    """Any catalog action run over a column of an asset declared before it in this component."""

    action_id: str = Field(
        description="A catalog action id, e.g. linkedin-extract-company-employees-insights."
    )
    upstream: str = Field(
        description="The asset whose column holds the inputs: people, profiles, companies, or an asset name."
    )
    name: str | None = Field(
        default=None, description="Asset name (default: the action id with _ for -)."
    )
    input_column: str | None = Field(
        default=None, description="Column holding the inputs (default: the action's input field)."
    )
    parameters: dict[str, Any] = Field(default_factory=dict, description="The action's parameters.")
    max_age_days: float | None = Field(
        default=30, description="Results this recent come from the ledger (null: never refetch)."
    )
    max_results: int | None = Field(
        default=None, description="For list actions: results per input."
    )
    budget: float | None = Field(
        default=None, description="Credits one partition may spend (default: the component's)."
    )
    max_error_rate: float | None = Field(
        default=None, description="Fail the step above this share of failed inputs."
    )


class RetryPolicySettings(dg.Resolvable, dg.Model):
    """Dagster's step retry policy (the step is re-run only for transient causes)."""

    max_retries: int = Field(
        default=3, description="Step re-runs after a transient failure (0: none)."
    )
    delay: float | None = Field(default=30, description="Seconds before the first re-run.")
    backoff: Literal["linear", "exponential"] | None = Field(
        default="exponential", description="How the delay grows between re-runs."
    )
    jitter: Literal["full", "plus_minus"] | None = Field(
        default="plus_minus", description="Randomness added to the delay."
    )

    def build(self) -> dg.RetryPolicy:
        return dg.RetryPolicy(
            max_retries=self.max_retries,
            delay=self.delay,
            backoff=dg.Backoff(self.backoff.upper()) if self.backoff else None,
            jitter=dg.Jitter(self.jitter.upper()) if self.jitter else None,
        )


class ErrorSensorSettings(dg.Resolvable, dg.Model):
    """`build_captaindata_error_sensor`: error labels on the asset pages, re-runs for transient ones."""

    name: str | None = Field(default=None, description="Default: <people name>_error_sensor.")
    minimum_interval_seconds: int = Field(default=60, description="Seconds between ticks.")
    running: bool = Field(
        default=True, description="Start the sensor as soon as the code location loads."
    )
    ignore_labels: list[str] = Field(
        default_factory=list, description="Labels never surfaced, e.g. NO_RESULT."
    )
    retry_labels: list[str] | None = Field(
        default=None,
        description="Labels whose partitions are re-run (default: 429s, 5xx, timeouts).",
    )
    rerun_window_hours: float = Field(
        default=1, description="At most one re-run per partition per window."
    )


class RunFailureSensorSettings(dg.Resolvable, dg.Model):
    """`build_captaindata_run_failure_sensor`: a run that died of a Captain Data error, at once."""

    name: str | None = Field(default=None, description="Default: <people name>_run_failure_sensor.")
    running: bool = Field(
        default=True, description="Start the sensor as soon as the code location loads."
    )


class ScheduleSettings(dg.Resolvable, dg.Model):
    """One run per search partition at each tick; fresh results cost nothing."""

    cron: str = Field(default="0 5 * * *", description="When to refresh (cron, in `timezone`).")
    timezone: str = Field(default="UTC", description="Time zone of `cron`.")
    job_name: str | None = Field(default=None, description="Default: refresh_<people name>.")
    name: str | None = Field(default=None, description="Default: <job name>_schedule.")
    running: bool = Field(
        default=False, description="Start the schedule when the code location loads."
    )


class WarehouseSettings(dg.Resolvable, dg.Model):
    """Land every table in DuckDB (`DuckDBWarehouseIOManager`, imported only when a step runs)."""

    database: str = Field(description="DuckDB file, created on first write.")
    schema_: str | None = Field(default=None, alias="schema", description="Schema of the tables.")


def _resolve_resource(context: dg.ResolutionContext, raw: Any) -> dict[str, Any] | None:
    """Resource settings from YAML; a string field written `{{ env.NAME }}` becomes `dg.EnvVar`.

    `EnvVar` keeps the value (the key, a ledger URL with a password) out of the resource config
    that the Dagster UI shows; other values are rendered as templates as usual.
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = context.resolve_value(raw)
    if not isinstance(raw, Mapping):
        raise ValidationError(
            "resource: expected a mapping of CaptainDataResource settings, e.g. "
            "{requests_per_second: 10}",
            field="resource",
        )
    text_fields = _text_fields()
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _env_reference(value)
        if name is not None and key in text_fields:
            out[key] = dg.EnvVar(name)
        else:
            out[key] = context.at_path(key).resolve_value(value)
    return out


def _env_reference(value: Any) -> str | None:
    if not isinstance(value, str) or isinstance(value, dg.EnvVar):
        return None
    m = _ENV_REFERENCE.match(value)
    return (m.group(1) or m.group(2)) if m else None


def _resource_fields_help() -> str:
    return ", ".join(CaptainDataResource.model_fields)


ResourceSettings = Annotated[
    dict[str, Any] | None,
    dg.Resolver(
        _resolve_resource,
        inject_before_resolve=False,
        description=(
            "CaptainDataResource settings, any of: "
            + _resource_fields_help()
            + '. Write the key as "{{ env.CAPTAINDATA_API_KEY }}" (kept out of the run config) '
            "or leave it out. null: the `captaindata` resource comes from another defs file."
        ),
    ),
]


# --------------------------------------------------------------------------------- the component


class _Scaffolder(dg.Scaffolder):
    """Writes a commented `defs.yaml` that runs as it is with CAPTAINDATA_SANDBOX=1."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        if request.scaffold_format != "yaml":
            from dagster.components.component_scaffolding import scaffold_component

            scaffold_component(request, {})
            return
        text = SCAFFOLD_TEMPLATE.replace("{type_name}", request.type_name)
        if request.append:  # target_path is then an existing defs.yaml
            with open(request.target_path, "a", encoding="utf-8") as fh:
                fh.write("---\n" + text)
        else:
            request.target_path.mkdir(parents=True, exist_ok=True)
            (request.target_path / "defs.yaml").write_text(text, encoding="utf-8")


@dg.scaffold_with(_Scaffolder)
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
        return dg.ComponentTypeSpec(
            description="Captain Data LinkedIn searches and enrichments as partitioned assets, "
            "with checks, error sensors and a schedule.",
            tags=["captaindata", "linkedin"],
            produces=["asset", "asset_check", "job", "schedule", "sensor", "resource"],
        )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return self.build_definitions()

    def build_definitions(self) -> dg.Definitions:
        """The definitions this component declares (also usable without a dg project)."""
        steps = self._build_assets()
        assets = [a for a, _ in steps.values()]
        partitions = assets[0].partitions_def
        people_name = self.people.name
        sensors: list[dg.SensorDefinition] = []
        if self.error_sensor:
            cfg = (
                self.error_sensor
                if isinstance(self.error_sensor, ErrorSensorSettings)
                else ErrorSensorSettings()
            )
            sensors.append(_error_sensor(cfg, assets, f"{people_name}_error_sensor"))
        if self.run_failure_sensor:
            rcfg = (
                self.run_failure_sensor
                if isinstance(self.run_failure_sensor, RunFailureSensorSettings)
                else RunFailureSensorSettings()
            )
            sensors.append(_run_failure_sensor(rcfg, assets, f"{people_name}_run_failure_sensor"))
        jobs, schedules = [], []
        if self.schedule is not None:
            job = dg.define_asset_job(
                self.schedule.job_name or f"refresh_{people_name}",
                selection=[k for a in assets for k in a.keys],
                partitions_def=partitions,
            )
            jobs.append(job)
            schedules.append(
                build_search_schedule(
                    job,
                    partitions,  # type: ignore[arg-type]
                    cron_schedule=self.schedule.cron,
                    execution_timezone=self.schedule.timezone,
                    name=self.schedule.name,
                    running=self.schedule.running,
                )
            )
        resources: dict[str, Any] = {}
        if self.resource is not None:
            resources["captaindata"] = shared_resource(self.resource)
        if self.warehouse is not None:
            resources["io_manager"] = _shared_warehouse(
                self.warehouse.database, self.warehouse.schema_
            )
        return dg.Definitions(
            assets=assets, sensors=sensors, jobs=jobs, schedules=schedules, resources=resources
        )

    # ----------------------------------------------------------------------------- the assets

    def _build_assets(self) -> dict[str, tuple[dg.AssetsDefinition, Action]]:
        """name -> (assets definition, action), in declaration order; each step by its factory."""
        from captaindata_dagster.orchestration.assets import (
            build_action_asset,
            build_company_extraction_asset,
            build_people_search_asset,
            build_profile_extraction_asset,
        )

        if not self.searches:
            raise ValidationError(
                "searches: give at least one search, e.g. {data-engineers-paris: "
                "https://www.linkedin.com/search/results/people/?keywords=data%20engineer}",
                field="searches",
            )
        common = {
            "pool": self.pool,
            "retry_policy": self.retry_policy.build() if self.retry_policy else None,
            "group_name": self.group_name,
            "key_prefix": self.key_prefix or None,
            "checks": self.checks,
        }
        steps: dict[str, tuple[dg.AssetsDefinition, Action]] = {}
        aliases: dict[str, str] = {}

        def options(step: Any) -> dict[str, Any]:
            budget = step.budget if step.budget is not None else self.budget
            rate = step.max_error_rate if step.max_error_rate is not None else self.max_error_rate
            return {**common, "budget": budget, "max_error_rate": rate}

        def add(
            alias: str | None,
            name: str,
            path: str,
            make: Callable[[], dg.AssetsDefinition],
            action: Action,
        ) -> None:
            taken = {n for step in steps for n in (step, f"{step}_errors")}
            if name in taken or f"{name}_errors" in taken:
                raise ValidationError(
                    f"{path}.name: {name!r} is already an asset of this component; give it "
                    "another name",
                    field=f"{path}.name",
                )
            steps[name] = (_build(path, make), action)
            if alias:
                aliases[alias] = name

        people = self.people
        people_action = _action(people.action_id, "people.action_id")
        if people.daily_start_date is not None:
            try:
                datetime.strptime(people.daily_start_date, "%Y-%m-%d")
            except ValueError:
                raise ValidationError(
                    f"people.daily_start_date: {people.daily_start_date!r} is not a date; write "
                    "YYYY-MM-DD, e.g. 2026-01-01",
                    field="people.daily_start_date",
                ) from None
        add(
            "people",
            people.name,
            "people",
            lambda: build_people_search_asset(
                people.name,
                searches=dict(self.searches),
                max_results=people.max_results,
                max_age_hours=people.max_age_hours,
                daily_start_date=people.daily_start_date,
                action_id=people.action_id,
                parameters=people.parameters or None,
                **options(people),
            ),
            people_action,
        )
        upstream_of_companies = people.name
        if self.profiles is not None:
            p = self.profiles
            action = _action(p.action_id, "profiles.action_id")
            _check_column(steps, people.name, p.input_column, "profiles.input_column")
            add(
                "profiles",
                p.name,
                "profiles",
                lambda: build_profile_extraction_asset(
                    p.name,
                    upstream=steps[people.name][0],
                    input_column=p.input_column,
                    max_age_days=p.max_age_days,
                    parameters=p.parameters or None,
                    action_id=p.action_id,
                    **options(p),
                ),
                action,
            )
            upstream_of_companies = p.name
        if self.companies is not None:
            c = self.companies
            action = _action(c.action_id, "companies.action_id")
            _check_column(steps, upstream_of_companies, c.input_column, "companies.input_column")
            add(
                "companies",
                c.name,
                "companies",
                lambda: build_company_extraction_asset(
                    c.name,
                    upstream=steps[upstream_of_companies][0],
                    input_column=c.input_column,
                    max_age_days=c.max_age_days,
                    parameters=c.parameters or None,
                    action_id=c.action_id,
                    **options(c),
                ),
                action,
            )
        for i, step in enumerate(self.actions):
            path = f"actions[{i}]"
            action = _action(step.action_id, f"{path}.action_id")
            if action.side_effects:
                raise ValidationError(
                    f"{path}.action_id: {action.id} acts on LinkedIn (it sends or changes "
                    "something); run it with build_outreach_asset, which sends once per campaign",
                    field=f"{path}.action_id",
                )
            if action.primary_field is None:
                raise ValidationError(
                    f"{path}.action_id: {action.id} takes no input, so it cannot run over a "
                    "column; use build_action_asset(..., inputs=[{{}}]) in Python",
                    field=f"{path}.action_id",
                )
            upstream = aliases.get(step.upstream, step.upstream)
            if upstream not in steps:
                by_name = {n: a for a, n in aliases.items()}
                known = [f"{by_name[n]} ({n})" if n in by_name else n for n in steps]
                raise ValidationError(
                    f"{path}.upstream: {step.upstream!r} is not an asset declared before it in "
                    f"this component; one of: {', '.join(known)}",
                    field=f"{path}.upstream",
                )
            column = step.input_column or action.primary_field
            _check_column(steps, upstream, column, f"{path}.input_column")
            name = step.name or action.id.replace("-", "_")
            add(
                None,
                name,
                path,
                lambda step=step, name=name, upstream=upstream, column=column: build_action_asset(
                    step.action_id,
                    name=name,
                    upstream=steps[upstream][0],
                    input_column=column,
                    parameters=step.parameters or None,
                    max_age_days=step.max_age_days,
                    max_results=step.max_results,
                    **options(step),
                ),
                action,
            )
        return steps


# --------------------------------------------------------------------------------- helpers


def _error_sensor(
    cfg: ErrorSensorSettings, assets: list[dg.AssetsDefinition], default_name: str
) -> dg.SensorDefinition:
    from captaindata_dagster.orchestration.sensors import build_captaindata_error_sensor

    return build_captaindata_error_sensor(
        assets,
        name=cfg.name or default_name,
        retry_labels=cfg.retry_labels if cfg.retry_labels is not None else RETRY_LABELS,
        ignore_labels=cfg.ignore_labels,
        rerun_window=timedelta(hours=cfg.rerun_window_hours),
        minimum_interval_seconds=cfg.minimum_interval_seconds,
        default_status=_status(cfg.running),
    )


def _run_failure_sensor(
    cfg: RunFailureSensorSettings, assets: list[dg.AssetsDefinition], default_name: str
) -> dg.SensorDefinition:
    from captaindata_dagster.orchestration.sensors import build_captaindata_run_failure_sensor

    return build_captaindata_run_failure_sensor(
        assets, name=cfg.name or default_name, default_status=_status(cfg.running)
    )


def _status(running: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED


def _build(path: str, make: Callable[[], Any]) -> Any:
    """Run a factory; its `ValidationError` is re-raised naming the YAML attribute to fix."""
    try:
        return make()
    except CaptainDataError as err:
        field = getattr(err, "field", None)
        if field and field.startswith("searches"):  # a top-level attribute, not the step's
            where = _yaml_field(field)
        elif field and err.error_scope == "param":
            where = f"{path}.parameters.{field}"
        else:
            where = f"{path}.{_yaml_field(field)}" if field else path
        raise ValidationError(
            f"{where}: {err.message}", field=where, error_label=err.error_label
        ) from None


def _yaml_field(field: str) -> str:
    """`searches['a-b']` (a factory's name) -> `searches.a-b` (where it is in the YAML)."""
    m = re.fullmatch(r"(\w+)\[['\"](.*)['\"]\]", field)
    return f"{m.group(1)}.{m.group(2)}" if m else field


def _action(action_id: str, path: str) -> Action:
    try:
        return resolve_action(action_id)
    except ValidationError as err:
        raise ValidationError(
            f"{path}: {err.message}", field=path, error_label=err.error_label
        ) from None


def _check_column(
    steps: Mapping[str, tuple[dg.AssetsDefinition, Action]],
    upstream: str,
    column: str | None,
    path: str,
) -> None:
    """Refuse at load an input column that the upstream table will never have."""
    action = steps[upstream][1]
    columns = [*action.output_types, *META_COLUMNS]
    if column in columns:
        return
    close = difflib.get_close_matches(str(column), columns, n=3, cutoff=0.6)
    urls = [c for c in columns if c.endswith("_url")]
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ValidationError(
        f"{path}: the {upstream} table ({action.id}) has no column {column!r}; {hint}"
        f"columns holding URLs: {', '.join(urls)}",
        field=path,
    )


def _text_fields() -> set[str]:
    """Resource settings that hold text, so `{{ env.NAME }}` can become an `EnvVar`."""
    out = set()
    for name, info in CaptainDataResource.model_fields.items():
        ann = info.annotation
        args = set(typing.get_args(ann)) if isinstance(ann, UnionType) else {ann}
        if str in args and args <= {str, type(None)}:
            out.add(name)
    return out


_shared_lock = threading.Lock()
_shared: dict[str, Any] = {}


def _canonical(kind: str, settings: Mapping[str, Any]) -> str:
    def encode(v: Any) -> Any:
        if isinstance(v, dg.EnvVar):
            return {"env": v.env_var_name}
        return v

    return kind + json.dumps(
        {k: encode(v) for k, v in settings.items()}, sort_keys=True, default=str
    )


def shared_resource(settings: Mapping[str, Any]) -> CaptainDataResource:
    """A `CaptainDataResource` for these settings, one instance per distinct settings.

    Checked like the YAML: unknown fields are named with close matches, a literal API key is
    refused (it would be shown in the UI), `{{ env.NAME }}` values are `EnvVar`s. Several
    components with the same settings share one instance, so their definitions merge.
    """
    kwargs = _resource_kwargs(settings)
    key = _canonical("resource", kwargs)
    with _shared_lock:
        if key not in _shared:
            try:
                _shared[key] = CaptainDataResource(**kwargs)
            except pydantic.ValidationError as err:
                first = err.errors()[0]
                loc = ".".join(str(x) for x in first["loc"]) or "resource"
                raise ValidationError(
                    f"resource.{loc}: {first['msg']}", field=f"resource.{loc}"
                ) from None
        return _shared[key]


def _resource_kwargs(settings: Mapping[str, Any]) -> dict[str, Any]:
    fields = CaptainDataResource.model_fields
    for key in settings:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValidationError(
                f"resource.{key}: CaptainDataResource has no setting {key!r}; {hint}"
                f"it takes: {_resource_fields_help()}",
                field=f"resource.{key}",
            )
    kwargs = dict(settings)
    api_key = kwargs.get("api_key")
    if api_key is not None and not isinstance(api_key, dg.EnvVar):
        raise ValidationError(
            "resource.api_key: a literal key would be stored in the resource config that the "
            'Dagster UI shows; write api_key: "{{ env.CAPTAINDATA_API_KEY }}" (or dg.EnvVar in '
            f"Python), or leave it out to read {API_KEY_ENV} when a step runs",
            field="resource.api_key",
        )
    sandbox = kwargs.get("sandbox")
    sandbox = sandbox_enabled() if sandbox is None else bool(sandbox)
    for key, value in list(kwargs.items()):
        if isinstance(value, dg.EnvVar) and os.environ.get(value.env_var_name) is None:
            # Unset here: the resource's default applies (it reads its variables when a step
            # runs). A key naming another variable stays an EnvVar, so a run without it fails
            # naming that variable; in sandbox mode no key is needed.
            if not (key == "api_key" and value.env_var_name != API_KEY_ENV and not sandbox):
                del kwargs[key]
    return kwargs


def _shared_warehouse(database: str, schema: str | None) -> Any:
    from captaindata_dagster.orchestration.warehouse import DuckDBWarehouseIOManager

    key = _canonical("warehouse", {"database": database, "schema": schema})
    with _shared_lock:
        if key not in _shared:
            # connection_config given explicitly: DuckDB's client reads it from the config
            _shared[key] = DuckDBWarehouseIOManager(
                database=database, schema=schema, connection_config={}
            )
        return _shared[key]


SCAFFOLD_TEMPLATE = """\
# Captain Data: LinkedIn searches -> people -> profiles -> companies, as partitioned assets.
# Runs as it is against the bundled simulator (synthetic data): CAPTAINDATA_SANDBOX=1 dg dev
# For real data: set CAPTAINDATA_API_KEY (and unset CAPTAINDATA_SANDBOX).
type: {type_name}

attributes:
  # One partition per search: name -> LinkedIn people search URL.
  searches:
    data-engineers-paris: "https://www.linkedin.com/search/results/people/?keywords=data%20engineer&geoUrn=%5B%22105015875%22%5D"
    cto-saas-berlin: "https://www.linkedin.com/search/results/people/?keywords=cto%20saas&geoUrn=%5B%22106967730%22%5D"

  people:
    name: linkedin_people
    max_results: 30          # per search: pages beyond are never fetched (a result is a credit)
    max_age_hours: 12        # a search walked within 12 hours is served from the ledger

  profiles:                  # delete to stop after the search
    name: linkedin_profiles
    max_age_days: 30         # profiles fetched within 30 days come from the ledger, free
    parameters: {experiences: true, skills: true}

  companies:
    name: linkedin_companies
    max_age_days: 90

  # Any catalog action over a column of an asset declared above:
  # actions:
  #   - action_id: linkedin-extract-company-employees-insights
  #     upstream: companies
  #     input_column: linkedin_company_url
  #     parameters: {affiliates: false}

  # Any CaptainDataResource setting. The key is an EnvVar: never in the run config or the logs.
  resource:
    api_key: "{{ env.CAPTAINDATA_API_KEY }}"
    # your plan's limit (trial 1, low 2, mid 10, high 20, highest 40); the simulator takes 40
    requests_per_second: "{{ env('CAPTAINDATA_REQUESTS_PER_SECOND', '40' if env.CAPTAINDATA_SANDBOX == '1' else '2') }}"
    # rotate_connected_users: true   # run on every user whose LinkedIn account is connected
    # integration_users: ["<user uid>", "<another user uid>"]   # or these users only

  # Land every table in DuckDB; delete to use the io_manager of another defs file.
  warehouse:
    database: "{{ env('CAPTAINDATA_WAREHOUSE', 'warehouse.duckdb') }}"
    schema: linkedin

  budget: 500                # credits one partition of one asset may spend
  pool: captaindata          # Dagster concurrency pool of every Captain Data step
  retry_policy: {max_retries: 3, delay: 30, backoff: exponential, jitter: plus_minus}
  checks: true               # error rate, required columns and unique key checks
  error_sensor: true         # error labels on the asset pages; re-runs partitions hit by 429s/5xx
  run_failure_sensor: true
  schedule:
    cron: "0 5 * * *"        # every morning, one run per search
    timezone: UTC
    running: false           # start it from the UI, or set true
"""
