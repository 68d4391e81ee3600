"""Asset factories: Captain Data actions as partitioned Dagster assets.

Each factory returns one `AssetsDefinition` with two assets: the results table (`<name>`) and its
errors table (`<name>_errors`, one row per failed input). A partition runs one batch through the
engine (dedupe, skip what is fresh in the ledger, pace, record as it goes) and returns frames; the IO
manager lands them. Per-input errors never fail the asset; systemic ones (bad key, no credits, no
permission) fail the step before anything lands, with `dagster.Failure` whose metadata holds the
`error_label`, `error_scope` and `error_ref`. Above `max_error_rate` failed inputs (default 20 %),
both tables land, then the blocking error-rate check stops what is downstream in the same run.

What Dagster shows of each table (keys, group, description, kinds, owners, tags, code version,
freshness, automation) comes from the `translator` (`DagsterCaptainDataTranslator`). The
factories check their arguments and say where the inputs come from; `batch_asset` declares the
assets and `BatchStep` is what each partition runs; `@captaindata_assets` (`decorator.py`) is
the same asset with the user's own body.

Example:
    >>> people = build_people_search_asset(
    ...     name="linkedin_people",
    ...     searches={"data-engineers-paris": "https://www.linkedin.com/search/results/people/?..."},
    ...     max_results=200,
    ... )
    >>> profiles = build_profile_extraction_asset(name="linkedin_profiles", upstream=people)
    >>> companies = build_company_extraction_asset(name="linkedin_companies", upstream=profiles)
"""

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import timedelta
from typing import Any

import dagster as dg

from captaindata_dagster.api.request_body import resolve_action
from captaindata_dagster.engine.frames import PROFILE_URL
from captaindata_dagster.orchestration.assets.batch_asset import batch_asset
from captaindata_dagster.orchestration.assets.options import (
    DEFAULT_GROUP,
    DEFAULT_MAX_AGE_DAYS,
    DEFAULT_RESOURCE_KEY,
    DEFAULT_SEARCH_MAX_AGE_HOURS,
    DEFAULT_SEARCH_MAX_RESULTS,
    AssetOptions,
    FetchSettings,
)
from captaindata_dagster.orchestration.assets.search_partitions import SearchUrls
from captaindata_dagster.orchestration.assets.shapes import action_shape, search_shape
from captaindata_dagster.orchestration.assets.upstream import Upstream
from captaindata_dagster.orchestration.checks import (
    DEFAULT_MAX_ERROR_RATE,
    DEFAULT_WARN_ERROR_RATE,
)
from captaindata_dagster.orchestration.metadata import DEFAULT_POOL
from captaindata_dagster.orchestration.translator import DagsterCaptainDataTranslator


def build_action_asset(
    action_id: str,
    *,
    name: str,
    upstream: Upstream | None = None,
    input_column: str | None = None,
    inputs: Sequence[str | Mapping[str, Any]] | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    parameters: Mapping[str, Any] | None = None,
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS,
    max_results: int | None = None,
    budget: float | None = None,
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE,
    pool: str | None = DEFAULT_POOL,
    retry_policy: dg.RetryPolicy | None = None,
    group_name: str | None = DEFAULT_GROUP,
    key_prefix: Sequence[str] | None = None,
    warn_error_rate: float = DEFAULT_WARN_ERROR_RATE,
    fail_error_rate: float | None = None,
    description: str | None = None,
    checks: bool = True,
    blocking: bool = True,
    translator: DagsterCaptainDataTranslator | None = None,
    automation_condition: dg.AutomationCondition | None = None,
    backfill_policy: dg.BackfillPolicy | None = None,
    storage_kind: str | None = None,
    resource_key: str = DEFAULT_RESOURCE_KEY,
    io_manager_key: str | None = None,
    resource_defs: Mapping[str, Any] | None = None,
    mode: str = "live",
    defer: bool = False,
) -> dg.AssetsDefinition:
    """An asset running any catalog action over an upstream column or a static list of inputs.

    With `upstream`, the inputs are the values of `input_column` (default: the column named after
    the action's primary input field) in the upstream partition; with `inputs`, that list.

    Args:
        action_id: a catalog action id (a typo raises `ValidationError` naming close ones).
        name: the results table's name; the errors table is `<name>_errors`.
        upstream: the asset whose column holds the inputs (its partitions are this asset's).
        input_column: that column (default: the action's primary input field).
        inputs: a static list of inputs instead of `upstream`.
        partitions_def: partitions, when not the upstream's.
        parameters: the action's parameters, checked against the catalog now.
        max_age_days: results younger than this come from the ledger at no cost (`None`: never
            refetch).
        max_results: list actions: results per input.
        budget: credits one partition may spend.
        max_error_rate: the one error threshold: above this share of failed inputs both tables
            land, then the error-rate check fails (ERROR) and, `blocking`, nothing downstream
            runs in the same run; with `checks=False` the step fails instead.
        pool: the Dagster concurrency pool of the step.
        retry_policy: the step's (default: re-run transient failures, 3 times). A blocking
            check's failure is not retried.
        group_name: the UI group.
        key_prefix: the asset key prefix.
        warn_error_rate: the error-rate check warns (never blocks) above this share.
        fail_error_rate: deprecated (DeprecationWarning): read as `max_error_rate`.
        description: the results table's description.
        checks: False: no asset checks (above `max_error_rate` the step fails).
        blocking: the error-rate check stops downstream steps when it fails (default True).
        translator: builds each table's `AssetSpec`; subclass `DagsterCaptainDataTranslator` to
            change keys, groups, owners, tags, descriptions or automation.
        automation_condition: the results table's `dg.AutomationCondition` (the errors table
            comes with it: one step computes both).
        backfill_policy: e.g. `dg.BackfillPolicy.single_run()`.
        storage_kind: where the IO manager lands the tables (e.g. "duckdb"), shown as a kind.
        resource_key: the `CaptainDataResource`'s key (default "captaindata").
        io_manager_key: both tables' IO manager (default "io_manager").
        resource_defs: resources bound on this asset only (e.g. its resource and IO manager).
        mode: "live" (one call per input, the default) or "async" (async runs of up to 100,000
            inputs, results posted to the callback receiver; see docs/bulk.md).
        defer: async only: the step ends at submission and `build_bulk_landing_sensor`
            materializes the partition once its runs have ended (no worker held meanwhile).

    Example:
        >>> build_action_asset("linkedin-extract-company", name="companies", upstream=profiles,
        ...                    input_column="linkedin_company_url", max_age_days=90,
        ...                    automation_condition=dg.AutomationCondition.eager())
    """
    options = _options_of(locals())
    return batch_asset(
        action_shape(
            resolve_action(action_id),
            name,
            upstream=upstream,
            input_column=input_column,
            inputs=inputs,
            fetch=FetchSettings(dict(parameters or {}), days(max_age_days), max_results),
            options=options,
            partitions_def=partitions_def,
            description=description,
        )
    )


def build_people_search_asset(
    name: str = "linkedin_people",
    *,
    searches: SearchUrls = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    daily_start_date: str | None = None,
    max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
    max_age_hours: float | None = DEFAULT_SEARCH_MAX_AGE_HOURS,
    action_id: str = "linkedin-search-people",
    parameters: Mapping[str, Any] | None = None,
    budget: float | None = None,
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE,
    pool: str | None = DEFAULT_POOL,
    retry_policy: dg.RetryPolicy | None = None,
    group_name: str | None = DEFAULT_GROUP,
    key_prefix: Sequence[str] | None = None,
    warn_error_rate: float = DEFAULT_WARN_ERROR_RATE,
    fail_error_rate: float | None = None,
    checks: bool = True,
    blocking: bool = True,
    translator: DagsterCaptainDataTranslator | None = None,
    automation_condition: dg.AutomationCondition | None = None,
    backfill_policy: dg.BackfillPolicy | None = None,
    storage_kind: str | None = None,
    resource_key: str = DEFAULT_RESOURCE_KEY,
    io_manager_key: str | None = None,
    resource_defs: Mapping[str, Any] | None = None,
    mode: str = "live",
    defer: bool = False,
) -> dg.AssetsDefinition:
    """People found by LinkedIn searches, one partition per search, one row per person.

    Partitions: with `searches` as a mapping (partition key -> search URL) and no
    `partitions_def`, a `StaticPartitionsDefinition` of its keys. A `DynamicPartitionsDefinition`
    works too: each key is looked up in `searches` (a mapping or a function called when the step
    runs), or is the search URL itself (then land it in a database IO manager: a URL is no file
    name for the default one). `daily_start_date="2026-01-01"` crosses the searches with daily
    partitions (dimensions `search` and `date`) for dated snapshots. Pages beyond `max_results` are
    never fetched; a search walked within `max_age_hours` is served from the ledger.
    `linkedin_profile_url` is non-null and unique within a partition (a dagster-pandas type checks
    it). Sales Navigator searches: pass `action_id="salesnavigator-search-people"`.

    Args:
        name: the people table's name; the errors table is `<name>_errors`.
        searches: partition key -> search URL, or a function of the key called in the step.
        partitions_def: partitions whose keys are search names or URLs (default: `searches`).
        daily_start_date: `YYYY-MM-DD` to cross the searches with days.
        max_results: people per search; later pages are never fetched.
        max_age_hours: a search walked this recently is served from the ledger (`None`: ever).
        action_id: the search action.
        parameters: the action's parameters.
        budget, max_error_rate, pool, retry_policy, group_name, key_prefix, warn_error_rate,
            fail_error_rate, checks, blocking, translator, automation_condition,
            backfill_policy, storage_kind, resource_key, io_manager_key, resource_defs, mode,
            defer: as for `build_action_asset`. Each materialization links its search URL
            (`captaindata/search_url`).

    Example:
        >>> build_people_search_asset(searches={"paris": url}, daily_start_date="2026-01-01",
        ...                           max_error_rate=0.3, storage_kind="duckdb")
    """
    options = _options_of(locals())
    return batch_asset(
        search_shape(
            resolve_action(action_id),
            name,
            searches=searches,
            partitions_def=partitions_def,
            daily_start_date=daily_start_date,
            fetch=FetchSettings(dict(parameters or {}), hours(max_age_hours), max_results),
            options=options,
            description=f"People found by `{action_id}`, one partition per search.",
        )
    )


def build_profile_extraction_asset(
    name: str = "linkedin_profiles",
    *,
    upstream: Upstream,
    input_column: str = PROFILE_URL,
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS,
    parameters: Mapping[str, Any] | None = None,
    action_id: str = "linkedin-extract-people",
    **options: Any,
) -> dg.AssetsDefinition:
    """Full profiles of the people in an upstream asset (its `linkedin_profile_url` column).

    Same partitions as the upstream; profiles extracted within `max_age_days` come from the ledger
    at no cost.

    Args:
        name: the profiles table's name.
        upstream: the people asset (or its key).
        input_column: the column holding profile URLs.
        max_age_days: profiles this recent come from the ledger (`None`: never refetch).
        parameters: e.g. `{"experiences": True, "skills": True}`.
        action_id: the extraction action.
        **options: those of `build_action_asset` (budget, max_error_rate, pool, retry_policy,
            blocking, translator, automation_condition, storage_kind, resource_key...).

    Example:
        >>> build_profile_extraction_asset(upstream=people, parameters={"skills": True},
        ...                                automation_condition=dg.AutomationCondition.eager())
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
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS,
    action_id: str = "linkedin-extract-company",
    **options: Any,
) -> dg.AssetsDefinition:
    """The companies of the upstream profiles (their `linkedin_company_url` column), deduplicated.

    Many people share a company: each company is fetched once per run, and not again while fresher
    than `max_age_days`.

    Args:
        name: the companies table's name.
        upstream: the profiles (or people) asset, or its key.
        input_column: the column holding company URLs.
        max_age_days: companies this recent come from the ledger (`None`: never refetch).
        action_id: the extraction action.
        **options: those of `build_action_asset` (parameters, budget, max_error_rate, pool,
            retry_policy, blocking, translator, automation_condition, storage_kind...).

    Example:
        >>> build_company_extraction_asset(upstream=profiles, max_age_days=90, max_error_rate=0.1)
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


def _options_of(arguments: Mapping[str, Any]) -> AssetOptions:
    """The `AssetOptions` among a factory's arguments (its `locals()`), by the record's field names:
    each factory takes them as keywords (for the signature a user reads), none lists them again."""
    return AssetOptions(**{f.name: arguments[f.name] for f in fields(AssetOptions)})


def days(n: float | None) -> timedelta | None:
    """`max_age_days` as a window (None: results never go stale)."""
    return None if n is None else timedelta(days=n)


def hours(n: float | None) -> timedelta | None:
    """`max_age_hours` as a window (None: results never go stale)."""
    return None if n is None else timedelta(hours=n)
