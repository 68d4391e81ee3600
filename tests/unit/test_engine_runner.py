"""The runner on its own: workers over a queue, what a strategy's `Next` does, failures, stopping,
and growing the pool under the plan's rate (driven by a fake clock, no real waiting)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from captaindata_dagster.api import load_catalog
from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.stopping import CallStopped, check
from captaindata_dagster.engine.runner import (
    GROW_EVERY_S,
    WORKER_ENDS,
    Growth,
    Next,
    Runner,
    growth_for,
)
from captaindata_dagster.engine.work_queue import WorkQueue
from tests.helpers import FakeClock

LOG = logging.getLogger("tests.engine.runner")
JOIN_S = 10.0  # only bounds a hung test: nothing is asserted about time


def action(action_id: str) -> Action:
    act = load_catalog().get(action_id)
    assert act is not None
    return act


class Recorder:
    """A strategy that records (item, account, thread) and answers with `decide(item, account)`."""

    def __init__(self, decide: Callable[[str, str | None], Next] | None = None) -> None:
        self.decide = decide or (lambda _item, account: Next(account))
        self.handled: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()

    def handle(self, item: str, account: str | None) -> Next:
        with self._lock:
            self.handled.append((item, account))
        return self.decide(item, account)


def runner_over(items: list[str], **queue_kw: Any) -> Runner[str]:
    return Runner(WorkQueue(items, **queue_kw), "test-action", LOG, grace_s=1.0)


# ---------------------------------------------------------------- workers and Next


def test_each_worker_is_pinned_to_its_account_and_each_input_handled_once():
    both_busy = threading.Barrier(2, timeout=JOIN_S)  # each worker must hold one input at once

    def decide(item: str, account: str | None) -> Next:
        if item in ("a", "b"):
            both_busy.wait()
        return Next(account)

    strategy = Recorder(decide)
    runner = runner_over(["a", "b", "c", "d"])
    runner.run(strategy, ["u1", "u2"])
    assert runner.failure is None
    assert sorted(item for item, _ in strategy.handled) == ["a", "b", "c", "d"]
    first_two = {account for item, account in strategy.handled if item in ("a", "b")}
    assert first_two == {"u1", "u2"}
    assert len(runner.queue) == 0


def test_next_moves_the_worker_to_the_account_it_names():
    strategy = Recorder(lambda item, account: Next("spare" if item == "a" else account))
    runner = runner_over(["a", "b", "c"])
    runner.run(strategy, ["u1"])
    assert strategy.handled == [("a", "u1"), ("b", "spare"), ("c", "spare")]


def test_worker_ends_leaves_the_other_inputs_in_the_queue():
    strategy = Recorder(lambda _item, _account: WORKER_ENDS)
    runner = runner_over(["a", "b", "c"])
    runner.run(strategy, ["u1"])
    assert strategy.handled == [("a", "u1")]
    assert runner.failure is None and not runner.queue.halted
    assert runner.queue.drain() == ["b", "c"]


def test_an_input_put_back_is_taken_by_the_worker_of_another_account():
    """The worker whose account fails gives its input back and ends; the other worker, waiting
    for returns, takes it whatever order the threads ran in."""
    runner = runner_over(["x"], wait_for_returns=True)

    def decide(item: str, account: str | None) -> Next:
        if len(strategy.handled) == 1:  # the first attempt: this account fails
            runner.queue.put_front(item)
            return WORKER_ENDS
        return Next(account)

    strategy = Recorder(decide)
    runner.run(strategy, ["u1", "u2"])
    assert [item for item, _ in strategy.handled] == ["x", "x"]
    assert {account for _, account in strategy.handled} == {"u1", "u2"}
    assert runner.failure is None


# ---------------------------------------------------------------- failure and stopping


def test_a_strategy_that_raises_stops_the_run_and_its_error_is_kept():
    boom = RuntimeError("the ledger is gone")

    def decide(item: str, account: str | None) -> Next:
        if item == "a":
            raise boom
        return Next(account)

    strategy = Recorder(decide)
    runner = runner_over(["a", "b", "c"])
    runner.run(strategy, ["u1"])
    assert runner.failure is boom
    assert runner.queue.halted
    assert strategy.handled == [("a", "u1")]
    assert runner.queue.drain() == ["b", "c"]  # halted, not drained: the caller reports them


def test_fail_keeps_the_first_error_and_halts_the_queue():
    runner = runner_over(["a"])
    first, second = ValueError("first"), ValueError("second")
    runner.fail(first)
    runner.fail(second)
    assert runner.failure is first
    assert runner.queue.halted


def test_a_stopped_runner_hands_out_nothing():
    strategy = Recorder()
    runner = runner_over(["a", "b"])
    runner.stop.set()
    runner.run(strategy, ["u1", "u2"])
    assert strategy.handled == []
    assert len(runner.queue) == 2


def test_once_stopped_a_worker_makes_no_new_call_and_takes_nothing_more():
    """The worker thread is bound to the run's `Stop`: the client's `check()` refuses to send."""
    refused: list[bool] = []

    def decide(item: str, account: str | None) -> Next:
        runner.stop.set()
        try:
            check()
        except CallStopped:
            refused.append(True)
        return Next(account)

    strategy = Recorder(decide)
    runner = runner_over(["a", "b", "c"])
    runner.run(strategy, ["u1"])
    assert strategy.handled == [("a", "u1")]
    assert refused == [True]
    check()  # the main thread is not bound: nothing is refused here


# ---------------------------------------------------------------- growing the pool


class RecordingPool(ThreadPoolExecutor):
    """Records the workers `_grow` adds instead of starting them."""

    def __init__(self) -> None:
        super().__init__(1)
        self.added: list[tuple[Any, ...]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.added.append(args)
        done: Future[Any] = Future()
        done.set_result(None)
        return done


def grow(
    queue: WorkQueue[str], workers: int, rate: float, cap: int, calls_per_step: list[int]
) -> list[int]:
    """Run `_grow` for one step per entry of `calls_per_step` (the calls made in that step, one
    `GROW_EVERY_S` of the fake clock each); returns the pool's size before each step and at the
    end."""
    clock = FakeClock()
    runner: Runner[str] = Runner(queue, "test-action", LOG, grace_s=1.0, clock=clock)
    pool = RecordingPool()
    futures: list[Future[None]] = [Future() for _ in range(workers)]
    made = [5000]  # calls made before growing starts do not count as this step's
    steps = iter(calls_per_step)
    sizes: list[int] = []

    def pause(seconds: float) -> bool:
        assert seconds == GROW_EVERY_S
        sizes.append(len(futures))
        step = next(steps, None)
        if step is None:
            return True  # every worker ended
        clock.sleep(seconds)
        made[0] += step
        return False

    runner._grow(Recorder(), pool, futures, Growth(rate, cap, lambda: made[0]), pause)
    pool.shutdown()
    assert len(pool.added) == len(futures) - workers
    assert all(args[1:] == (None,) for args in pool.added)  # a grown worker is pinned to none
    return sizes


def test_growth_at_most_doubles_per_step_up_to_the_cap():
    # 1 call per 0.5 s: 2/s against 10/s; Little's law asks for far more, doubling caps it
    assert grow(WorkQueue(["i"] * 100), 2, 10.0, 20, [1] * 6) == [2, 4, 8, 16, 20, 20, 20]


def test_growth_asks_for_what_the_rate_needs_with_a_tenth_more():
    # 4 workers make 8/s against 10/s: ceil(4 * 10 / 8 * 1.1) = 6; then 6 make 8/s: 9;
    # then 10/s is above 0.9 * rate: no more
    assert grow(WorkQueue(["i"] * 100), 4, 10.0, 64, [4, 4, 5]) == [4, 6, 9, 9]


def test_a_growth_step_adds_no_more_workers_than_inputs_waiting():
    assert grow(WorkQueue(["i"]), 2, 10.0, 64, [1]) == [2, 3]
    assert grow(WorkQueue(["i", "j", "k"]), 2, 10.0, 64, [1]) == [2, 4]  # doubling bounds it


def test_no_growth_on_a_halted_or_empty_queue_or_near_the_rate():
    halted = WorkQueue(["i"] * 100)
    halted.halt()
    assert grow(halted, 2, 10.0, 64, [1, 1]) == [2, 2, 2]
    assert grow(WorkQueue([]), 2, 10.0, 64, [1, 1]) == [2, 2, 2]
    assert grow(WorkQueue(["i"] * 100), 2, 10.0, 64, [5, 5]) == [2, 2, 2]  # 10/s: at the rate


def client(**kw: Any) -> CaptainDataClient:
    return CaptainDataClient("test-key", "http://127.0.0.1:9", **kw)


def test_growth_for_an_action_without_an_account_on_a_paced_client():
    act = action("googlemaps-extract-place")
    count = [0]
    growth = growth_for(client(requests_per_second=40.0), act, None, 16, lambda: count[0])
    assert growth is not None
    assert growth.rate == pytest.approx(40.0 * 0.95)  # the bucket's rate, 5 % under the plan
    assert growth.cap == 256  # min(MAX_GROWN_WORKERS, ceil(38 * 10))
    count[0] = 7
    assert growth.calls() == 7


@pytest.mark.parametrize(
    ("action_id", "rps", "max_workers"),
    [
        ("linkedin-extract-people", 40.0, None),  # pinned one worker per account
        ("googlemaps-extract-place", 40.0, 8),  # the caller chose the workers
        ("googlemaps-extract-place", None, None),  # no pacing: no rate to grow to
        ("googlemaps-extract-place", 1.0, None),  # 10 s of calls at 0.95/s: 16 are enough
    ],
)
def test_no_growth_for(action_id: str, rps: float | None, max_workers: int | None):
    paced = client(requests_per_second=rps)
    assert growth_for(paced, action(action_id), max_workers, 16, lambda: 0) is None
