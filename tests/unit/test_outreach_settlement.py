"""How a failed send settles (failed and retryable or not, unknown, sent), and the rate-limit bans
that end an account's or the whole run's sending."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from captaindata_dagster.api.errors import (
    AuthenticationError,
    CaptainDataError,
    ClientRequestError,
    ConnectionFailedError,
    CreditsExhaustedError,
    InvalidInputError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    UpstreamError,
    ValidationError,
)
from captaindata_dagster.api.labels import AMBIGUOUS_LABELS
from captaindata_dagster.engine.outreach.sending import RateLimitBans
from captaindata_dagster.engine.outreach.settlement import STOPPED_ERROR, settlement
from captaindata_dagster.storage.outreach_records import FAILED, SENT, UNKNOWN


def never_connected() -> TransportError:
    err = ConnectionFailedError("connection refused")
    err.maybe_sent = False  # the client knows no connection was ever opened
    return err


NOTHING_DONE_TRY_AGAIN = [
    RateLimitError("slow down", status_code=429),
    ClientRequestError("too many", status_code=429, error_label="LIMIT_REACHED"),
    never_connected(),
    AuthenticationError("bad key", status_code=401),
    CreditsExhaustedError("no credits", status_code=402),
    PermissionDeniedError("forbidden", status_code=403),
    NotFoundError("no such user", status_code=404),
    UpstreamError("bad cookie", status_code=424, error_label="LK_BAD_COOKIE"),
]
NOTHING_DONE_INPUT_REFUSED = [
    ValidationError("bad url", field="linkedin_profile_url"),
    InvalidInputError("bad input", status_code=400, error_scope="input"),
    InvalidInputError("bad parameter", status_code=400, error_scope="param"),
]
MAY_HAVE_BEEN_DONE = [
    RequestTimeoutError("read timed out"),
    ConnectionFailedError("dropped mid-answer"),  # maybe_sent stays True
    MalformedResponseError("cut", status_code=None),
    ServerError("boom", status_code=502),
    CaptainDataError("odd 5xx", status_code=599),
    CaptainDataError("no status at all"),  # not 2xx/4xx/5xx: assume the worst
    CaptainDataError("a redirect", status_code=302),
    # an upstream label meaning "timed out / gave up", even on a status that is otherwise clear
    *(UpstreamError("upstream gave up", status_code=424, error_label=label) for label in
      sorted(AMBIGUOUS_LABELS)),
    PermissionDeniedError("proxy gave up", status_code=403, error_label="PROXY_ERROR"),
]  # fmt: skip


@pytest.mark.parametrize("err", NOTHING_DONE_TRY_AGAIN, ids=repr)
def test_an_answer_saying_nothing_was_done_fails_and_is_retried_next_run(err):
    assert settlement(err) == (FAILED, True)


@pytest.mark.parametrize("err", NOTHING_DONE_INPUT_REFUSED, ids=repr)
def test_a_refused_input_fails_for_good(err):
    assert settlement(err) == (FAILED, False)


@pytest.mark.parametrize("err", MAY_HAVE_BEEN_DONE, ids=repr)
def test_what_may_hide_a_send_is_unknown_and_never_retried(err):
    assert settlement(err) == (UNKNOWN, False)


@pytest.mark.parametrize("status", [200, 201, 299])
def test_a_2xx_whose_body_was_unreadable_was_sent(status):
    assert settlement(MalformedResponseError("not json", status_code=status)) == (SENT, False)


def test_the_stopped_error_says_the_run_stopped_before_sending():
    assert STOPPED_ERROR["error_label"] == "RUN_STOPPED"
    assert STOPPED_ERROR["error_scope"] == "run"
    assert set(STOPPED_ERROR) == {
        "error_label",
        "error_scope",
        "error_ref",
        "status_code",
        "message",
    }


# ---------------------------------------------------------------- rate-limit bans


def long_limit(limit_type: str | None) -> RateLimitError:
    return RateLimitError("slow down", status_code=429, retry_after=3600.0, limit_type=limit_type)


def test_an_account_limit_bans_only_that_account():
    bans = RateLimitBans()
    assert not bans.banned("u1") and bans.detail is None
    detail, whole_run = bans.ban("u1", long_limit("account"))
    assert not whole_run
    assert bans.banned("u1") and not bans.banned("u2") and not bans.banned(None)
    assert bans.detail == detail


@pytest.mark.parametrize(
    ("account", "err"),
    [
        ("u1", long_limit("workspace")),
        ("u1", long_limit(None)),  # no X-RateLimit-Type: the workspace's, to be safe
        (None, long_limit("account")),  # the API picked the account: it cannot be avoided
        ("u1", ServerError("down", status_code=503, retry_after=3600.0)),
    ],
)
def test_any_other_long_limit_stops_the_whole_run(account, err):
    bans = RateLimitBans()
    detail, whole_run = bans.ban(account, err)
    assert whole_run
    assert bans.accounts == set() and bans.detail == detail


def test_a_ban_says_until_when_in_utc():
    bans = RateLimitBans()
    before = datetime.now(timezone.utc)
    detail, _ = bans.ban("u1", long_limit("account"))
    after = datetime.now(timezone.utc)
    head, _, until = detail.partition("rate-limited until ")
    assert head == "STATUS_429: "
    when = datetime.strptime(until[:16], "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
    hour = timedelta(seconds=3600)
    assert (before + hour).replace(second=0, microsecond=0) <= when <= after + hour
    assert until[16:] == (
        " UTC (Retry-After 3600 s, over max_retry_after_s); not sent, retry after that time"
    )
