"""`run_outreach`: send a side-effect action to each LinkedIn profile at most once per campaign.

The plain-Python engine under `build_outreach_op` and `build_outreach_asset` (no Dagster here).
In order: the settings are checked, a person's review decisions applied, the profiles sorted out
against the records (`intake`), then each account sends one call at a time within its daily cap
(`workers`, `sending`), or, in a dry run, the plan of who would send what is reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from itertools import cycle
from typing import Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.engine.outreach.intake import apply_review_marks, profiles_to_send
from captaindata_dagster.engine.outreach.results import (
    DRY_RUN,
    OVER_CAP_REASON,
    OutreachResult,
    OutreachStats,
)
from captaindata_dagster.engine.outreach.rows import OutreachRows
from captaindata_dagster.engine.outreach.sending import SendJob
from captaindata_dagster.engine.outreach.settings import (
    check_campaign,
    check_cap,
    outreach_accounts,
    outreach_action,
    outreach_parameters,
)
from captaindata_dagster.engine.outreach.workers import send_from_accounts
from captaindata_dagster.storage.outreach_records import OutreachStore

_log = logging.getLogger("captaindata_dagster.engine.outreach")


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

    A 401/402/403 stops the run and is raised, with what was done on it
    (`OutreachResult.from_error(err)`); the records already settled stay. Any other exception
    leaves its profile's record `pending` (to review).

    Args:
        client: the API client; may be None for a dry run (no key needed).
        store: the idempotency records (`OutreachStore`): what was sent, to whom, from where.
        action_id: a side-effect action on a profile, e.g. `linkedin-connect-profile`.
        profiles: LinkedIn profile URLs, any spelling; one person is sent to once.
        campaign: what keys a send: a person is sent to once per campaign and action.
        message: the invitation note or message (required for messages and InMails).
        parameters: the action's other parameters.
        accounts: user uids to send from (default: the client's `integration_users`).
        daily_cap_per_account: sends per account in any 24 h (default: per action,
            `DEFAULT_DAILY_CAPS`), counted across runs and campaigns.
        dry_run: send and write nothing; `skipped` says what would go out, from which account.
        mark_sent: profiles a person checked: they went out (applied first, also in a dry run).
        mark_retry: profiles a person checked: they did not go out; this run sends them.
        run_id: recorded on each send (Dagster's run id in a step).
        log: a logger (default: this module's).

    Example:
        >>> with OutreachStore("outreach.sqlite") as store:  # doctest: +SKIP
        ...     result = run_outreach(client, store, "linkedin-connect-profile",
        ...                           ["https://www.linkedin.com/in/ada-lovelace"],
        ...                           campaign="spring-2026", message="Hi!")
    """
    started = time.monotonic()
    logger = log if log is not None else _log
    act = outreach_action(action_id)
    campaign = check_campaign(campaign)
    cap = check_cap(act, daily_cap_per_account)
    params = outreach_parameters(act, message, parameters)
    if client is None and not dry_run:
        raise ValueError("run_outreach needs a client unless dry_run=True")
    users = outreach_accounts(client, accounts)
    apply_review_marks(store, act, campaign, (mark_sent, mark_retry), run_id, logger)
    message_text = None if params.get("message") is None else str(params["message"])
    rows = OutreachRows(campaign, act.id, message_text)
    stats = OutreachStats(act.id, campaign, dry_run, cap)
    todo = profiles_to_send(profiles, act, store, rows, stats)
    _log_plan(logger, stats, len(todo), len(users))

    failure: BaseException | None = None
    if dry_run:
        _plan(rows, store, act, cap, todo, users)
    elif todo:
        assert client is not None
        job = SendJob(act, campaign, params, cap, store, client, run_id, logger)
        failure = send_from_accounts(job, rows, stats, todo, users)

    stats.cap_used = {u or "(no account)": store.used(act.id, u) for u in users}
    result = rows.result(stats, time.monotonic() - started)
    _log_summary(logger, result)
    if failure is not None:
        if isinstance(failure, CaptainDataError):  # what was done, on it (see `from_error`)
            failure.partial_result = result
        raise failure
    return result


def _plan(
    rows: OutreachRows,
    store: OutreachStore,
    act: Action,
    cap: int,
    todo: list[str],
    users: list[str | None],
) -> None:
    """Dry run: which account would send each profile, within what is left of each one's cap."""
    left = {u: max(0, cap - store.used(act.id, u)) for u in users}
    order = cycle(users)
    for url in todo:
        account = next((u for u in (next(order) for _ in users) if left[u] > 0), "-")
        if account == "-":
            rows.skipped(url, OVER_CAP_REASON, None, "every account would be at its cap")
            continue
        left[account] -= 1
        rows.skipped(url, DRY_RUN, account, "dry run: would be sent from this account")


def _log_plan(log: Any, s: OutreachStats, to_send: int, accounts: int) -> None:
    log.info(
        "%s/%s: %d profiles, %d unique, %d to send%s, daily cap %d per account over %d account(s)",
        s.campaign,
        s.action_id,
        s.profiles,
        s.unique,
        to_send,
        " (DRY RUN: nothing will be sent)" if s.dry_run else "",
        s.daily_cap_per_account,
        accounts,
    )


def _log_summary(log: Any, result: OutreachResult) -> None:
    s = result.stats
    log.info(
        "%s/%s: %s%d sent, %d already sent, %d over the cap, %d to review, %d errors%s",
        s.campaign,
        s.action_id,
        f"dry run: {s.would_send} would be sent, " if s.dry_run else "",
        s.sent,
        s.already_sent,
        s.over_cap,
        s.needs_review,
        s.errors,
        f" {s.errors_by_label}" if s.errors else "",
    )
    if s.needs_review:
        log.warning(
            "%s/%s: %d send(s) may or may not have gone out; check and mark them (needs_review): %s",
            s.campaign,
            s.action_id,
            s.needs_review,
            ", ".join(result.needs_review["profile_url"].head(10)),
        )
