"""What every asset factory takes besides its action: what to fetch, and how the asset runs.

Two records, so the factories hand one value on instead of a dozen keywords: `FetchSettings` (the
action's parameters, the ledger's freshness, the results cap) and `AssetOptions` (budget, the error
threshold, pool, retry policy, UI group, key prefix, checks, the translator, automation, and the
resource and IO manager keys the step uses).

Example:
    >>> AssetOptions(budget=100, key_prefix=["linkedin"]).asset_key("people")
    AssetKey(['linkedin', 'people'])
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dagster as dg

from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.orchestration.bulk_fields import check_mode
from captaindata_dagster.orchestration.checks import (
    DEFAULT_MAX_ERROR_RATE,
    DEFAULT_WARN_ERROR_RATE,
)
from captaindata_dagster.orchestration.metadata import DEFAULT_POOL, default_retry_policy
from captaindata_dagster.orchestration.translator import DagsterCaptainDataTranslator

DEFAULT_GROUP = "captaindata"
# What an asset reuses from the ledger, and a search's cap, unless told otherwise (the factories
# and `@captaindata_assets` share them): an enrichment younger than 30 days, a search walked in
# the last 12 hours; 100 people per search.
DEFAULT_MAX_AGE_DAYS = 30
DEFAULT_SEARCH_MAX_AGE_HOURS = 12
DEFAULT_SEARCH_MAX_RESULTS = 100
DEFAULT_RESOURCE_KEY = "captaindata"


@dataclass(frozen=True)
class FetchSettings:
    """What each partition asks the API for: parameters, ledger freshness and results cap."""

    parameters: Mapping[str, Any] = field(default_factory=dict)
    max_age: timedelta | None = None  # results younger than this come from the ledger (None: ever)
    max_results: int | None = None  # list actions: results per input


@dataclass(frozen=True)
class AssetOptions:
    """How a Captain Data asset runs and shows in Dagster; every factory takes these keywords.

    `max_error_rate` is the one threshold a user reasons about: above this share of failed inputs
    the error-rate check fails with severity ERROR and, `blocking` (the default), stops what is
    downstream in the same run; with `checks=False` the step fails instead. Both tables land
    first either way. `warn_error_rate`: the check warns (never blocks) above it.
    `fail_error_rate` is deprecated: it is read as `max_error_rate`.

    `translator` builds each table's `AssetSpec` (keys, groups, owners, tags, descriptions,
    automation); `automation_condition` and `storage_kind` reach it through its props.
    `resource_key`: the `CaptainDataResource` the step reads; `io_manager_key`: both tables' IO
    manager (None: "io_manager"); `resource_defs`: resources bound on the asset itself.

    `mode="async"` sends the partition's inputs as async runs (up to 100,000 inputs each) whose
    results the API posts to the callback receiver; the step waits for them and lands the same
    tables. `defer=True` ends the step at submission instead: the tables are not materialized
    then, and `build_bulk_landing_sensor` materializes the partition once its runs have ended.
    """

    budget: float | None = None
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    pool: str | None = DEFAULT_POOL
    retry_policy: dg.RetryPolicy | None = None
    group_name: str | None = DEFAULT_GROUP
    key_prefix: Sequence[str] | None = None
    warn_error_rate: float = DEFAULT_WARN_ERROR_RATE
    fail_error_rate: float | None = None  # deprecated: read as max_error_rate
    checks: bool = True
    blocking: bool = True
    translator: DagsterCaptainDataTranslator | None = None
    automation_condition: dg.AutomationCondition | None = None
    backfill_policy: dg.BackfillPolicy | None = None
    storage_kind: str | None = None
    resource_key: str = DEFAULT_RESOURCE_KEY
    io_manager_key: str | None = None
    resource_defs: Mapping[str, Any] | None = None
    mode: str = "live"  # "async": bulk runs through the callback receiver (`bulk_mode`)
    defer: bool = False  # async: the step ends at submission; the landing sensor lands it

    def __post_init__(self) -> None:
        if self.fail_error_rate is not None:
            warnings.warn(
                "fail_error_rate is deprecated: max_error_rate is the one threshold (the "
                f"error-rate check fails, blocking, above it); using max_error_rate="
                f"{self.fail_error_rate}",
                DeprecationWarning,
                stacklevel=_outside_this_package(),
            )
            object.__setattr__(self, "max_error_rate", self.fail_error_rate)
            object.__setattr__(self, "fail_error_rate", None)

    def validate(self, name: str) -> None:
        """Refuse at load what no run could honour.

        Args:
            name: the asset's name, for the message.

        Example:
            >>> AssetOptions(max_error_rate=2).validate("people")
            Traceback (most recent call last):
            ValidationError: people: max_error_rate must be within 0..1
        """
        for label, rate in (
            ("max_error_rate", self.max_error_rate),
            ("warn_error_rate", self.warn_error_rate),
        ):
            if not 0 <= rate <= 1:
                raise ValidationError(f"{name}: {label} must be within 0..1", field=label)
        if not self.resource_key.isidentifier():
            raise ValidationError(
                f"{name}: resource_key must be a Python identifier, got {self.resource_key!r}",
                field="resource_key",
            )
        check_mode(self.mode, name)
        if self.defer and self.mode != "async":
            raise ValidationError(
                f"{name}: defer=True is for mode='async' (a live step holds its worker anyway)",
                field="defer",
            )
        policy = self.backfill_policy
        if policy is not None and policy.max_partitions_per_run != 1:
            # A step walks one search or one upstream partition, and lands one partition of each
            # table: a run over a range of partitions has no one partition key to give it.
            raise ValidationError(
                f"{name}: a Captain Data step runs one partition at a time; give "
                "backfill_policy=dg.BackfillPolicy.multi_run(1) (a backfill is one run per "
                "partition, paced together by the pool) or leave it unset",
                field="backfill_policy",
            )

    @property
    def warn_rate(self) -> float:
        """The check's WARN level: `warn_error_rate`, never above `max_error_rate`."""
        return min(self.warn_error_rate, self.max_error_rate)

    @property
    def spec_translator(self) -> DagsterCaptainDataTranslator:
        """The given translator, or the package's default one."""
        return self.translator or DagsterCaptainDataTranslator()

    def asset_key(self, name: str) -> dg.AssetKey:
        """`name` under the key prefix.

        Args:
            name: a table's name, e.g. `linkedin_people` or `linkedin_people_errors`.

        Example:
            >>> AssetOptions(key_prefix=["linkedin"]).asset_key("people").to_user_string()
            'linkedin/people'
        """
        return dg.AssetKey([*(self.key_prefix or []), name])

    def op_name(self, name: str) -> str:
        """The op's name: the asset's name, after its key prefix joined by `__`."""
        return "__".join([*(self.key_prefix or []), name])

    def step_retry_policy(self) -> dg.RetryPolicy:
        """The given retry policy, or the package's default (transient failures only)."""
        return self.retry_policy or default_retry_policy()


def _outside_this_package() -> int:
    """The `stacklevel` of the first caller outside this package: a warning names the user's line,
    whichever factory (or the decorator) they called and however deep it builds the options."""
    package = __name__.split(".")[0] + "."
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package):
        frame, level = frame.f_back, level + 1
    return level
