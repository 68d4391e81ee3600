"""Pacing and error plumbing that need no server: a fake clock makes the bucket exact."""

from __future__ import annotations

import pickle
import threading

import pytest

from captaindata_dagster.api.errors import (
    RateLimitError,
    ServerError,
    UpstreamError,
    error_from_response,
)
from captaindata_dagster.api.pacing import AccountSlots, TokenBucket
from tests.helpers import FakeClock


def test_bucket_spaces_calls_one_interval_apart():
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(5):
        bucket.acquire()
        starts.append(clock.now)
    gaps = [round(b - a, 6) for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps == [0.1, 0.1, 0.1, 0.1]


def test_bucket_burst_then_steady_rate():
    clock = FakeClock()
    bucket = TokenBucket(10, burst=3, clock=clock, sleep=clock.sleep)
    waits = [bucket.reserve() for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3] == pytest.approx(0.1) and waits[4] == pytest.approx(0.2)


def test_bucket_pause_pushes_every_later_call():
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.pause(2.0)
    assert bucket.reserve() == pytest.approx(2.0)


def test_bucket_rejects_nonsense():
    with pytest.raises(ValueError, match="requests_per_second"):
        TokenBucket(0)


def test_account_slots_hold_one_at_a_time():
    slots = AccountSlots(1)
    inside = []
    peak = []
    lock = threading.Lock()

    def work():
        with slots.hold("acct"):
            with lock:
                inside.append(1)
                peak.append(len(inside))
            threading.Event().wait(0.01)
            with lock:
                inside.pop()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(peak) == 1 and len(peak) == 6


def test_errors_survive_pickling_with_their_fields():
    err = error_from_response(
        424,
        b'{"error_label":"LK_BAD_COOKIE","error_scope":"integ","error_ref":"ERR-1","message":"m"}',
    )
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is UpstreamError
    assert (back.error_label, back.error_scope, back.error_ref) == (
        "LK_BAD_COOKIE",
        "integ",
        "ERR-1",
    )
    assert not back.retryable


def test_secrets_are_masked_in_error_bodies():
    err = error_from_response(500, b"<html>bad key sk-123 here</html>", secrets=("sk-123",))
    assert isinstance(err, ServerError) and "sk-123" not in str(err) and "***" in err.message


def test_rate_limit_error_keeps_the_limit_type():
    err = error_from_response(429, b"{}", {"X-RateLimit-Type": "account"}, retry_after=3)
    assert isinstance(err, RateLimitError) and err.limit_type == "account" and err.retry_after == 3
