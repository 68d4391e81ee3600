"""Retry by class: which failures are tried again, how long to wait first, what may be billed.

- 429: retried after its `Retry-After` (at most `max_retry_after_s`), and the whole client's pace
  waits it out too (unless the limit was one account's).
- 5xx, timeouts, dropped connections: retried with exponential backoff and equal jitter (a 503
  that says when to come back is retried then).
- Any other 4xx: never retried.
- A `Retry-After` longer than `max_retry_after_s` (a long ban): never waited out in a step.
- An action with side effects (an invitation, a message) is never re-sent once the request may
  have reached the API: sending it twice is worse than reporting the failure.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.errors import (
    CaptainDataError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    TransportError,
)
from captaindata_dagster.api.pacing import TokenBucket

log = logging.getLogger("captaindata_dagster.api.client")  # one logger for the whole client


def may_retry(
    err: CaptainDataError,
    *,
    maybe_sent: bool,
    side_effects: bool,
    attempts: int,
    max_retries: int,
    max_wait_s: float,
) -> bool:
    """True when the call that ended with `err` may be sent again.

    Args:
        err: the failure of the latest attempt.
        maybe_sent: False when no connection was ever opened (nothing can have been done).
        side_effects: True for an action whose repetition a person would notice.
        attempts: attempts made so far, the failed one included.
        max_retries: the most re-sends allowed (the client's `max_retries`).
        max_wait_s: the longest `Retry-After` waited out (the client's `max_retry_after_s`).

    Example:
        >>> may_retry(ServerError("boom"), maybe_sent=True, side_effects=True, attempts=1,
        ...           max_retries=5, max_wait_s=120.0)
        False
    """
    if attempts > max_retries or not err.retryable:
        return False
    if is_long_ban(err, max_wait_s):
        # Waiting it out here would hold the step (and its account) for the whole ban: the
        # caller ends that scope for the batch and a later run picks the inputs up.
        return False
    if side_effects and maybe_sent and not isinstance(err, RateLimitError):
        # A 5xx, a timeout or a dropped connection may hide a request that was carried out.
        log.warning(
            "%s failed with %s after the request may have reached the API; not re-sent "
            "because the action has side effects",
            err.action_id,
            err.error_label,
        )
        return False
    return True


def retry_wait(
    err: CaptainDataError, attempts: int, *, backoff: Callable[[int], float], max_wait_s: float
) -> float:
    """Seconds to wait before re-sending after `err` (the `attempts`-th attempt's failure).

    A 429 waits its `Retry-After` (else a backoff), never more than `max_wait_s`; a 503 that named
    a time waits that; anything else waits `backoff(attempts)`.
    """
    if isinstance(err, RateLimitError):
        wait = err.retry_after if err.retry_after is not None else backoff(attempts)
        return min(wait, max_wait_s)
    if err.retry_after is not None:  # a 503 that said when to come back (not a long ban)
        return err.retry_after
    return backoff(attempts)


def wait_before_retry(
    err: CaptainDataError,
    attempts: int,
    *,
    backoff: Callable[[int], float],
    max_wait_s: float,
    bucket: TokenBucket | None,
    sleep: Callable[[float], None],
) -> float:
    """Wait (through `sleep`) before re-sending after `err`; returns the seconds waited.

    A 429 for the whole plan pauses `bucket` too, so every thread of the client waits it out.
    """
    wait = retry_wait(err, attempts, backoff=backoff, max_wait_s=max_wait_s)
    if isinstance(err, RateLimitError) and bucket and err.limit_type != "account":
        bucket.pause(wait)
    log.info(
        "retrying %s after %s (%s), attempt %d, waiting %.2fs",
        err.action_id or "request",
        err.status_code or type(err).__name__,
        err.error_label,
        attempts + 1,
        wait,
    )
    if wait > 0:
        sleep(wait)  # stopping.sleep by default: cut short when the run stops
    return wait


class Backoff:
    """Exponential backoff with "equal jitter", safe to share between threads.

    The n-th wait is drawn in `[cap / 2, cap]` with `cap = min(max_s, base_s * 2 ** (n - 1))`:
    never zero (no stampede right after a 5xx), never over `max_s`.

    Example:
        >>> 0.25 <= Backoff(random.Random(1)).delay(1, base_s=0.5, max_s=30.0) <= 0.5
        True
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def delay(self, attempts: int, *, base_s: float, max_s: float) -> float:
        """The wait after the `attempts`-th failed attempt."""
        cap = min(max_s, base_s * (2 ** (attempts - 1)))
        with self._lock:
            return self._rng.uniform(cap / 2, cap)


def is_long_ban(err: CaptainDataError, max_wait_s: float) -> bool:
    """True for a 429 or 503 whose `Retry-After` is longer than `max_wait_s`: not waited out in
    a step (a 503 naming no time is retried with backoff as usual).

    Args:
        err: the error a call ended with.
        max_wait_s: the longest wait a step does (the client's `max_retry_after_s`).

    Example:
        >>> is_long_ban(RateLimitError("slow down", retry_after=3600.0), 120.0)
        True
    """
    limited = isinstance(err, (RateLimitError, ServerError))
    return limited and err.retry_after is not None and err.retry_after > max_wait_s


def is_account_limit(err: CaptainDataError) -> bool:
    """True for a rate limit on the connected account that made the call (`X-RateLimit-Type:
    account`), not on the workspace: the other accounts may go on.

    Example:
        >>> is_account_limit(RateLimitError("slow down", limit_type="account"))
        True
    """
    return isinstance(err, RateLimitError) and err.limit_type == "account"


def maybe_billed(err: CaptainDataError, maybe_sent: bool) -> bool:
    """True for a failure after which the API may have done (and billed) the work: a timeout or
    a cut connection once the request was sent, or a 2xx answer we could not use.

    Example:
        >>> maybe_billed(ServerError("boom", status_code=500), maybe_sent=True)
        False
    """
    if isinstance(err, MalformedResponseError):
        return err.status_code is not None and 200 <= err.status_code < 300
    return maybe_sent and isinstance(err, TransportError)


def page_credits(act: Action, body: Mapping[str, Any]) -> float:
    """The most one answer of `act` can cost: a full page for a list action, else one result."""
    results = (act.page_size or 1) if act.is_list else 1
    return act.credits_billed(results, body)


def parse_retry_after(
    headers: Mapping[str, str], now: Callable[[], float] | None = None
) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset`.

    A value that is not a finite number of seconds >= 0 (`nan`, `-5`, `inf`) is treated as
    absent: the retry then backs off as for any retryable error, never at once.

    Args:
        headers: the answer's headers (a case-insensitive mapping for a `requests` answer).
        now: the wall clock, in epoch seconds (HTTP dates and epoch resets are compared to
            it); `time.time` by default, read at each call.

    Example:
        >>> parse_retry_after({"Retry-After": "7"})
        7.0
    """
    now = now or (lambda: time.time())
    raw = (headers.get("Retry-After") or "").strip()
    if raw:
        try:
            seconds = float(raw)
        except ValueError:
            seconds = None
        else:
            return seconds if math.isfinite(seconds) and seconds >= 0 else None
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - now())
    return _reset_seconds((headers.get("X-RateLimit-Reset") or "").strip(), now)


def _reset_seconds(reset: str, now: Callable[[], float]) -> float | None:
    """`X-RateLimit-Reset` as seconds from now: an epoch timestamp or a count of seconds."""
    if not reset:
        return None
    try:
        value = float(reset)
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    # An epoch timestamp, or a count of seconds: tell them apart by size.
    return max(0.0, value - now()) if value > 1e9 else max(0.0, value)
