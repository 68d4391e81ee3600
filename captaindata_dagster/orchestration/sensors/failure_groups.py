"""Captain Data failures grouped by asset, partition and label, as the sensors report them.

The sensors read failures from two places (the errors tables' new errors, failed runs' step
failures) and merge them into one `FailureGroup` per (asset, partition, label): counts, a few refs
and inputs, the users whose accounts failed, first and last seen. Each group becomes one
`AssetObservation` on the asset page, saying what a person should do when no re-run will help
(`api.labels.PERSON_FIXES`, naming the users for account labels).

Example:
    >>> group = FailureGroup(dg.AssetKey("linkedin_profiles"), "paris", "LK_BAD_COOKIE")
    >>> group.add({"count": 2, "users": {"u1": 2}}, run_id="r1")
    >>> group.observation("linkedin-extract-people", False, group.hint(RERUN_LABELS, "look"))
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from captaindata_dagster.api.accounts import account_hint
from captaindata_dagster.api.labels import PERSON_FIXES

SAMPLES = 5  # refs and inputs kept per group


@dataclass
class FailureGroup:
    """Failures of one (asset, partition, label), merged from several sources."""

    asset_key: dg.AssetKey
    partition: str | None
    label: str
    count: int = 0
    scope: str | None = None
    status_code: int | None = None
    refs: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    first_seen: str | None = None
    last_seen: str | None = None
    users: dict[str, int] = field(default_factory=dict)  # failed inputs per user uid
    retry_not_before: str | None = None  # a long rate limit: no re-run before this ISO time
    message: str | None = None  # one error message, as a sample
    fixes: list[str] = field(default_factory=list)  # what a person runs, as the step knew it
    unobserved: int = 0  # sources the step did not report on the asset itself

    @property
    def observed_by_step(self) -> bool:
        """Every failure of the group is on the asset already: its step reported it."""
        return self.unobserved == 0

    def add(self, info: Mapping[str, Any], run_id: str | None) -> None:
        """Merge one source's summary of this label (the errors table's, or a step failure's).

        Args:
            info: count, error_scope, status_code, error_refs, inputs, users or user_uids,
                first_seen, last_seen, retry_not_before, fixes; each optional.
            run_id: the run it came from.
        """
        self.count += int(info.get("count") or 1)
        wait = info.get("retry_not_before")
        if wait and (self.retry_not_before is None or wait > self.retry_not_before):
            self.retry_not_before = str(wait)
        for uid, n in (info.get("users") or {}).items():
            self.users[str(uid)] = self.users.get(str(uid), 0) + int(n or 0)
        for uid in info.get("user_uids") or []:
            self.users.setdefault(str(uid), 0)
        self.scope = self.scope or info.get("error_scope")
        self.message = self.message or info.get("message")
        for fix in info.get("fixes") or []:
            if fix and fix not in self.fixes:
                self.fixes.append(str(fix))
        self.unobserved += 0 if info.get("observed") else 1
        self.status_code = self.status_code or info.get("status_code")
        _sample(self.refs, info.get("error_refs"))
        _sample(self.inputs, info.get("inputs"))
        if run_id and run_id not in self.run_ids:
            self.run_ids.append(run_id)
        first, last = info.get("first_seen"), info.get("last_seen")
        if first and (self.first_seen is None or first < self.first_seen):
            self.first_seen = first
        if last and (self.last_seen is None or last > self.last_seen):
            self.last_seen = last

    @property
    def where(self) -> str:
        """`asset` or `asset / partition`, as the tick's message names the group."""
        asset = self.asset_key.to_user_string()
        return asset + (f" / {self.partition}" if self.partition else "")

    def hint(self, rerun_labels: Collection[str] | None, default: str) -> str | None:
        """What a person should do, naming the users for account labels; None if re-run.

        Args:
            rerun_labels: the labels the sensor re-runs (no person needed), or None.
            default: the hint for a label the table has no fix for.
        """
        if rerun_labels is not None and self.label in rerun_labels:
            return None
        if self.fixes:  # the step's own words: an account's exact command
            return "; ".join(self.fixes)
        named = account_hint(self.label, sorted(self.users), None) if self.users else None
        return named or PERSON_FIXES.get(self.label, default)

    def observation(
        self, action: str | None, rerun_requested: bool, hint: str | None
    ) -> dg.AssetObservation:
        """The group as an observation on its asset (and partition), for the asset page.

        Args:
            action: the catalog action id of the asset, if known.
            rerun_requested: whether this tick requested a re-run for it.
            hint: what a person should do (see `hint`), or None.
        """
        who = f" (user {', '.join(sorted(self.users))})" if self.users else ""
        return dg.AssetObservation(
            asset_key=self.asset_key,
            partition=self.partition,
            description=f"Captain Data {self.label} x{self.count}{who}"
            + (f": {hint}" if hint else ""),
            metadata=self._metadata(action, rerun_requested, hint),
        )

    def _metadata(self, action: str | None, rerun_requested: bool, hint: str | None) -> dict:
        md: dict[str, Any] = {
            "error_label": self.label,
            "error_scope": self.scope or "",
            "count": dg.MetadataValue.int(self.count),
            "error_refs": dg.MetadataValue.json(self.refs),
            "sample_inputs": dg.MetadataValue.json(self.inputs),
            "first_seen": self.first_seen or "",
            "last_seen": self.last_seen or "",
            "rerun_requested": dg.MetadataValue.bool(rerun_requested),
            "run_ids": dg.MetadataValue.json(self.run_ids),
        }
        if self.status_code is not None:
            md["status_code"] = dg.MetadataValue.int(int(self.status_code))
        if self.message:
            md["sample_message"] = self.message
        if action:
            md["action_id"] = action
        if self.users:
            md["user_uids"] = dg.MetadataValue.json(sorted(self.users))
            if any(self.users.values()):  # a failed run names users without counting inputs
                md["failed_inputs_by_user"] = dg.MetadataValue.json(
                    dict(sorted(self.users.items()))
                )
        if hint:
            md["needs_a_person"] = hint
        return md


class FailureGroups:
    """The groups of one tick, keyed by (asset, partition, label); ignored labels are dropped."""

    def __init__(self, ignore_labels: Collection[str] = ()) -> None:
        self._ignore = frozenset(ignore_labels)
        self._groups: dict[tuple[dg.AssetKey, str | None, str], FailureGroup] = {}

    def add(
        self,
        asset_key: dg.AssetKey,
        partition: str | None,
        label: str,
        info: Mapping[str, Any],
        run_id: str | None,
    ) -> None:
        """Merge `info` into the group of (asset, partition, label), unless the label is ignored.

        Args:
            asset_key: the results table the failure belongs to.
            partition: the partition key, or None.
            label: the error label.
            info: see `FailureGroup.add`.
            run_id: the run it came from.
        """
        if label in self._ignore:
            return
        key = (asset_key, partition, label)
        if key not in self._groups:
            self._groups[key] = FailureGroup(asset_key, partition, label)
        self._groups[key].add(info, run_id)

    def __iter__(self) -> Iterator[FailureGroup]:
        return iter(self._groups.values())


def _sample(bucket: list[str], values: Any) -> None:
    """Keep the first few distinct values (refs, inputs) a group met."""
    for v in values or []:
        if v and v not in bucket and len(bucket) < SAMPLES:
            bucket.append(str(v))
