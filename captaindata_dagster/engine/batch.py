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
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from captaindata_dagster.api.accounts import account_hint, account_kind
from captaindata_dagster.api.catalog import CUSTOM_DATA, Action
from captaindata_dagster.api.client import (
    ActionResult,
    CaptainDataClient,
    check_parameters,
    is_last_page,
    is_long_ban,
)
from captaindata_dagster.api.errors import SYSTEMIC_ERRORS, CaptainDataError, ValidationError
from captaindata_dagster.api.labels import ACCOUNT_LABELS
from captaindata_dagster.api.stopping import CallStopped, Stop, Watch, bound
from captaindata_dagster.storage.ledger import CLAIMED, DONE, Entry, Ledger, ResumePoint, input_key

if TYPE_CHECKING:  # pandas is imported where frames are built: loading a code location
    import pandas as pd  # that only declares assets must not pay for it

DEFAULT_MAX_WORKERS = 16
MAX_GROWN_WORKERS = 256  # the most workers an action without an account grows to
GROW_EVERY_S = 0.5
PROGRESS_EVERY_S = 10.0
CLAIM_POLL_S = 0.25  # how often an input another run is fetching is looked at again
CLAIM_WAIT_S = 1800.0  # an input another run holds longer than this is left for a later run
_log = logging.getLogger("captaindata_dagster.engine.batch")

# A walk that ended on these cannot be resumed where it stopped (its next URL is the fault): the
# next run walks the search again from its first page.
WALK_BROKEN_LABELS = frozenset({"PAGINATION_LOOP", "BAD_PAGINATION_URL"})
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
    "user_uid",  # the user whose connected account made the failed call (None: no account used;
    # an input not sent because every account had failed: the account that failed last)
)
NO_USABLE_ACCOUNT = "NO_VALID_ACCOUNT_CONFIGURED"  # the API found no usable account at all


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
    # ISO time before which a re-run would meet the same rate limit (a ban longer than the
    # client's max_retry_after_s ended an account or the batch); None without such a ban.
    retry_not_before: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def attempted(self) -> int:
        """Inputs that ended in a result or an error (from the ledger too): what error rates are
        shares of. Inputs a budget or a stop left undone are not attempted."""
        return self.succeeded + self.errors


@dataclass
class BatchResult:
    """`results`: one row per result item; `errors`: one row per failed input; `stats`."""

    results: pd.DataFrame
    errors: pd.DataFrame
    stats: BatchStats

    @classmethod
    def from_error(cls, err: BaseException) -> BatchResult | None:
        """What a batch had done when `err` stopped it; None if `err` did not stop a batch.

        Args:
            err: an error raised by `run_batch` (any exception is accepted).

        Example:
            >>> try:
            ...     run_batch(client, "linkedin-extract-people", inputs)
            ... except CaptainDataError as err:
            ...     done = BatchResult.from_error(err)
        """
        found = getattr(err, "partial_result", None)
        return found if isinstance(found, cls) else None


@dataclass
class _Item:
    index: int  # order of first appearance, so frames follow the caller's order
    key: str
    input: Any  # normalised: catalog names, strings stripped, custom_data kept
    label: str  # what the `_input` / `input` columns show


@dataclass
class _Outcome:
    """A failed input (successes leave only their rows, in `_Rows`)."""

    item: _Item
    at: datetime
    from_cache: bool
    error: dict[str, Any]


class _Rows:
    """The results frame's rows, kept as they arrive in the compact form pandas builds from.

    Each result becomes a tuple of its values (8 bytes per cell) and its parsed dict is dropped at
    once: keeping every result dict until the end, plus the per-row copy `from_records` needed,
    cost several times the frame's own size. `frame()` gives what `DataFrame.from_records` gives
    for the same results as dicts in input order (same column order, NaN for missing fields, same
    types), converting `CHUNK` rows at a time so the rows are freed as the frame is built.
    """

    CHUNK = 2048

    def __init__(self) -> None:
        self.columns: dict[str, int] = {}  # name -> position in the stored rows
        self.shapes: dict[tuple[str, ...], tuple[list[int], bool]] = {}  # keys -> positions
        self.first: dict[tuple[str, ...], tuple[int, int]] = {}  # keys -> first row with them
        self.rows: list[tuple[Any, ...]] = []
        self.order: list[tuple[int, int]] = []  # (input index, result position) per row

    def add(self, item: _Item, results: Sequence[Any], at: datetime, from_cache: bool) -> None:
        """Store one input's results; the caller holds the run's lock."""
        meta = (item.label, item.key, at, from_cache)
        for pos, r in enumerate(results):
            fields = r if isinstance(r, Mapping) else {"value": r}
            shape = tuple(fields)
            where = (item.index, pos)
            known = self.shapes.get(shape)
            if known is None:
                known = self.shapes[shape] = self._place((*shape, *RESULT_META_COLUMNS))
                self.first[shape] = where
            elif where < self.first[shape]:
                self.first[shape] = where
            cols, in_place = known
            values = [_share_keys(v) if type(v) in _NESTED else v for v in fields.values()]
            if in_place:  # the usual case: the same fields as the first result, in that order
                self.rows.append((*values, *meta))
            else:
                row = [math.nan] * len(self.columns)
                for col, value in zip(cols, (*values, *meta), strict=True):
                    row[col] = value
                self.rows.append(tuple(row))
            self.order.append(where)

    def _place(self, names: tuple[str, ...]) -> tuple[list[int], bool]:
        cols = [self.columns.setdefault(n, len(self.columns)) for n in names]
        return cols, cols == list(range(len(cols)))

    def frame(self) -> pd.DataFrame:
        """The results frame in input order; empties the store as it goes."""
        import pandas as pd

        if not self.rows:
            frame = pd.DataFrame({c: pd.Series(dtype=object) for c in RESULT_META_COLUMNS})
        else:
            frame = self._convert()
        frame["_fetched_at"] = pd.to_datetime(frame["_fetched_at"], utc=True)
        frame["_from_cache"] = frame["_from_cache"].astype(bool)
        return frame

    def _convert(self) -> pd.DataFrame:
        import pandas as pd

        names: dict[str, None] = {}  # first appearance, scanning the rows in input order
        for shape in sorted(self.shapes, key=self.first.__getitem__):
            names.update(dict.fromkeys((*shape, *RESULT_META_COLUMNS)))
        columns = list(names)
        perm = [self.columns[n] for n in columns]
        identity = perm == list(range(len(perm)))
        width = len(perm)
        rows, order = self.rows, self.order
        self.rows, self.order = [], []
        sequence = sorted(range(len(rows)), key=order.__getitem__)
        del order

        def chunk(start: int, free: bool) -> pd.DataFrame:
            batch = []
            for i in sequence[start : start + self.CHUNK]:
                row = rows[i]
                if free:
                    rows[i] = ()  # freed as its chunk is converted
                if len(row) < width:
                    row = (*row, *[math.nan] * (width - len(row)))
                batch.append(row if identity else tuple(row[j] for j in perm))
            return pd.DataFrame.from_records(batch, columns=columns)

        starts = range(0, len(sequence), self.CHUNK)
        if len(starts) == 1:
            return chunk(0, free=True)
        # A chunk infers its column types alone: where chunks disagree (ints here, ints and None
        # there) the column is inferred again over all its rows, as one `from_records` would.
        kinds = [{c: str(t) for c, t in chunk(s, free=False).dtypes.items()} for s in starts]
        mixed = [c for c in columns if len({k[c] for k in kinds}) > 1]
        whole = {}
        for name in mixed:
            col = self.columns[name]
            cells = [(rows[i][col] if col < len(rows[i]) else math.nan,) for i in sequence]
            whole[name] = pd.DataFrame.from_records(cells, columns=[name])[name]
            del cells
        chunks = [chunk(s, free=True).drop(columns=mixed) for s in starts]
        rows.clear()
        frame = pd.concat(chunks, ignore_index=True)
        del chunks
        for name in mixed:
            frame.insert(columns.index(name), name, whole.pop(name))
        return frame


_NESTED = (dict, list)


def _share_keys(value: Any) -> Any:
    """`value` with the keys of its nested objects interned.

    JSON parsing makes new key strings for every response, so 50,000 profiles would hold 50,000
    copies of "company_name" in their experiences; interned, they share one.
    """
    if type(value) is dict:
        return {(sys.intern(k) if type(k) is str else k): _share_keys(v) for k, v in value.items()}
    if type(value) is list and any(type(v) in _NESTED for v in value):
        return [_share_keys(v) for v in value]
    return value


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
    `_grow`). The client's pacing (requests per second) applies on top.

    `max_results` caps each search (list actions; part of the ledger key). `budget` caps the credits
    this run may spend: each call reserves its maximum cost first (1 per object, a full page per
    search page) and once the next call could exceed the budget no new call starts; in-flight
    calls finish. Inputs left undone are counted in `stats.not_started` (or `stats.incomplete` for
    searches stopped midway) and listed in neither frame: they are simply not done yet.

    Account errors (`ACCOUNT_LABELS`: an expired cookie, no connected account) are the account's,
    not the input's: the worker pinned to that account retires for the rest of the batch (a
    warning names the user and the fix) and its input goes back to the queue for the other
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
    slots, spare = slots[: max(1, len(todo))], slots[max(1, len(todo)) :]
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
        pending.clear()  # the queue holds the inputs now: each is freed once it is done
        todo.clear()
        cap = _growth_cap(client, act, max_workers, len(slots))
        run.spare.extend(s for s in spare if s)  # a worker whose account fails moves to one
        run.active = len(slots) + len(spare)  # the accounts still usable (grown workers use none)
        _run_workers(run, client, slots, cap)
        stats.not_started += len(run.queue)
        run.queue.clear()

    # 4. frames and stats
    stats.elapsed_s = time.monotonic() - started
    stats.latency_p50_s = _percentile(run.latencies, 50)
    stats.latency_p95_s = _percentile(run.latencies, 95)
    stats.credits = round(run.spent, 6)
    stats.credits_at_risk = round(run.at_risk, 6)
    result = BatchResult(run.rows.frame(), _errors_frame(act.id, run.outcomes), stats)
    stats.errors = len(result.errors)
    stats.errors_by_label = dict(Counter(result.errors["error_label"].astype(str)))
    stats.succeeded = run.succeeded
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
        err.partial_result = result
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
        self.outcomes: list[_Outcome] = []  # failed inputs
        self.rows = _Rows()  # the results of the others
        self.succeeded = 0
        self.latencies: list[float] = []
        self.spent = 0.0
        self.at_risk = 0.0  # credits attempts may have cost unseen (see ActionResult)
        self.reserved = 0.0
        self.stopping = False
        self.stop = Stop()  # interrupted, or the parent process is gone: no new call at all
        self.failure: BaseException | None = None
        self.total = 0
        self.finished = 0
        self._last_progress = time.monotonic()
        self.began = datetime.now(timezone.utc)  # another run's error recorded since: its answer
        self.waiting: dict[str, float] = {}  # inputs another run is fetching -> first seen
        self.told_waiting = False
        self.changed = threading.Condition(self.lock)  # an input came back, or one was finished
        self.inflight = 0  # inputs taken off the queue and not finished: some may come back
        self.active = 0  # accounts not failed: workers' and spare ones (set at the start)
        self.spare: deque[list[str]] = deque()  # accounts no worker uses yet
        self.account_errors: dict[str, tuple[dict[str, Any], datetime]] = {}  # key -> its error
        self.walks: dict[str, ResumePoint] = {}  # searches an account stopped midway -> resume
        managed = (
            act.uses_account
            and client.account_form == "identity_ids"
            and client.identity_mode == "managed"
        )
        # The most one result can cost: the action's credits, 1.5x on managed identities.
        self.factor = act.credits_for(1, managed=managed)

    # -- queue, budget, stop

    def next_item(self) -> _Item | None:
        """The next input. With an empty queue, a worker of an account action waits while inputs
        are in flight: one may come back (its account failed) and need a healthy account."""
        with self.lock:
            while True:
                if self.stopping or self.stop.is_set():
                    return None
                if self.queue:
                    self.inflight += 1
                    return self.queue.popleft()
                if not self.inflight or not self.act.uses_account:
                    return None
                self.changed.wait(CLAIM_POLL_S)

    def finished_with(self) -> None:
        """An input taken by `next_item` is done with (answered, failed, or back in the queue)."""
        with self.lock:
            self.inflight -= 1
            self.changed.notify_all()

    def reserve(self, cost: float) -> bool:
        """Claim `cost` credits of the budget before a call; False means start no new call.

        Credits at risk (attempts the API may have billed without an answer we could use) count
        as spent. A call in flight may still re-send once after such an attempt
        (`max_billed_retries`), so the budget can be passed by that re-send's cost per call in
        flight, at most, and only when the API bills answers it never delivers.
        """
        with self.lock:
            if self.stopping:
                return False
            used = self.spent + self.at_risk + self.reserved
            if self.budget is not None and used + cost > self.budget + 1e-9:
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

    def settle(self, reserved: float, spent: float, at_risk: float = 0.0) -> None:
        """Release a reservation made with `reserve(reserved)`; record what the call cost."""
        with self.lock:
            self.reserved -= reserved
            self.spent += spent
            self.at_risk += at_risk

    def halt(self) -> None:
        with self.lock:
            self.stopping = True
            self.changed.notify_all()

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            self.stopping = True
            if self.failure is None:
                self.failure = exc
            self.changed.notify_all()

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
        with self.lock:
            self.rows.add(item, results, at, from_cache)
            self.succeeded += 1
        self._progress()

    def record_error(
        self, item: _Item, error: dict[str, Any], at: datetime, from_cache: bool
    ) -> None:
        with self.lock:
            self.outcomes.append(_Outcome(item, at, from_cache, error))
        self._progress()
        if not from_cache and error.get("status_code") is not None:
            self.log.debug(
                "%s: %s failed: %s %s",
                self.act.id,
                item.label,
                error.get("status_code"),
                error.get("error_label"),
            )

    def _progress(self) -> None:
        with self.lock:
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
        """One worker: take inputs off the queue until it is empty or the batch stops, or until
        its account fails (it retires then: see `_retire`). Once `stop` is set the client sends
        nothing more from this thread (see `stopping`)."""
        with bound(self.stop):
            self._work(users)

    def _work(self, users: list[str] | None) -> None:
        while True:
            item = self.next_item()
            if item is None:
                return
            try:
                if not self._claim(item):
                    continue
                try:
                    if self.act.is_list:
                        failed = self._walk(item, users)
                    else:
                        failed = self._fetch(item, users)
                finally:
                    if self.ledger is not None:
                        self.ledger.release(self.act.id, item.key)
                if failed is not None:  # released first: another worker may claim it at once
                    users = self._retire(item, *failed)
                    if users is None:
                        return
            except BaseException as exc:  # a ledger failure, a bug: stop cleanly, raise it later
                self.fail(exc)
                return
            finally:
                self.finished_with()

    def _retires(self, label: str | None, users: list[str] | None) -> bool:
        """Whether an error ends this worker: an account label on the account it is pinned to,
        or the API saying that no account of the workspace is usable. Without a pinned account
        the API picks one per call, so one bad answer says nothing of the next call."""
        if not self.act.uses_account or label not in ACCOUNT_LABELS:
            return False
        return bool(users) or label == NO_USABLE_ACCOUNT

    def _retire(self, item: _Item, fields: dict[str, Any], at: datetime) -> list[str] | None:
        """Retire the account that failed on `item`: it makes no more calls in this batch, and
        the input goes back to the queue for the other accounts. Returns the spare account the
        worker moves to, or None: the worker stops. With no account left, the input and every
        one still queued become error rows without another call (an input an account failed on
        keeps that error)."""
        label, uid = fields["error_label"], fields.get("user_uid")
        moved: list[str] | None = None
        with self.lock:
            self.active -= 1
            if uid:
                self.stats.retired_users.append(uid)
            retired = list(self.stats.retired_users)
            left = self.active
            if left > 0:
                if self.spare:
                    moved = self.spare.popleft()
                self.account_errors[item.key] = (fields, at)
                self.queue.appendleft(item)
                self.changed.notify_all()
                unsent: list[_Item] = []
            else:
                unsent = list(self.queue)
                self.queue.clear()
                self.waiting.clear()
        who = f"user {uid}'s LinkedIn account" if uid else "the workspace's LinkedIn accounts"
        last = f"last: user {uid}" if uid else "no account named"
        if left > 0:
            self.log.warning(
                "%s: %s failed with %s: it makes no more calls in this batch, and %s goes back "
                "to the %d other account(s)%s. Fix: %s",
                self.act.id, who, label, item.label, left,
                f" (this worker moves to user {moved[0]}'s)" if moved else "",
                account_hint(label, [uid] if uid else [], account_kind(self.client))
                or fields["message"],
            )  # fmt: skip
            return moved
        self.record_error(item, fields, at, False)
        now = datetime.now(timezone.utc)
        hint = account_hint(label, retired, account_kind(self.client)) or fields["message"]
        for other in unsent:
            own = self.account_errors.get(other.key)
            if own is not None:  # an account failed on it earlier: that error is its answer
                self.record_error(other, *own, False)
                continue
            self.record_error(
                other,
                {
                    **fields,
                    "error_ref": None,  # no call, so no API error of its own
                    "message": f"not sent: every LinkedIn account of this batch had failed "
                    f"({label}, {last}). {hint}",
                    "status_code": None,
                },
                now,
                False,
            )
        self.log.warning(
            "%s: %s failed with %s and no account of this batch is left: %d input(s) not sent, "
            "reported as %s errors (no call, no credit). Fix: %s",
            self.act.id, who, label, len(unsent), label, hint,
        )  # fmt: skip
        return None

    def _claim(self, item: _Item) -> bool:
        """Take the input in the ledger before paying for it (see `Ledger.claim`); False when
        this run must not call: another run answered it meanwhile (its answer is recorded, as
        from the ledger), or is fetching it now (the input goes back to the end of the queue)."""
        if self.ledger is None:
            return True
        claim = self.ledger.claim(self.act.id, item.key, max_age=self.max_age, since=self.began)
        if claim.state == CLAIMED:
            with self.lock:
                self.waiting.pop(item.key, None)
            return True
        if claim.state == DONE and claim.entry is not None:
            entry = claim.entry
            with self.lock:
                self.waiting.pop(item.key, None)
                self.stats.skipped_fresh += 1
            if entry.is_error:
                self.record_error(item, _entry_error(entry), entry.fetched_at, True)
            else:
                results = _cap(entry.results or [], self.max_results)
                self.record_ok(item, results, entry.fetched_at, True)
            return False
        now = time.monotonic()
        with self.lock:
            first = self.waiting.setdefault(item.key, now)
            give_up = now - first > CLAIM_WAIT_S
            if give_up:
                del self.waiting[item.key]
            else:
                self.queue.append(item)
            idle = len(self.waiting) >= len(self.queue)  # only inputs held elsewhere are left
        if give_up:
            self.log.warning(
                "%s: %s is still being fetched by another run after %gs; left for a later run",
                self.act.id,
                item.label,
                CLAIM_WAIT_S,
            )
            self.not_done(started=False)
        elif not self.told_waiting:
            self.told_waiting = True
            self.log.info(
                "%s: %s (and maybe more) is being fetched by another run at the same time; "
                "this run takes its answer when it is done",
                self.act.id,
                item.label,
            )
        if idle and not give_up:
            time.sleep(CLAIM_POLL_S)
        return False

    def _fetch(
        self, item: _Item, users: list[str] | None
    ) -> tuple[dict[str, Any], datetime] | None:
        """Call an object action for one input; not None: the account failed (see `_failed`)."""
        cost = 1.0 * self.factor
        if not self.reserve(cost):
            self.not_done(started=False)
            return None
        t0 = time.monotonic()
        try:
            res = self.client.run_action(
                self.act.id, item.input, parameters=self.parameters, integration_users=users
            )
        except CallStopped:  # the run stopped before this call was sent: left for the next run
            self.settle(cost, 0.0)
            self.not_done(started=False)
            return None
        except CaptainDataError as err:
            self.settle(cost, 0.0, err.credits_at_risk)
            return self._failed(item, err, time.monotonic() - t0, users)
        self.settle(cost, res.credits, res.credits_at_risk)
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
        return None

    def _walk(self, item: _Item, users: list[str] | None) -> tuple[dict[str, Any], datetime] | None:
        """Walk a search page by page, saving each page; resume after pages a past run stored
        (or, without a ledger, that a failed account fetched in this run). Not None: the
        account failed (see `_failed`)."""
        resume = self.walks.pop(item.key, None)
        if resume is None and self.ledger is not None:
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
        next_url = resume.next_url if resume else None
        at = datetime.now(timezone.utc)
        try:
            while True:
                cost = self._page_cost(len(collected))
                if not self.reserve(cost):
                    self.not_done(started=fetched > 0)
                    return None
                t0 = time.monotonic()
                try:
                    res = next(pages)
                except StopIteration:  # the client saw nothing more to fetch
                    self.settle(cost, 0.0)
                    at = datetime.now(timezone.utc)
                    if self.ledger is not None:
                        self.ledger.mark_complete(self.act.id, item.key, at=at)
                    break
                except CallStopped:  # the stored pages stay: the next run resumes after them
                    self.settle(cost, 0.0)
                    self.not_done(started=fetched > 0)
                    return None
                except CaptainDataError as err:
                    self.settle(cost, 0.0, err.credits_at_risk)
                    failed = self._failed(item, err, time.monotonic() - t0, users)
                    if failed is not None and page > 1:  # another account resumes, paying once
                        self.walks[item.key] = ResumePoint(page - 1, collected, next_url, 0.0)
                    return failed
                self.settle(cost, res.credits, res.credits_at_risk)
                self._counted(res)
                fetched += 1
                next_url = res.next_url
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
        return None

    def _walk_over(self, res: ActionResult, seen: int) -> bool:
        """The client's own stop rules, known before asking for (and reserving) another page."""
        return is_last_page(self.act, res, seen, self.max_results)

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

    def _failed(
        self, item: _Item, err: CaptainDataError, elapsed: float, users: list[str] | None
    ) -> tuple[dict[str, Any], datetime] | None:
        """Save a failed call in the ledger and record its error row; or, when the account
        failed (see `_retires`), save it and return (fields, at) for the worker to retire."""
        self.count(err.attempts, getattr(err, "rate_limited", 0), elapsed)
        if isinstance(err, SYSTEMIC_ERRORS):
            if users:  # a 403 may be the account's: the step failure names it
                err.user_uid = ",".join(users)
            self.fail(err)  # not about this input: not saved, not an error row
            return None
        at = datetime.now(timezone.utc)
        fields = _error_fields(err, ",".join(users) if users else None)
        banned = is_long_ban(err, self.client.max_retry_after_s)
        if banned:
            fields["message"] = _ban_message(err, at)
            until = (at + timedelta(seconds=float(err.retry_after or 0.0))).isoformat()
            with self.lock:
                self.stats.retry_not_before = max(self.stats.retry_not_before or until, until)
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
                user_uid=fields["user_uid"],
                keep_pages=err.error_label not in WALK_BROKEN_LABELS,
            )
        if banned:
            if self.act.uses_account and users and getattr(err, "limit_type", None) == "account":
                return fields, at  # the account's ban: it retires, the others go on
            self._ban_batch(item, fields, at)
            return None
        if self._retires(err.error_label, users):
            return fields, at
        self.record_error(item, fields, at, False)
        return None

    def _ban_batch(self, item: _Item, fields: dict[str, Any], at: datetime) -> None:
        """A workspace-wide rate limit longer than a step waits: no new call in this batch.

        The input and every one still queued become error rows with the label and the time to
        retry (no call, no credit); calls in flight settle as usual. A later run (the error
        sensor's re-run, after that time) picks them up: the ledger never caches a 429.
        """
        with self.lock:
            unsent = list(self.queue)
            self.queue.clear()
            self.waiting.clear()
            self.stopping = True
            self.changed.notify_all()
        self.record_error(item, fields, at, False)
        for other in unsent:
            row = {**fields, "error_ref": None, "status_code": None}
            row["message"] = f"not sent: {fields['message']}"
            self.record_error(other, row, at, False)
        self.log.warning(
            "%s: %s; %d more input(s) not sent, reported as %s errors (no call, no credit)",
            self.act.id, fields["message"], len(unsent), fields["error_label"],
        )  # fmt: skip


# ---------------------------------------------------------------------- inputs


def _iter_inputs(inputs: Any) -> Iterable[Any]:
    if isinstance(inputs, (str, bytes, Mapping)):
        raise TypeError(
            "inputs must be an iterable of inputs (dicts or strings); wrap a single one in a list"
        )
    pandas = sys.modules.get("pandas")  # not imported yet: inputs cannot be a DataFrame
    if pandas is not None and isinstance(inputs, pandas.DataFrame):
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
    # a refused input is keyed as written: its spelling of a person must not hide a valid one
    key = input_key(act, value, parameters, max_results, by_entity=problem is None)
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
    """One entry per worker: the account it is pinned to (as `integration_users`), or None.

    Every usable account is listed, even beyond one per input: `run_batch` starts `todo` of
    them and keeps the others in reserve for workers whose account fails.
    """
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
        return [[u] for u in uids]
    n = max_workers or DEFAULT_MAX_WORKERS
    return [None] * max(1, min(n, todo))


def _growth_cap(
    client: CaptainDataClient, act: Action, max_workers: int | None, started: int
) -> int:
    """How many workers an action without an account may grow to; `started` means no growth.

    Account actions are pinned one worker per account (the API's rule), and an explicit
    `max_workers` is the caller's choice. Otherwise 16 workers make at most 16/L calls per
    second: with calls of L = 2 s that is 8/s, a fifth of a 40/s plan. So the pool may grow to
    what the plan's rate needs for calls of up to 10 s, and `_grow` adds workers only while
    the calls made fall short of that rate.
    """
    if act.uses_account or max_workers is not None or client.bucket is None:
        return started
    return max(started, min(MAX_GROWN_WORKERS, math.ceil(client.bucket.rate * 10)))


def _run_workers(
    run: _Run, client: CaptainDataClient, slots: list[list[str] | None], cap: int
) -> None:
    """Run the workers (one per slot, growing up to `cap`: see `_grow`) until the queue is done.

    On an interrupt in this (main) thread, Dagster's terminate or Ctrl-C, or once the step's
    parent process is gone, no new call starts; the calls in flight are recorded (waited for up
    to the client's timeouts) before the interrupt propagates: see `stopping.Watch`.
    """
    pool = ThreadPoolExecutor(cap, thread_name_prefix="captaindata-batch")
    futures = [pool.submit(run.work, users) for users in slots]
    grace = client.timeout + client.connect_timeout  # the longest a call in flight can take

    def done(seconds: float) -> bool:
        return not wait(futures, timeout=seconds).not_done

    watch = Watch(run.stop, done, run.halt, run.log, run.act.id, grace_s=grace)
    try:
        with watch:
            if cap > len(slots):
                rate = client.bucket.rate if client.bucket else 0.0
                _grow(run, pool, futures, rate, cap, watch.wait)
            watch.until_done()
    finally:  # stopped: the stragglers are not waited for again (their calls were given time)
        pool.shutdown(wait=not watch.stopped, cancel_futures=watch.stopped)


def _grow(
    run: _Run,
    pool: ThreadPoolExecutor,
    futures: list[Future[None]],
    rate: float,
    cap: int,
    pause: Callable[[float], bool],
) -> None:
    """Add workers while the queue waits and the calls made stay under the plan's rate;
    `pause(seconds)` waits for the workers and says whether all have ended.

    Little's law: W workers whose calls take L seconds make W / L calls per second, so a pool
    making X calls per second under a rate R needs W * R / X workers; it at most doubles per
    step so that a slow first answer does not spawn the whole cap at once.
    """
    last_t, last_calls = time.monotonic(), run.stats.calls
    while not pause(GROW_EVERY_S):
        now, calls = time.monotonic(), run.stats.calls
        seen = (calls - last_calls) / max(now - last_t, 1e-9)
        last_t, last_calls = now, calls
        workers, waiting = len(futures), len(run.queue)
        if run.stopping or not waiting or workers >= cap or seen >= 0.9 * rate:
            continue
        need = math.ceil(workers * rate / max(seen, 1e-9) * 1.1)
        target = min(cap, 2 * workers, need, workers + waiting)
        futures.extend(pool.submit(run.work, None) for _ in range(target - workers))


# ---------------------------------------------------------------------- errors and frames


def _ban_message(err: CaptainDataError, at: datetime) -> str:
    """The error row's text for a rate limit too long to wait out: whom, and until when."""
    wait = float(err.retry_after or 0.0)
    until = (at + timedelta(seconds=wait)).strftime("%Y-%m-%d %H:%M UTC")
    scope = "this account" if getattr(err, "limit_type", None) == "account" else "the workspace"
    return (
        f"rate-limited: the API asked {scope} to wait {wait:g} s (until {until}), longer than "
        f"max_retry_after_s; retry after {until} ({err.message})"
    )


def _error_fields(err: CaptainDataError, user_uid: str | None = None) -> dict[str, Any]:
    """An error row's envelope fields; `user_uid`: whose account made the call (None: none)."""
    return {
        "error_label": err.error_label,
        "error_scope": err.error_scope,
        "error_ref": err.error_ref,
        "message": err.message,
        "status_code": err.status_code,
        "retryable": bool(err.retryable),
        "user_uid": user_uid,
    }


def _entry_error(entry: Entry) -> dict[str, Any]:
    return {
        "error_label": entry.error_label,
        "error_scope": entry.error_scope,
        "error_ref": entry.error_ref,
        "message": entry.message,
        "status_code": entry.status_code,
        "retryable": bool(entry.retryable),
        "user_uid": entry.user_uid,
    }


def _cap(results: list[dict[str, Any]], max_results: int | None) -> list[dict[str, Any]]:
    return results if max_results is None else results[:max_results]


def _errors_frame(action_id: str, outcomes: list[_Outcome]) -> pd.DataFrame:
    import pandas as pd

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
