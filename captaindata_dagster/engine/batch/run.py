"""The batch engine: run one action over many inputs, paying for each result at most once.

dedupe -> skip what is fresh in the ledger -> run the rest concurrently within the client's pacing
-> write each result and each per-input error to the ledger as it arrives -> frames + stats.

The calls are made by the engine's runner (`runner`) with a strategy per kind of action: `fetch`
for object actions, `search_walk` for list actions; the pieces they share (`work_queue`, `budget`,
`account_pool`, `claims`, `outcomes`) each keep one concern.

Plain Python (no Dagster): the Dagster layer wraps `run_batch` and turns its frames and stats into
outputs and metadata, and a `CaptainDataError` it raises into a `dagster.Failure`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.api.request_body import bills_managed, check_parameters
from captaindata_dagster.engine.account_pool import AccountPool, RetiredAccount, worker_accounts
from captaindata_dagster.engine.batch.claims import Claims
from captaindata_dagster.engine.batch.context import BatchContext
from captaindata_dagster.engine.batch.fetch import FetchStrategy
from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.batch.outcomes import BatchOutcomes, error_fields
from captaindata_dagster.engine.batch.plan import InputPlan, check_max_results, plan_inputs
from captaindata_dagster.engine.batch.search_walk import SearchWalkStrategy
from captaindata_dagster.engine.budget import CreditBudget, most_per_result
from captaindata_dagster.engine.estimate import estimate_plan
from captaindata_dagster.engine.partial_result import PartialResult
from captaindata_dagster.engine.runner import Runner, growth_for
from captaindata_dagster.engine.work_queue import WorkQueue
from captaindata_dagster.storage.ledger import Ledger

if TYPE_CHECKING:  # pandas is imported where frames are built: loading a code location
    import pandas as pd  # that only declares assets must not pay for it

_log = logging.getLogger("captaindata_dagster.engine.batch")


@dataclass
class BatchStats:
    """What a batch did and what it cost; `to_dict()` is ready for metadata and logs.

    `calls` counts HTTP attempts (retries included), `credits` those spent by this run (cached
    inputs cost nothing), `errors` the rows of the errors frame. `not_started` inputs were left
    undone because the budget ran out or the batch stopped; `incomplete` searches were stopped
    midway (their pages are in the ledger and the next run resumes them). Neither appear in the
    results or errors frames. Latencies are per HTTP page/object call, `None` without calls.
    `retired_users`: accounts that failed with an account label (`LK_BAD_COOKIE`...) and made no
    more calls in this batch, in the order they failed.
    """

    action_id: str
    inputs: int = 0
    unique_inputs: int = 0
    skipped_fresh: int = 0
    calls: int = 0
    credits: float = 0.0
    # Credits attempts may have cost unseen (a timeout after sending, a cut or malformed answer):
    # not in `credits`, but counted against the budget.
    credits_at_risk: float = 0.0
    retries: int = 0
    rate_limited: int = 0
    errors: int = 0
    errors_by_label: dict[str, int] = field(default_factory=dict)
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    elapsed_s: float = 0.0
    budget_exhausted: bool = False
    not_started: int = 0
    incomplete: int = 0
    succeeded: int = 0
    retired_users: list[str] = field(default_factory=list)
    # the same accounts, each with the label it failed with and what a person runs to repair it
    retired_accounts: list[RetiredAccount] = field(default_factory=list)
    # ISO time before which a re-run would meet the same rate limit (a ban longer than the
    # client's max_retry_after_s ended an account or the batch); None without such a ban.
    retry_not_before: str | None = None
    # async mode (`engine.bulk`): "async"; the inputs sent in new runs; those waiting in runs not
    # ended (deferred, halted, or waited for too long: they land in a later batch); each run's
    # uid -> its status as last seen.
    mode: str = "live"
    submitted: int = 0
    pending: int = 0
    bulk_runs: dict[str, str] = field(default_factory=dict)
    # The credits the inputs left to fetch would cost at the catalog's prices, computed before
    # the first call (`engine.estimate`): shown beside `credits` once the run is done.
    estimated_credits: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def attempted(self) -> int:
        """Inputs that ended in a result or an error (from the ledger too): what error rates are
        shares of. Inputs a budget or a stop left undone are not attempted."""
        return self.succeeded + self.errors


@dataclass
class BatchResult(PartialResult):
    """`results`: one row per result item; `errors`: one row per failed input; `stats`.

    A run stopped by a 401/402/403 raises with what it had done: `BatchResult.from_error(err)`.
    """

    results: pd.DataFrame
    errors: pd.DataFrame
    stats: BatchStats


def run_batch(
    client: CaptainDataClient,
    action_id: str,
    inputs: Iterable[Mapping[str, Any] | str | None],
    *,
    parameters: Mapping[str, Any] | None = None,
    integration_users: Sequence[str] | None = None,
    ledger: Ledger | None = None,
    max_age: timedelta | None = None,
    max_results: int | None = None,
    budget: float | None = None,
    max_workers: int | None = None,
    log: Any = None,
) -> BatchResult:
    """Run `action_id` over `inputs` (dicts, or strings meaning the action's primary field).

    Each input is validated locally first: an invalid one becomes an `INVALID_INPUT` error row
    and costs no call. The same input twice is one call, and so is one person (lead, company,
    school) named by several spellings of its URL (`/in/jane-doe`, `fr.linkedin.com/in/Jane-Doe/`,
    `/in/jane-doe/details/experience/?trk=x`: see `entity_keys`): the results frame has one row
    per distinct input (per result item of it), its `_input` the first spelling given, and the
    ledger holds it under one key. With a `ledger`, inputs whose entry is fresh (see
    `Ledger.fresh`; `max_age=None` never expires) are answered from it and marked
    `_from_cache`; every result, search page and per-input error is written as it arrives, so a
    killed run keeps what it paid for and a re-run fetches only what is missing (an interrupted
    search resumes after its stored pages). Without a ledger nothing is cached or resumed.

    Concurrency: actions that need a LinkedIn account run one call at a time per account, one
    worker pinned to each uid of `integration_users` (else the client's; none: a single worker);
    `max_workers` caps the uids used. Other actions use `max_workers` workers; left unset, 16 to
    start with, more while the calls are too slow to fill the client's requests per second (see
    `runner.growth_for` and `Runner._grow`). The client's pacing (requests per second) applies on
    top.

    `max_results` caps each search (list actions; part of the ledger key). `budget` caps the credits
    this run may spend: each call reserves its maximum cost first (1 per object, a full page per
    search page) and once the next call could exceed the budget no new call starts; in-flight
    calls finish. Inputs left undone are counted in `stats.not_started` (or `stats.incomplete` for
    searches stopped midway) and listed in neither frame: they are simply not done yet.

    Account errors (`api.labels.ACCOUNT_LABELS`: an expired cookie, no connected account) are
    the account's, not the input's: the worker pinned to that account retires for the rest of the
    batch (a warning names the user and the fix) and its input goes back to the queue for the other
    accounts. Once every account has retired, the inputs left are error rows with the last
    account label and user, sent to no one (no call, no credit). These errors are kept in the
    ledger but never answer for the input: the next run tries it again.

    Systemic errors (401, 402, 403) stop the batch the same way, then the original
    `CaptainDataError` is raised with what was done in it: `BatchResult.from_error(err)`.
    Every other failure is per-input data: saved and returned in the errors frame.
    """
    started = time.monotonic()
    logger = log if log is not None else _log
    act = client.action(action_id)
    check_batch_arguments(client, act, parameters, max_results, budget, max_workers)
    stats = BatchStats(action_id=act.id)
    purse = CreditBudget(budget, logger, act.id)
    outcomes = BatchOutcomes(act.id, logger, max_results, lambda: purse.spent)
    claims = Claims(ledger, act.id, max_age, logger)

    # 1. normalise, validate locally, dedupe; 2. what the ledger already holds
    plan = _plan(client, act, inputs, parameters, max_results, ledger, max_age, outcomes)
    stats.inputs, stats.unique_inputs = plan.inputs, plan.unique_inputs
    todo = plan.todo

    # 3. the rest, concurrently
    accounts = worker_accounts(client, act, integration_users, max_workers, len(todo))
    pool = AccountPool(act, accounts, started=max(1, len(todo)))
    stats.estimated_credits = _estimated_credits(client, act, plan, max_results, pool, budget)
    _log_plan(logger, act, plan, len(pool.started), budget, stats.estimated_credits)
    failure: BaseException | None = None
    if todo:
        queue = WorkQueue[BatchItem](wait_for_returns=act.uses_account)
        grace = client.timeout + client.connect_timeout  # the longest a call in flight can take
        ctx = BatchContext(
            client=client, act=act, parameters=None if parameters is None else dict(parameters),
            ledger=ledger, max_age=max_age, max_results=max_results, log=logger, queue=queue,
            runner=Runner(queue, act.id, logger, grace), budget=purse, outcomes=outcomes,
            accounts=pool, claims=claims, factor=most_per_result(client, act),
        )  # fmt: skip
        failure = _run_calls(ctx, todo, max_workers)

    # 4. frames and stats
    result = _finish(stats, outcomes, purse, pool, time.monotonic() - started)
    _log_done(logger, stats)
    if failure is not None:
        if isinstance(failure, CaptainDataError):
            failure.partial_result = result
        logger.error("%s: stopped by %s", act.id, _describe(failure))
        raise failure
    return result


def check_batch_arguments(
    client: CaptainDataClient,
    act: Action,
    parameters: Mapping[str, Any] | None,
    max_results: int | None,
    budget: float | None,
    max_workers: int | None,
) -> None:
    """Refuse a batch's arguments before anything is done (async mode checks the same)."""
    if client.validate:
        check_parameters(act, parameters)
    check_max_results(max_results)
    if budget is not None and budget < 0:
        raise ValueError(f"budget must be >= 0 credits or None, got {budget!r}")
    if max_workers is not None and max_workers < 1:
        raise ValueError(f"max_workers must be >= 1 or None, got {max_workers!r}")


def _plan(
    client: CaptainDataClient,
    act: Action,
    inputs: Iterable[Any],
    parameters: Mapping[str, Any] | None,
    max_results: int | None,
    ledger: Ledger | None,
    max_age: timedelta | None,
    outcomes: BatchOutcomes,
) -> InputPlan:
    """The inputs sorted out: a refused one becomes an error row at once, a fresh one is
    answered from the ledger, the rest are left to fetch."""

    def refused(item: BatchItem, problem: CaptainDataError) -> None:
        outcomes.record_error(item, error_fields(problem), datetime.now(timezone.utc), False)

    return plan_inputs(
        act, inputs, parameters=parameters, max_results=max_results, ledger=ledger,
        max_age=max_age, validate=client.validate, on_invalid=refused,
        on_fresh=outcomes.record_entry,
    )  # fmt: skip


def _estimated_credits(
    client: CaptainDataClient,
    act: Action,
    plan: InputPlan,
    max_results: int | None,
    pool: AccountPool,
    budget: float | None,
) -> float | None:
    """What the inputs left to fetch would cost at the catalog's prices, within the budget (the
    cost preview's figure): exact for objects when every call succeeds, the most for searches."""
    managed = bills_managed(act, client.account_form, client.identity_mode)
    rate = client.bucket.rate if client.bucket is not None else None
    estimate = estimate_plan(
        act, plan.counts(), max_results=max_results, managed=managed, paced_rate=rate,
        accounts=max(1, len(pool.started)), budget=budget,
    )  # fmt: skip
    return estimate.billed_credits


def _run_calls(
    ctx: BatchContext, todo: list[BatchItem], max_workers: int | None
) -> BaseException | None:
    """Run the calls for `todo` (emptied: the queue holds the inputs); what stopped the run."""
    ctx.queue.extend(todo)
    ctx.outcomes.start_progress(len(todo))
    todo.clear()
    strategy = SearchWalkStrategy(ctx) if ctx.act.is_list else FetchStrategy(ctx)
    started = ctx.accounts.started
    calls = ctx.outcomes.calls
    growth = growth_for(ctx.client, ctx.act, max_workers, len(started), lambda: calls.calls)
    ctx.runner.run(strategy, started, growth)
    for _ in ctx.queue.drain():  # left by a budget or a stop: simply not done yet
        ctx.outcomes.not_done(started=False)
    return ctx.runner.failure


def _finish(
    stats: BatchStats,
    outcomes: BatchOutcomes,
    purse: CreditBudget,
    pool: AccountPool,
    elapsed_s: float,
) -> BatchResult:
    """The frames, and the stats made of what the pieces counted."""
    calls = outcomes.calls
    stats.calls, stats.retries, stats.rate_limited = calls.calls, calls.retries, calls.rate_limited
    stats.latency_p50_s, stats.latency_p95_s = calls.latency(50), calls.latency(95)
    stats.elapsed_s = elapsed_s
    stats.skipped_fresh = outcomes.skipped_fresh
    stats.not_started, stats.incomplete = outcomes.not_started, outcomes.incomplete
    stats.budget_exhausted = purse.exhausted
    stats.credits = round(purse.spent, 6)
    stats.credits_at_risk = round(purse.at_risk, 6)
    stats.retired_users = pool.retired
    stats.retired_accounts = pool.retired_accounts
    stats.retry_not_before = outcomes.retry_not_before
    result = BatchResult(outcomes.rows.frame(), outcomes.errors_frame(), stats)
    stats.errors = len(result.errors)
    stats.errors_by_label = dict(Counter(result.errors["error_label"].astype(str)))
    stats.succeeded = outcomes.succeeded
    return result


def _log_plan(
    logger: Any,
    act: Action,
    plan: InputPlan,
    workers: int,
    budget: float | None,
    estimated: float | None,
) -> None:
    todo = len(plan.todo)
    logger.info(
        "%s: %d inputs, %d unique, %d invalid, %d fresh in the ledger, %d to fetch with %d "
        "worker(s)%s%s",
        act.id,
        plan.inputs,
        plan.unique_inputs,
        plan.invalid,
        plan.fresh,
        todo,
        workers if todo else 0,
        f", estimated {'at most ' if act.is_list else ''}{estimated:g} credits"
        if todo and estimated is not None
        else "",
        f", budget {budget:g} credits" if budget is not None else "",
    )


def _log_done(logger: Any, stats: BatchStats) -> None:
    logger.info(
        "%s: done in %.1fs: %d ok, %d errors%s (%d answered from the ledger), %d calls, "
        "%g credits%s%s",
        stats.action_id,
        stats.elapsed_s,
        stats.succeeded,
        stats.errors,
        f" {stats.errors_by_label}" if stats.errors else "",
        stats.skipped_fresh,
        stats.calls,
        stats.credits,
        ", budget exhausted" if stats.budget_exhausted else "",
        f", {stats.not_started} not started, {stats.incomplete} searches incomplete"
        if stats.not_started or stats.incomplete
        else "",
    )


def _describe(err: BaseException) -> str:
    if isinstance(err, CaptainDataError):
        return f"{err.status_code} {err.error_label} (ref {err.error_ref})"
    return type(err).__name__
