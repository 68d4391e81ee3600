"""Ops for job-style users: run one Captain Data action over inputs given in the run config.

`build_action_op(action_id, ...)` returns an op with two outputs, `results` and `errors` (pandas
frames from the batch engine), that needs the `captaindata` resource. Per-input failures are rows of
`errors` and never fail the step; a systemic error (bad key, no credits, no access) fails it with
`dagster.Failure` carrying the error label, scope and ref, and so does an error rate over
`max_error_rate` (0.2, the asset factories' threshold too) once both outputs are handed on.

The example `extract_profiles_job` extracts LinkedIn profiles. In the launchpad, a run config is::

    ops:
      extract_profiles:
        config:
          inputs:                       # values of the action's primary field
            - https://www.linkedin.com/in/ada-lovelace
            - https://www.linkedin.com/in/grace-hopper
          input_objects:                # optional: whole inputs, aliases and custom_data allowed
            - linkedin_profile_url: https://www.linkedin.com/in/alan-turing
              custom_data: {crm_id: 42}
          parameters: {skills: true}    # optional: merged over the op's own; null removes one
          max_age_days: 7               # optional: per-run overrides of the op's defaults
          budget: 100

`mode="async"` sends the run's inputs as async runs (up to 100,000 inputs each) whose results the
API posts to the callback receiver (the resource's `receiver_url`; see `orchestration.bulk_mode`):
the step waits for them and hands on the same two frames. There is no `defer` for ops: a deferred
asset partition is landed later by a sensor, an op's outputs have nowhere to land but its own step.

Building an op or a job reads only the bundled catalog: no HTTP call until a step runs.
"""

# No `from __future__ import annotations`: Dagster reads the op's parameter annotations as
# objects to find its config class and resources.
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from captaindata_dagster.api.errors import CaptainDataError, ValidationError
from captaindata_dagster.api.request_body import check_parameters, resolve_action
from captaindata_dagster.orchestration.bulk_fields import LIVE, check_mode
from captaindata_dagster.orchestration.checks import DEFAULT_MAX_ERROR_RATE
from captaindata_dagster.orchestration.metadata import (
    DEFAULT_POOL,
    default_retry_policy,
    error_rate_failure,
    errors_output_metadata,
    failure_for_error,
    stats_metadata,
)
from captaindata_dagster.orchestration.metadata_set import ACTION_ID_TAG
from captaindata_dagster.orchestration.refetch import max_age_after_refetch
from captaindata_dagster.orchestration.resource import CaptainDataResource


class ActionOpConfig(dg.Config):
    """Run config of an action op: what to fetch this run, and per-run overrides of its defaults.

    Free-form objects are typed as plain `dict` on purpose: Dagster maps it to a permissive
    config type that accepts nested values and nulls (`dict[str, Any]` rejects null members).
    """

    inputs: list[str] = Field(
        default_factory=list,
        description="Values of the action's primary input field, e.g. LinkedIn profile URLs.",
    )
    input_objects: list[dict] = Field(
        default_factory=list,
        description="Whole inputs as objects of fields (aliases and custom_data allowed).",
    )
    parameters: dict | None = Field(
        default=None,
        description="Action parameters merged over the op's own; a null value removes one.",
    )
    max_age_days: float | None = Field(
        default=None,
        description="Reuse ledger entries younger than this (0 refetches all). Unset: op default.",
    )
    max_results: int | None = Field(
        default=None, description="Cap per search (list actions). Unset: the op's default."
    )
    budget: float | None = Field(
        default=None, description="Most credits this run may spend. Unset: the op's default."
    )


@dataclass(frozen=True)
class ActionRunSettings:
    """What one run of an action op fetches: the op's defaults, overridden by the run config."""

    parameters: Mapping[str, Any]
    max_age_days: float | None
    max_results: int | None
    budget: float | None

    def overridden_by(self, config: ActionOpConfig) -> "ActionRunSettings":
        """These settings with the run config's: parameters merged (a null removes one).

        Args:
            config: the run's `ActionOpConfig`.

        Example:
            >>> ActionRunSettings({}, 30, None, None).overridden_by(ActionOpConfig(budget=5)).budget
            5.0
        """
        params = {**self.parameters, **(config.parameters or {})}
        return ActionRunSettings(
            parameters={k: v for k, v in params.items() if v is not None},
            max_age_days=_first_set(config.max_age_days, self.max_age_days),
            max_results=_first_set(config.max_results, self.max_results),
            budget=_first_set(config.budget, self.budget),
        )

    def check(self, action_id: str) -> None:
        """Refuse bad settings before any call (see `_check_settings`)."""
        _check_settings(
            action_id, self.parameters, self.max_age_days, self.max_results, self.budget
        )


def build_action_op(
    action_id: str,
    *,
    name: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    max_age_days: float | None = None,
    max_results: int | None = None,
    budget: float | None = None,
    max_error_rate: float | None = DEFAULT_MAX_ERROR_RATE,
    pool: str | None = DEFAULT_POOL,
    retry_policy: dg.RetryPolicy | None = None,
    mode: str = LIVE,
) -> dg.OpDefinition:
    """An op running `action_id` over the run config's inputs, yielding `results` and `errors`.

    Checked here, before any run, against the bundled catalog: the action id (a typo raises
    `ValidationError` suggesting close ids), the parameters and the limits.

    Args:
        action_id: a catalog action id.
        name: the op's name (default: the action id with _ for -).
        parameters: the action's parameters; a run config's are merged over them.
        max_age_days: reuse ledger entries younger than this; None reuses them forever.
        max_results: list actions: results per input.
        budget: credits one run may spend.
        max_error_rate: fail above this share of failed inputs (after yielding both outputs);
            None never fails on them.
        pool: the Dagster concurrency pool capping steps that call the API at once across runs.
        retry_policy: the step's (default: re-run transient failures, 3 times).
        mode: "live" (one call per input, the default) or "async" (async runs through the
            callback receiver; the resource needs `receiver_url` outside sandbox mode).

    Example:
        >>> build_action_op("linkedin-extract-people", name="extract_profiles", max_age_days=30)
        >>> build_action_op("linkedin-extract-people", name="extract_many", mode="async")
    """
    act = resolve_action(action_id)
    check_mode(mode, name or act.id)
    defaults = ActionRunSettings(dict(parameters or {}), max_age_days, max_results, budget)
    defaults.check(act.id)
    if max_error_rate is not None and not 0 <= max_error_rate <= 1:
        raise ValueError(f"max_error_rate must be between 0 and 1 or None, got {max_error_rate!r}")

    @dg.op(
        name=name or act.id.replace("-", "_"),
        description=f"Run the Captain Data action `{act.id}` over the inputs in the run config.",
        out={
            "results": dg.Out(pd.DataFrame, description="One row per result item."),
            "errors": dg.Out(pd.DataFrame, description="One row per failed input."),
        },
        pool=pool,
        retry_policy=retry_policy if retry_policy is not None else default_retry_policy(),
        tags={ACTION_ID_TAG: act.id},
    )
    def _action_op(
        context: dg.OpExecutionContext, config: ActionOpConfig, captaindata: CaptainDataResource
    ) -> Iterator[dg.Output]:
        settings = defaults.overridden_by(config)
        inputs: list[Any] = [*config.inputs, *config.input_objects]
        yield from _run_action(context, captaindata, act.id, settings, inputs, max_error_rate, mode)

    return _action_op


def _run_action(
    context: dg.OpExecutionContext,
    captaindata: CaptainDataResource,
    action_id: str,
    settings: ActionRunSettings,
    inputs: list[Any],
    max_error_rate: float | None,
    mode: str,
) -> Iterator[dg.Output]:
    """The op's step: one batch (live or async), failed on a systemic error or too many failed
    inputs."""
    if not inputs:
        context.log.warning(f"{action_id}: no inputs in the run config; nothing to do.")
    age_days = settings.max_age_days
    try:
        settings.check(action_id)
        max_age = max_age_after_refetch(
            context.run.tags, captaindata, action_id, inputs, parameters=settings.parameters,
            max_results=settings.max_results,
            max_age=timedelta(days=age_days) if age_days is not None else None, log=context.log,
            retry_number=context.retry_number,
        )  # fmt: skip
        batch = captaindata.run_batch(
            action_id,
            inputs,
            parameters=settings.parameters,
            max_age=max_age,
            max_results=settings.max_results,
            budget=settings.budget,
            log=context.log,
            mode=mode,
        )
    except CaptainDataError as err:
        raise failure_for_error(err) from err
    stats = batch.stats
    # What was paid for is handed on first; an error rate over the threshold fails the step after.
    yield dg.Output(
        batch.results, output_name="results", metadata=stats_metadata(stats, len(batch.results))
    )
    yield dg.Output(
        batch.errors, output_name="errors", metadata=errors_output_metadata(stats, batch.errors)
    )
    if max_error_rate is not None:
        failure = error_rate_failure(
            action_id, batch.errors, stats.attempted, max_error_rate, stats.retry_not_before
        )
        if failure is not None:
            raise failure


def _first_set(value: Any, default: Any) -> Any:
    """The run config's value when set, else the op's default."""
    return value if value is not None else default


def _check_settings(
    action_id: str,
    parameters: Mapping[str, Any],
    max_age_days: float | None,
    max_results: int | None,
    budget: float | None,
) -> None:
    """Refuse bad settings before any call, both when building and with a run's overrides."""
    check_parameters(resolve_action(action_id), parameters)
    for field, value, least in (
        ("max_age_days", max_age_days, 0),
        ("max_results", max_results, 1),
        ("budget", budget, 0),
    ):
        if value is not None and value < least:
            raise ValidationError(
                f"{action_id}: {field} must be >= {least} or unset, got {value!r}",
                field=field,
                error_label="BAD_SETTING",
                error_scope="config",
                action_id=action_id,
            )


extract_profiles = build_action_op(
    "linkedin-extract-people", name="extract_profiles", max_age_days=30
)


@dg.op
def log_extraction_summary(
    context: dg.OpExecutionContext, results: pd.DataFrame, errors: pd.DataFrame
) -> None:
    """Say in the run's logs what came back, so a job run reads well without opening frames."""
    by_label = errors["error_label"].value_counts().to_dict() if not errors.empty else {}
    cached = int(results["_from_cache"].sum()) if "_from_cache" in results else 0
    context.log.info(
        f"{len(results)} profiles ({cached} from the ledger), {len(errors)} errors {by_label}"
    )


# Its outputs go to the code location's `io_manager`: register it beside assets that land in a
# warehouse and every op output would become a table named `results` or `errors`, so give such a
# job an IO manager of its own (see the README's "Ops" section).
@dg.job(description="Extract LinkedIn profiles listed in the run config (see the module doc).")
def extract_profiles_job() -> None:
    results, errors = extract_profiles()
    log_extraction_summary(results, errors)
