"""The side-effect strategy: reserve the record, make the call, settle the record; one profile.

The record keyed by (campaign, action, person) is committed `pending` *before* the call, under the
account's daily cap counted in the same transaction, and settled after it: a run that dies mid-call
leaves `pending` (to review), never a second send. A lost answer settles `unknown` (see
`settlement`), a refusal `failed`. A 401/402/403 or an unusable store stops the run; a rate limit
longer than a step waits stops its account (an account limit) or the run (a workspace limit).

`SendStrategy` plugs into the engine's `Runner` (one worker per account, one call at a time each);
the run's "send nothing more" is the work queue's `halted`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import SYSTEMIC_ERRORS, CaptainDataError
from captaindata_dagster.api.retries import is_account_limit, is_long_ban
from captaindata_dagster.api.stopping import CallStopped
from captaindata_dagster.engine.call_count import CallCount
from captaindata_dagster.engine.outreach.results import STOPPED
from captaindata_dagster.engine.outreach.rows import OutreachRows
from captaindata_dagster.engine.outreach.settings import profile_field
from captaindata_dagster.engine.outreach.settlement import STOPPED_ERROR, settlement
from captaindata_dagster.engine.runner import WORKER_ENDS, Next, Runner
from captaindata_dagster.storage.outreach_records import (
    FAILED,
    OVER_CAP,
    SENT,
    TAKEN,
    UNKNOWN,
    OutreachStore,
)


@dataclass(frozen=True)
class SendJob:
    """What every send of a run shares: the action, campaign, parameters, cap, store and client."""

    act: Action
    campaign: str
    params: dict[str, Any]
    cap: int
    store: OutreachStore
    client: CaptainDataClient
    run_id: str | None
    log: Any

    @property
    def message(self) -> str | None:
        """The message (or invitation note) sent, as recorded."""
        value = self.params.get("message")
        return None if value is None else str(value)


class RateLimitBans:
    """Rate limits longer than a step waits: the accounts they ended, and what to tell the
    profiles left unsent (the label and the time to retry); `detail` is None without a ban."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accounts: set[str | None] = set()
        self.detail: str | None = None

    def banned(self, account: str | None) -> bool:
        with self._lock:
            return account in self.accounts

    def ban(self, account: str | None, err: CaptainDataError) -> tuple[str, bool]:
        """Record the ban of `err`: its detail, and True when it is the whole run's (a workspace
        limit), False when only `account`'s (an account limit)."""
        until = datetime.now(timezone.utc) + timedelta(seconds=float(err.retry_after or 0.0))
        detail = (
            f"{err.error_label}: rate-limited until {until:%Y-%m-%d %H:%M} UTC (Retry-After "
            f"{err.retry_after:g} s, over max_retry_after_s); not sent, retry after that time"
        )
        with self._lock:
            self.detail = detail
            if is_account_limit(err) and account is not None:
                self.accounts.add(account)
                return detail, False
            return detail, True


class SendStrategy:
    """Sends one profile from one account; the runner's workers share one strategy."""

    def __init__(self, job: SendJob, rows: OutreachRows, runner: Runner[str]) -> None:
        self.job = job
        self.rows = rows
        self.runner = runner
        self.calls = CallCount()
        self.bans = RateLimitBans()
        self._lock = threading.Lock()
        self.new_unsettled = 0  # this run's sends whose answer was lost

    def handle(self, item: str, account: str | None) -> Next:
        """Reserve, send and settle `item` (a profile URL) from `account`. The profile goes back
        to the queue, and this account's worker ends, when the account is rate-limited or used its
        cap; a store that fails stops the run (raised: the runner keeps it)."""
        job, queue = self.job, self.runner.queue
        if self.bans.banned(account):  # rate-limited for longer than a step waits
            queue.put_front(item)
            return WORKER_ENDS
        try:
            res = job.store.reserve(
                job.campaign, job.act.id, item, account=account, message=job.message,
                daily_cap=job.cap, run_id=job.run_id,
            )  # fmt: skip
        except BaseException:  # the store is unusable: send nothing more
            queue.put_front(item)
            raise
        if res.outcome == TAKEN:  # another run or process got there first
            assert res.record is not None
            self.rows.from_record(item, res.record)
            return Next(account)
        if res.outcome == OVER_CAP:
            queue.put_front(item)
            job.log.info("%s: account %s used its cap (%d in 24 h)", job.act.id, account, res.used)
            return WORKER_ENDS
        self.send(item, account, res.attempt)  # raising (a bug, an interrupt): stays pending
        return Next(account)

    def send(self, url: str, account: str | None, attempt: int) -> None:
        """The call under the reserved `attempt`, then its record settled and its row written."""
        job = self.job
        try:
            res = job.client.run_action(
                job.act.id,
                {profile_field(job.act): url},
                parameters=job.params or None,
                integration_users=[account] if account else None,
            )
        except CallStopped:  # nothing went out: the next run may send it
            self.settle(url, attempt, FAILED, error=STOPPED_ERROR, retryable=True)
            self.rows.skipped(url, STOPPED, account, "the run stopped before sending it")
            return
        except CaptainDataError as err:
            self.calls.count(err.attempts, err.rate_limited)
            self.settle_error(url, account, attempt, err)
            return
        self.calls.count(res.attempts, res.rate_limited)
        result = res.results[0] if len(res.results) == 1 else res.results
        self.settle(url, attempt, SENT, result=result)
        self.rows.sent(url, account, attempt, result)

    def settle_error(
        self, url: str, account: str | None, attempt: int, err: CaptainDataError
    ) -> None:
        """Settle a send that raised: sent, unknown (listed for review) or failed (an error row);
        a systemic error stops the run, a long rate limit its account or the run."""
        job = self.job
        state, retryable = settlement(err)
        fields = err.envelope(retryable)
        if state == SENT:  # a 2xx whose body was unreadable: it was done
            self.settle(url, attempt, SENT)
            self.rows.sent(url, account, attempt, None)
            return
        self.settle(url, attempt, state, error=fields, retryable=retryable)
        if state == UNKNOWN:
            self._unsettled(url, account, err)
        else:
            self.rows.error(url, fields, from_cache=False, account=account)
        if isinstance(err, SYSTEMIC_ERRORS):
            self.runner.fail(err)
        if is_long_ban(err, job.client.max_retry_after_s):
            detail, whole_run = self.bans.ban(account, err)
            if whole_run:
                self.runner.queue.halt()
            job.log.warning("%s: %s (account %s)", job.act.id, detail, account)

    def _unsettled(self, url: str, account: str | None, err: CaptainDataError) -> None:
        job = self.job
        record = job.store.get(job.campaign, job.act.id, url)
        if record is not None:
            self.rows.review(url, record, new=True)
        with self._lock:
            self.new_unsettled += 1
        job.log.warning(
            "%s: %s from %s: %s after the request may have reached the API; not re-sent, "
            "listed for review",
            job.act.id,
            url,
            account,
            err.error_label,
        )

    def settle(self, url: str, attempt: int, state: str, **kw: Any) -> None:
        """Record `state` for the call made under `attempt` (logged if the record moved on)."""
        job = self.job
        if not job.store.settle(job.campaign, job.act.id, url, attempt, state, **kw):
            job.log.warning(
                "%s: the record of %s changed while it was being sent; outcome %s not recorded",
                job.act.id,
                url,
                state,
            )
