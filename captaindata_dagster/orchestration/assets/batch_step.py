"""The body every Captain Data asset step runs: one batch, two tables, their metadata and checks.

A partition's step gathers its inputs, runs them through the engine (`CaptainDataResource.run_batch`:
dedupe, skip what is fresh in the ledger, pace, record as it goes), and yields the results table,
the errors table (with the new errors the error sensor reads) and the asset checks. Per-input errors
never fail the step. A systemic error fails it before anything lands, with a `dagster.Failure`
carrying the label, scope and ref. An error rate over `max_error_rate` lands both tables first
(what was paid for is kept), then stops the run's downstream steps (see `BatchStep.run`).

Example:
    >>> yield from step.run(context, captaindata, upstream_df)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import dagster as dg

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.engine.frames import (
    PROFILE_URL,
    dedupe_people,
    errors_table,
    results_table,
)
from captaindata_dagster.orchestration.assets.options import AssetOptions, FetchSettings
from captaindata_dagster.orchestration.assets.partition_columns import partition_columns
from captaindata_dagster.orchestration.checks import (
    ERROR_RATE,
    accounts_check,
    error_rate_check,
    required_columns_check,
    unique_key_check,
)
from captaindata_dagster.orchestration.metadata import (
    error_rate_failure,
    errors_output_metadata,
    failure_for_error,
    failure_observation,
    new_errors_metadata,
    stats_metadata,
)
from captaindata_dagster.orchestration.metadata_set import BULK_LANDING_TAG, CaptainDataMetadataSet
from captaindata_dagster.orchestration.refetch import (
    max_age_after_refetch,
    refuse_refetch_all_when_deferred,
)

if TYPE_CHECKING:  # frames are pandas, built by the step, not at load
    import pandas as pd

    from captaindata_dagster.engine.batch.run import BatchResult, BatchStats
    from captaindata_dagster.orchestration.resource import CaptainDataResource

InputsFor: TypeAlias = "Callable[[dg.AssetExecutionContext, pd.DataFrame | None], list[Any]]"
"""A step's inputs, from its context (the partition) and the upstream partition (or None)."""


@dataclass(frozen=True)
class BatchStep:
    """One Captain Data asset's step: what it fetches, and the outputs and checks it yields."""

    action: Action
    name: str
    key: dg.AssetKey  # the results table; its errors table is `<name>_errors`
    partitions_def: dg.PartitionsDefinition | None
    inputs_for: InputsFor
    fetch: FetchSettings
    options: AssetOptions
    unique_people: bool = False  # a search: one row per person, duplicates dropped
    upstream_key: dg.AssetKey | None = None  # the table whose partition holds the inputs
    search_field: str | None = None  # a search: the input field holding the partition's URL

    @property
    def unique_column(self) -> str | None:
        """What identifies a row: the person for searches, the input for enrichments.

        Enrichments return one object per input: keyed by the input field when the output echoes
        it (`linkedin_profile_url`, `linkedin_company_url`), else by `_input_key`. Other lists
        have none.
        """
        if self.unique_people:
            return PROFILE_URL
        if self.action.is_list:
            return None
        field = self.action.primary_field
        return field if field in self.action.output_types else "_input_key"

    @property
    def required_columns(self) -> list[str]:
        """The columns the required-columns check wants filled: the input and the row's key."""
        unique = self.unique_column
        return ["_input"] + ([unique] if unique and unique != "_input" else [])

    def run(
        self,
        context: dg.AssetExecutionContext,
        captaindata: CaptainDataResource,
        upstream_df: pd.DataFrame | None,
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        """Run the partition's batch; yield the results and errors tables, then the checks.

        Above `max_error_rate` both tables still land (the credits are spent, the errors feed the
        sensor); then what stops the run depends on the options:

        - checks on and `blocking` (the default): the error-rate check fails with severity
          ERROR and Dagster ends the step itself, so downstream steps of the run do not start.
          That end is Dagster's (`DagsterAssetCheckFailedError`, raised outside the step's
          body), so the step's `RetryPolicy` does not re-run it: a re-run would wait 30 s or
          more and pay again for failures no retry fixes (NO_RESULT, bad cookies...).
        - `checks=False`: the step raises the same `dagster.Failure` as ever, with the most
          frequent label, not retried unless that label is transient.
        - checks on, not blocking: the check fails (ERROR) and the run goes on.

        Whatever the checks, a rate over the threshold made mostly of transient failures (5xx,
        429s, upstream timeouts) raises that `Failure` with retries allowed: a transient storm
        is what the step's `RetryPolicy` is for, and the ledger serves what already succeeded.

        Args:
            context: the step's context (its partition, its log).
            captaindata: the resource that runs the batch.
            upstream_df: the upstream partition, or None for assets without upstream.

        Example:
            >>> results, errors, *checks = step.run(context, captaindata, people_df)
        """
        inputs = self.inputs_for(context, upstream_df)
        batch = self._run_batch(context, captaindata, inputs)
        stats = batch.stats
        if stats.pending and self.options.defer:
            self._log_deferred(context, stats)
            return
        failure = error_rate_failure(
            self.action.id,
            batch.errors,
            stats.attempted,
            self.options.max_error_rate,
            stats.retry_not_before,
        )
        partitioned = context.has_partition_key
        key = context.partition_key if partitioned else None
        partition = partition_columns(self.partitions_def, key)
        table = results_table(self.action, batch.results, partition, log=context.log)
        dropped = 0
        if self.unique_people:
            table, dropped = dedupe_people(table)
        errors = errors_table(batch.errors, partition, log=context.log)
        md = stats_metadata(stats, len(table), partitioned=partitioned)
        if self.unique_people:
            md.update(CaptainDataMetadataSet(duplicates_dropped=dropped))
        md.update(self._search_url_metadata(inputs))
        yield from self._outputs(context, table, errors, md, stats)
        checked = set()
        if self.options.checks:
            wanted = context.selected_asset_check_keys
            for check in self._checks(batch, table):
                if dg.AssetCheckKey(self.key, check.check_name or "") in wanted:
                    checked.add(check.check_name)
                    yield check
        if failure is not None and self._raise_on(failure, ERROR_RATE in checked):
            raise failure

    def _outputs(
        self,
        context: dg.AssetExecutionContext,
        table: pd.DataFrame,
        errors: pd.DataFrame,
        md: dict[str, Any],
        stats: BatchStats,
    ) -> Iterator[dg.Output]:
        """The selected tables of the pair. A run may select one alone: the new errors the sensor
        reads then ride on the results table's materialization."""
        selected = context.selected_output_names
        self._log_left_out(context, selected, len(table), len(errors))
        if "results" in selected:
            if "errors" not in selected:
                md = {**md, **new_errors_metadata(stats, errors)}
            yield dg.Output(table, output_name="results", metadata=md)
        if "errors" in selected:
            partitioned = context.has_partition_key
            yield dg.Output(
                errors,
                output_name="errors",
                metadata=errors_output_metadata(stats, errors, partitioned=partitioned),
            )

    def _log_left_out(
        self,
        context: dg.AssetExecutionContext,
        selected: AbstractSet[str],
        results: int,
        errors: int,
    ) -> None:
        """Say what a run that selected one table of the pair does not land: nothing is lost (the
        ledger keeps what was paid for), but the other table is not rewritten by this run."""
        left_out = [
            (f"{self.name}{suffix}", rows)
            for output, suffix, rows in (("results", "", results), ("errors", "_errors", errors))
            if output not in selected
        ]
        for table, rows in left_out:
            context.log.warning(
                "%s: %s is not selected, so its %d row(s) of this run are not written to it; "
                "the ledger keeps them: materialize it too (it costs nothing now) to update it",
                self.name, table, rows,
            )  # fmt: skip

    def _landing(self, context: dg.AssetExecutionContext) -> bool:
        """The landing sensor's run of a deferred step: it waits for the runs the sensor saw
        end (not for new ones it submits: those defer it again, and the sensor lands it later)."""
        return self.options.defer and BULK_LANDING_TAG in context.run.tags

    def _log_deferred(self, context: dg.AssetExecutionContext, stats: BatchStats) -> None:
        """Say in the UI what was submitted and what lands it: an observation on the results."""
        context.log.info(
            "%s: %d inputs submitted, %d waiting in async run(s) %s; build_bulk_landing_sensor "
            "materializes this partition once they have ended",
            self.name,
            stats.submitted,
            stats.pending,
            ", ".join(stats.bulk_runs),
        )
        md = CaptainDataMetadataSet(
            action_id=self.action.id,
            mode=stats.mode,
            submitted=stats.submitted,
            pending=stats.pending,
            bulk_runs=dg.MetadataValue.json(dict(stats.bulk_runs)),
        )
        context.log_event(
            dg.AssetObservation(
                asset_key=self.key,
                partition=context.partition_key if context.has_partition_key else None,
                metadata=dict(md),
            )
        )

    def _raise_on(self, failure: dg.Failure, rate_checked: bool) -> bool:
        """Whether the step raises the error-rate `failure` itself (see `run`): `rate_checked`
        says the error-rate check ran (a run that selected the errors table alone has not)."""
        if failure.allow_retries:  # mostly transient: the RetryPolicy may get through
            return True
        if not self.options.checks:
            return True
        # else a blocking check ends the step (if it ran), or nothing does (not blocking)
        return self.options.blocking and not rate_checked

    def _search_url_metadata(self, inputs: list[Any]) -> dict[str, Any]:
        """A search partition's URL, as a link in the UI (empty for any other step)."""
        if self.search_field is None or len(inputs) != 1 or not isinstance(inputs[0], Mapping):
            return {}
        url = inputs[0].get(self.search_field)
        if not isinstance(url, str):
            return {}
        entries = CaptainDataMetadataSet(search_url=url)
        return {k: dg.MetadataValue.url(v) for k, v in dict(entries).items()}

    def _run_batch(
        self,
        context: dg.AssetExecutionContext,
        captaindata: CaptainDataResource,
        inputs: list[Any],
    ) -> BatchResult:
        """The engine's batch; a systemic error fails the step with its label, scope and ref."""
        if captaindata.is_sandbox:
            context.log.warning("%s: SANDBOX mode, the results are synthetic", self.name)
        if self.options.defer:
            refuse_refetch_all_when_deferred(context.run.tags, self.name)
        max_age = max_age_after_refetch(
            context.run.tags, captaindata, self.action.id, inputs,
            parameters=dict(self.fetch.parameters), max_results=self.fetch.max_results,
            max_age=self.fetch.max_age, log=context.log, retry_number=context.retry_number,
        )  # fmt: skip
        try:
            return captaindata.run_batch(
                self.action.id,
                inputs,
                parameters=dict(self.fetch.parameters),
                max_age=max_age,
                max_results=self.fetch.max_results,
                budget=self.options.budget,
                log=context.log,
                mode=self.options.mode,
                defer=self.options.defer,
                landing=self._landing(context),
                origin=self._origin(context),
            )
        except CaptainDataError as err:
            context.log.error("%s: %s", self.name, err)
            # on the failed partition's events at once, whether or not a sensor runs (the sensors
            # do not report it again); a step never runs a range (`AssetOptions.validate`)
            partition = context.partition_key if context.has_partition_key else None
            context.log_event(failure_observation(err, self.key, partition, context.run_id))
            raise failure_for_error(err, observed=True) from err

    def _origin(self, context: dg.AssetExecutionContext) -> dict[str, Any]:
        """What asked for an async submission: the landing sensor materializes it again."""
        return {
            "asset_key": self.key.to_user_string(),
            "partition_key": context.partition_key if context.has_partition_key else None,
        }

    def _checks(self, batch: BatchResult, table: pd.DataFrame) -> list[dg.AssetCheckResult]:
        """The results table's checks: error rate, required columns, its key if it has one, and the
        accounts set aside if the action runs on LinkedIn accounts."""
        checks = [
            error_rate_check(
                batch.errors,
                batch.stats.attempted,
                asset_key=self.key,
                warn_above=self.options.warn_rate,
                fail_above=self.options.max_error_rate,
            ),
            required_columns_check(table, self.required_columns, asset_key=self.key),
        ]
        unique = self.unique_column
        if unique:
            checks.append(unique_key_check(table, unique, asset_key=self.key))
        if self.action.uses_account:
            checks.append(accounts_check(batch.stats.retired_accounts, asset_key=self.key))
        return checks
