"""The error sensor's cursor: what it has read, and which re-runs it requested or put off.

Stored as JSON between ticks (`{"after", "runs_after", "reruns", "deferred"}`), read and written
only through `ErrorSensorCursor`, so the tick works with typed fields. A re-run is tracked per
slot, `<asset key>|<partition>`: at most one per slot per window, and one that waits for a long
rate limit (`retry_not_before`) is deferred until that time, then requested.

Example:
    >>> cursor = ErrorSensorCursor.parse(context.cursor)
    >>> cursor.after, cursor.to_json()
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

RerunKey = tuple[str, "str | None"]
"""(asset key as a user string, partition or None): one re-run request."""


def rerun_slot(asset: str, partition: str | None) -> str:
    """The cursor's name for one asset partition, `<asset key>|<partition>`.

    Args:
        asset: the asset key as a user string.
        partition: the partition key, or None.

    Example:
        >>> rerun_slot("linkedin_profiles", "paris")
        'linkedin_profiles|paris'
    """
    return f"{asset}|{partition or ''}"


def _rerun_key(slot: str) -> RerunKey:
    asset, partition = slot.split("|", 1)
    return asset, partition or None


@dataclass
class DeferredRerun:
    """A re-run put off until a long rate limit passes, and the labels it is for."""

    not_before: str  # ISO time
    labels: list[str] = field(default_factory=list)


@dataclass
class ErrorSensorCursor:
    """What the error sensor has read and requested, carried from one tick to the next."""

    after: int = 0  # storage id of the last errors-table materialization read
    runs_after: float = 0.0  # update time (epoch seconds) of the last failed run read
    reruns: dict[str, str] = field(default_factory=dict)  # slot -> ISO time of its last re-run
    deferred: dict[str, DeferredRerun] = field(default_factory=dict)  # slot -> put-off re-run

    @classmethod
    def parse(cls, text: str | None) -> ErrorSensorCursor:
        """The cursor a tick was given (empty or None: the first tick).

        Args:
            text: the sensor's stored cursor.

        Example:
            >>> ErrorSensorCursor.parse(None).after
            0
        """
        raw: dict[str, Any] = json.loads(text) if text else {}
        deferred = {
            slot: DeferredRerun(str(entry["not_before"]), list(entry.get("labels", [])))
            for slot, entry in dict(raw.get("deferred", {})).items()
        }
        return cls(
            after=int(raw.get("after", 0)),
            runs_after=float(raw.get("runs_after", 0.0)),
            reruns=dict(raw.get("reruns", {})),
            deferred=deferred,
        )

    def to_json(self) -> str:
        """The cursor to store for the next tick."""
        deferred = {
            slot: {"not_before": d.not_before, "labels": d.labels}
            for slot, d in self.deferred.items()
        }
        return json.dumps(
            {
                "after": self.after,
                "runs_after": self.runs_after,
                "reruns": self.reruns,
                "deferred": deferred,
            }
        )

    def take_due_deferred(self, now: datetime) -> dict[RerunKey, set[str]]:
        """Take out the put-off re-runs whose rate limit has passed: (asset, partition) -> labels.

        Args:
            now: the tick's time.
        """
        due: dict[RerunKey, set[str]] = {}
        for slot, entry in list(self.deferred.items()):
            if now >= datetime.fromisoformat(entry.not_before):
                due.setdefault(_rerun_key(slot), set()).update(entry.labels)
                del self.deferred[slot]
        return due

    def defer(self, slot: str, not_before: str, label: str) -> None:
        """Put off the re-run of `slot` for `label` until `not_before` (the latest one wins).

        Args:
            slot: see `rerun_slot`.
            not_before: ISO time the rate limit ends.
            label: the error label the re-run is for.
        """
        entry = self.deferred.setdefault(slot, DeferredRerun(not_before))
        entry.not_before = max(entry.not_before, not_before)
        entry.labels = sorted({*entry.labels, label})

    def rerun_due(self, slot: str, now: datetime, window: timedelta) -> bool:
        """Whether `slot` had no re-run requested within `window` before `now`.

        Args:
            slot: see `rerun_slot`.
            now: the tick's time.
            window: at most one re-run per slot per window.
        """
        last = self.reruns.get(slot)
        return last is None or now - datetime.fromisoformat(last) >= window

    def record_reruns(self, slots: list[str], now: datetime, window: timedelta) -> None:
        """Note the re-runs requested now; forget those older than two windows.

        Args:
            slots: the slots re-run this tick.
            now: the tick's time.
            window: the re-run window.
        """
        for slot in slots:
            self.reruns[slot] = now.isoformat()
        horizon = now - 2 * window
        self.reruns = {k: v for k, v in self.reruns.items() if datetime.fromisoformat(v) >= horizon}
