"""Retry by class, on a fake transport with an injected clock and sleeper (no server, no sleep).

Each test states the exact requests sent and the exact waits asked for: a 429 waits its
`Retry-After`, a 5xx backs off within bounds, a long ban is not waited out, a 4xx is never
retried, and an action with side effects is never re-sent once it may have reached the API.
"""

from __future__ import annotations

import email.utils
import random

import pytest
import requests

from captaindata_dagster.api import (
    InvalidInputError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)
from captaindata_dagster.api.retries import Backoff, is_long_ban, parse_retry_after
from captaindata_dagster.simulator.data import sample_input
from tests.helpers import FakeClock
from tests.unit.test_client_transport import (
    CONNECT,
    PROFILE,
    Canned,
    FakeApi,
    action,
    error,
    make_client,
    ok,
    result_of,
    sent_json,
)

PROFILE_INPUT = sample_input(PROFILE)
CONNECT_INPUT = sample_input(CONNECT)


def equal_jitter_bounds(attempts: int, base_s: float, max_s: float) -> tuple[float, float]:
    cap = min(max_s, base_s * 2 ** (attempts - 1))
    return cap / 2, cap


# ---------------------------------------------------------------------------------------------
# 429


def test_a_429_waits_exactly_its_retry_after_through_the_injected_sleeper():
    api = FakeApi([error(429, "LIMIT_REACHED", {"Retry-After": "3"}), ok(result_of(PROFILE))])
    clock = FakeClock()
    res = make_client(api, clock).run_action(PROFILE, PROFILE_INPUT)
    assert clock.waits == [3.0]
    assert len(api.sent) == 2 and api.urls[0] == api.urls[1]
    assert res.attempts == 2 and res.rate_limited == 1
    assert res.elapsed_s == 3.0  # measured on the injected clock


@pytest.mark.parametrize(
    ("limit_type", "other_thread_waits"),
    [(None, 2.5), ("account", 0.25)],  # the plan's limit pauses everyone; an account's, not
)
def test_a_plan_wide_429_pauses_the_shared_pace(limit_type, other_thread_waits):
    headers = {"Retry-After": "2.5"} | ({"X-RateLimit-Type": limit_type} if limit_type else {})
    api = FakeApi([error(429, "LIMIT_REACHED", headers), ok(result_of(PROFILE))])
    clock = FakeClock()
    other: list[float] = []  # what another thread sharing the client waits, asked as we wait

    def sleep(seconds: float) -> None:
        if not other:
            other.append(client.bucket.reserve() if client.bucket else -1.0)
        clock.sleep(seconds)

    client = make_client(api, clock, sleep=sleep, requests_per_second=4, pacing_margin=0.0)
    client.run_action(PROFILE, PROFILE_INPUT)
    assert other == [other_thread_waits]
    # the 429's wait, then (when the pace was paused) this call queues behind the other's slot
    assert clock.waits == ([2.5, 0.25] if limit_type is None else [2.5])


def test_a_429_with_an_http_date_waits_until_that_date():
    now = 1_700_000_000.0
    headers = {"Retry-After": email.utils.formatdate(now + 4, usegmt=True)}
    assert parse_retry_after(headers, now=lambda: now) == 4.0


def test_a_429_naming_no_wait_backs_off_and_one_naming_a_wait_waits_it():
    api = FakeApi([error(429, "LIMIT_REACHED"), error(429, "LIMIT_REACHED", {"Retry-After": "90"})])
    api.answers.append(ok(result_of(PROFILE)))
    clock = FakeClock()
    client = make_client(api, clock, max_retry_after_s=120.0, backoff_base_s=2.0)
    res = client.run_action(PROFILE, PROFILE_INPUT)
    first, second = clock.waits
    assert 1.0 <= first <= 2.0  # a backoff, never at once
    assert second == 90.0  # under max_retry_after_s: waited out in full
    assert res.attempts == 3 and res.rate_limited == 2


@pytest.mark.parametrize("value", ["nan", "-5", "inf", "soon"])
def test_an_unusable_retry_after_counts_as_absent(value):
    assert parse_retry_after({"Retry-After": value}) is None


def test_x_ratelimit_reset_is_read_as_seconds_or_an_epoch():
    assert parse_retry_after({"X-RateLimit-Reset": "12"}) == 12.0
    assert parse_retry_after({"X-RateLimit-Reset": "1700000030"}, now=lambda: 1_700_000_000) == 30.0


# ---------------------------------------------------------------------------------------------
# long bans


def test_a_long_ban_is_not_waited_out():
    api = FakeApi([error(429, "LIMIT_REACHED", {"Retry-After": "86400"})])
    clock = FakeClock()
    client = make_client(api, clock, max_retry_after_s=120.0)
    with pytest.raises(RateLimitError) as caught:
        client.run_action(PROFILE, PROFILE_INPUT)
    assert clock.waits == [] and len(api.sent) == 1
    assert caught.value.retry_after == 86400.0 and caught.value.rate_limited == 1
    assert is_long_ban(caught.value, client.max_retry_after_s)


def test_a_503_naming_a_long_wait_is_not_waited_out_but_a_short_one_is():
    api = FakeApi([error(503, "SERVICE_UNAVAILABLE", {"Retry-After": "3600"})])
    clock = FakeClock()
    with pytest.raises(ServerError) as caught:
        make_client(api, clock).run_action(PROFILE, PROFILE_INPUT)
    assert clock.waits == [] and len(api.sent) == 1 and caught.value.status_code == 503

    api = FakeApi([error(503, "SERVICE_UNAVAILABLE", {"Retry-After": "7"}), ok(result_of(PROFILE))])
    make_client(api, clock).run_action(PROFILE, PROFILE_INPUT)
    assert clock.waits == [7.0] and len(api.sent) == 2


def test_retry_after_on_other_statuses_is_not_a_wait():
    api = FakeApi([error(500, "SERVER_ERROR", {"Retry-After": "3600"}), ok(result_of(PROFILE))])
    clock = FakeClock()
    make_client(api, clock, backoff_base_s=1.0).run_action(PROFILE, PROFILE_INPUT)
    (wait,) = clock.waits
    assert 0.5 <= wait <= 1.0  # a backoff: a 500's Retry-After is not a ban


# ---------------------------------------------------------------------------------------------
# 5xx backoff


def test_5xx_backoff_grows_within_bounds_then_gives_up():
    api = FakeApi([error(500, "SERVER_ERROR")] * 5)
    clock = FakeClock()
    client = make_client(api, clock, max_retries=4, backoff_base_s=1.0, backoff_max_s=3.0)
    with pytest.raises(ServerError) as caught:
        client.run_action(PROFILE, PROFILE_INPUT)
    assert len(api.sent) == 5 and caught.value.attempts == 5
    assert len(clock.waits) == 4
    for attempt, wait in enumerate(clock.waits, start=1):
        low, high = equal_jitter_bounds(attempt, 1.0, 3.0)
        assert low <= wait <= high, (attempt, wait)
    assert clock.waits[-1] <= 3.0  # never over backoff_max_s


def test_5xx_then_success_returns_the_answer_with_its_attempts():
    api = FakeApi([error(502, "SERVER_ERROR"), error(504, "SERVER_ERROR"), ok(result_of(PROFILE))])
    clock = FakeClock()
    res = make_client(api, clock, backoff_base_s=0.5).run_action(PROFILE, PROFILE_INPUT)
    assert res.attempts == 3 and res.retries == 2 and len(api.sent) == 3
    assert len(clock.waits) == 2 and res.elapsed_s == pytest.approx(sum(clock.waits))


def test_backoff_is_equal_jitter_and_reproducible_from_its_random_source():
    a, b = Backoff(random.Random(3)), Backoff(random.Random(3))
    waits = [a.delay(n, base_s=0.5, max_s=4.0) for n in range(1, 8)]
    assert waits == [b.delay(n, base_s=0.5, max_s=4.0) for n in range(1, 8)]
    for n, wait in enumerate(waits, start=1):
        low, high = equal_jitter_bounds(n, 0.5, 4.0)
        assert low <= wait <= high


def test_a_4xx_is_never_retried():
    api = FakeApi([error(400, "INVALID_INPUT")])
    clock = FakeClock()
    with pytest.raises(InvalidInputError) as caught:
        make_client(api, clock).run_action(PROFILE, PROFILE_INPUT)
    assert len(api.sent) == 1 and clock.waits == [] and caught.value.attempts == 1


# ---------------------------------------------------------------------------------------------
# what may have been sent (and billed)


def test_a_side_effect_action_is_not_re_sent_after_a_maybe_sent_timeout():
    api = FakeApi([requests.exceptions.ReadTimeout("read timed out"), ok(result_of(CONNECT))])
    clock = FakeClock()
    with pytest.raises(RequestTimeoutError) as caught:
        make_client(api, clock).run_action(CONNECT, CONNECT_INPUT)
    assert len(api.sent) == 1 and clock.waits == []
    assert caught.value.maybe_sent is True
    assert caught.value.credits_at_risk == action(CONNECT).credits_for(1)
    assert len(api.answers) == 1  # the success was never asked for


def test_a_side_effect_action_is_not_re_sent_after_a_5xx():
    api = FakeApi([error(500, "SERVER_ERROR"), ok(result_of(CONNECT))])
    clock = FakeClock()
    with pytest.raises(ServerError):
        make_client(api, clock).run_action(CONNECT, CONNECT_INPUT)
    assert len(api.sent) == 1 and clock.waits == []


def test_a_side_effect_action_is_retried_when_nothing_can_have_been_done():
    never_connected = requests.exceptions.ConnectTimeout("connect timed out")
    limited = error(429, "LIMIT_REACHED", {"Retry-After": "1"})
    api = FakeApi([never_connected, limited, ok(result_of(CONNECT))])
    clock = FakeClock()
    res = make_client(api, clock, backoff_base_s=0.5).run_action(CONNECT, CONNECT_INPUT)
    assert len(api.sent) == 3 and res.attempts == 3 and res.rate_limited == 1
    assert len(clock.waits) == 2 and 0.25 <= clock.waits[0] <= 0.5 and clock.waits[1] == 1.0
    assert res.credits_at_risk == 0.0  # neither failure can have been billed
    body = sent_json(api.sent[-1])
    assert body["input"]["linkedin_profile_url"] == CONNECT_INPUT["linkedin_profile_url"]


def test_a_maybe_billed_failure_is_re_sent_at_most_max_billed_retries_times():
    timeouts = [requests.exceptions.ReadTimeout("read timed out") for _ in range(3)]
    api = FakeApi([*timeouts, ok(result_of(PROFILE))])
    clock = FakeClock()
    with pytest.raises(RequestTimeoutError) as caught:
        make_client(api, clock, max_billed_retries=1).run_action(PROFILE, PROFILE_INPUT)
    assert len(api.sent) == 2 and len(clock.waits) == 1
    assert caught.value.credits_at_risk == 2 * action(PROFILE).credits_for(1)


def test_an_unusable_2xx_is_counted_at_risk_on_the_answer_that_follows():
    broken = Canned(200, {"Content-Type": "application/json"}, b"{not json")
    api = FakeApi([broken, ok(result_of(PROFILE))])
    clock = FakeClock()
    res = make_client(api, clock).run_action(PROFILE, PROFILE_INPUT)
    assert len(api.sent) == 2 and res.attempts == 2
    assert res.credits_at_risk == action(PROFILE).credits_for(1)


def test_only_a_rate_limit_on_the_account_is_the_accounts_own():
    from captaindata_dagster.api.errors import RateLimitError, ServerError
    from captaindata_dagster.api.retries import is_account_limit

    assert is_account_limit(RateLimitError("slow", limit_type="account"))
    assert not is_account_limit(RateLimitError("slow", limit_type="workspace"))
    assert not is_account_limit(RateLimitError("slow"))
    assert not is_account_limit(ServerError("busy", status_code=503))
