"""The body every Captain Data asset step runs: one batch, two tables, their metadata and checks.

A partition's step gathers its inputs, runs them through the engine (`CaptainDataResource.run_batch`:
dedupe, skip what is fresh in the ledger, pace, record as it goes), and yields the results table,
the errors table (with the new errors the error sensor reads) and the asset checks. Per-input errors
never fail the step; a systemic error, or an error rate over `max_error_rate`, fails it with a
`dagster.Failure` carrying the label, scope and ref.

Example:
    >>> yield from step.run(context, captaindata, upstream_df)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
    error_rate_check,
    required_columns_check,
    unique_key_check,
)
from captaindata_dagster.orchestration.metadata import (
    error_rate_failure,
    errors_output_metadata,
    failure_for_error,
    stats_metadata,
)
from captaindata_dagster.orchestration.resource import CaptainDataResource

if TYPE_CHECKING:  # frames are pandas, built by the step, not at load
    import pandas as pd

    from captaindata_dagster.engine.batch.run import BatchResult

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

        Args:
            context: the step's context (its partition, its log).
            captaindata: the resource that runs the batch.
            upstream_df: the upstream partition, or None for assets without upstream.

        Example:
            >>> results, errors, *checks = step.run(context, captaindata, people_df)
        """
        batch = self._run_batch(context, captaindata, self.inputs_for(context, upstream_df))
        stats = batch.stats
        failure = error_rate_failure(
            self.action.id,
            batch.errors,
            stats.attempted,
            self.options.max_error_rate,
            stats.retry_not_before,
        )
        if failure is not None:
            raise failure
        key = context.partition_key if context.has_partition_key else None
        partition = partition_columns(self.partitions_def, key)
        table = results_table(self.action, batch.results, partition, log=context.log)
        dropped = 0
        if self.unique_people:
            table, dropped = dedupe_people(table)
        errors = errors_table(batch.errors, partition, log=context.log)
        md = stats_metadata(stats, len(table))
        if self.unique_people:
            md["captaindata/duplicates_dropped"] = dg.MetadataValue.int(dropped)
        yield dg.Output(table, output_name="results", metadata=md)
        yield dg.Output(
            errors, output_name="errors", metadata=errors_output_metadata(stats, errors)
        )
        if self.options.checks:
            yield from self._checks(batch, table)

    def _run_batch(
        self,
        context: dg.AssetExecutionContext,
        captaindata: CaptainDataResource,
        inputs: list[Any],
    ) -> BatchResult:
        """The engine's batch; a systemic error fails the step with its label, scope and ref."""
        if captaindata.is_sandbox:
            context.log.warning("%s: SANDBOX mode, the results are synthetic", self.name)
        try:
            return captaindata.run_batch(
                self.action.id,
                inputs,
                parameters=dict(self.fetch.parameters),
                max_age=self.fetch.max_age,
                max_results=self.fetch.max_results,
                budget=self.options.budget,
                log=context.log,
            )
        except CaptainDataError as err:
            context.log.error("%s: %s", self.name, err)
            raise failure_for_error(err) from err

    def _checks(self, batch: BatchResult, table: pd.DataFrame) -> list[dg.AssetCheckResult]:
        """The results table's checks: error rate, required columns, and its key if it has one."""
        checks = [
            error_rate_check(
                batch.errors,
                batch.stats.attempted,
                asset_key=self.key,
                warn_above=self.options.warn_error_rate,
                fail_above=self.options.fail_error_rate,
            ),
            required_columns_check(table, self.required_columns, asset_key=self.key),
        ]
        unique = self.unique_column
        if unique:
            checks.append(unique_key_check(table, unique, asset_key=self.key))
        return checks
