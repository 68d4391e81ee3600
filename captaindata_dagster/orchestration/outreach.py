"""Outreach with side effects: connection requests and messages, each sent at most once.

`build_outreach_op("linkedin-connect-profile", campaign="spring-2026", message="Hi ...")` returns an
op sending that action to LinkedIn profiles: those of an upstream frame (its `linkedin_profile_url`
column) and those listed in the run config. What makes it safe to run unattended:

- **Never twice.** Every send goes through an idempotency record keyed by (campaign, action,
  person) in an `OutreachStore` (see `idempotency.py`), committed *before* the call and settled
  after it. A person already sent to in the campaign is skipped, in this run and every later one,
  whatever the spelling of the URL (`/in/jane-doe`, `fr.linkedin.com/in/Jane-Doe/fr`: one person,
  one key, see `entity_keys.py`); a URL naming no one is refused (INVALID_INPUT), never sent.
- **Unknown is not failed.** A timeout, a dropped connection, a 5xx or an ambiguous upstream label
  after the request may have reached the API settles as `unknown`; a run that died mid-call leaves
  `pending`. Both are listed in the `needs_review` output and metadata, never re-sent blindly: a
  person checks the account and marks each one sent or safe to retry (run config `mark_sent` /
  `mark_retry`, `OutreachStore.mark_*`, or `python -m captaindata_dagster.storage.outreach_records`).
- **Refusals are settled.** A 4xx answer means nothing was done: an input problem (INVALID_INPUT)
  is settled `failed` and not retried; an account or upstream refusal and a 429 are `failed`
  retryable (the next run tries again). 401/402/403 stop the run with `dagster.Failure`.
- **A daily cap per account**, over a rolling 24 h and across runs and campaigns, counted from the
  records in the same transaction that reserves a send. Accounts (`integration_users`) rotate, one
  call at a time each.
- **Dry run**: nothing sent, nothing written; `skipped` says what would go out, from which account.

Outputs (pandas frames; every person given lands in exactly one of them, under the first spelling
of their URL): `sent`, `skipped` (`reason`: already_sent, over_cap, dry_run), `needs_review`,
`errors` (the package's error columns plus `campaign`). `build_outreach_asset(...,
upstream=people)` gives the same as four partitioned assets whose tables hold a state
(`<name>_sent`: everything sent in the campaign). `run_outreach` is the plain-Python engine under
both. A run config in the launchpad::

    ops:
      connect_spring:
        config:
          profiles: [https://www.linkedin.com/in/ada-lovelace]
          dry_run: true
          daily_cap_per_account: 15
          mark_retry: [https://www.linkedin.com/in/grace-hopper]   # a person checked: not sent

Building an op reads only the bundled catalog: no HTTP call until a step runs.
"""

# No `from __future__ import annotations`: Dagster reads the op's parameter annotations.
import json
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import cycle
from typing import Any, Optional

import dagster as dg
import pandas as pd
from pydantic import Field

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import (
    CaptainDataClient,
    check_parameters,
    is_long_ban,
    resolve_action,
)
from captaindata_dagster.api.entity_keys import entity_key
from captaindata_dagster.api.errors import (
    SYSTEMIC_ERRORS,
    CaptainDataError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from captaindata_dagster.api.labels import AMBIGUOUS_LABELS
from captaindata_dagster.api.stopping import CallStopped, Stop, Watch, bound
from captaindata_dagster.engine.batch import ERROR_COLUMNS
from captaindata_dagster.engine.frames import partition_columns, partition_expr
from captaindata_dagster.orchestration.assets import _partitions_of, _upstream_key
from captaindata_dagster.orchestration.metadata import (
    DEFAULT_POOL,
    NEW_ERRORS_KEY,
    default_retry_policy,
    failure_for_error,
)
from captaindata_dagster.orchestration.metadata import new_errors_summary as _new_errors_summary
from captaindata_dagster.orchestration.resource import CaptainDataResource
from captaindata_dagster.storage.outreach_records import (
    FAILED,
    OVER_CAP,
    PENDING,
    SENT,
    TAKEN,
    UNKNOWN,
    OutreachStore,
    SendRecord,
    default_store_path,
    profile_key,
)

_log = logging.getLogger("captaindata_dagster.orchestration.outreach")

PROFILE_FIELDS = ("linkedin_profile_url", "sales_navigator_profile_url")
# Conservative defaults under LinkedIn's own (unpublished, ~100-200 invitations a week) limits.
DEFAULT_DAILY_CAP = 20
DEFAULT_DAILY_CAPS = {
    "linkedin-connect-profile": 20,
    "salesnavigator-connect-profile": 20,
    "linkedin-message-profile": 50,
    "linkedin-inmail-profile": 25,
    "salesnavigator-inmail-profile": 25,
}
NEEDS_MESSAGE = frozenset(
    {"linkedin-message-profile", "linkedin-inmail-profile", "salesnavigator-inmail-profile"}
)
REVIEW_SAMPLE = 100  # profiles listed in the needs_review metadata

ALREADY_SENT, OVER_CAP_REASON, DRY_RUN = "already_sent", "over_cap", "dry_run"
STOPPED = "stopped"  # a 401/402/403 stopped the run first (only in the error's partial result)
RATE_LIMITED = "rate_limited"  # a rate limit longer than a step waits ended the run (or account)
_STOPPED_ERROR = {  # a send the client held back because the run was stopping: retried next run
    "error_label": "RUN_STOPPED", "error_scope": "run", "error_ref": None, "status_code": None,
    "message": "the run was stopped (terminated, or its process gone) before this was sent",
}  # fmt: skip
SENT_COLUMNS = (
    "campaign", "action_id", "profile_url", "account", "message", "sent_at", "attempts", "result",
)  # fmt: skip
SKIPPED_COLUMNS = (
    "campaign", "action_id", "profile_url", "reason", "account", "message", "at", "detail",
)  # fmt: skip
REVIEW_COLUMNS = (
    "campaign", "action_id", "profile_url", "state", "account", "attempted_at", "attempts",
    "error_label", "error_ref", "status_code", "run_id", "new", "what_to_do",
)  # fmt: skip
OUTREACH_ERROR_COLUMNS = (*ERROR_COLUMNS, "campaign")


@dataclass
class OutreachStats:
    """What an outreach run did; `to_dict()` is ready for metadata and logs.

    `new_unsettled` counts the sends of this run whose answer was lost (part of `needs_review`).
    `cap_used` is, per account, the sends counted toward its cap at the end of the run.
    """

    action_id: str
    campaign: str
    dry_run: bool
    daily_cap_per_account: int
    profiles: int = 0
    unique: int = 0
    sent: int = 0
    already_sent: int = 0
    over_cap: int = 0
    would_send: int = 0
    needs_review: int = 0
    new_unsettled: int = 0
    errors: int = 0
    errors_by_label: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    elapsed_s: float = 0.0
    cap_used: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class OutreachResult:
    """The four frames (each profile in exactly one) and the stats."""

    sent: pd.DataFrame
    skipped: pd.DataFrame
    needs_review: pd.DataFrame
    errors: pd.DataFrame
    stats: OutreachStats

    @classmethod
    def from_error(cls, err: BaseException) -> "OutreachResult | None":
        """What an outreach run had done when `err` stopped it; None if it stopped none.

        Args:
            err: an error raised by `run_outreach` (any exception is accepted).
        """
        found = getattr(err, "partial_result", None)
        return found if isinstance(found, cls) else None


def outreach_action(action_id: str) -> Action:
    """The catalog action if it is a side-effect action aimed at a profile, else ValidationError."""
    act = resolve_action(action_id)
    if not (act.side_effects and act.uses_account and act.primary_field in PROFILE_FIELDS):
        raise ValidationError(
            f"{act.id} is not an outreach action (a side-effect action on a profile URL, e.g. "
            "linkedin-connect-profile or linkedin-message-profile)",
            field="action_id",
            error_label="BAD_SETTING",
            error_scope="config",
            action_id=act.id,
        )
    return act


def _profile_problem(act: Action, url: str) -> str | None:
    """Why `url` may not be sent to, or None: the catalog's checks, then whom it names. A send is
    keyed by the person (`entity_key`): a URL naming no one could not be kept from going twice."""
    problems = act.input_problems({act.primary_field: url})
    if problems:
        return str(problems[0])
    if entity_key(url) is None:
        return (
            f"{act.primary_field}: {url!r} names no LinkedIn profile (no handle or id after /in/, "
            "/pub/, /sales/lead/ or /sales/people/)"
        )
    return None


def run_outreach(
    client: CaptainDataClient | None,
    store: OutreachStore,
    action_id: str,
    profiles: Iterable[Any],
    *,
    campaign: str,
    message: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    accounts: Sequence[str] | None = None,
    daily_cap_per_account: int | None = None,
    dry_run: bool = False,
    mark_sent: Iterable[str] = (),
    mark_retry: Iterable[str] = (),
    run_id: str | None = None,
    log: Any = None,
) -> OutreachResult:
    """Send `action_id` to each profile URL at most once per `campaign`; plain Python, no Dagster.

    `mark_sent` / `mark_retry` apply a person's review first (also in a dry run: they are
    decisions, not sends). `accounts` default to the client's `integration_users`; each account
    sends one at a time, at most `daily_cap_per_account` (default: per action, see
    `DEFAULT_DAILY_CAPS`) in any 24 h. `client` may be None for a dry run (no key needed).

    A 401/402/403 stops the run and is raised (with what was done: `OutreachResult.from_error(err)`); the records already
    settled stay. Any other exception leaves its profile's record `pending` (to review).
    """
    started = time.monotonic()
    logger = log if log is not None else _log
    act = outreach_action(action_id)
    campaign = _check_campaign(campaign)
    cap = _check_cap(act, daily_cap_per_account)
    params = _parameters(act, message, parameters)
    if client is None and not dry_run:
        raise ValueError("run_outreach needs a client unless dry_run=True")
    users = _accounts(client, accounts)
    run = _Run(act, campaign, params, cap, dry_run, store, client, run_id, logger)

    for url in (*mark_sent, *mark_retry):
        problems = act.input_problems({act.primary_field: _text(url)})
        if problems:
            raise ValidationError(
                f"mark_sent / mark_retry: {problems[0]}", field=str(act.primary_field)
            )
    for url in mark_sent:
        store.mark_sent(campaign, act.id, _text(url), note=_note(run_id))
        logger.info("%s/%s: %s marked sent by a person", campaign, act.id, url)
    for url in mark_retry:
        try:
            done = store.mark_retry(campaign, act.id, _text(url), note=_note(run_id))
        except ValueError as exc:
            logger.warning("%s/%s: mark_retry refused: %s", campaign, act.id, exc)
            continue
        if done is None:
            logger.warning("%s/%s: mark_retry: no record for %s", campaign, act.id, url)
        else:
            logger.info("%s/%s: %s marked safe to retry by a person", campaign, act.id, url)

    # 1. normalise, validate locally, dedupe, and what the records already say
    todo: list[str] = []
    seen: set[str] = set()
    for raw in profiles:
        run.stats.profiles += 1
        url = _text(raw)
        problem = _profile_problem(act, url)
        key = url if problem else profile_key(url)  # one person, one key: see entity_keys
        if key in seen:
            continue
        seen.add(key)
        if problem:
            run.error_row(url, {
                "error_label": "INVALID_INPUT", "error_scope": "input", "error_ref": None,
                "message": f"{act.id}: {problem}. Nothing was sent.", "status_code": None,
                "retryable": False,
            }, from_cache=False)  # fmt: skip
            continue
        record = store.get(campaign, act.id, url)
        if record is not None and not record.may_send:
            run.from_record(url, record)
            continue
        todo.append(url)
    run.stats.unique = len(seen)
    logger.info(
        "%s/%s: %d profiles, %d unique, %d to send%s, daily cap %d per account over %d account(s)",
        campaign,
        act.id,
        run.stats.profiles,
        run.stats.unique,
        len(todo),
        " (DRY RUN: nothing will be sent)" if dry_run else "",
        cap,
        len(users),
    )

    # 2. send (or, dry, say what would be sent)
    if dry_run:
        run.plan(todo, users)
    elif todo:
        run.queue.extend(todo)
        _send_all(run, users)
        for url in run.queue:
            if run.ban_detail is not None:
                run.skipped_row(url, RATE_LIMITED, None, run.ban_detail)
            elif run.failure is None:
                run.skipped_row(url, OVER_CAP_REASON, None, "every account used its daily cap")
            else:
                run.skipped_row(url, STOPPED, None, "the run stopped before sending it")
        run.queue.clear()

    run.stats.cap_used = {u or "(no account)": store.used(act.id, u) for u in users}
    result = run.result(time.monotonic() - started)
    s = result.stats
    logger.info(
        "%s/%s: %s%d sent, %d already sent, %d over the cap, %d to review, %d errors%s",
        campaign,
        act.id,
        f"dry run: {s.would_send} would be sent, " if dry_run else "",
        s.sent,
        s.already_sent,
        s.over_cap,
        s.needs_review,
        s.errors,
        f" {s.errors_by_label}" if s.errors else "",
    )
    if s.needs_review:
        logger.warning(
            "%s/%s: %d send(s) may or may not have gone out; check and mark them (needs_review): %s",
            campaign,
            act.id,
            s.needs_review,
            ", ".join(result.needs_review["profile_url"].head(10)),
        )
    if run.failure is not None:
        err = run.failure
        err.partial_result = result
        raise err
    return result


# ---------------------------------------------------------------------- the shared run state


class _Run:
    """What the workers share: the queue, the rows, the counters; one lock for all."""

    def __init__(
        self,
        act: Action,
        campaign: str,
        params: dict[str, Any],
        cap: int,
        dry_run: bool,
        store: OutreachStore,
        client: CaptainDataClient | None,
        run_id: str | None,
        log: Any,
    ) -> None:
        self.act = act
        self.campaign = campaign
        self.params = params
        self.message = _message_text(params.get("message"))
        self.cap = cap
        self.store = store
        self.client = client
        self.run_id = run_id
        self.log = log
        self.lock = threading.Lock()
        self.queue: deque[str] = deque()
        self.stopping = False
        self.stop = Stop()  # interrupted, or the parent process is gone: nothing more is sent
        # A rate limit longer than the client waits: accounts it ended, and what to tell the
        # profiles left unsent (the label and the time to retry); None without such a ban.
        self.banned: set[str | None] = set()
        self.ban_detail: str | None = None
        self.failure: BaseException | None = None
        self.stats = OutreachStats(act.id, campaign, dry_run, cap)
        self.sent: list[dict[str, Any]] = []
        self.skipped: list[dict[str, Any]] = []
        self.review: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []

    # -- rows

    def _base(self, url: str) -> dict[str, Any]:
        return {"campaign": self.campaign, "action_id": self.act.id, "profile_url": url}

    def sent_row(self, url: str, account: str | None, attempt: int, result: Any) -> None:
        row = {**self._base(url), "account": account, "message": self.message,
               "sent_at": _now(), "attempts": attempt, "result": _json_text(result)}  # fmt: skip
        with self.lock:
            self.sent.append(row)

    def skipped_row(
        self, url: str, reason: str, account: str | None, detail: str, at: datetime | None = None
    ) -> None:
        row = {**self._base(url), "reason": reason, "account": account, "message": self.message,
               "at": at or _now(), "detail": detail}  # fmt: skip
        with self.lock:
            self.skipped.append(row)

    def review_row(self, url: str, record: SendRecord, new: bool) -> None:
        row = {
            **self._base(url),
            "state": record.state,
            "account": record.account,
            "attempted_at": record.attempted_at,
            "attempts": record.attempts,
            "error_label": record.error_label or ("UNSETTLED" if record.state == PENDING else None),
            "error_ref": record.error_ref,
            "status_code": record.status_code,
            "run_id": record.run_id,
            "new": new,
            "what_to_do": _what_to_do(self.campaign, self.act.id, url, record.account),
        }
        with self.lock:
            self.review.append(row)

    def error_row(
        self, url: str, fields: Mapping[str, Any], from_cache: bool, account: str | None = None
    ) -> None:
        """One errors-table row; `account`: the user whose account made the call (None: none)."""
        row = {"action_id": self.act.id, "input": url, **fields, "at": _now(),
               "from_cache": from_cache, "user_uid": account, "campaign": self.campaign}  # fmt: skip
        with self.lock:
            self.errors.append(row)

    def from_record(self, url: str, record: SendRecord) -> None:
        """A profile the records say not to send now: already sent, to review, or refused."""
        if record.state == SENT:
            by = f" (marked by {record.resolved_by})" if record.resolved_by else ""
            self.skipped_row(
                url, ALREADY_SENT, record.account, f"sent in this campaign{by}",
                at=record.settled_at or record.attempted_at,
            )  # fmt: skip
        elif record.state in (PENDING, UNKNOWN):
            self.review_row(url, record, new=False)
        else:  # failed for good: the same refusal, from the records
            self.error_row(url, _record_error(record), from_cache=True, account=record.account)

    # -- dry run

    def plan(self, todo: list[str], users: list[str | None]) -> None:
        """Which account would send each profile, within what is left of each one's cap."""
        left = {u: max(0, self.cap - self.store.used(self.act.id, u)) for u in users}
        order = cycle(users)
        for url in todo:
            account = next((u for u in (next(order) for _ in users) if left[u] > 0), "-")
            if account == "-":
                self.skipped_row(url, OVER_CAP_REASON, None, "every account would be at its cap")
                continue
            left[account] -= 1
            self.skipped_row(url, DRY_RUN, account, "dry run: would be sent from this account")

    # -- workers

    def work(self, account: str | None) -> None:
        """One worker per account: reserve, send, settle, until the queue is empty or capped.
        Once `stop` is set the client sends nothing more from this thread (see `stopping`)."""
        with bound(self.stop):
            self._work(account)

    def _work(self, account: str | None) -> None:
        while True:
            with self.lock:
                if self.stopping or self.stop.is_set() or not self.queue:
                    return
                if account in self.banned:  # its account is rate-limited for longer than a step
                    return
                url = self.queue.popleft()
            try:
                res = self.store.reserve(
                    self.campaign, self.act.id, url, account=account, message=self.message,
                    daily_cap=self.cap, run_id=self.run_id,
                )  # fmt: skip
            except BaseException as exc:  # the store is unusable: send nothing more
                with self.lock:
                    self.queue.appendleft(url)
                self.fail(exc)
                return
            if res.outcome == TAKEN:  # another run or process got there first
                assert res.record is not None
                self.from_record(url, res.record)
                continue
            if res.outcome == OVER_CAP:
                with self.lock:
                    self.queue.appendleft(url)
                self.log.info(
                    "%s: account %s used its cap (%d in 24 h)", self.act.id, account, res.used
                )
                return
            try:
                self.send(url, account, res.attempt)
            except BaseException as exc:  # a bug or an interrupt: the record stays pending
                self.fail(exc)
                return

    def send(self, url: str, account: str | None, attempt: int) -> None:
        assert self.client is not None
        try:
            res = self.client.run_action(
                self.act.id,
                {self.act.primary_field: url},
                parameters=self.params or None,
                integration_users=[account] if account else None,
            )
        except CallStopped:  # nothing went out: the next run may send it
            self.settle(url, attempt, FAILED, error=_STOPPED_ERROR, retryable=True)
            self.skipped_row(url, STOPPED, account, "the run stopped before sending it")
            return
        except CaptainDataError as err:
            self.count(err.attempts, getattr(err, "rate_limited", 0))
            self.settle_error(url, account, attempt, err)
            return
        self.count(res.attempts, res.rate_limited)
        result = res.results[0] if len(res.results) == 1 else res.results
        self.settle(url, attempt, SENT, result=result)
        self.sent_row(url, account, attempt, result)

    def settle_error(
        self, url: str, account: str | None, attempt: int, err: CaptainDataError
    ) -> None:
        state, retryable = settlement(err)
        fields = _error_fields(err, retryable)
        if state == SENT:  # a 2xx whose body was unreadable: it was done
            self.settle(url, attempt, SENT)
            self.sent_row(url, account, attempt, None)
            return
        self.settle(url, attempt, state, error=fields, retryable=retryable)
        if state == UNKNOWN:
            record = self.store.get(self.campaign, self.act.id, url)
            if record is not None:
                self.review_row(url, record, new=True)
            with self.lock:
                self.stats.new_unsettled += 1
            self.log.warning(
                "%s: %s from %s: %s after the request may have reached the API; not re-sent, "
                "listed for review",
                self.act.id,
                url,
                account,
                err.error_label,
            )
        else:
            self.error_row(url, fields, from_cache=False, account=account)
        if isinstance(err, SYSTEMIC_ERRORS):
            self.fail(err)
        assert self.client is not None
        if is_long_ban(err, self.client.max_retry_after_s):
            self._ban(account, err)

    def _ban(self, account: str | None, err: CaptainDataError) -> None:
        """A rate limit too long to wait out: its account (an account limit) or the whole run
        (a workspace limit) sends nothing more; the profiles left are reported with the time to
        retry, instead of one refused call each."""
        until = datetime.now(timezone.utc) + timedelta(seconds=float(err.retry_after or 0.0))
        detail = (
            f"{err.error_label}: rate-limited until {until:%Y-%m-%d %H:%M} UTC (Retry-After "
            f"{err.retry_after:g} s, over max_retry_after_s); not sent, retry after that time"
        )
        with self.lock:
            self.ban_detail = detail
            if getattr(err, "limit_type", None) == "account" and account is not None:
                self.banned.add(account)
            else:
                self.stopping = True
        self.log.warning("%s: %s (account %s)", self.act.id, detail, account)

    def settle(self, url: str, attempt: int, state: str, **kw: Any) -> None:
        if not self.store.settle(self.campaign, self.act.id, url, attempt, state, **kw):
            self.log.warning(
                "%s: the record of %s changed while it was being sent; outcome %s not recorded",
                self.act.id,
                url,
                state,
            )

    def count(self, attempts: int, rate_limited: int) -> None:
        with self.lock:
            self.stats.calls += attempts
            self.stats.retries += max(0, attempts - 1)
            self.stats.rate_limited += rate_limited

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            self.stopping = True
            if self.failure is None:
                self.failure = exc

    def halt(self) -> None:
        with self.lock:
            self.stopping = True

    # -- frames

    def result(self, elapsed: float) -> OutreachResult:
        s = self.stats
        errors = _frame(self.errors, OUTREACH_ERROR_COLUMNS)
        errors["status_code"] = errors["status_code"].astype("Int64")
        errors["retryable"] = errors["retryable"].astype(bool)
        errors["from_cache"] = errors["from_cache"].astype(bool)
        errors["at"] = pd.to_datetime(errors["at"], utc=True)
        review = _frame(self.review, REVIEW_COLUMNS)
        review["status_code"] = review["status_code"].astype("Int64")
        review["attempted_at"] = pd.to_datetime(review["attempted_at"], utc=True)
        review["new"] = review["new"].astype(bool)
        sent = _frame(self.sent, SENT_COLUMNS)
        sent["sent_at"] = pd.to_datetime(sent["sent_at"], utc=True)
        skipped = _frame(self.skipped, SKIPPED_COLUMNS)
        skipped["at"] = pd.to_datetime(skipped["at"], utc=True)
        reasons = Counter(skipped["reason"])
        s.sent = len(sent)
        s.already_sent = reasons.get(ALREADY_SENT, 0)
        s.over_cap = reasons.get(OVER_CAP_REASON, 0)
        s.would_send = reasons.get(DRY_RUN, 0)
        s.needs_review = len(review)
        s.errors = len(errors)
        s.errors_by_label = dict(Counter(errors["error_label"].astype(str)))
        s.elapsed_s = elapsed
        return OutreachResult(sent, skipped, review, errors, s)


def _send_all(run: _Run, users: list[str | None]) -> None:
    """One worker thread per account until the queue is done or capped.

    On an interrupt in this (main) thread, Dagster's terminate or Ctrl-C, or once the step's
    parent process is gone, nothing more is sent; the sends in flight are settled (waited for up
    to the client's timeouts) before the interrupt propagates: see `stopping.Watch`.
    """
    workers = [
        threading.Thread(target=run.work, args=(u,), name=f"captaindata-outreach-{i}")
        for i, u in enumerate(users)
    ]
    for w in workers:
        w.start()

    def done(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()))
        return not any(w.is_alive() for w in workers)

    assert run.client is not None
    grace = run.client.timeout + run.client.connect_timeout  # the longest a send can take
    what = f"{run.campaign}/{run.act.id}"
    with Watch(run.stop, done, run.halt, run.log, what, grace_s=grace) as watch:
        watch.until_done()


def settlement(err: CaptainDataError) -> tuple[str, bool]:
    """How a failed send settles: (`failed`, retryable), (`unknown`, False) or (`sent`, False).

    Only an answer that says nothing was done is `failed`: a local refusal, any 4xx, a 429, or a
    connection that never opened. A timeout, a dropped connection, a 5xx or an upstream label
    meaning "timed out / gave up" may hide a send that happened: `unknown`. A 2xx with a body we
    could not read was done: `sent`.
    """
    if isinstance(err, ValidationError):
        return FAILED, False
    if isinstance(err, RateLimitError) or err.status_code == 429:
        return FAILED, True
    if isinstance(err, MalformedResponseError) and 200 <= (err.status_code or 0) < 300:
        return SENT, False
    if isinstance(err, TransportError):
        return (FAILED, True) if getattr(err, "maybe_sent", True) is False else (UNKNOWN, False)
    if isinstance(err, ServerError) or (err.status_code or 0) >= 500:
        return UNKNOWN, False
    if (err.error_label or "") in AMBIGUOUS_LABELS:
        return UNKNOWN, False
    if isinstance(err, SYSTEMIC_ERRORS):
        return FAILED, True  # the key or the workspace, not this profile: fix it and re-run
    if (err.status_code or 0) < 400:  # an odd status outside 2xx/4xx/5xx: assume the worst
        return UNKNOWN, False
    permanent = err.error_scope in ("input", "param")
    return FAILED, not permanent


# ---------------------------------------------------------------------- the op


class OutreachOpConfig(dg.Config):
    """Run config of an outreach op: who to send to this run, and per-run overrides."""

    profiles: list[str] = Field(
        default_factory=list,
        description="LinkedIn profile URLs, added to those of the upstream frame (if any).",
    )
    dry_run: Optional[bool] = Field(  # noqa: UP045 - Dagster's config reads Optional
        default=None, description="True: send nothing, report what would be. Unset: op default."
    )
    message: Optional[str] = Field(  # noqa: UP045
        default=None,
        description="Message (or invitation note). Unset: the op's. A profile already sent in "
        "the campaign is not sent again with a new message: use a new campaign for that.",
    )
    daily_cap_per_account: Optional[int] = Field(  # noqa: UP045
        default=None, description="Sends per account in any 24 h. Unset: the op's default."
    )
    accounts: Optional[list[str]] = Field(  # noqa: UP045
        default=None, description="User uids to send from. Unset: the resource's integration_users."
    )
    mark_sent: list[str] = Field(
        default_factory=list,
        description="Profiles a person checked in needs_review: they went out, never send them.",
    )
    mark_retry: list[str] = Field(
        default_factory=list,
        description="Profiles a person checked in needs_review: they did not go out, send them.",
    )


@dataclass(frozen=True)
class _Step:
    """What an outreach op or asset was built with; a run's config may override some of it."""

    act: Action
    campaign: str
    message: str | None
    parameters: dict[str, Any]
    daily_cap_per_account: int | None
    dry_run: bool
    column: str
    store_path: str | None

    @classmethod
    def build(
        cls,
        action_id: str,
        campaign: str,
        message: str | None,
        parameters: Mapping[str, Any] | None,
        daily_cap_per_account: int | None,
        dry_run: bool,
        input_column: str | None,
        store_path: str | None,
    ) -> "_Step":
        act = outreach_action(action_id)
        campaign = _check_campaign(campaign)
        _check_cap(act, daily_cap_per_account)
        _parameters(act, message, parameters)  # refused now, not at 3 am
        return cls(act, campaign, message, dict(parameters or {}), daily_cap_per_account,
                   bool(dry_run), input_column or str(act.primary_field), store_path)  # fmt: skip

    def run(
        self,
        context: Any,
        config: OutreachOpConfig,
        captaindata: CaptainDataResource,
        frame: Any,
    ) -> OutreachResult:
        """One step: the profiles of `frame` and the config, sent (or planned) and recorded."""
        act, campaign = self.act, self.campaign
        dry = config.dry_run if config.dry_run is not None else self.dry_run
        text = config.message if config.message is not None else self.message
        cap = config.daily_cap_per_account
        cap = cap if cap is not None else self.daily_cap_per_account
        profiles = [*_frame_profiles(frame, self.column), *config.profiles]
        if not profiles:
            context.log.warning(f"{act.id}/{campaign}: no profiles given; nothing to send.")
        users = config.accounts
        if users is None:  # rotating: none here, so the client's (the connected users) apply
            rotating = captaindata.rotate_connected_users and not dry
            users = [] if rotating else captaindata.integration_users
        # beside the ledger: its database when it is on PostgreSQL, its folder when a file
        path = self.store_path or default_store_path(captaindata.get_ledger().location)
        store = OutreachStore(path)
        try:
            client = None if dry else captaindata.get_client()
            return run_outreach(
                client,
                store,
                act.id,
                profiles,
                campaign=campaign,
                message=text,
                parameters=self.parameters,
                accounts=list(users) or None,
                daily_cap_per_account=cap,
                dry_run=dry,
                mark_sent=config.mark_sent,
                mark_retry=config.mark_retry,
                run_id=context.run_id,
                log=context.log,
            )
        except CaptainDataError as err:
            failure = failure_for_error(err)
            done = OutreachResult.from_error(err)
            md = dict(failure.metadata)
            if done is not None:
                md.update(_counts(done.stats))
                md.update(_review_metadata(done.needs_review))
            raise dg.Failure(
                description=failure.description, metadata=md, allow_retries=failure.allow_retries
            ) from err
        finally:
            store.close()


OUTPUT_DESCRIPTIONS = {
    "sent": "Sent by this run, one row per profile.",
    "skipped": "Not sent: already sent in the campaign, over the daily cap, or a dry run.",
    "needs_review": "May or may not have gone out: for a person to check and mark.",
    "errors": "Refused (nothing was done), with their error_label.",
}


def build_outreach_op(
    action_id: str,
    *,
    campaign: str,
    name: str | None = None,
    message: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    daily_cap_per_account: int | None = None,
    dry_run: bool = False,
    input_column: str | None = None,
    store_path: str | None = None,
    pool: str | None = DEFAULT_POOL,
    retry_policy: dg.RetryPolicy | None = None,
) -> dg.OpDefinition:
    """An op sending `action_id` (connect, message, InMail...) once per profile per `campaign`.

    Profiles come from the optional input `profiles_frame` (its `input_column`, by default the
    action's profile field, e.g. `linkedin_profile_url`) and the run config's `profiles`. `message`
    is the note or message (required for messages and InMails); `parameters` other options.
    `daily_cap_per_account` defaults per action (`DEFAULT_DAILY_CAPS`). The records live in
    `store_path` (a file or a postgresql:// URL), else `$CAPTAINDATA_OUTREACH_STORE`, else beside
    the ledger (`outreach.sqlite` next to its file, or the ledger's own PostgreSQL database).
    A step retry is safe: what was sent is skipped.
    """
    step = _Step.build(action_id, campaign, message, parameters, daily_cap_per_account, dry_run,
                       input_column, store_path)  # fmt: skip
    act = step.act

    @dg.op(
        name=name or f"{act.id.replace('-', '_')}__{_slug(step.campaign)}",
        description=f"Send `{act.id}` once per profile for campaign {step.campaign!r}.",
        ins={
            "profiles_frame": dg.In(
                Optional[pd.DataFrame],  # noqa: UP045
                default_value=None,
                description=f"Optional frame whose {step.column!r} column lists the profiles.",
            )
        },
        out={n: dg.Out(pd.DataFrame, description=d) for n, d in OUTPUT_DESCRIPTIONS.items()},
        pool=pool,
        retry_policy=retry_policy if retry_policy is not None else default_retry_policy(),
        tags={"captaindata/action_id": act.id, "captaindata/campaign": step.campaign},
    )
    def _outreach_op(
        context: dg.OpExecutionContext,
        config: OutreachOpConfig,
        captaindata: CaptainDataResource,
        profiles_frame,
    ) -> Iterator[dg.Output]:
        yield from outreach_outputs(step.run(context, config, captaindata, profiles_frame))

    return _outreach_op


def build_outreach_asset(
    action_id: str,
    *,
    name: str,
    upstream: Any,
    campaign: str,
    message: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    daily_cap_per_account: int | None = None,
    dry_run: bool = False,
    input_column: str | None = None,
    store_path: str | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    pool: str | None = DEFAULT_POOL,
    retry_policy: dg.RetryPolicy | None = None,
    group_name: str | None = "captaindata",
    key_prefix: Sequence[str] | None = None,
) -> dg.AssetsDefinition:
    """Outreach as assets downstream of a people table: `<name>_sent`, `<name>_skipped`,
    `<name>_needs_review` and `<name>_errors`, with the upstream's partitions.

    A table holds a state, not a run's delta (an IO manager replaces a partition's rows): `_sent`
    lists every profile of the partition sent in the campaign (`new` marks this run's), `_skipped`
    only those over the cap or in a dry run. Materializing again sends nothing twice, so a partition
    can be re-run safely; the run config is the op's (`dry_run`, `mark_sent`, ...). Example::

        connect = build_outreach_asset("linkedin-connect-profile", name="connect_spring",
                                       upstream=people, campaign="spring-2026", message="Hi!")
    """
    step = _Step.build(action_id, campaign, message, parameters, daily_cap_per_account, dry_run,
                       input_column, store_path)  # fmt: skip
    act = step.act
    upstream_key = _upstream_key(upstream)
    pdef = partitions_def if partitions_def is not None else _partitions_of(upstream)
    expr = partition_expr(pdef)
    prefix = list(key_prefix or [])
    outs = {
        n: dg.AssetOut(
            key=dg.AssetKey([*prefix, f"{name}_{n}"]),
            dagster_type=pd.DataFrame,
            description=d,
            metadata={
                **({"partition_expr": expr} if expr is not None else {}),
                "captaindata/action_id": act.id,
                "captaindata/campaign": step.campaign,
            },
            kinds={"captaindata", "pandas"},
        )
        for n, d in OUTPUT_DESCRIPTIONS.items()
    }

    @dg.multi_asset(
        name=name if not prefix else "__".join([*prefix, name]),
        outs=outs,
        ins={"upstream": dg.AssetIn(key=upstream_key)},
        partitions_def=pdef,
        group_name=group_name,
        pool=pool,
        retry_policy=retry_policy if retry_policy is not None else default_retry_policy(),
        op_tags={"captaindata/action_id": act.id, "captaindata/campaign": step.campaign},
        description=f"Send `{act.id}` once per profile of the upstream for {step.campaign!r}.",
    )
    def _outreach_asset(
        context: dg.AssetExecutionContext,
        config: OutreachOpConfig,
        captaindata: CaptainDataResource,
        upstream,
    ) -> Iterator[dg.Output]:
        result = _as_state(step.run(context, config, captaindata, upstream))
        key = context.partition_key if context.has_partition_key else None
        columns = partition_columns(pdef, key)
        for frame in (result.sent, result.skipped, result.needs_review, result.errors):
            for i, (col, value) in enumerate(columns.items()):
                frame.insert(i, col, [value] * len(frame))
        yield from outreach_outputs(result)

    return _outreach_asset


def outreach_outputs(result: OutreachResult) -> Iterator[dg.Output]:
    """The four outputs of an outreach step, with their metadata."""
    counts = _counts(result.stats)
    yield dg.Output(
        result.sent,
        output_name="sent",
        metadata={**counts, "dagster/row_count": dg.MetadataValue.int(len(result.sent))},
    )
    reasons = Counter(result.skipped["reason"].astype(str))
    yield dg.Output(
        result.skipped,
        output_name="skipped",
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(result.skipped)),
            "captaindata/skipped_by_reason": dg.MetadataValue.json(dict(reasons)),
        },
    )
    yield dg.Output(
        result.needs_review,
        output_name="needs_review",
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(result.needs_review)),
            **_review_metadata(result.needs_review),
        },
    )
    yield dg.Output(
        result.errors,
        output_name="errors",
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(result.errors)),
            "captaindata/errors": dg.MetadataValue.int(result.stats.errors),
            "captaindata/errors_by_label": dg.MetadataValue.json(result.stats.errors_by_label),
            NEW_ERRORS_KEY: dg.MetadataValue.json(_new_errors_summary(result.errors)),
        },
    )


# ---------------------------------------------------------------------- helpers


def _as_state(result: OutreachResult) -> OutreachResult:
    """`sent` with what earlier runs sent too (`new` False), `skipped` without it: tables."""
    rows = [{**r, "new": True} for r in result.sent.to_dict("records")]
    done = result.skipped[result.skipped["reason"] == ALREADY_SENT]
    rows += [
        {**{c: r.get(c) for c in SENT_COLUMNS}, "sent_at": r["at"], "attempts": None, "new": False}
        for r in done.to_dict("records")
    ]
    sent = _frame(rows, (*SENT_COLUMNS, "new"))
    sent["sent_at"] = pd.to_datetime(sent["sent_at"], utc=True)
    sent["attempts"] = sent["attempts"].astype("Int64")
    sent["new"] = sent["new"].astype(bool)
    skipped = result.skipped[result.skipped["reason"] != ALREADY_SENT].reset_index(drop=True)
    return OutreachResult(sent, skipped, result.needs_review, result.errors, result.stats)


def _counts(s: OutreachStats) -> dict[str, Any]:
    return {
        "captaindata/action_id": s.action_id,
        "captaindata/campaign": s.campaign,
        "captaindata/dry_run": dg.MetadataValue.bool(s.dry_run),
        "captaindata/profiles": dg.MetadataValue.int(s.unique),
        "captaindata/sent": dg.MetadataValue.int(s.sent),
        "captaindata/already_sent": dg.MetadataValue.int(s.already_sent),
        "captaindata/over_cap": dg.MetadataValue.int(s.over_cap),
        "captaindata/would_send": dg.MetadataValue.int(s.would_send),
        "captaindata/needs_review": dg.MetadataValue.int(s.needs_review),
        "captaindata/new_unsettled": dg.MetadataValue.int(s.new_unsettled),
        "captaindata/errors": dg.MetadataValue.int(s.errors),
        "captaindata/errors_by_label": dg.MetadataValue.json(dict(s.errors_by_label)),
        "captaindata/calls": dg.MetadataValue.int(s.calls),
        "captaindata/retries": dg.MetadataValue.int(s.retries),
        "captaindata/rate_limited_429": dg.MetadataValue.int(s.rate_limited),
        "captaindata/daily_cap_per_account": dg.MetadataValue.int(s.daily_cap_per_account),
        "captaindata/cap_used_by_account": dg.MetadataValue.json(dict(s.cap_used)),
    }


def _review_metadata(review: pd.DataFrame) -> dict[str, Any]:
    sample = [
        {
            "profile_url": str(r.profile_url),
            "state": str(r.state),
            "account": None if pd.isna(r.account) else str(r.account),
            "attempted_at": None if pd.isna(r.attempted_at) else str(r.attempted_at),
            "error_label": None if pd.isna(r.error_label) else str(r.error_label),
        }
        for r in review.head(REVIEW_SAMPLE).itertuples()
    ]
    return {
        "captaindata/needs_review": dg.MetadataValue.int(len(review)),
        "captaindata/needs_review_profiles": dg.MetadataValue.json(sample),
        "captaindata/how_to_resolve": dg.MetadataValue.md(
            "These sends may or may not have gone out; they are never re-sent blindly. Check the "
            "account's sent invitations or messages, then put each URL in the run config's "
            "`mark_sent` (it went out) or `mark_retry` (it did not: this run sends it), or run "
            "`python -m captaindata_dagster.storage.outreach_records mark-sent|mark-retry --campaign C "
            "--action A URL`."
        ),
    }


def _what_to_do(campaign: str, action_id: str, url: str, account: str | None) -> str:
    who = f"account {account}" if account else "the account"
    return (
        f"Check {who} on LinkedIn for {url}; then set mark_sent (it went out) or mark_retry (it "
        f"did not) in the run config, or run `python -m captaindata_dagster.storage.outreach_records "
        f"mark-sent|mark-retry --campaign {campaign} --action {action_id} {url}`"
    )


def _record_error(record: SendRecord) -> dict[str, Any]:
    return {
        "error_label": record.error_label,
        "error_scope": record.error_scope,
        "error_ref": record.error_ref,
        "message": record.error_message,
        "status_code": record.status_code,
        "retryable": bool(record.retryable),
    }


def _error_fields(err: CaptainDataError, retryable: bool) -> dict[str, Any]:
    return {
        "error_label": err.error_label,
        "error_scope": err.error_scope,
        "error_ref": err.error_ref,
        "message": err.message,
        "status_code": err.status_code,
        "retryable": retryable,
    }


def _check_campaign(campaign: Any) -> str:
    if not isinstance(campaign, str) or not campaign.strip():
        raise ValidationError(
            "campaign must be a non-empty string: it is what makes a send happen only once",
            field="campaign",
            error_label="BAD_SETTING",
            error_scope="config",
        )
    return campaign.strip()


def _check_cap(act: Action, cap: Any) -> int:
    if cap is None:
        return DEFAULT_DAILY_CAPS.get(act.id, DEFAULT_DAILY_CAP)
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
        raise ValidationError(
            f"{act.id}: daily_cap_per_account must be an integer >= 0, got {cap!r}",
            field="daily_cap_per_account",
            error_label="BAD_SETTING",
            error_scope="config",
            action_id=act.id,
        )
    return cap


def _parameters(
    act: Action, message: str | None, parameters: Mapping[str, Any] | None
) -> dict[str, Any]:
    params = {k: v for k, v in dict(parameters or {}).items() if v is not None}
    if message is not None:
        if not isinstance(message, str):
            raise ValidationError(
                f"{act.id}: message must be a string", field="message", action_id=act.id
            )
        if act.parameters is None or "message" not in act.parameters:
            raise ValidationError(f"{act.id} takes no message", field="message", action_id=act.id)
        params["message"] = message
    if act.id in NEEDS_MESSAGE and not str(params.get("message") or "").strip():
        raise ValidationError(
            f"{act.id} needs a non-empty message",
            field="message",
            error_label="BAD_PARAMETERS",
            error_scope="param",
            action_id=act.id,
        )
    check_parameters(act, params)
    return params


def _accounts(client: CaptainDataClient | None, accounts: Sequence[str] | None) -> list:
    users = accounts if accounts is not None else (client.integration_users if client else [])
    if isinstance(users, str) or not all(isinstance(u, str) and u.strip() for u in users):
        raise ValidationError(
            "accounts (integration_users) must be a list of user uids", field="integration_users"
        )
    uids = list(dict.fromkeys(u.strip() for u in users))
    return uids or [None]


def _frame_profiles(frame: Any, column: str) -> list[Any]:
    if frame is None:
        return []
    if not isinstance(frame, pd.DataFrame):
        raise dg.Failure(
            description=f"profiles_frame must be a pandas DataFrame, got {type(frame).__name__}",
            allow_retries=False,
        )
    if column not in frame.columns:
        raise dg.Failure(
            description=(
                f"the profiles frame has no column {column!r}; set input_column= to one of: "
                f"{', '.join(map(str, frame.columns))}"
            ),
            metadata={"input_column": column},
            allow_retries=False,
        )
    return list(frame[column])


def _text(raw: Any) -> str:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or raw is pd.NA:
        return ""
    return str(raw).strip()


def _message_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=list(columns))


def _note(run_id: str | None) -> str:
    return f"resolved through run {run_id}" if run_id else "resolved through run_outreach"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _slug(text: str) -> str:
    out = "".join(c if c.isascii() and c.isalnum() else "_" for c in text.lower()).strip("_")
    return out or "campaign"
