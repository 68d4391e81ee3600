"""A batch in async mode: the same inputs, ledger and frames as `run_batch`, through async runs.

dedupe -> skip what is fresh in the ledger -> wait on the open submissions that already hold some
inputs (a retried or relaunched step) -> submit the rest in runs of at most 100,000 inputs,
recorded in the ledger before the API is called -> land each callback as it comes -> every input's
outcome in the ledger and the frames, the stats as a live batch's.

The API paces the calls, rotates the accounts and bills each result as a live call would; the step
holds no account and makes a handful of calls (one submission per 100,000 inputs, a status check
every minute, replays of callbacks the receiver missed). `defer=True` submits and returns: the
inputs of runs not ended are counted in `stats.pending` and land in a later batch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.api.request_body import bills_managed
from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.batch.outcomes import BatchOutcomes, error_fields
from captaindata_dagster.engine.batch.plan import plan_inputs
from captaindata_dagster.engine.batch.run import BatchResult, BatchStats, check_batch_arguments
from captaindata_dagster.engine.bulk.landing import SubmissionLanding
from captaindata_dagster.engine.bulk.settings import BulkSettings
from captaindata_dagster.engine.bulk.submissions import BulkCall, submit_items
from captaindata_dagster.engine.bulk.waiting import wait_for_runs
from captaindata_dagster.engine.estimate import InputCounts, estimate_plan
from captaindata_dagster.storage.ledger import BulkSubmissionRecord, Entry, Ledger

_log = logging.getLogger("captaindata_dagster.engine.bulk")


def run_bulk_batch(
    client: CaptainDataClient,
    action_id: str,
    inputs: Iterable[Mapping[str, Any] | str | None],
    *,
    bulk: BulkSettings,
    ledger: Ledger,
    parameters: Mapping[str, Any] | None = None,
    integration_users: Sequence[str] | None = None,
    max_age: timedelta | None = None,
    max_results: int | None = None,
    budget: float | None = None,
    log: Any = None,
) -> BatchResult:
    """Run `action_id` over `inputs` through async runs; the same result as `run_batch`.

    Args:
        client: the client (its key, catalog and account settings).
        action_id: the catalog id, e.g. "linkedin-extract-people".
        inputs: dicts, or strings meaning the action's primary field.
        bulk: where callbacks go and how to wait (`BulkSettings`).
        ledger: what was fetched, and the submissions (required: it is what makes a relaunch
            wait for a run instead of paying for it twice).
        parameters: the action's options.
        integration_users: the accounts the API may rotate through (default: the client's).
        max_age: how old a ledger entry may be and still answer (None: never expires).
        max_results: a search's cap.
        budget: the credits the submitted inputs may cost at most (priced as the cost preview
            prices them); inputs beyond it are not submitted (`stats.not_started`).
        log: a logger (the step's).

    Raises:
        CaptainDataError: the API refused a submission (401, 402, 403, a refused body): the
            error's `BatchResult.from_error(err)` holds what was landed.

    Example:
        >>> result = run_bulk_batch(client, "linkedin-extract-people", urls, ledger=ledger,
        ...     bulk=BulkSettings(callback_url=url, store=store))  # doctest: +SKIP
        >>> result.stats.submitted, len(result.results)  # doctest: +SKIP
        (100000, 99874)
    """
    logger = log if log is not None else _log
    started = bulk.clock()
    act = client.action(action_id)
    check_batch_arguments(client, act, parameters, max_results, budget, None)
    if act.async_request_schema is None:
        raise ValueError(f"{act.id} has no async mode in the API; run it live")
    stats = BatchStats(action_id=act.id, mode="async")
    outcomes = BatchOutcomes(act.id, logger, max_results)
    call = BulkCall(client, act, parameters, max_results, integration_users, ledger, bulk, logger)
    items, to_send, before, fresh = _plan(call, inputs, max_age, budget, stats, outcomes)
    failure: CaptainDataError | None = None
    try:
        stats.submitted = submit_items(call, to_send)
    except CaptainDataError as err:
        failure = err
    held = _open_submissions(ledger, act, items)  # ours, and those concurrent steps made
    if bulk.origin is not None:  # the landing sensor lands the partition once they all ended
        ledger.add_bulk_waiter([r.submission_id for r in held], bulk.origin)
    if failure is not None:  # land what already ended, wait for nothing: the step fails
        once = dataclasses.replace(bulk, defer=True, wait_for_held=False)
        call = dataclasses.replace(call, bulk=once)
    landings = [SubmissionLanding(call, record, items, outcomes, fresh) for record in held]
    del held, to_send  # the landings hold what is needed; a big batch's keys are not kept twice
    runs = wait_for_runs(call, landings, before)
    _finish_stats(stats, outcomes, landings, runs, bulk.clock() - started)
    for landing in landings:
        landing.forget()  # before the frames are built: the peak of a big batch is there
    result = BatchResult(outcomes.rows.frame(), outcomes.errors_frame(), stats)
    stats.errors = len(result.errors)
    stats.errors_by_label = dict(Counter(result.errors["error_label"].astype(str)))
    for landing in landings:
        if landing.closable:
            run = runs[landing.submission_id]
            ledger.close_bulk_submission(landing.submission_id, run.status, run.last_error_label)
    if failure is not None:
        failure.partial_result = result
        raise failure
    return result


def _plan(
    call: BulkCall,
    inputs: Iterable[Any],
    max_age: timedelta | None,
    budget: float | None,
    stats: BatchStats,
    outcomes: BatchOutcomes,
) -> tuple[dict[str, BatchItem], list[BatchItem], frozenset[str], set[str]]:
    """The inputs left to fetch by key, those to send (not held by an open submission), the
    open submissions holding the others, and the keys the ledger answered."""
    act, client = call.act, call.client
    fresh: set[str] = set()

    def refused(item: BatchItem, problem: CaptainDataError) -> None:
        outcomes.record_error(item, error_fields(problem), datetime.now(timezone.utc), False)

    def answered(item: BatchItem, entry: Entry) -> None:
        fresh.add(item.key)
        outcomes.record_entry(item, entry)

    plan = plan_inputs(
        act, inputs, parameters=call.parameters, max_results=call.max_results,
        ledger=call.ledger, max_age=max_age, validate=client.validate, on_invalid=refused,
        on_fresh=answered,
    )  # fmt: skip
    stats.inputs, stats.unique_inputs = plan.inputs, plan.unique_inputs
    items = {i.key: i for i in plan.todo}
    held = _open_submissions(call.ledger, act, items)
    taken = {k for record in held for k in record.input_keys} & items.keys()
    left = [i for i in plan.todo if i.key not in taken]
    to_send = _within_budget(client, act, left, budget, call.max_results)
    stats.not_started = len(plan.todo) - len(taken) - len(to_send)
    stats.estimated_credits = _estimate(client, act, len(to_send), call.max_results)
    call.log.info(
        "%s (async): %d inputs, %d unique, %d fresh in the ledger, %d waiting in %d open run(s), "
        "%d to submit",
        act.id, plan.inputs, plan.unique_inputs, plan.fresh, len(taken), len(held), len(to_send),
    )  # fmt: skip
    return items, to_send, frozenset(r.submission_id for r in held), fresh


def _open_submissions(
    ledger: Ledger, act: Action, items: Mapping[str, BatchItem]
) -> list[BulkSubmissionRecord]:
    """The open submissions holding some of `items`: waited on, never sent again. (A ledger key
    holds the options, parameters and `max_results`, so a key held is the same call.)"""
    return [
        record
        for record in ledger.bulk_submissions(act.id, open_only=True)
        if any(k in items for k in record.input_keys)
    ]


def _within_budget(
    client: CaptainDataClient,
    act: Action,
    todo: list[BatchItem],
    budget: float | None,
    cap: int | None,
) -> list[BatchItem]:
    """The inputs whose most possible cost fits the budget, in order (all without a budget).

    An async run is billed by the API as it goes and cannot be stopped halfway by the step, so
    the budget is applied before submitting: an object costs one result at most, a search
    `max_results` results (without a cap a search has no most, and is refused with a budget).
    """
    if budget is None or not todo:
        return todo
    if act.is_list and cap is None:
        raise ValueError(
            f"{act.id}: a budget in async mode needs max_results (an async search is billed as "
            "the API walks it and cannot be stopped halfway); set max_results, or run it live"
        )
    managed = bills_managed(act, client.account_form, client.identity_mode)
    most = act.credits_for(cap if act.is_list and cap else 1, managed=managed)
    return todo[: int(budget // most) if most > 0 else len(todo)]


def _estimate(
    client: CaptainDataClient, act: Action, n: int, max_results: int | None
) -> float | None:
    managed = bills_managed(act, client.account_form, client.identity_mode)
    counts = InputCounts(n, n, 0, 0, n)
    return estimate_plan(act, counts, max_results=max_results, managed=managed).billed_credits


def _finish_stats(
    stats: BatchStats,
    outcomes: BatchOutcomes,
    landings: list[SubmissionLanding],
    runs: Mapping[str, Any],
    elapsed_s: float,
) -> None:
    stats.skipped_fresh = outcomes.skipped_fresh
    stats.succeeded = outcomes.succeeded
    stats.credits = round(sum(ld.credits for ld in landings), 6)
    stats.elapsed_s = elapsed_s
    stats.pending = sum(ld.waiting for ld in landings if ld.submission_id not in runs)
    stats.bulk_runs = {  # uid -> status; WAITING: not ended when the batch returned (ours)
        (ld.record.run_uid or ld.submission_id): (
            runs[ld.submission_id].status if ld.submission_id in runs else None
        )
        or "WAITING"
        for ld in landings
    }
