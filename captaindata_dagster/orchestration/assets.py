"""Asset factories: Captain Data actions as partitioned Dagster assets.

Each factory returns one `AssetsDefinition` with two assets: the results table (`<name>`) and its
errors table (`<name>_errors`, one row per failed input). A partition runs one batch through the
engine (dedupe, skip what is fresh in the ledger, pace, record as it goes) and returns frames; the IO
manager lands them. Per-input errors never fail the asset; systemic ones (bad key, no credits, no
permission, or an error rate over `max_error_rate`) fail the step with `dagster.Failure` whose
metadata holds the `error_label`, `error_scope` and `error_ref`.

    people = build_people_search_asset(
        name="linkedin_people",
        searches={"data-engineers-paris": "https://www.linkedin.com/search/results/people/?..."},
        max_results=200,
    )
    profiles = build_profile_extraction_asset(name="linkedin_profiles", upstream=people)
    companies = build_company_extraction_asset(name="linkedin_companies", upstream=profiles)
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster import AssetExecutionContext

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import check_parameters, resolve_action
from captaindata_dagster.api.errors import CaptainDataError, ValidationError
from captaindata_dagster.engine.frames import (
    PROFILE_URL,
    dedupe_people,
    errors_frame_type,
    errors_table,
    frame_type,
    partition_columns,
    partition_expr,
    results_table,
)
from captaindata_dagster.orchestration.checks import (
    DEFAULT_FAIL_ERROR_RATE,
    DEFAULT_WARN_ERROR_RATE,
    check_specs,
    error_rate_check,
    required_columns_check,
    unique_key_check,
)
from captaindata_dagster.orchestration.metadata import (
    DEFAULT_POOL,
    default_retry_policy,
    error_rate_failure,
    errors_output_metadata,
    failure_for_error,
    stats_metadata,
)
from captaindata_dagster.orchestration.resource import CaptainDataResource

if TYPE_CHECKING:  # frames are pandas, imported by the steps that build them, not at load
    import pandas as pd

DEFAULT_GROUP = "captaindata"
ROLE_KEY = "captaindata/role"  # "results" or "errors", so downstream factories find the table
SEARCHES_DIMENSION = "search"

Upstream = dg.AssetsDefinition | dg.AssetSpec | dg.AssetKey | str
SearchUrls = Mapping[str, str] | Callable[[str], str] | None


def build_action_asset(
    action_id: str,
    *,
    name: str,
    upstream: Upstream | None = None,
    input_column: str | None = None,
    inputs: Sequence[str | Mapping[str, Any]] | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    parameters: Mapping[str, Any] | None = None,
    max_age_days: float | None = 30,
    max_results: int | None = None,
    budget: float | None = None,
    max_error_rate: float = 0.5,
    pool: str | None = DEFAULT_POOL,
    retry_policy: dg.RetryPolicy | None = None,
    group_name: str | None = DEFAULT_GROUP,
    key_prefix: Sequence[str] | None = None,
    warn_error_rate: float = DEFAULT_WARN_ERROR_RATE,
    fail_error_rate: float = DEFAULT_FAIL_ERROR_RATE,
    description: str | None = None,
    checks: bool = True,
) -> dg.AssetsDefinition:
    """An asset running any catalog action over an upstream column or a static list of inputs.

    With `upstream`, the inputs are the values of `input_column` (default: the column named after
    the action's primary input field) in the upstream partition; with `inputs`, that list.
    `max_age_days`: results younger than this come from the ledger at no cost (`None`: never
    refetch). `budget`: credits one partition may spend. `checks=False`: no asset checks. Example::

        build_action_asset("linkedin-extract-company", name="companies", upstream=profiles,
                           input_column="linkedin_company_url", max_age_days=90)
    """
    action = resolve_action(action_id)
    if (upstream is None) == (inputs is None):
        raise ValidationError(
            f"{name}: give exactly one of upstream= (an asset whose column holds the inputs) "
            "or inputs= (a static list)",
            field="upstream",
        )
    column = input_column or action.primary_field
    if upstream is not None and column is None:
        raise ValidationError(
            f"{name}: {action_id} takes no input field; use inputs=[{{}}] instead of upstream=",
            field="input_column",
        )
    static_inputs = list(inputs) if inputs is not None else None

    def inputs_for(context: AssetExecutionContext, upstream_df: "pd.DataFrame | None") -> list:
        if static_inputs is not None:
            return static_inputs
        return _column_values(name, upstream_df, column)

    return _batch_asset(
        action,
        name=name,
        upstream=upstream,
        partitions_def=partitions_def,
        inputs_for=inputs_for,
        parameters=parameters,
        max_age=_days(max_age_days),
        max_results=max_results,
        budget=budget,
        max_error_rate=max_error_rate,
        pool=pool,
        retry_policy=retry_policy,
        group_name=group_name,
        key_prefix=key_prefix,
        description=description,
        warn_error_rate=warn_error_rate,
        fail_error_rate=fail_error_rate,
        build_checks=checks,
    )


def build_people_search_asset(
    name: str = "linkedin_people",
    *,
    searches: SearchUrls = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    daily_start_date: str | None = None,
    max_results: int = 100,
    max_age_hours: float | None = 12,
    action_id: str = "linkedin-search-people",
    parameters: Mapping[str, Any] | None = None,
    budget: float | None = None,
    max_error_rate: float = 0.5,
    pool: str | None = DEFAULT_POOL,
    retry_policy: dg.RetryPolicy | None = None,
    group_name: str | None = DEFAULT_GROUP,
    key_prefix: Sequence[str] | None = None,
    warn_error_rate: float = DEFAULT_WARN_ERROR_RATE,
    fail_error_rate: float = DEFAULT_FAIL_ERROR_RATE,
    checks: bool = True,
) -> dg.AssetsDefinition:
    """People found by LinkedIn searches, one partition per search, one row per person.

    Partitions: with `searches` as a mapping (partition key -> search URL) and no
    `partitions_def`, a `StaticPartitionsDefinition` of its keys. A `DynamicPartitionsDefinition`
    works too: each key is looked up in `searches` (a mapping or a function called when the step
    runs), or is the search URL itself (then land it in a database IO manager: a URL is no file
    name for the default one). `daily_start_date="2026-01-01"` crosses the searches with daily partitions (dimensions
    `search` and `date`) for dated snapshots. Pages beyond `max_results` are never fetched; a search
    walked within `max_age_hours` is served from the ledger. `linkedin_profile_url` is non-null and
    unique within a partition (a dagster-pandas type checks it). Sales Navigator searches: pass
    `action_id="salesnavigator-search-people"`.
    """
    action = resolve_action(action_id)
    field = action.primary_field
    if partitions_def is None:
        if not isinstance(searches, Mapping) or not searches:
            raise ValidationError(
                f"{name}: give searches={{partition key: search URL}}, or a partitions_def "
                "(static or dynamic) whose keys are search names or URLs",
                field="searches",
            )
        partitions_def = dg.StaticPartitionsDefinition(list(searches))
    if daily_start_date is not None:
        if isinstance(partitions_def, dg.MultiPartitionsDefinition):
            raise ValidationError(
                f"{name}: daily_start_date= crosses the searches with days; the partitions are "
                "already multi-dimensional",
                field="daily_start_date",
            )
        partitions_def = dg.MultiPartitionsDefinition(
            {
                SEARCHES_DIMENSION: partitions_def,
                "date": dg.DailyPartitionsDefinition(start_date=daily_start_date),
            }
        )
    if isinstance(searches, Mapping):
        for key, url in searches.items():
            problems = action.input_problems({field: url})
            if problems:
                raise ValidationError(
                    f"{name}: search {key!r}: {problems[0]}", field=f"searches[{key!r}]"
                )

    def inputs_for(context: AssetExecutionContext, upstream_df: "pd.DataFrame | None") -> list:
        key = _search_key(context.partition_key, partitions_def)
        return [{field: _search_url(name, key, searches)}]

    return _batch_asset(
        action,
        name=name,
        upstream=None,
        partitions_def=partitions_def,
        inputs_for=inputs_for,
        parameters=parameters,
        max_age=_hours(max_age_hours),
        max_results=max_results,
        budget=budget,
        max_error_rate=max_error_rate,
        pool=pool,
        retry_policy=retry_policy,
        group_name=group_name,
        key_prefix=key_prefix,
        warn_error_rate=warn_error_rate,
        fail_error_rate=fail_error_rate,
        unique_people=True,
        build_checks=checks,
        description=f"People found by `{action_id}`, one partition per search.",
    )


def build_profile_extraction_asset(
    name: str = "linkedin_profiles",
    *,
    upstream: Upstream,
    input_column: str = PROFILE_URL,
    max_age_days: float | None = 30,
    parameters: Mapping[str, Any] | None = None,
    action_id: str = "linkedin-extract-people",
    **options: Any,
) -> dg.AssetsDefinition:
    """Full profiles of the people in an upstream asset (its `linkedin_profile_url` column).

    Same partitions as the upstream; profiles extracted within `max_age_days` come from the ledger
    at no cost. `parameters` e.g. `{"experiences": True, "skills": True}`. Other keyword options are
    those of `build_action_asset` (budget, max_error_rate, pool, retry_policy, ...).
    """
    return build_action_asset(
        action_id,
        name=name,
        upstream=upstream,
        input_column=input_column,
        parameters=parameters,
        max_age_days=max_age_days,
        description=f"Profiles extracted by `{action_id}` from the upstream people.",
        **options,
    )


def build_company_extraction_asset(
    name: str = "linkedin_companies",
    *,
    upstream: Upstream,
    input_column: str = "linkedin_company_url",
    max_age_days: float | None = 30,
    action_id: str = "linkedin-extract-company",
    **options: Any,
) -> dg.AssetsDefinition:
    """The companies of the upstream profiles (their `linkedin_company_url` column), deduplicated.

    Many people share a company: each company is fetched once per run, and not again while fresher
    than `max_age_days`.
    """
    return build_action_asset(
        action_id,
        name=name,
        upstream=upstream,
        input_column=input_column,
        max_age_days=max_age_days,
        description=f"Companies extracted by `{action_id}` from the upstream profiles.",
        **options,
    )


# ---------------------------------------------------------------------------------- the builder


def _batch_asset(
    action: Action,
    *,
    name: str,
    upstream: Upstream | None,
    partitions_def: dg.PartitionsDefinition | None,
    inputs_for: Callable[[AssetExecutionContext, "pd.DataFrame | None"], list],
    parameters: Mapping[str, Any] | None,
    max_age: timedelta | None,
    max_results: int | None,
    budget: float | None,
    max_error_rate: float,
    pool: str | None,
    retry_policy: dg.RetryPolicy | None,
    group_name: str | None,
    key_prefix: Sequence[str] | None,
    description: str | None,
    warn_error_rate: float,
    fail_error_rate: float,
    unique_people: bool = False,
    build_checks: bool = True,
) -> dg.AssetsDefinition:
    check_parameters(action, parameters)
    if not 0 <= max_error_rate <= 1:
        raise ValidationError(f"{name}: max_error_rate must be within 0..1", field="max_error_rate")
    upstream_key = _upstream_key(upstream) if upstream is not None else None
    if upstream is not None and partitions_def is None:
        partitions_def = _partitions_of(upstream)
    prefix = list(key_prefix or [])
    key = dg.AssetKey([*prefix, name])
    errors_key = dg.AssetKey([*prefix, f"{name}_errors"])
    expr = partition_expr(partitions_def)
    part_md = {"partition_expr": expr} if expr is not None else {}
    results_type = frame_type(
        f"{name}_frame", action, key_column=PROFILE_URL if unique_people else None
    )
    outs = {
        "results": dg.AssetOut(
            key=key,
            dagster_type=results_type,
            description=description or f"Results of Captain Data action `{action.id}`.",
            metadata={**part_md, ROLE_KEY: "results", "captaindata/action_id": action.id},
            kinds={"captaindata", "pandas"},
        ),
        "errors": dg.AssetOut(
            key=errors_key,
            dagster_type=errors_frame_type(f"{name}_errors_frame"),
            description=f"Inputs `{action.id}` failed on, with their error_label.",
            metadata={**part_md, ROLE_KEY: "errors", "captaindata/action_id": action.id},
            kinds={"captaindata", "pandas"},
        ),
    }
    unique = _key_column(action, unique_people)
    required = ["_input"] + ([unique] if unique and unique != "_input" else [])
    ins = {"upstream": dg.AssetIn(key=upstream_key)} if upstream_key is not None else {}
    params = dict(parameters or {})

    def compute(
        context: AssetExecutionContext,
        captaindata: CaptainDataResource,
        upstream_df: Any,  # a DataFrame or None; not annotated so pandas loads only in the run
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        batch_inputs = inputs_for(context, upstream_df)
        if captaindata.is_sandbox:
            context.log.warning("%s: SANDBOX mode, the results are synthetic", name)
        try:
            batch = captaindata.run_batch(
                action.id,
                batch_inputs,
                parameters=params,
                max_age=max_age,
                max_results=max_results,
                budget=budget,
                log=context.log,
            )
        except CaptainDataError as err:
            context.log.error("%s: %s", name, err)
            raise failure_for_error(err) from err
        stats = batch.stats
        failure = error_rate_failure(
            action.id, batch.errors, stats.attempted, max_error_rate, stats.retry_not_before
        )
        if failure is not None:
            raise failure
        partition = partition_columns(
            partitions_def, context.partition_key if context.has_partition_key else None
        )
        table = results_table(action, batch.results, partition)
        dropped = 0
        if unique_people:
            table, dropped = dedupe_people(table)
        errors = errors_table(batch.errors, partition)
        checks = [
            error_rate_check(
                batch.errors,
                stats.attempted,
                asset_key=key,
                warn_above=warn_error_rate,
                fail_above=fail_error_rate,
            ),
            required_columns_check(table, required, asset_key=key),
        ]
        if unique:
            checks.append(unique_key_check(table, unique, asset_key=key))
        md = stats_metadata(stats, len(table))
        if unique_people:
            md["captaindata/duplicates_dropped"] = dg.MetadataValue.int(dropped)
        yield dg.Output(table, output_name="results", metadata=md)
        yield dg.Output(
            errors, output_name="errors", metadata=errors_output_metadata(stats, errors)
        )
        if build_checks:
            yield from checks

    decorate = dg.multi_asset(
        name=name if not prefix else "__".join([*prefix, name]),
        outs=outs,
        ins=ins,
        partitions_def=partitions_def,
        group_name=group_name,
        pool=pool,
        retry_policy=retry_policy or default_retry_policy(),
        op_tags={"captaindata/action_id": action.id},
        check_specs=check_specs(key, required, unique) if build_checks else None,
    )
    if upstream_key is None:

        @decorate
        def _asset(context: AssetExecutionContext, captaindata: CaptainDataResource):
            yield from compute(context, captaindata, None)

    else:

        @decorate
        def _asset(context: AssetExecutionContext, captaindata: CaptainDataResource, upstream):
            yield from compute(context, captaindata, upstream)

    return _asset


# ---------------------------------------------------------------------------------- helpers


def _key_column(action: Action, unique_people: bool) -> str | None:
    """What identifies a row: the person for searches, the input for enrichments.

    Enrichments return one object per input: keyed by the input field when the output echoes it
    (`linkedin_profile_url`, `linkedin_company_url`), else by `_input_key`. Other lists have none.
    """
    if unique_people:
        return PROFILE_URL
    if action.is_list:
        return None
    field = action.primary_field
    return field if field in action.output_types else "_input_key"


def _days(days: float | None) -> timedelta | None:
    return None if days is None else timedelta(days=days)


def _hours(hours: float | None) -> timedelta | None:
    return None if hours is None else timedelta(hours=hours)


def _upstream_key(upstream: Upstream) -> dg.AssetKey:
    """The results table of an upstream: ours are tagged; a plain asset has one key."""
    if isinstance(upstream, dg.AssetsDefinition):
        specs = list(upstream.specs)
        tagged = [s.key for s in specs if s.metadata.get(ROLE_KEY) == "results"]
        if tagged:
            return tagged[0]
        if len(specs) == 1:
            return specs[0].key
        raise ValidationError(
            "upstream produces several assets; pass the AssetKey of the one holding the inputs",
            field="upstream",
        )
    if isinstance(upstream, dg.AssetSpec):
        return upstream.key
    return dg.AssetKey.from_coercible(upstream)


def _partitions_of(upstream: Upstream) -> dg.PartitionsDefinition | None:
    if isinstance(upstream, dg.AssetsDefinition):
        return upstream.partitions_def
    if isinstance(upstream, dg.AssetSpec):
        return upstream.partitions_def
    return None


def _column_values(name: str, df: "pd.DataFrame | None", column: str) -> list[str]:
    if df is None:
        return []
    if column not in df.columns:
        raise dg.Failure(
            description=(
                f"{name}: the upstream table has no column {column!r}; set input_column= to one "
                f"of: {', '.join(map(str, df.columns))}"
            ),
            metadata={"input_column": column},
            allow_retries=False,
        )
    values = df[column].dropna().astype(str).str.strip()
    return [v for v in values if v]


def _search_key(key: str, pdef: dg.PartitionsDefinition) -> str:
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        by_dim = key.keys_by_dimension  # type: ignore[attr-defined]
        if SEARCHES_DIMENSION in by_dim:
            return by_dim[SEARCHES_DIMENSION]
        time_dims = {
            d.name
            for d in pdef.partitions_defs
            if isinstance(d.partitions_def, dg.TimeWindowPartitionsDefinition)
        }
        return next(v for k, v in by_dim.items() if k not in time_dims)
    return key


def _search_url(name: str, key: str, searches: SearchUrls) -> str:
    if isinstance(searches, Mapping) and key in searches:
        return searches[key]
    if callable(searches):
        return searches(key)
    if key.startswith("https://"):
        return key
    raise dg.Failure(
        description=(
            f"{name}: no search URL for partition {key!r}; add it to searches= or use the URL "
            "itself as the partition key"
        ),
        metadata={"partition_key": key},
        allow_retries=False,
    )
