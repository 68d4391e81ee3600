"""The batch engine: run one action over many inputs, paying for each result at most once.

dedupe -> skip what is fresh in the ledger -> run the rest concurrently within the client's pacing
-> write each result and each per-input error to the ledger as it arrives -> frames + stats.

Plain Python (no Dagster): the Dagster layer wraps `run_batch` and turns its frames and stats into
outputs and metadata, and a `CaptainDataError` it raises into a `dagster.Failure`.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from .catalog import CUSTOM_DATA, Action
from .client import MANAGED_CREDIT_FACTOR, ActionResult, CaptainDataClient, check_parameters
from .errors import SYSTEMIC_ERRORS, CaptainDataError, ValidationError
from .ledger import Entry, Ledger, input_key

DEFAULT_MAX_WORKERS = 16
PROGRESS_EVERY_S = 10.0
_log = logging.getLogger("captaindata_dagster.batch")

RESULT_META_COLUMNS = ("_input", "_input_key", "_fetched_at", "_from_cache")
ERROR_COLUMNS = (
    "action_id",
    "input",
    "error_label",
    "error_scope",
    "error_ref",
    "message",
    "status_code",
    "retryable",
    "at",
    "from_cache",  # True: recorded by an earlier run (a permanent error still fresh in the ledger)
)


@dataclass
class BatchStats:
    """What a batch did and what it cost; `to_dict()` is ready for metadata and logs.

    `calls` counts HTTP attempts (retries included), `credits` those spent by this run (cached
    inputs cost nothing), `errors` the rows of the errors frame. `not_started` inputs were left
    undone because the budget ran out or the batch stopped; `incomplete` searches were stopped
    midway (their pages are in the ledger and the next run resumes them). Neither appear in the
    results or errors frames. Latencies are per HTTP page/object call, `None` without calls.
    """

    action_id: str
    inputs: int = 0
    unique_inputs: int = 0
    skipped_fresh: int = 0
    calls: int = 0
    credits: float = 0.0
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchResult:
    """`results`: one row per result item; `errors`: one row per failed input; `stats`."""

    results: pd.DataFrame
    errors: pd.DataFrame
    stats: BatchStats


@dataclass
class _Item:
    index: int  # order of first appearance, so frames follow the caller's order
    key: str
    input: Any  # normalised: catalog names, strings stripped, custom_data kept
    label: str  # what the `_input` / `input` columns show


@dataclass
class _Outcome:
    item: _Item
    at: datetime
    from_cache: bool
    results: list[dict[str, Any]] | None = None
    error: dict[str, Any] | None = None


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
    and costs no call. The same input twice is one call. With a `ledger`, inputs whose entry is
    fresh (see `Ledger.fresh`; `max_age=None` never expires) are answered from it and marked
    `_from_cache`; every result, search page and per-input error is written as it arrives, so a
    killed run keeps what it paid for and a re-run fetches only what is missing (an interrupted
    search resumes after its stored pages). Without a ledger nothing is cached or resumed.

    Concurrency: actions that need a LinkedIn account run one call at a time per account, one
    worker pinned to each uid of `integration_users` (else the client's; none: a single worker);
    `max_workers` caps the uids used. Other actions use `max_workers` (16) workers. The client's
    pacing (requests per second) applies on top.

    `max_results` caps each search (list actions; part of the ledger key). `budget` caps the credits
    this run may spend: each call reserves its maximum cost first (1 per object, a full page per
    search page) and once the next call could exceed the budget no new call starts; in-flight
    calls finish. Inputs left undone are counted in `stats.not_started` (or `stats.incomplete` for
    searches stopped midway) and listed in neither frame: they are simply not done yet.

    Systemic errors (401, 402, 403) stop the batch the same way, then the original
    `CaptainDataError` is raised with `err.batch_stats` and `err.batch_result` (what was done).
    Every other failure is per-input data: saved and returned in the errors frame.
    """
    started = time.monotonic()
    logger = log if log is not None else _log
    act = client.action(action_id)
    if client.validate:
        check_parameters(act, parameters)
    if max_results is not None and (not isinstance(max_results, int) or max_results < 1):
        raise ValueError(f"max_results must be a positive integer or None, got {max_results!r}")
    if budget is not None and budget < 0:
        raise ValueError(f"budget must be >= 0 credits or None, got {budget!r}")
    if max_workers is not None and max_workers < 1:
        raise ValueError(f"max_workers must be >= 1 or None, got {max_workers!r}")
    stats = BatchStats(action_id=act.id)
    run = _Run(client, act, parameters, ledger, max_age, max_results, budget, stats, logger)

    # 1. normalise, validate locally, dedupe
    pending: list[_Item] = []
    seen: set[str] = set()
    for raw in _iter_inputs(inputs):
        stats.inputs += 1
        item, problem = _prepare(client, act, raw, parameters, max_results, index=stats.inputs)
        if item.key in seen:
            continue
        seen.add(item.key)
        if problem is not None:
            run.record_error(item, _error_fields(problem), datetime.now(timezone.utc), False)
            continue
        pending.append(item)
    stats.unique_inputs = len(seen)

    # 2. what the ledger already holds
    todo: list[_Item] = []
    for item in pending:
        entry = ledger.fresh(act.id, item.key, max_age) if ledger is not None else None
        if entry is None:
            todo.append(item)
            continue
        stats.skipped_fresh += 1
        if entry.is_error:
            run.record_error(item, _entry_error(entry), entry.fetched_at, True)
        else:
            run.record_ok(item, _cap(entry.results or [], max_results), entry.fetched_at, True)

    # 3. the rest, concurrently
    slots = _worker_slots(client, act, integration_users, max_workers, len(todo))
    logger.info(
        "%s: %d inputs, %d unique, %d invalid, %d fresh in the ledger, %d to fetch with %d "
        "worker(s)%s",
        act.id,
        stats.inputs,
        stats.unique_inputs,
        stats.unique_inputs - len(pending),
        stats.skipped_fresh,
        len(todo),
        len(slots) if todo else 0,
        f", budget {budget:g} credits" if budget is not None else "",
    )
    if todo:
        run.queue.extend(todo)
        run.total = len(todo)
        with ThreadPoolExecutor(len(slots), thread_name_prefix="captaindata-batch") as pool:
            futures = [pool.submit(run.work, users) for users in slots]
            try:
                for f in futures:
                    f.result()
            except BaseException:
                run.halt()
                raise
        stats.not_started += len(run.queue)
        run.queue.clear()

    # 4. frames and stats
    stats.elapsed_s = time.monotonic() - started
    stats.latency_p50_s = _percentile(run.latencies, 50)
    stats.latency_p95_s = _percentile(run.latencies, 95)
    stats.credits = round(run.spent, 6)
    result = BatchResult(_results_frame(run.outcomes), _errors_frame(act.id, run.outcomes), stats)
    stats.errors = len(result.errors)
    stats.errors_by_label = dict(Counter(result.errors["error_label"].astype(str)))
    stats.succeeded = sum(1 for o in run.outcomes if o.error is None)
    logger.info(
        "%s: done in %.1fs: %d ok, %d errors%s (%d answered from the ledger), %d calls, "
        "%g credits%s%s",
        act.id,
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
    if run.failure is not None:
        err = run.failure
        try:
            err.batch_stats = stats  # type: ignore[attr-defined]
            err.batch_result = result  # type: ignore[attr-defined]
        except AttributeError:  # pragma: no cover - exotic exception types
            pass
        logger.error("%s: stopped by %s", act.id, _describe(err))
        raise err
    return result


# ---------------------------------------------------------------------- the shared run state


class _Run:
    """State shared by the workers: the queue, the budget, the outcomes; one lock for all."""

    def __init__(
        self,
        client: CaptainDataClient,
        act: Action,
        parameters: Mapping[str, Any] | None,
        ledger: Ledger | None,
        max_age: timedelta | None,
        max_results: int | None,
        budget: float | None,
        stats: BatchStats,
        log: Any,
    ) -> None:
        self.client = client
        self.act = act
        self.parameters = dict(parameters) if parameters is not None else None
        self.ledger = ledger
        self.max_age = max_age
        self.max_results = max_results
        self.budget = budget
        self.stats = stats
        self.log = log
        self.lock = threading.Lock()
        self.queue: deque[_Item] = deque()
        self.outcomes: list[_Outcome] = []
        self.latencies: list[float] = []
        self.spent = 0.0
        self.reserved = 0.0
        self.stopping = False
        self.failure: BaseException | None = None
        self.total = 0
        self.finished = 0
        self._last_progress = time.monotonic()
        managed = (
            act.uses_account
            and client.account_form == "identity_ids"
            and client.identity_mode == "managed"
        )
        self.factor = MANAGED_CREDIT_FACTOR if managed else 1.0

    # -- queue, budget, stop

    def next_item(self) -> _Item | None:
        with self.lock:
            if self.stopping or not self.queue:
                return None
            return self.queue.popleft()

    def reserve(self, cost: float) -> bool:
        """Claim `cost` credits of the budget before a call; False means start no new call."""
        with self.lock:
            if self.stopping:
                return False
            if self.budget is not None and self.spent + self.reserved + cost > self.budget + 1e-9:
                if not self.stats.budget_exhausted:
                    self.log.info(
                        "%s: budget of %g credits reached (%g spent, %g in flight); "
                        "no new call starts",
                        self.act.id,
                        self.budget,
                        self.spent,
                        self.reserved,
                    )
                self.stats.budget_exhausted = True
                self.stopping = True
                return False
            self.reserved += cost
            return True

    def settle(self, reserved: float, spent: float) -> None:
        with self.lock:
            self.reserved -= reserved
            self.spent += spent

    def halt(self) -> None:
        with self.lock:
            self.stopping = True

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            self.stopping = True
            if self.failure is None:
                self.failure = exc

    def count(self, attempts: int, rate_limited: int, latency: float | None) -> None:
        with self.lock:
            self.stats.calls += attempts
            self.stats.retries += max(0, attempts - 1)
            self.stats.rate_limited += rate_limited
            if latency is not None:
                self.latencies.append(latency)

    def not_done(self, started: bool) -> None:
        with self.lock:
            if started:
                self.stats.incomplete += 1
            else:
                self.stats.not_started += 1

    # -- outcomes

    def record_ok(
        self, item: _Item, results: list[dict[str, Any]], at: datetime, from_cache: bool
    ) -> None:
        self._record(_Outcome(item, at, from_cache, results=results))

    def record_error(
        self, item: _Item, error: dict[str, Any], at: datetime, from_cache: bool
    ) -> None:
        self._record(_Outcome(item, at, from_cache, error=error))
        if not from_cache and error.get("status_code") is not None:
            self.log.debug(
                "%s: %s failed: %s %s",
                self.act.id,
                item.label,
                error.get("status_code"),
                error.get("error_label"),
            )

    def _record(self, outcome: _Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)
            if not self.total:  # before the workers start: invalid or cached, not progress
                return
            self.finished += 1
            now = time.monotonic()
            due = now - self._last_progress >= PROGRESS_EVERY_S
            if self.total and (due or self.finished == self.total):
                self._last_progress = now
                done, total, spent = self.finished, self.total, self.spent
            else:
                return
        self.log.info("%s: %d/%d outcomes, %g credits spent", self.act.id, done, total, spent)

    # -- workers

    def work(self, users: list[str] | None) -> None:
        """One worker: take inputs off the queue until it is empty or the batch stops."""
        while True:
            item = self.next_item()
            if item is None:
                return
            try:
                if self.act.is_list:
                    self._walk(item, users)
                else:
                    self._fetch(item, users)
            except BaseException as exc:  # a ledger failure, a bug: stop cleanly, raise it later
                self.fail(exc)
                return

    def _fetch(self, item: _Item, users: list[str] | None) -> None:
        cost = 1.0 * self.factor
        if not self.reserve(cost):
            self.not_done(started=False)
            return
        t0 = time.monotonic()
        try:
            res = self.client.run_action(
                self.act.id, item.input, parameters=self.parameters, integration_users=users
            )
        except CaptainDataError as err:
            self.settle(cost, 0.0)
            self._failed(item, err, time.monotonic() - t0)
            return
        self.settle(cost, res.credits)
        self._counted(res)
        at = datetime.now(timezone.utc)
        if self.ledger is not None:
            self.ledger.save_result(
                self.act.id,
                item.key,
                res.results,
                input=item.input,
                parameters=self.parameters,
                max_results=self.max_results,
                credits=res.credits,
                attempts=res.attempts,
                at=at,
            )
        self.record_ok(item, res.results, at, False)

    def _walk(self, item: _Item, users: list[str] | None) -> None:
        """Walk a search page by page, saving each page; resume after pages a past run stored."""
        resume = None
        if self.ledger is not None:
            resume = self.ledger.resume_point(self.act.id, item.key, self.max_age)
        collected: list[dict[str, Any]] = list(resume.results) if resume else []
        page = resume.pages_done + 1 if resume else 1
        if resume:
            self.log.info(
                "%s: resuming %s at page %d (%d results stored)",
                self.act.id,
                item.label,
                page,
                len(collected),
            )
        remaining = None if self.max_results is None else self.max_results - len(collected)
        pages = self.client.iter_pages(
            self.act.id,
            item.input,
            parameters=self.parameters,
            integration_users=users,
            max_results=remaining,
            start_url=resume.next_url if resume else None,
            start_page=page,
        )
        fetched = 0
        at = datetime.now(timezone.utc)
        try:
            while True:
                cost = self._page_cost(len(collected))
                if not self.reserve(cost):
                    self.not_done(started=fetched > 0)
                    return
                t0 = time.monotonic()
                try:
                    res = next(pages)
                except StopIteration:  # the client saw nothing more to fetch
                    self.settle(cost, 0.0)
                    at = datetime.now(timezone.utc)
                    if self.ledger is not None:
                        self.ledger.mark_complete(self.act.id, item.key, at=at)
                    break
                except CaptainDataError as err:
                    self.settle(cost, 0.0)
                    self._failed(item, err, time.monotonic() - t0)
                    return
                self.settle(cost, res.credits)
                self._counted(res)
                fetched += 1
                collected.extend(res.results)
                over = self._walk_over(res, len(collected))
                at = datetime.now(timezone.utc)
                if self.ledger is not None:
                    self.ledger.save_page(
                        self.act.id,
                        item.key,
                        page,
                        res.results,
                        next_url=res.next_url,
                        complete=over,
                        input=item.input,
                        parameters=self.parameters,
                        max_results=self.max_results,
                        credits=res.credits,
                        attempts=res.attempts,
                        at=at,
                    )
                page += 1
                if over:
                    break
        finally:
            pages.close()
        self.record_ok(item, _cap(collected, self.max_results), at, False)

    def _walk_over(self, res: ActionResult, seen: int) -> bool:
        """The client's own stop rules, known before asking for (and reserving) another page."""
        n = len(res.results)
        return (
            n == 0
            or (bool(self.act.page_size) and n < (self.act.page_size or 0))
            or (self.max_results is not None and seen >= self.max_results)
            or not res.next_url
        )

    def _page_cost(self, seen: int) -> float:
        """The most a page can cost: the API charges every result a page returns, wanted or not."""
        if self.act.page_size:
            cost = float(self.act.page_size)
        elif self.max_results is not None:
            cost = float(max(1, self.max_results - seen))
        else:
            cost = 1.0  # an unpaged list of unknown length: the settle records the real cost
        return cost * self.factor

    def _counted(self, res: ActionResult) -> None:
        self.count(res.attempts, res.rate_limited, res.elapsed_s)

    def _failed(self, item: _Item, err: CaptainDataError, elapsed: float) -> None:
        self.count(err.attempts, getattr(err, "rate_limited", 0), elapsed)
        if isinstance(err, SYSTEMIC_ERRORS):
            self.fail(err)  # not about this input: not saved, not an error row
            return
        at = datetime.now(timezone.utc)
        fields = _error_fields(err)
        if self.ledger is not None:
            self.ledger.save_error(
                self.act.id,
                item.key,
                error_label=fields["error_label"],
                error_scope=fields["error_scope"],
                error_ref=fields["error_ref"],
                message=fields["message"],
                status_code=fields["status_code"],
                retryable=fields["retryable"],
                input=item.input,
                parameters=self.parameters,
                max_results=self.max_results,
                attempts=err.attempts,
                at=at,
            )
        self.record_error(item, fields, at, False)


# ---------------------------------------------------------------------- inputs


def _iter_inputs(inputs: Any) -> Iterable[Any]:
    if isinstance(inputs, (str, bytes, Mapping)):
        raise TypeError(
            "inputs must be an iterable of inputs (dicts or strings); wrap a single one in a list"
        )
    if isinstance(inputs, pd.DataFrame):
        return inputs.to_dict("records")
    return inputs


def _prepare(
    client: CaptainDataClient,
    act: Action,
    raw: Any,
    parameters: Mapping[str, Any] | None,
    max_results: int | None,
    index: int,
) -> tuple[_Item, CaptainDataError | None]:
    """Normalise one input and check it locally: (item, None) or (item, the problem)."""
    problem: CaptainDataError | None = None
    value: Any
    if raw is None:
        value = {}
    elif isinstance(raw, str):
        if act.primary_field is None:
            value = raw
            problem = ValidationError(
                f"{act.id} takes no input field, so a plain string input cannot be used",
                field="input",
                action_id=act.id,
            )
        else:
            value = {act.primary_field: raw.strip()}
    elif isinstance(raw, Mapping):
        value = {
            k: (v.strip() if isinstance(v, str) and k != CUSTOM_DATA else v)
            for k, v in act.canonical_input(raw).items()
            if v is not None
        }
    else:
        value = raw
        field_hint = f" or a {act.primary_field} string" if act.primary_field else ""
        problem = ValidationError(
            f"{act.id}: input must be an object of fields{field_hint}, got {type(raw).__name__}",
            field="input",
            action_id=act.id,
        )
    if problem is None:
        try:
            client.prepare(act.id, value, parameters=parameters)
        except ValidationError as err:
            problem = err
    key = input_key(act, value, parameters, max_results)
    return _Item(index, key, value, _label(act, value)), problem


def _label(act: Action, value: Any) -> str:
    """The primary input value when that is the whole input, else its JSON."""
    if isinstance(value, Mapping):
        core = {k: v for k, v in value.items() if k != CUSTOM_DATA}
        pf = act.primary_field
        if pf is not None and list(core) == [pf] and isinstance(core[pf], str):
            return core[pf]
        return json.dumps(core, sort_keys=True, default=str)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _worker_slots(
    client: CaptainDataClient,
    act: Action,
    integration_users: Sequence[str] | None,
    max_workers: int | None,
    todo: int,
) -> list[list[str] | None]:
    """One entry per worker: the account it is pinned to (as `integration_users`), or None."""
    if act.uses_account:
        users = client.integration_users if integration_users is None else integration_users
        if isinstance(users, str) or not all(isinstance(u, str) and u for u in users):
            raise ValidationError(
                "integration_users must be a list of user uids (strings)",
                field="integration_users",
                action_id=act.id,
            )
        uids = list(dict.fromkeys(users))
        if max_workers is not None:
            uids = uids[:max_workers]
        if not uids:
            return [None]
        return [[u] for u in uids][: max(1, todo)]
    n = max_workers or DEFAULT_MAX_WORKERS
    return [None] * max(1, min(n, todo))


# ---------------------------------------------------------------------- errors and frames


def _error_fields(err: CaptainDataError) -> dict[str, Any]:
    return {
        "error_label": err.error_label,
        "error_scope": err.error_scope,
        "error_ref": err.error_ref,
        "message": err.message,
        "status_code": err.status_code,
        "retryable": bool(err.retryable),
    }


def _entry_error(entry: Entry) -> dict[str, Any]:
    return {
        "error_label": entry.error_label,
        "error_scope": entry.error_scope,
        "error_ref": entry.error_ref,
        "message": entry.message,
        "status_code": entry.status_code,
        "retryable": bool(entry.retryable),
    }


def _cap(results: list[dict[str, Any]], max_results: int | None) -> list[dict[str, Any]]:
    return results if max_results is None else results[:max_results]


def _results_frame(outcomes: list[_Outcome]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for o in sorted(outcomes, key=lambda o: o.item.index):
        if o.error is not None:
            continue
        for r in o.results or []:
            row = dict(r) if isinstance(r, Mapping) else {"value": r}
            row["_input"] = o.item.label
            row["_input_key"] = o.item.key
            row["_fetched_at"] = o.at
            row["_from_cache"] = o.from_cache
            rows.append(row)
    if not rows:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in RESULT_META_COLUMNS})
    else:
        frame = pd.DataFrame.from_records(rows)
    frame["_fetched_at"] = pd.to_datetime(frame["_fetched_at"], utc=True)
    frame["_from_cache"] = frame["_from_cache"].astype(bool)
    return frame


def _errors_frame(action_id: str, outcomes: list[_Outcome]) -> pd.DataFrame:
    rows = [
        {
            "action_id": action_id,
            "input": o.item.label,
            **(o.error or {}),
            "at": o.at,
            "from_cache": o.from_cache,
        }
        for o in sorted(outcomes, key=lambda o: o.item.index)
        if o.error is not None
    ]
    frame = pd.DataFrame.from_records(rows, columns=list(ERROR_COLUMNS))
    frame["status_code"] = frame["status_code"].astype("Int64")
    frame["retryable"] = frame["retryable"].astype(bool)
    frame["from_cache"] = frame["from_cache"].astype(bool)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _describe(err: BaseException) -> str:
    if isinstance(err, CaptainDataError):
        return f"{err.status_code} {err.error_label} (ref {err.error_ref})"
    return type(err).__name__
