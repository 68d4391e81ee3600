"""The engine's shared pieces on their own: the work queue, the credit budget, the account pool
and the call count. Threads are ordered with events and barriers; nothing sleeps."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from captaindata_dagster.api import load_catalog
from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.api.stopping import Stop
from captaindata_dagster.engine.account_pool import AccountPool, worker_accounts
from captaindata_dagster.engine.budget import CreditBudget, most_per_result
from captaindata_dagster.engine.call_count import CallCount
from captaindata_dagster.engine.work_queue import WorkQueue

LOG = logging.getLogger("tests.engine.pieces")
JOIN_S = 10.0  # only bounds a hung test: nothing is asserted about time
WITH_ACCOUNT = "linkedin-extract-people"
NO_ACCOUNT = "googlemaps-extract-place"


def action(action_id: str) -> Action:
    act = load_catalog().get(action_id)
    assert act is not None
    return act


def client(**kw: Any) -> CaptainDataClient:
    return CaptainDataClient("test-key", "http://127.0.0.1:9", **kw)


class Noticed(Stop):
    """A `Stop` that tells when `take` first looks at it: `take` holds the queue's lock then, so
    whatever the test does with the queue next happens once `take` waits or returns."""

    def __init__(self) -> None:
        super().__init__()
        self.looked = threading.Event()

    def is_set(self) -> bool:
        self.looked.set()
        return super().is_set()


def take_in_thread(queue: WorkQueue[str]) -> tuple[threading.Thread, list[str | None]]:
    """Another worker's `take`, started once the queue's lock is held by it (see `Noticed`)."""
    got: list[str | None] = []
    stop = Noticed()
    thread = threading.Thread(target=lambda: got.append(queue.take(stop)))
    thread.start()
    assert stop.looked.wait(JOIN_S)
    return thread, got


# ---------------------------------------------------------------- work queue


def test_queue_hands_out_in_order_then_nothing():
    queue = WorkQueue(["a", "b"])
    stop = Stop()
    assert len(queue) == 2
    assert [queue.take(stop), queue.take(stop), queue.take(stop)] == ["a", "b", None]


def test_put_front_is_taken_next_and_put_back_after_the_others():
    queue = WorkQueue(["a", "b", "c"])
    stop = Stop()
    assert queue.take(stop) == "a"
    queue.put_back("a")
    assert queue.take(stop) == "b"
    queue.put_front("b")
    queue.extend(["d"])
    assert queue.drain() == ["b", "c", "a", "d"]
    assert len(queue) == 0


def test_halted_or_stopped_queue_hands_out_nothing():
    queue = WorkQueue(["a", "b"])
    stop = Stop()
    stop.set()
    assert queue.take(stop) is None
    queue.halt()
    assert queue.halted
    assert queue.take(Stop()) is None
    assert len(queue) == 2  # halting keeps the inputs: the caller reports them


def test_halt_and_drain_returns_what_was_left():
    queue = WorkQueue(["a", "b", "c"])
    assert queue.take(Stop()) == "a"
    assert queue.halt_and_drain() == ["b", "c"]
    assert queue.halted and len(queue) == 0


def test_without_wait_for_returns_an_empty_queue_ends_the_worker_at_once():
    queue = WorkQueue(["a"])
    assert queue.take(Stop()) == "a"  # in flight: it may come back, but nobody waits for it
    thread, got = take_in_thread(queue)
    thread.join(JOIN_S)
    assert got == [None]
    queue.put_front("a")
    assert queue.take(Stop()) == "a"


def test_with_wait_for_returns_a_worker_waits_for_an_input_in_flight():
    queue = WorkQueue(["a"], wait_for_returns=True)
    assert queue.take(Stop()) == "a"
    thread, got = take_in_thread(queue)  # waiting: "a" may come back
    queue.put_front("a")  # its account failed: another worker takes it
    queue.finished()
    thread.join(JOIN_S)
    assert got == ["a"]


def test_a_worker_waiting_for_returns_ends_when_the_input_is_done_or_the_queue_halts():
    queue = WorkQueue(["a", "b"], wait_for_returns=True)
    stop = Stop()
    assert (queue.take(stop), queue.take(stop)) == ("a", "b")
    thread, got = take_in_thread(queue)
    queue.finished()  # "a" answered: "b" may still come back
    queue.finished()  # "b" answered: nothing is in flight
    thread.join(JOIN_S)
    assert got == [None]

    queue = WorkQueue(["a"], wait_for_returns=True)
    assert queue.take(Stop()) == "a"
    thread, got = take_in_thread(queue)
    queue.halt()
    thread.join(JOIN_S)
    assert got == [None]


# ---------------------------------------------------------------- credit budget


def test_budget_refuses_the_call_that_could_pass_the_limit_and_says_so_once(caplog):
    budget = CreditBudget(2.0, LOG, "test-action")
    caplog.set_level(logging.INFO, LOG.name)
    assert budget.reserve(1.0) and budget.reserve(1.0)
    assert not budget.reserve(0.5)
    assert not budget.reserve(0.5)
    assert budget.exhausted
    assert (budget.reserved, budget.spent) == (2.0, 0.0)
    told = [r.getMessage() for r in caplog.records]
    assert told == [
        "test-action: budget of 2 credits reached (0 spent, 2 in flight); no new call starts"
    ]


def test_budget_settle_frees_the_reservation_and_counts_spent_and_at_risk():
    budget = CreditBudget(3.0, LOG, "test-action")
    assert budget.reserve(1.5)
    budget.settle(1.5, spent=1.0, at_risk=0.5)
    assert (budget.reserved, budget.spent, budget.at_risk) == (0.0, 1.0, 0.5)
    assert budget.reserve(1.5)  # 1.0 spent + 0.5 at risk + 1.5 = 3.0: fills it exactly
    assert not budget.reserve(0.01)  # credits at risk count as spent


def test_budget_float_sums_do_not_refuse_the_call_that_fills_it():
    budget = CreditBudget(0.3, LOG, "test-action")
    assert all(budget.reserve(0.1) for _ in range(3))  # 0.1 + 0.1 + 0.1 > 0.3 in floats
    assert not budget.reserve(0.1)


def test_budget_without_a_limit_counts_everything():
    budget = CreditBudget(None, LOG, "test-action")
    assert all(budget.reserve(100.0) for _ in range(5))
    budget.settle(100.0, spent=100.0, at_risk=2.0)
    assert (budget.reserved, budget.spent, budget.at_risk) == (400.0, 100.0, 2.0)
    assert not budget.exhausted


def test_budget_reservations_from_many_threads_never_pass_the_limit():
    budget = CreditBudget(50.0, LOG, "test-action")
    start = threading.Barrier(8, timeout=JOIN_S)
    granted: list[int] = []
    lock = threading.Lock()

    def reserve_many() -> None:
        start.wait()
        mine = sum(budget.reserve(1.0) for _ in range(20))
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=reserve_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_S)
    assert sum(granted) == 50 and budget.reserved == 50.0


@pytest.mark.parametrize(
    ("action_id", "form", "mode", "most"),
    [
        (WITH_ACCOUNT, "identity_ids", "managed", 1.5),  # managed identities: 1.5x
        (WITH_ACCOUNT, "identity_ids", None, 1.0),
        (WITH_ACCOUNT, "integration_users", "managed", 1.0),
        (NO_ACCOUNT, "identity_ids", "managed", 1.0),  # no account, no identity
    ],
)
def test_most_per_result(action_id: str, form: Any, mode: str | None, most: float):
    paying = client(account_form=form, identity_mode=mode)
    assert most_per_result(paying, action(action_id)) == most


# ---------------------------------------------------------------- account pool


def test_worker_accounts_one_per_distinct_user_capped_by_max_workers():
    act = action(WITH_ACCOUNT)
    users = client(integration_users=["u1", "u2"])
    assert worker_accounts(users, act, ["u1", "u1", "u2"], None, todo=1) == ["u1", "u2"]
    assert worker_accounts(users, act, ["u3", "u4", "u5"], 2, todo=9) == ["u3", "u4"]
    assert worker_accounts(users, act, None, None, todo=9) == ["u1", "u2"]  # the client's
    assert worker_accounts(client(), act, None, None, todo=9) == [None]  # the API picks


@pytest.mark.parametrize("users", ["u1", ["u1", ""], ["u1", None]])
def test_worker_accounts_refuse_what_is_not_a_list_of_uids(users: Any):
    with pytest.raises(ValidationError) as raised:
        worker_accounts(client(), action(WITH_ACCOUNT), users, None, todo=1)
    assert raised.value.params == {"field": "integration_users"}


def test_worker_accounts_without_an_account_are_as_many_nones_as_useful():
    act = action(NO_ACCOUNT)
    assert worker_accounts(client(), act, ["u1"], None, todo=100) == [None] * 16
    assert worker_accounts(client(), act, None, 4, todo=100) == [None] * 4
    assert worker_accounts(client(), act, None, None, todo=3) == [None] * 3
    assert worker_accounts(client(), act, None, None, todo=0) == [None]


def test_only_an_account_label_on_a_pinned_account_retires_it():
    pool = AccountPool(action(WITH_ACCOUNT), ["u1"], started=1)
    assert pool.retires("LK_BAD_COOKIE", "u1")
    assert pool.retires("NOT_CONNECTED", "u1")
    assert not pool.retires("LK_BAD_COOKIE", None)  # the API picked: the next call may differ
    assert pool.retires("NO_VALID_ACCOUNT_CONFIGURED", None)  # no usable account at all
    assert not pool.retires("STATUS_429", "u1")
    assert not pool.retires(None, "u1")
    without = AccountPool(action(NO_ACCOUNT), [None], started=1)
    assert not without.retires("LK_BAD_COOKIE", None)
    assert not without.retires("NO_VALID_ACCOUNT_CONFIGURED", None)


def test_retiring_moves_workers_to_spares_until_none_is_left():
    pool = AccountPool(action(WITH_ACCOUNT), ["u1", "u2", "u3", "u4"], started=2)
    assert pool.started == ["u1", "u2"]
    seen = []
    for uid in ["u1", "u2", "u3", "u4"]:
        with pool.retiring(uid) as gone:
            seen.append((gone.left, gone.moved, gone.retired))
    assert seen == [
        (3, "u3", ["u1"]),
        (2, "u4", ["u1", "u2"]),
        (1, None, ["u1", "u2", "u3"]),
        (0, None, ["u1", "u2", "u3", "u4"]),
    ]
    assert pool.retired == ["u1", "u2", "u3", "u4"]


def test_retiring_the_workspace_lists_no_account():
    pool = AccountPool(action(WITH_ACCOUNT), ["u1", "u2"], started=1)
    with pool.retiring(None) as gone:
        assert (gone.left, gone.moved, gone.retired) == (1, "u2", [])
    assert pool.retired == []


def test_retiring_holds_the_pool_while_its_block_runs():
    pool = AccountPool(action(WITH_ACCOUNT), ["u1", "u2"], started=2)
    read: list[list[str]] = []
    with pool.retiring("u1"):
        reader = threading.Thread(target=lambda: read.append(pool.retired))
        reader.start()
        reader.join(0.1)  # bounded: it must still be waiting for the pool
        assert reader.is_alive() and read == []
    reader.join(JOIN_S)
    assert read == [["u1"]]


# ---------------------------------------------------------------- call count


def test_call_count_counts_attempts_retries_and_rate_limits():
    calls = CallCount()
    calls.count(attempts=3, rate_limited=2, latency=0.5)
    calls.count(attempts=1, rate_limited=0)
    calls.count(attempts=0, rate_limited=0)  # refused before sending: no retry either
    assert (calls.calls, calls.retries, calls.rate_limited) == (4, 2, 2)
    assert calls.latencies == [0.5]


def test_call_latency_percentiles_are_nearest_rank():
    calls = CallCount()
    assert calls.latency(50) is None
    for ms in [900, 100, 500, 300, 700, 200, 400, 600, 800, 1000]:
        calls.count(1, 0, ms / 1000)
    assert (calls.latency(0), calls.latency(50), calls.latency(95)) == (0.1, 0.5, 1.0)
    assert (calls.latency(10), calls.latency(11), calls.latency(100)) == (0.1, 0.2, 1.0)


def test_call_count_from_many_threads_loses_nothing():
    calls = CallCount()
    start = threading.Barrier(4, timeout=JOIN_S)

    def count_many() -> None:
        start.wait()
        for _ in range(500):
            calls.count(2, 1, 0.1)

    threads = [threading.Thread(target=count_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_S)
    assert (calls.calls, calls.retries, calls.rate_limited) == (4000, 2000, 2000)
    assert len(calls.latencies) == 2000
