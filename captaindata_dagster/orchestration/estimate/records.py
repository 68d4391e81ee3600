"""What a cost preview of an asset says: one estimate per partition, and the totals.

Each partition's figures are the engine's `Estimate` (inputs, fresh in the ledger, to fetch,
credits, calls, time) with where its inputs came from: the partition's `search`, the asset's
static `inputs`, the `upstream` partition as stored, or, when that partition is not materialized
yet, the `upstream estimate` (then every count is an upper bound: the upstream's people are not
known yet, so none can be found fresh).

Example:
    >>> preview = estimate_asset(defs, "linkedin_profiles", ["paris"], instance=instance)
    >>> preview.totals()["credits"]
    20.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dagster as dg

from captaindata_dagster.engine.estimate import Estimate

InputsFrom = Literal["search", "inputs", "upstream", "upstream estimate"]
"""Where a partition's inputs came from (see the module docstring)."""

COLUMNS = (
    "partition",
    "inputs_from",
    "inputs",
    "fresh",
    "to_fetch",
    "credits",
    "credits_upper_bound",
    "calls",
    "seconds",
)
"""The figures a preview shows per partition, in order (the CLI's and the UI's table)."""


class EstimateRequestError(ValueError):
    """A preview asked of what the asset does not have: an unknown key or partition, no
    partition named for a partitioned asset, an asset no Captain Data step computes."""


class EstimateSettingsError(ValueError):
    """A setting the preview reads cannot be read: an `EnvVar` not set (the ledger's location,
    the plan's rate...; never the API key, which a preview does not read) or another resource
    configuration error. The message is one line naming the resource and the setting."""


@dataclass(frozen=True)
class PartitionEstimate:
    """One partition's preview: its `estimate` (None: unknown, e.g. below an open-ended search),
    where its inputs came from, and `notes` on what the figures assume."""

    partition_key: str | None
    inputs_from: InputsFrom
    estimate: Estimate | None
    notes: tuple[str, ...] = ()

    def row(self) -> dict[str, Any]:
        """The partition's figures by `COLUMNS` (None where unknown)."""
        est = self.estimate
        figures: dict[str, Any] = {
            "partition": self.partition_key,
            "inputs_from": self.inputs_from,
        }
        for name in COLUMNS[2:]:
            figures[name] = None if est is None else getattr(est, name)
        return figures

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition_key,
            "inputs_from": self.inputs_from,
            "estimate": None if self.estimate is None else self.estimate.to_dict(),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class AssetEstimate:
    """The preview of materializing `asset_key` over `partitions` (see `totals`)."""

    asset_key: dg.AssetKey
    action_id: str
    partitions: tuple[PartitionEstimate, ...]

    def rows(self) -> list[dict[str, Any]]:
        """One row of figures per partition, by `COLUMNS`."""
        return [p.row() for p in self.partitions]

    def totals(self) -> dict[str, Any]:
        """The figures summed over the partitions, each None if a partition's is unknown.

        `credits` sums exact figures only (None once a partition has only a bound); `seconds`
        assumes the partitions run one after another (they share the plan's rate).
        """
        rows = self.rows()
        totals: dict[str, Any] = {"partitions": len(rows)}
        for name in COLUMNS[2:]:
            totals[name] = _sum([r[name] for r in rows])
        return totals

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset_key": self.asset_key.to_user_string(),
            "action_id": self.action_id,
            "partitions": [p.to_dict() for p in self.partitions],
            "totals": self.totals(),
        }


def _sum(values: Sequence[Any]) -> Any:
    if any(v is None for v in values):
        return None
    total = sum(values)
    return round(total, 6) if isinstance(total, float) else total
