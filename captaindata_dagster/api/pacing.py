"""Pacing to the contract: a shared requests-per-second bucket and one-at-a-time per account.

Both are thread-safe and block the calling thread outside any lock, so many threads can share one
client and still never exceed the plan's limit (the API fails at once when over it, no queueing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class TokenBucket:
    """Spaces calls `1 / rate` seconds apart, allowing at most `burst` back to back.

    Implemented as a virtual schedule (GCRA): each `acquire()` reserves the next free slot under a
    lock and sleeps until it outside the lock. `pause(seconds)` pushes every later slot back, which
    is how a 429 with `Retry-After` slows every thread at once.
    """

    def __init__(self, rate: float, burst: int = 1, clock=time.monotonic, sleep=time.sleep) -> None:
        if rate <= 0:
            raise ValueError(f"requests_per_second must be > 0, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = int(burst)
        self._interval = 1.0 / self.rate
        self._tat = 0.0  # theoretical arrival time of the next call
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def reserve(self) -> float:
        """Reserve a slot; return how long the caller must wait before using it."""
        with self._lock:
            now = self._clock()
            tat = max(self._tat, now)
            start = max(now, tat - (self.burst - 1) * self._interval)
            self._tat = tat + self._interval
            return start - now

    def acquire(self) -> float:
        """Block until the caller may send; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """No slot starts before `seconds` from now (a shared back-off after a 429)."""
        with self._lock:
            self._tat = max(self._tat, self._clock() + max(0.0, seconds))


class AccountSlots:
    """At most `per_account` calls in flight per connected account (the LinkedIn rule is 1)."""

    def __init__(self, per_account: int = 1) -> None:
        if per_account < 1:
            raise ValueError(f"per_account must be >= 1, got {per_account!r}")
        self.per_account = per_account
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}

    def _semaphore(self, account: str) -> threading.Semaphore:
        with self._lock:
            sem = self._slots.get(account)
            if sem is None:
                sem = self._slots[account] = threading.BoundedSemaphore(self.per_account)
            return sem

    @contextmanager
    def hold(self, account: str) -> Iterator[None]:
        """Wait for a free slot on `account`, hold it for the duration of the block."""
        sem = self._semaphore(account)
        sem.acquire()
        try:
            yield
        finally:
            sem.release()
