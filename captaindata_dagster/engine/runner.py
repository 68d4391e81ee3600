"""The one runner: worker threads run a strategy over a work queue, one worker per account.

A run is: a `WorkQueue` of inputs, a `Strategy` (what to do with one input: fetch it, walk a search,
send a message), and the accounts the workers call with. The runner starts one worker per account
(None: the API picks one), each taking inputs off the queue and handing them to the strategy until
the queue is done or halted, the strategy ends the worker (its account retired), or the run stops.

Stopping: on an interrupt in the main thread (Dagster's terminate, Ctrl-C) or once the step's
parent process is gone, no new call starts and the calls in flight settle before the interrupt
propagates (see `api.stopping.Watch`). A strategy that raises stops the run cleanly: the first
such error is kept in `failure` for the caller to raise.

Example:
    >>> runner = Runner(WorkQueue(items), "linkedin-extract-people", log, grace_s=70.0)
    >>> runner.run(strategy, ["u1", "u2"])
    >>> if runner.failure is not None:
    ...     raise runner.failure
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.stopping import Stop, Watch, bound
from captaindata_dagster.engine.work_queue import WorkQueue

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)

MAX_GROWN_WORKERS = 256  # the most workers an action without an account grows to
GROW_EVERY_S = 0.5


@dataclass(frozen=True)
class Next:
    """What a worker does after an input: go on with `account` (its own, or one it moves to),
    or end (`go_on=False`: its account retired with no spare, or the strategy is done)."""

    account: str | None
    go_on: bool = True


WORKER_ENDS = Next(None, go_on=False)


class Strategy(Protocol[T_contra]):
    """What to do with one input (fetch it, walk a search, send a message).

    `handle` is called from a worker thread, once per input taken off the queue, with the account
    the worker is pinned to (None: the API picks). It records the input's outcome itself and says
    what the worker does next. It may put the input back into the queue (`put_front`,
    `put_back`) before returning; the runner marks the input finished after `handle` returns.
    An exception it raises stops the run (kept in `Runner.failure`).
    """

    def handle(self, item: T_contra, account: str | None) -> Next: ...


@dataclass(frozen=True)
class Growth:
    """Add workers (account None) while the calls made stay under a rate: see `Runner.run`.

    `rate`: the plan's calls per second; `cap`: the most workers; `calls`: calls made so far.
    """

    rate: float
    cap: int
    calls: Callable[[], int]


class Runner(Generic[T]):
    """Runs a strategy over a queue with a pool of worker threads.

    Args:
        queue: the inputs; `queue.halted` is the run's "no new call starts".
        what: what the run is, for log lines and thread names (an action id).
        log: a logger (`logging.Logger` or Dagster's).
        grace_s: how long calls in flight get to settle once the run is stopped (the client's
            longest call: its `timeout + connect_timeout`).
        clock: a monotonic clock in seconds, read when growing the pool to measure the calls'
            rate (injectable for tests).
    """

    def __init__(
        self,
        queue: WorkQueue[T],
        what: str,
        log: Any,
        grace_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue = queue
        self.what = what
        self.log = log
        self.grace_s = grace_s
        self.clock = clock
        self.stop = Stop()  # interrupted, or the parent process is gone: no new call at all
        self.failure: BaseException | None = None
        self._lock = threading.Lock()

    def fail(self, exc: BaseException) -> None:
        """Stop the run for `exc` (the first one is kept in `failure`); calls in flight settle."""
        with self._lock:
            if self.failure is None:
                self.failure = exc
        self.queue.halt()

    def run(
        self,
        strategy: Strategy[T],
        accounts: Sequence[str | None],
        growth: Growth | None = None,
        thread_prefix: str = "captaindata-batch",
    ) -> None:
        """Run one worker per entry of `accounts` until the queue is done, halted or stopped.

        Args:
            strategy: what each input gets.
            accounts: one per worker: the account it is pinned to (None: the API picks).
            growth: add workers (pinned to none) while the calls fall short of a rate; only when
                its cap is above `len(accounts)`.
            thread_prefix: the worker threads' name prefix.

        Example:
            >>> runner.run(strategy, [None] * 16, Growth(40.0, 256, lambda: count.calls))
        """
        cap = max(len(accounts), growth.cap if growth is not None else 0)
        pool = ThreadPoolExecutor(cap, thread_name_prefix=thread_prefix)
        futures = [pool.submit(self._work, strategy, a) for a in accounts]

        def done(seconds: float) -> bool:
            return not wait(futures, timeout=seconds).not_done

        watch = Watch(self.stop, done, self.queue.halt, self.log, self.what, grace_s=self.grace_s)
        try:
            with watch:
                if growth is not None and growth.cap > len(accounts):
                    self._grow(strategy, pool, futures, growth, watch.wait)
                watch.until_done()
        finally:  # stopped: the stragglers are not waited for again (their calls were given time)
            pool.shutdown(wait=not watch.stopped, cancel_futures=watch.stopped)

    def _work(self, strategy: Strategy[T], account: str | None) -> None:
        """One worker: inputs off the queue until it is done or halted, or the strategy ends the
        worker. Once `stop` is set the client sends nothing more from this thread."""
        with bound(self.stop):
            while True:
                item = self.queue.take(self.stop)
                if item is None:
                    return
                try:
                    after = strategy.handle(item, account)
                except BaseException as exc:  # a ledger failure, a bug: stop cleanly, raise later
                    self.fail(exc)
                    return
                finally:
                    self.queue.finished()
                if not after.go_on:
                    return
                account = after.account

    def _grow(
        self,
        strategy: Strategy[T],
        pool: ThreadPoolExecutor,
        futures: list[Future[None]],
        growth: Growth,
        pause: Callable[[float], bool],
    ) -> None:
        """Add workers while the queue waits and the calls made stay under the plan's rate;
        `pause(seconds)` waits for the workers and says whether all have ended.

        Little's law: W workers whose calls take L seconds make W / L calls per second, so a pool
        making X calls per second under a rate R needs W * R / X workers; it at most doubles per
        step so that a slow first answer does not spawn the whole cap at once.
        """
        rate, cap = growth.rate, growth.cap
        last_t, last_calls = self.clock(), growth.calls()
        while not pause(GROW_EVERY_S):
            now, calls = self.clock(), growth.calls()
            seen = (calls - last_calls) / max(now - last_t, 1e-9)
            last_t, last_calls = now, calls
            workers, waiting = len(futures), len(self.queue)
            if self.queue.halted or not waiting or workers >= cap or seen >= 0.9 * rate:
                continue
            need = math.ceil(workers * rate / max(seen, 1e-9) * 1.1)
            target = min(cap, 2 * workers, need, workers + waiting)
            futures.extend(pool.submit(self._work, strategy, None) for _ in range(target - workers))


def growth_for(
    client: CaptainDataClient,
    act: Action,
    max_workers: int | None,
    started: int,
    calls: Callable[[], int],
) -> Growth | None:
    """How an action's pool of `started` workers may grow; None: it does not.

    Account actions are pinned one worker per account (the API's rule), and an explicit
    `max_workers` is the caller's choice. Otherwise 16 workers make at most 16/L calls per
    second: with calls of L = 2 s that is 8/s, a fifth of a 40/s plan. So the pool may grow to
    what the plan's rate needs for calls of up to 10 s, and the runner adds workers only while
    the calls made fall short of that rate.

    Args:
        client: its pacing bucket gives the plan's rate.
        act: the action.
        max_workers: the caller's cap (set: no growth).
        started: the workers started.
        calls: the calls the run made so far (see `call_count.CallCount`).

    Example:
        >>> growth = growth_for(client, act, None, 16, lambda: count.calls)
    """
    if act.uses_account or max_workers is not None or client.bucket is None:
        return None
    rate = client.bucket.rate
    cap = max(started, min(MAX_GROWN_WORKERS, math.ceil(rate * 10)))
    return Growth(rate, cap, calls) if cap > started else None
