"""Cross-run claims: take an input in the ledger before paying for it, so two runs pay once.

Two runs of the same action over overlapping inputs (a backfill and a schedule, two partitions
naming one person) would each pay for the input. Before its call a run claims the input in the
ledger (`Ledger.claim`): claimed, it calls; answered by the other run meanwhile, it takes that
answer (as from the ledger); held by the other run, it puts the input back at the end of its queue
and looks again later, and leaves it for a later run after `CLAIM_WAIT_S`.

Example:
    >>> claims = Claims(ledger, act.id, max_age=None, log=log)
    >>> verdict = claims.claim(item, queue)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.work_queue import WorkQueue
from captaindata_dagster.storage.ledger import CLAIMED, DONE, Entry, Ledger

CLAIM_POLL_S = 0.25  # how often an input another run is fetching is looked at again
CLAIM_WAIT_S = 1800.0  # an input another run holds longer than this is left for a later run


@dataclass(frozen=True)
class Claim:
    """What claiming an input said: `go` (this run calls), else the other run's `answer` (an
    entry to record as from the ledger), or `gave_up` (left for a later run), or neither (the
    input is back in the queue)."""

    go: bool
    answer: Entry | None = None
    gave_up: bool = False


_GO = Claim(go=True)


class Claims:
    """This run's claims in the ledger, and the inputs it waits for from other runs.

    Args:
        ledger: the ledger; None: no claims (every claim says `go`).
        action_id: the action.
        max_age: how old an answer may be and still count (see `Ledger.fresh`).
        log: a logger for waiting and giving up.
        sleep: how to wait when only inputs held elsewhere are left (injectable for tests).
        clock: seconds on a monotonic clock: how long another run has held an input.
    """

    def __init__(
        self,
        ledger: Ledger | None,
        action_id: str,
        max_age: timedelta | None,
        log: Any,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger = ledger
        self.action_id = action_id
        self.max_age = max_age
        self.log = log
        self.sleep = sleep
        self.clock = clock
        self.began = datetime.now(timezone.utc)  # another run's error recorded since: its answer
        self._lock = threading.Lock()
        self._waiting: dict[str, float] = {}  # inputs another run is fetching -> first seen
        self._told = False

    def claim(self, item: BatchItem, queue: WorkQueue[BatchItem]) -> Claim:
        """Claim `item` before calling for it; held by another run, it goes back into `queue`.

        Args:
            item: the input.
            queue: the run's queue (the input goes back at its end while another run holds it).
        """
        if self.ledger is None:
            return _GO
        claim = self.ledger.claim(self.action_id, item.key, max_age=self.max_age, since=self.began)
        if claim.state == CLAIMED:
            self._forget(item)
            return _GO
        if claim.state == DONE and claim.entry is not None:
            self._forget(item)
            return Claim(go=False, answer=claim.entry)
        return self._wait(item, queue)

    def release(self, item: BatchItem) -> None:
        """Let go of the claim once the input's outcome is saved (or it was left undone)."""
        if self.ledger is not None:
            self.ledger.release(self.action_id, item.key)

    def forget_all(self) -> None:
        """Stop waiting for other runs: the inputs left will not be done in this run."""
        with self._lock:
            self._waiting.clear()

    def _forget(self, item: BatchItem) -> None:
        with self._lock:
            self._waiting.pop(item.key, None)

    def _wait(self, item: BatchItem, queue: WorkQueue[BatchItem]) -> Claim:
        now = self.clock()
        with self._lock:
            first = self._waiting.setdefault(item.key, now)
            give_up = now - first > CLAIM_WAIT_S
            if give_up:
                del self._waiting[item.key]
            else:
                queue.put_back(item)
            idle = len(self._waiting) >= len(queue)  # only inputs held elsewhere are left
            tell = not give_up and not self._told
            self._told = self._told or tell
        if give_up:
            self.log.warning(
                "%s: %s is still being fetched by another run after %gs; left for a later run",
                self.action_id,
                item.label,
                CLAIM_WAIT_S,
            )
            return Claim(go=False, gave_up=True)
        if tell:
            self.log.info(
                "%s: %s (and maybe more) is being fetched by another run at the same time; "
                "this run takes its answer when it is done",
                self.action_id,
                item.label,
            )
        if idle:
            self.sleep(CLAIM_POLL_S)
        return Claim(go=False)
