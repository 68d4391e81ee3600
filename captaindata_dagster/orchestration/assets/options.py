"""What every asset factory takes besides its action: what to fetch, and how the asset runs.

Two records, so the factories hand one value on instead of a dozen keywords: `FetchSettings` (the
action's parameters, the ledger's freshness, the results cap) and `AssetOptions` (budget, error
thresholds, pool, retry policy, UI group, key prefix, checks).

Example:
    >>> AssetOptions(budget=100, key_prefix=["linkedin"]).asset_key("people")
    AssetKey(['linkedin', 'people'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dagster as dg

from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.orchestration.checks import (
    DEFAULT_FAIL_ERROR_RATE,
    DEFAULT_WARN_ERROR_RATE,
)
from captaindata_dagster.orchestration.metadata import DEFAULT_POOL, default_retry_policy

DEFAULT_GROUP = "captaindata"


@dataclass(frozen=True)
class FetchSettings:
    """What each partition asks the API for: parameters, ledger freshness and results cap."""

    parameters: Mapping[str, Any] = field(default_factory=dict)
    max_age: timedelta | None = None  # results younger than this come from the ledger (None: ever)
    max_results: int | None = None  # list actions: results per input


@dataclass(frozen=True)
class AssetOptions:
    """How a Captain Data asset runs and shows in Dagster; every factory takes these keywords.

    `budget`: credits one partition may spend. `max_error_rate`: the share of failed inputs above
    which the step fails. `warn_error_rate` / `fail_error_rate`: the error-rate check's
    thresholds. `checks=False`: no asset checks.
    """

    budget: float | None = None
    max_error_rate: float = 0.5
    pool: str | None = DEFAULT_POOL
    retry_policy: dg.RetryPolicy | None = None
    group_name: str | None = DEFAULT_GROUP
    key_prefix: Sequence[str] | None = None
    warn_error_rate: float = DEFAULT_WARN_ERROR_RATE
    fail_error_rate: float = DEFAULT_FAIL_ERROR_RATE
    checks: bool = True

    def validate(self, name: str) -> None:
        """Refuse at load what no run could honour.

        Args:
            name: the asset's name, for the message.

        Example:
            >>> AssetOptions(max_error_rate=2).validate("people")
            Traceback (most recent call last):
            ValidationError: people: max_error_rate must be within 0..1
        """
        if not 0 <= self.max_error_rate <= 1:
            raise ValidationError(
                f"{name}: max_error_rate must be within 0..1", field="max_error_rate"
            )

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
