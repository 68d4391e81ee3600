"""What a batch does with a failed call: whose fault it is decides who pays for it.

- A systemic error (401, 402, 403) is the key's or the workspace's: the batch stops, and the error
  is raised with what was done (it is no input's error row).
- A rate limit longer than a step waits (`is_long_ban`): the account's ban retires the account;
  the workspace's ends the batch, the inputs left becoming error rows with the time to retry.
- An account label on a pinned account (`AccountPool.retires`): the account retires, the input
  goes back to the others; with no account left, every input left becomes an error row.
- Anything else is the input's: saved in the ledger and returned as an error row.

Example:
    >>> failed = settle_failure(ctx, item, err, elapsed, ["u1"])
    >>> after = retire_account(ctx, item, failed) if failed is not None else Next("u1")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from captaindata_dagster.api.accounts import account_hint, account_kind
from captaindata_dagster.api.errors import SYSTEMIC_ERRORS, CaptainDataError
from captaindata_dagster.api.labels import PAGING_LABELS
from captaindata_dagster.api.retries import is_account_limit, is_long_ban
from captaindata_dagster.engine.batch.context import BatchContext
from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.batch.outcomes import error_fields
from captaindata_dagster.engine.runner import WORKER_ENDS, Next

# A walk that ended on these cannot be resumed where it stopped (its next URL is the fault): the
# next run walks the search again from its first page.


@dataclass(frozen=True)
class AccountFailed:
    """The account a call was made with failed (its error is saved, not yet an error row)."""

    fields: dict[str, Any]  # the error row's envelope fields (see `outcomes.error_fields`)
    at: datetime


def settle_failure(
    ctx: BatchContext,
    item: BatchItem,
    err: CaptainDataError,
    elapsed: float,
    users: list[str] | None,
) -> AccountFailed | None:
    """Count and save a failed call, and record its error row; or, when the account failed,
    save it and return what `retire_account` needs.

    Args:
        ctx: the batch.
        item: the input the call was for.
        err: the call's error.
        elapsed: the call's duration in seconds.
        users: the account the call was made with (None: the API picked).
    """
    ctx.outcomes.calls.count(err.attempts, err.rate_limited, elapsed)
    if isinstance(err, SYSTEMIC_ERRORS):
        if users:  # a 403 may be the account's: the step failure names it
            err.user_uid = ",".join(users)
        ctx.runner.fail(err)  # not about this input: not saved, not an error row
        return None
    at = datetime.now(timezone.utc)
    fields = error_fields(err, ",".join(users) if users else None)
    banned = is_long_ban(err, ctx.client.max_retry_after_s)
    if banned:
        fields["message"] = ban_message(err, at)
        ctx.outcomes.banned_until(
            (at + timedelta(seconds=float(err.retry_after or 0.0))).isoformat()
        )
    _save_error(ctx, item, err, fields, at)
    if banned:
        if ctx.act.uses_account and users and is_account_limit(err):
            return AccountFailed(fields, at)  # the account's ban: it retires, the others go on
        ban_batch(ctx, item, fields, at)
        return None
    if ctx.accounts.retires(err.error_label, users[0] if users else None):
        return AccountFailed(fields, at)
    ctx.outcomes.record_error(item, fields, at, False)
    return None


def _save_error(
    ctx: BatchContext,
    item: BatchItem,
    err: CaptainDataError,
    fields: dict[str, Any],
    at: datetime,
) -> None:
    if ctx.ledger is None:
        return
    ctx.ledger.save_error(
        ctx.act.id,
        item.key,
        **fields,  # the envelope and the account, as the error row shows them
        input=item.input,
        parameters=ctx.parameters,
        max_results=ctx.max_results,
        attempts=err.attempts,
        at=at,
        keep_pages=err.error_label not in PAGING_LABELS,
    )


def ban_batch(ctx: BatchContext, item: BatchItem, fields: dict[str, Any], at: datetime) -> None:
    """A workspace-wide rate limit longer than a step waits: no new call in this batch.

    The input and every one still queued become error rows with the label and the time to
    retry (no call, no credit); calls in flight settle as usual. A later run (the error
    sensor's re-run, after that time) picks them up: the ledger never caches a 429.

    Args:
        ctx: the batch.
        item: the input the banned call was for.
        fields: its error row's fields.
        at: when it failed.
    """
    unsent = ctx.queue.halt_and_drain()
    ctx.claims.forget_all()
    ctx.outcomes.record_error(item, fields, at, False)
    for other in unsent:
        row = {**fields, "error_ref": None, "status_code": None}
        row["message"] = f"not sent: {fields['message']}"
        ctx.outcomes.record_error(other, row, at, False)
    ctx.log.warning(
        "%s: %s; %d more input(s) not sent, reported as %s errors (no call, no credit)",
        ctx.act.id, fields["message"], len(unsent), fields["error_label"],
    )  # fmt: skip


def retire_account(ctx: BatchContext, item: BatchItem, failed: AccountFailed) -> Next:
    """Retire the account that failed on `item`: it makes no more calls in this batch, and the
    input goes back to the queue for the other accounts. The worker moves to a spare account,
    or ends. With no account left, the input and every one still queued become error rows
    without another call (an input an account failed on keeps that error).

    Args:
        ctx: the batch.
        item: the input the account failed on.
        failed: what `settle_failure` returned.
    """
    fields, at = failed.fields, failed.at
    label, uid = fields["error_label"], fields.get("user_uid")
    kind = account_kind(ctx.client)
    fix = account_hint(label, [uid] if uid else [], kind)  # None: not an account's label
    with ctx.accounts.retiring(uid, label, fix) as retirement:
        if retirement.left > 0:
            ctx.outcomes.hold_error(item, fields, at)
            ctx.queue.put_front(item)
            unsent: list[BatchItem] = []
        else:
            unsent = ctx.queue.drain()
            ctx.claims.forget_all()
    who = f"user {uid}'s LinkedIn account" if uid else "the workspace's LinkedIn accounts"
    moved = retirement.moved
    if retirement.left > 0:
        ctx.log.warning(
            "%s: %s failed with %s: it makes no more calls in this batch, and %s goes back "
            "to the %d other account(s)%s. Fix: %s",
            ctx.act.id, who, label, item.label, retirement.left,
            f" (this worker moves to user {moved}'s)" if moved else "", fix or fields["message"],
        )  # fmt: skip
        return Next(moved) if moved else WORKER_ENDS
    hint = account_hint(label, retirement.retired, kind) or fields["message"]
    ctx.outcomes.record_error(item, fields, at, False)
    last = f"last: user {uid}" if uid else "no account named"
    _not_sent(ctx, unsent, fields, f"({label}, {last}). {hint}")
    ctx.log.warning(
        "%s: %s failed with %s and no account of this batch is left: %d input(s) not sent, "
        "reported as %s errors (no call, no credit). Fix: %s",
        ctx.act.id, who, label, len(unsent), label, hint,
    )  # fmt: skip
    return WORKER_ENDS


def _not_sent(ctx: BatchContext, unsent: list[BatchItem], fields: dict[str, Any], why: str) -> None:
    """Error rows for inputs no account is left to send (no call, no credit)."""
    now = datetime.now(timezone.utc)
    for other in unsent:
        own = ctx.outcomes.held_error(other)
        if own is not None:  # an account failed on it earlier: that error is its answer
            ctx.outcomes.record_error(other, *own, False)
            continue
        row = {
            **fields,
            "error_ref": None,  # no call, so no API error of its own
            "message": f"not sent: every LinkedIn account of this batch had failed {why}",
            "status_code": None,
        }
        ctx.outcomes.record_error(other, row, now, False)


def ban_message(err: CaptainDataError, at: datetime) -> str:
    """The error row's text for a rate limit too long to wait out: whom, and until when.

    Args:
        err: the rate limit's error (its `retry_after`, and `limit_type` when the API said).
        at: when it was met.

    Example:
        >>> ban_message(RateLimitError("slow down", retry_after=3600.0), at)
        'rate-limited: the API asked the workspace to wait 3600 s (until ...'
    """
    wait = float(err.retry_after or 0.0)
    until = (at + timedelta(seconds=wait)).strftime("%Y-%m-%d %H:%M UTC")
    scope = "this account" if is_account_limit(err) else "the workspace"
    return (
        f"rate-limited: the API asked {scope} to wait {wait:g} s (until {until}), longer than "
        f"max_retry_after_s; retry after {until} ({err.message})"
    )
