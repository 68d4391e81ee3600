"""What a batch's inputs came to: result rows, error rows, and the counts its stats are made of.

Every input ends in exactly one outcome: its results (rows of the results frame), an error (a row
of the errors frame), or "not done" (a budget or a stop left it; in neither frame). Outcomes from
the ledger are marked `from_cache`. The calls made are counted apart (`CallCount`): a run counts
its HTTP attempts, retries, rate-limited answers and latencies whatever its inputs came to.

Example:
    >>> outcomes = BatchOutcomes("linkedin-extract-people", log, max_results=None)
    >>> outcomes.record_ok(item, [{"name": "Jane"}], at, from_cache=False)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.batch.result_rows import ResultRows
from captaindata_dagster.engine.call_count import CallCount
from captaindata_dagster.engine.columns import errors_frame
from captaindata_dagster.storage.ledger import Entry

if TYPE_CHECKING:
    import pandas as pd

PROGRESS_EVERY_S = 10.0


@dataclass
class FailedInput:
    """An input that ended in an error row: `error` holds the row's envelope fields."""

    item: BatchItem
    at: datetime
    from_cache: bool
    error: dict[str, Any]


class BatchOutcomes:
    """The outcomes of a batch's inputs as they arrive, and the progress they make; thread-safe.

    Args:
        action_id: for log lines.
        log: a logger; progress is logged every 10 s and at the end.
        max_results: a search's results beyond it are not kept (a ledger entry may hold more).
        spent: the credits spent so far, for progress lines.
    """

    def __init__(
        self,
        action_id: str,
        log: Any,
        max_results: int | None,
        spent: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.action_id = action_id
        self.log = log
        self.max_results = max_results
        self.spent = spent
        self._lock = threading.Lock()
        self.rows = ResultRows()  # the results of the inputs that succeeded
        self.failed: list[FailedInput] = []
        self.calls = CallCount()
        self.succeeded = 0
        self.skipped_fresh = 0
        self.not_started = 0
        self.incomplete = 0
        # ISO time before which a re-run would meet the same rate limit; None without such a ban
        self.retry_not_before: str | None = None
        self._held: dict[str, tuple[dict[str, Any], datetime]] = {}  # key -> an account's error
        self._total = 0
        self._finished = 0
        self._last_progress = time.monotonic()

    def start_progress(self, total: int) -> None:
        """Count progress from now on: `total` inputs are to be done by calls."""
        with self._lock:
            self._total = total

    def record_ok(
        self, item: BatchItem, results: list[dict[str, Any]], at: datetime, from_cache: bool
    ) -> None:
        """The input's results (`from_cache`: taken from the ledger, not fetched)."""
        with self._lock:
            self.rows.add(item, results, at, from_cache)
            self.succeeded += 1
        self._progress()

    def record_error(
        self, item: BatchItem, error: dict[str, Any], at: datetime, from_cache: bool
    ) -> None:
        """The input's error row (`error`: `error_fields`-like envelope fields)."""
        with self._lock:
            self.failed.append(FailedInput(item, at, from_cache, error))
        self._progress()
        if not from_cache and error.get("status_code") is not None:
            self.log.debug(
                "%s: %s failed: %s %s",
                self.action_id,
                item.label,
                error.get("status_code"),
                error.get("error_label"),
            )

    def record_entry(self, item: BatchItem, entry: Entry) -> None:
        """Answer the input from a fresh ledger entry (a result or a permanent error)."""
        with self._lock:
            self.skipped_fresh += 1
        if entry.is_error:
            self.record_error(item, entry_error(entry), entry.fetched_at, True)
        else:
            results = cap_results(entry.results or [], self.max_results)
            self.record_ok(item, results, entry.fetched_at, True)

    def not_done(self, started: bool) -> None:
        """The input was left undone: a search stopped midway (`started`), or never begun."""
        with self._lock:
            if started:
                self.incomplete += 1
            else:
                self.not_started += 1

    def banned_until(self, until: str) -> None:
        """A rate limit too long to wait out lasts until `until` (ISO): the latest is kept."""
        with self._lock:
            self.retry_not_before = max(self.retry_not_before or until, until)

    def hold_error(self, item: BatchItem, error: dict[str, Any], at: datetime) -> None:
        """Keep the error an account failed with on `item`: its answer if no account is left."""
        with self._lock:
            self._held[item.key] = (error, at)

    def held_error(self, item: BatchItem) -> tuple[dict[str, Any], datetime] | None:
        """The error `hold_error` kept for `item`, if any."""
        with self._lock:
            return self._held.get(item.key)

    def errors_frame(self) -> pd.DataFrame:
        """The errors table of the failed inputs, in their input order."""
        return errors_frame(
            [
                {
                    "action_id": self.action_id,
                    "input": o.item.label,
                    **o.error,
                    "at": o.at,
                    "from_cache": o.from_cache,
                }
                for o in sorted(self.failed, key=lambda o: o.item.index)
            ]
        )

    def _progress(self) -> None:
        with self._lock:
            if not self._total:  # before the workers start: invalid or cached, not progress
                return
            self._finished += 1
            now = time.monotonic()
            due = now - self._last_progress >= PROGRESS_EVERY_S
            if not (due or self._finished == self._total):
                return
            self._last_progress = now
            done, total = self._finished, self._total
        self.log.info(
            "%s: %d/%d outcomes, %g credits spent", self.action_id, done, total, self.spent()
        )


def error_fields(err: CaptainDataError, user_uid: str | None = None) -> dict[str, Any]:
    """An error row's envelope fields.

    Args:
        err: the error.
        user_uid: whose account made the call (None: no account named).

    Example:
        >>> error_fields(err, "u1")["error_label"]
        'LK_BAD_COOKIE'
    """
    return {**err.envelope(), "user_uid": user_uid}


def entry_error(entry: Entry) -> dict[str, Any]:
    """The envelope fields of an error kept in the ledger (as `error_fields` gives them).

    Args:
        entry: a ledger entry whose `is_error` is True.
    """
    return {**entry.envelope(), "user_uid": entry.user_uid}


def cap_results(results: list[dict[str, Any]], max_results: int | None) -> list[dict[str, Any]]:
    """The first `max_results` results (all of them when None).

    Args:
        results: a search's results.
        max_results: the cap.
    """
    return results if max_results is None else results[:max_results]
