"""The work queue a run's workers take their inputs from, and the run's "hand out nothing more".

A queue hands out inputs until it is empty or halted. An input can come back (its account failed:
`put_front`; another run holds it: `put_back`), so a run whose workers are pinned to accounts asks
the queue to make a worker with nothing to do wait while inputs are still in flight
(`wait_for_returns=True`): one may come back and need that worker's healthy account.

The queue has its own lock; `halted` is the run's one "no new call starts" flag (a budget reached,
a failure, a stop, a workspace ban all halt the queue).

Example:
    >>> queue = WorkQueue(["a", "b"])
    >>> queue.take(Stop())
    'a'
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

from captaindata_dagster.api.stopping import Stop

T = TypeVar("T")

RETURN_POLL_S = 0.25  # how often a worker waiting for an input to come back looks again


class WorkQueue(Generic[T]):
    """Inputs left to do, in order; thread-safe.

    Args:
        items: the inputs, in the order they are handed out.
        wait_for_returns: with an empty queue, `take` waits while inputs are in flight (one may
            come back) instead of ending the worker.
    """

    def __init__(self, items: Iterable[T] = (), *, wait_for_returns: bool = False) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # an input came back, or one finished
        self._items: deque[T] = deque(items)
        self._inflight = 0  # taken and not finished: some may come back
        self._halted = False
        self.wait_for_returns = wait_for_returns

    def __len__(self) -> int:
        return len(self._items)

    @property
    def halted(self) -> bool:
        """True once the run must start no new call (see `halt`)."""
        return self._halted

    def take(self, stop: Stop) -> T | None:
        """The next input, or None: the queue is done or halted, or `stop` is set.

        Each input taken must be followed by one `finished()` call once it is done with
        (answered, failed, or put back).
        """
        with self._lock:
            while True:
                if self._halted or stop.is_set():
                    return None
                if self._items:
                    self._inflight += 1
                    return self._items.popleft()
                if not self._inflight or not self.wait_for_returns:
                    return None
                self._changed.wait(RETURN_POLL_S)

    def finished(self) -> None:
        """An input handed out by `take` is done with."""
        with self._lock:
            self._inflight -= 1
            self._changed.notify_all()

    def put_front(self, item: T) -> None:
        """Give an input back to be taken next (its account failed: another one takes it)."""
        with self._lock:
            self._items.appendleft(item)
            self._changed.notify_all()

    def put_back(self, item: T) -> None:
        """Give an input back to be taken after the others (another run holds it for now)."""
        with self._lock:
            self._items.append(item)

    def extend(self, items: Iterable[T]) -> None:
        """Add inputs at the end."""
        with self._lock:
            self._items.extend(items)
            self._changed.notify_all()

    def drain(self) -> list[T]:
        """Empty the queue; returns what it held, in order."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            return items

    def halt(self) -> None:
        """Hand out nothing more: the run starts no new call (calls in flight settle)."""
        with self._lock:
            self._halted = True
            self._changed.notify_all()

    def halt_and_drain(self) -> list[T]:
        """`halt` and `drain` at once: no worker takes an input in between."""
        with self._lock:
            self._halted = True
            items = list(self._items)
            self._items.clear()
            self._changed.notify_all()
            return items
