"""The bill before the run: what the inputs left to fetch would cost and take, without a call.

`estimate_plan` prices what a batch leaves to fetch at the catalog's prices (`Action.credits_for`,
1.5x on managed identities) and times it at the plan's rate and the accounts' one call at a time.
Both users share it: the cost preview (`batch.preview.estimate_batch`, which sorts the inputs out
exactly as a run does, then calls it) and `run_batch` itself, once it knows what is left to fetch,
so a run's `stats.estimated_credits` is the preview's figure.

What is certain and what is assumed:

- `fresh` and `to_fetch` are exact at the time of reading (a run started later may find more
  entries expired, or another run's results fresh).
- An object action bills one result per input: `credits` is exact when every call succeeds (a
  failed call bills nothing, unless it failed after billing: see `credits_at_risk`).
- A search bills every result its pages return, and how many it has is known only once walked:
  `credits` is then None and `credits_upper_bound` the most (`max_results` rounded up to whole
  pages, each search); without `max_results` there is no bound (None).
- A budget (credits per run of one partition) caps the figures as it caps the run: an object
  action fetches the inputs it affords (a call starts only if it cannot pass the budget), a
  search's bound is the budget at most; `to_fetch` still counts every input left to fetch.
- Time: the calls are spread over the workers (one per LinkedIn account for actions that use
  one, one call at a time each; else the engine's default workers), each call taking
  `seconds_per_call` (an assumption: live calls vary from one to tens of seconds), within the
  paced rate. A search's pages are walked one after the other.

Example:
    >>> est = estimate_plan(act, InputCounts(50, 50, 0, 12, 38), paced_rate=9.5, accounts=2)
    >>> (est.fresh, est.to_fetch, est.credits)
    (12, 38, 38.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.engine.account_pool import DEFAULT_MAX_WORKERS

DEFAULT_SECONDS_PER_CALL = 2.0
"""The assumed time of one call (one object, one search page): a healthy live call's order."""
_SLACK = 1e-9  # as the run's budget: a call that exactly fills it is made


@dataclass(frozen=True)
class Estimate:
    """What a batch would fetch, cost and take; `to_dict()` is ready for JSON and metadata.

    Counts: `inputs` given, `unique_inputs` distinct (one per person however spelled), `invalid`
    refused locally, `fresh` answered by the ledger, `to_fetch` left to call for: only these are
    paid for.

    Cost: `credits` is what the calls will cost (None for searches: their result count is known
    once walked); `credits_upper_bound` the most they can cost (None: no bound, a search without
    `max_results`). `calls` and `seconds` likewise (None when unbounded); for a search they count
    full pages. `price_per_result` is the catalog's, the managed factor applied.

    Assumptions, kept with the figures: `workers` calling at once (`accounts` for an action that
    uses a LinkedIn account, one call at a time each), `seconds_per_call`, the `paced_rate` (calls
    per second, None: unpaced), the `budget` that caps the credits (None: none), and `notes` in
    words.
    """

    action_id: str
    inputs: int
    unique_inputs: int
    invalid: int
    fresh: int
    to_fetch: int
    credits: float | None
    credits_upper_bound: float | None
    calls: int | None
    seconds: float | None
    price_per_result: float
    managed: bool
    max_results: int | None
    workers: int
    seconds_per_call: float
    paced_rate: float | None
    budget: float | None = None
    notes: tuple[str, ...] = ()

    @property
    def billed_credits(self) -> float | None:
        """The figure to show beside the real spend: `credits`, else the upper bound."""
        return self.credits if self.credits is not None else self.credits_upper_bound

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


@dataclass(frozen=True)
class InputCounts:
    """What inputs came to before any call (see `Estimate` for each count); a batch's are
    `batch.plan.InputPlan.counts()`."""

    inputs: int
    unique_inputs: int
    invalid: int
    fresh: int
    to_fetch: int


def estimate_plan(
    action: Action,
    counts: InputCounts,
    *,
    max_results: int | None = None,
    managed: bool = False,
    paced_rate: float | None = None,
    accounts: int = 1,
    seconds_per_call: float = DEFAULT_SECONDS_PER_CALL,
    budget: float | None = None,
) -> Estimate:
    """Price and time the inputs left to fetch (see the module docstring).

    Args:
        action: the catalog action.
        counts: the inputs sorted out: `plan_inputs(...).counts()`, or counts known otherwise
            (a bound on an upstream's rows).
        max_results: the cap on each search's results.
        managed: 1.5x credits (managed identities).
        paced_rate: the calls per second the client paces at (None: unpaced; see
            `api.client.paced_rate`).
        accounts: the LinkedIn accounts the calls rotate over (actions that use one).
        seconds_per_call: the assumed time of one call.
        budget: the most credits the run may spend (None: no cap); it caps the figures.

    Example:
        >>> estimate_plan(act, InputCounts(50, 50, 0, 12, 38), paced_rate=9.5, accounts=2).credits
        38.0
    """
    if seconds_per_call < 0 or accounts < 1:
        raise ValueError("seconds_per_call must be >= 0 and accounts >= 1")
    if budget is not None and budget < 0:
        raise ValueError(f"budget must be >= 0 credits or None, got {budget!r}")
    price = action.credits_for(1, managed=managed)
    workers = accounts if action.uses_account else DEFAULT_MAX_WORKERS
    todo = counts.to_fetch
    per_input = _pages_per_input(action, max_results) if todo else 0  # None: unbounded
    most = (
        None
        if per_input is None
        else round(todo * _results_per_input(action, max_results) * price, 6)
    )
    fetched = _affordable(action, todo, price, budget)
    upper = _within_budget(action, most, fetched, price, budget if todo else None)
    calls = None if per_input is None else fetched * per_input
    notes = _notes(action, max_results, todo, workers, paced_rate)
    if budget is not None and upper != most:
        notes += (_budget_note(action, todo, fetched, budget),)
    return Estimate(
        action_id=action.id, inputs=counts.inputs, unique_inputs=counts.unique_inputs,
        invalid=counts.invalid, fresh=counts.fresh, to_fetch=todo,
        credits=None if action.is_list and todo else upper,
        credits_upper_bound=upper, calls=calls,
        seconds=_seconds(fetched, per_input, workers, seconds_per_call, paced_rate),
        price_per_result=price, managed=managed, max_results=max_results,
        workers=min(workers, max(todo, 1)), seconds_per_call=seconds_per_call,
        paced_rate=paced_rate, budget=budget, notes=notes,
    )  # fmt: skip


def _affordable(action: Action, todo: int, price: float, budget: float | None) -> int:
    """The inputs an object action fetches within `budget`: a call starts only if its price
    cannot pass it (as `engine.budget.CreditBudget.reserve`). A search walks all of its inputs
    (until a page could pass the budget: when, its result count decides)."""
    if budget is None or action.is_list or price <= 0:
        return todo
    return min(todo, math.floor(budget / price + _SLACK))


def _within_budget(
    action: Action, most: float | None, fetched: int, price: float, budget: float | None
) -> float | None:
    """The most credits once the budget caps them: the inputs afforded at the price (an object
    action), the budget itself at most (a search, bounded by it even without `max_results`)."""
    if budget is None:
        return most
    if not action.is_list:
        return round(fetched * price, 6)
    return budget if most is None else min(most, budget)


def _budget_note(action: Action, todo: int, fetched: int, budget: float) -> str:
    """Says that the budget caps the figures, and what it leaves undone."""
    said = f"the budget of {budget:g} credits caps it"
    if action.is_list:
        return f"{said}: the walk stops before a page could pass it"
    return f"{said}: {fetched} of the {todo} inputs to fetch are fetched, the rest wait for a later run"


def _pages_per_input(action: Action, max_results: int | None) -> int | None:
    """The calls one input takes: 1 for an object; a search's full pages up to `max_results`."""
    if not action.is_list:
        return 1
    if max_results is None:
        return None
    return math.ceil(max_results / action.page_size) if action.page_size else 1


def _results_per_input(action: Action, max_results: int | None) -> int:
    """The most results one input is billed: 1 for an object; a search's full pages (the API
    bills every result a page returns, wanted or not)."""
    if not action.is_list or max_results is None:
        return 1
    if action.page_size:
        return math.ceil(max_results / action.page_size) * action.page_size
    return max_results


def _seconds(
    todo: int,
    per_input: int | None,
    workers: int,
    seconds_per_call: float,
    paced_rate: float | None,
) -> float | None:
    """The longer of: the inputs spread over the workers (each input's calls one after the
    other), and all the calls at the paced rate."""
    if per_input is None:
        return None
    if todo == 0:
        return 0.0
    rounds = math.ceil(todo / workers) * per_input
    by_rate = todo * per_input / paced_rate if paced_rate else 0.0
    return round(max(rounds * seconds_per_call, by_rate), 3)


def _notes(
    action: Action, max_results: int | None, todo: int, workers: int, paced_rate: float | None
) -> tuple[str, ...]:
    """The assumptions behind the figures, in words."""
    notes: list[str] = []
    if action.is_list and todo:
        notes.append(
            "a search's result count is known once walked: the credits are an upper bound, "
            + (
                "no bound without max_results"
                if max_results is None
                else f"max_results={max_results} rounded up to whole pages"
                + (f" of {action.page_size}" if action.page_size else "")
            )
        )
    elif todo:
        notes.append("one result per input; a failed call bills nothing")
    if action.uses_account:
        notes.append(f"{workers} LinkedIn account(s), one call at a time each")
    if paced_rate is None:
        notes.append("unpaced: no plan rate given")
    return tuple(notes)
