"""Cross-run claims on their own, over a real SQLite ledger: this run's `Claims` against another
run (a second `Ledger` on the same file). The sleep is injected and the clock that decides when
to give up is a fake one: nothing waits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from captaindata_dagster.engine.batch.claims import CLAIM_POLL_S, CLAIM_WAIT_S, Claims
from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.work_queue import WorkQueue
from captaindata_dagster.storage.ledger import BUSY, CLAIMED, Ledger
from tests.helpers import FakeClock

ACTION = "linkedin-extract-people"
LOG = logging.getLogger("tests.engine.claims")


def item(name: str) -> BatchItem:
    return BatchItem(index=0, key=f"key-{name}", input={"n": name}, label=name)


@pytest.fixture
def clock() -> FakeClock:
    """The clock (and sleeper) `Claims` measures how long another run holds an input with."""
    return FakeClock()


@pytest.fixture
def ledgers(tmp_path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    """This run's ledger and another run's, on one file."""
    with Ledger(tmp_path / "ledger.sqlite") as ours, Ledger(tmp_path / "ledger.sqlite") as theirs:
        yield ours, theirs


@pytest.fixture
def claims(ledgers, clock) -> Claims:
    return Claims(ledgers[0], ACTION, max_age=None, log=LOG, sleep=clock.sleep, clock=clock)


def test_without_a_ledger_every_claim_goes():
    clock = FakeClock()
    claims = Claims(None, ACTION, max_age=None, log=LOG, sleep=clock.sleep, clock=clock)
    queue: WorkQueue[BatchItem] = WorkQueue()
    verdict = claims.claim(item("a"), queue)
    assert (verdict.go, verdict.answer, verdict.gave_up) == (True, None, False)
    claims.release(item("a"))
    assert len(queue) == 0 and clock.waits == []


def test_a_free_input_is_claimed_until_released(claims, ledgers):
    _, theirs = ledgers
    a = item("a")
    assert claims.claim(a, WorkQueue()).go
    assert theirs.claim(ACTION, a.key).state == BUSY  # the other run does not pay for it
    claims.release(a)
    assert theirs.claim(ACTION, a.key).state == CLAIMED


def test_an_input_answered_by_another_run_meanwhile_takes_its_answer(claims, ledgers):
    _, theirs = ledgers
    a = item("a")
    theirs.save_result(ACTION, a.key, [{"full_name": "Ada"}], input=a.input, credits=1.0)
    verdict = claims.claim(a, WorkQueue())
    assert not verdict.go and not verdict.gave_up
    assert verdict.answer is not None and verdict.answer.results == [{"full_name": "Ada"}]


def test_an_error_another_run_recorded_during_this_one_is_its_answer(claims, ledgers):
    _, theirs = ledgers
    tried, account = item("tried"), item("account")
    theirs.save_error(ACTION, tried.key, error_label="LK_524", retryable=True)
    theirs.save_error(ACTION, account.key, error_label="LK_BAD_COOKIE", user_uid="u9")
    verdict = claims.claim(tried, WorkQueue())
    assert verdict.answer is not None and verdict.answer.error_label == "LK_524"
    # an account error says nothing of the input: this run tries it on its own accounts
    assert claims.claim(account, WorkQueue()).go


def test_an_input_held_elsewhere_goes_to_the_back_and_is_told_once(claims, ledgers, clock, caplog):
    _, theirs = ledgers
    a, b = item("a"), item("b")
    assert theirs.claim(ACTION, a.key).state == CLAIMED
    queue = WorkQueue([b])
    caplog.set_level(logging.INFO, LOG.name)
    verdict = claims.claim(a, queue)
    assert (verdict.go, verdict.answer, verdict.gave_up) == (False, None, False)
    assert queue.drain() == [b, a]
    assert clock.waits == []  # "b" is still to do: no reason to wait
    claims.claim(a, queue)
    told = [r.getMessage() for r in caplog.records]
    assert told == [
        f"{ACTION}: a (and maybe more) is being fetched by another run at the same time; "
        "this run takes its answer when it is done"
    ]


def test_when_only_inputs_held_elsewhere_are_left_the_worker_waits_a_poll(claims, ledgers, clock):
    _, theirs = ledgers
    a = item("a")
    theirs.claim(ACTION, a.key)
    queue: WorkQueue[BatchItem] = WorkQueue()
    claims.claim(a, queue)
    claims.claim(queue.drain()[0], queue)
    assert clock.waits == [CLAIM_POLL_S, CLAIM_POLL_S]
    theirs.release(ACTION, a.key)
    assert claims.claim(queue.drain()[0], queue).go
    assert clock.waits == [CLAIM_POLL_S, CLAIM_POLL_S]


def test_an_input_held_longer_than_the_wait_is_left_for_a_later_run(claims, ledgers, clock, caplog):
    _, theirs = ledgers
    a = item("a")
    theirs.claim(ACTION, a.key)
    queue: WorkQueue[BatchItem] = WorkQueue()
    first = clock.now
    claims.claim(a, queue)  # first seen now (and waits a poll: nothing else is left)
    clock.now = first + CLAIM_WAIT_S
    assert not claims.claim(queue.drain()[0], queue).gave_up  # not longer yet
    clock.now = first + CLAIM_WAIT_S + 0.001
    caplog.set_level(logging.WARNING, LOG.name)
    verdict = claims.claim(queue.drain()[0], queue)
    assert (verdict.go, verdict.answer, verdict.gave_up) == (False, None, True)
    assert len(queue) == 0  # not put back
    assert [r.getMessage() for r in caplog.records] == [
        f"{ACTION}: a is still being fetched by another run after 1800s; left for a later run"
    ]
    clock.now += 1.0
    assert not claims.claim(a, queue).gave_up  # seen anew: the wait starts again


def test_a_claim_that_goes_restarts_the_wait(claims, ledgers, clock):
    _, theirs = ledgers
    a = item("a")
    theirs.claim(ACTION, a.key)
    queue: WorkQueue[BatchItem] = WorkQueue()
    claims.claim(a, queue)
    theirs.release(ACTION, a.key)
    assert claims.claim(queue.drain()[0], queue).go  # claimed: no longer waited for
    claims.release(a)
    theirs.claim(ACTION, a.key)
    clock.now += CLAIM_WAIT_S + 1
    assert not claims.claim(a, queue).gave_up  # held again: a new wait


def test_forget_all_restarts_every_wait(claims, ledgers, clock):
    _, theirs = ledgers
    a, b = item("a"), item("b")
    theirs.claim(ACTION, a.key)
    theirs.claim(ACTION, b.key)
    queue: WorkQueue[BatchItem] = WorkQueue()
    claims.claim(a, queue)
    claims.claim(b, queue)
    claims.forget_all()
    clock.now += CLAIM_WAIT_S + 1
    assert not claims.claim(queue.drain()[0], queue).gave_up
    assert not claims.claim(queue.drain()[0], queue).gave_up
