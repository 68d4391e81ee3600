"""The attributes of `CaptainDataActionsComponent` in a `defs.yaml`: one model per section.

`people`, `profiles`, `companies` and `actions` are the steps (each becomes one results table and
one errors table); `retry_policy`, `error_sensor`, `run_failure_sensor`, `schedule` and `warehouse`
tune what the component builds around them. The field descriptions are the YAML's reference
(`dg list components`, `scripts/gen_config_reference.py`).

Example:
    >>> PeopleSearch(max_results=30).action_id
    'linkedin-search-people'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import dagster as dg
from pydantic import ConfigDict, Field

from captaindata_dagster.engine.frames import PROFILE_URL

MAX_ERROR_RATE_HELP = (
    "The one error threshold: above this share of failed inputs the error-rate check fails "
    "(blocking, it stops the paid steps downstream in the same run); with checks off, the step "
    "fails instead."
)
BLOCKING_HELP = (
    "A failing error-rate check stops what is downstream in the same run (false: it only shows)."
)
AUTOMATION_HELP = (
    'When Dagster materializes the results table by itself, e.g. "{{ dg.AutomationCondition.'
    'on_missing() }}" (a Dagster automation condition; unset: only runs, schedules and sensors).'
)

MODE_HELP = (
    "live: one call per input; async: the inputs go out as async runs whose results the API posts "
    "to the callback receiver (set `resource.receiver_url`), which the step lands as the same "
    "tables."
)
DEFER_HELP = (
    "With mode async: the step ends once its runs are submitted, and the component's landing "
    "sensor (`<people.name>_bulk_landing_sensor`) materializes the partition once they have "
    "ended."
)

StepMode = Annotated[str | None, Field(description=MODE_HELP + " Default: the component's.")]
StepDefer = Annotated[bool, Field(description=DEFER_HELP)]
StepBudget = Annotated[
    float | None, Field(description="Credits one partition may spend (default: the component's).")
]
StepMaxErrorRate = Annotated[
    float | None, Field(description=MAX_ERROR_RATE_HELP + " Default: the component's.")
]
StepBlocking = Annotated[
    bool | None, Field(description=BLOCKING_HELP + " Default: the component's.")
]
StepAutomationCondition = Annotated[
    dg.AutomationCondition | None,
    dg.Resolver.default(
        model_field_type=str | None, description=AUTOMATION_HELP + " Default: the component's."
    ),
    Field(description=AUTOMATION_HELP + " Default: the component's."),
]
STEP_CONFIG = ConfigDict(arbitrary_types_allowed=True)  # an AutomationCondition is no pydantic type


class PeopleSearch(dg.Resolvable, dg.Model):
    """The people search run once per partition (one partition per entry of `searches`)."""

    model_config = STEP_CONFIG

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
    budget: StepBudget = None
    max_error_rate: StepMaxErrorRate = None
    blocking: StepBlocking = None
    automation_condition: StepAutomationCondition = None
    mode: StepMode = None
    defer: StepDefer = False


class ProfileExtraction(dg.Resolvable, dg.Model):
    """Full profiles of the people found (their `linkedin_profile_url`)."""

    model_config = STEP_CONFIG

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
    budget: StepBudget = None
    max_error_rate: StepMaxErrorRate = None
    blocking: StepBlocking = None
    automation_condition: StepAutomationCondition = None
    mode: StepMode = None
    defer: StepDefer = False


class CompanyExtraction(dg.Resolvable, dg.Model):
    """The companies of the profiles (or of the people, without profiles), each fetched once."""

    model_config = STEP_CONFIG

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
    budget: StepBudget = None
    max_error_rate: StepMaxErrorRate = None
    blocking: StepBlocking = None
    automation_condition: StepAutomationCondition = None
    mode: StepMode = None
    defer: StepDefer = False


class CatalogAction(dg.Resolvable, dg.Model):
    """Any catalog action run over a column of an asset declared before it in this component."""

    model_config = STEP_CONFIG

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
    budget: StepBudget = None
    max_error_rate: StepMaxErrorRate = None
    blocking: StepBlocking = None
    automation_condition: StepAutomationCondition = None
    mode: StepMode = None
    defer: StepDefer = False


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
        """The Dagster `RetryPolicy` these settings describe."""
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
