"""Counting the calls a run makes: HTTP attempts, retries, rate-limited answers, latencies.

Shared by every strategy (a batch, outreach): a run counts its calls whatever its inputs came to.

Example:
    >>> calls = CallCount()
    >>> calls.count(attempts=2, rate_limited=1, latency=0.2)
    >>> (calls.calls, calls.retries, calls.rate_limited)
    (2, 1, 1)
"""

from __future__ import annotations

import math
import threading


class CallCount:
    """HTTP attempts, retries, rate-limited answers and call latencies; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.retries = 0
        self.rate_limited = 0
        self.latencies: list[float] = []

    def count(self, attempts: int, rate_limited: int, latency: float | None = None) -> None:
        """Count one call (its attempts, retries included).

        Args:
            attempts: HTTP attempts the call made.
            rate_limited: how many of them were answered 429.
            latency: the call's duration in seconds; None: not measured.
        """
        with self._lock:
            self.calls += attempts
            self.retries += max(0, attempts - 1)
            self.rate_limited += rate_limited
            if latency is not None:
                self.latencies.append(latency)

    def latency(self, q: float) -> float | None:
        """The calls' latency at percentile `q` (nearest rank), in seconds; None without calls."""
        with self._lock:
            ordered = sorted(self.latencies)
        if not ordered:
            return None
        return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]
