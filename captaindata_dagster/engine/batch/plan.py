"""What a batch's inputs come to before any call: distinct, valid, and not fresh in the ledger.

The first two steps of every batch, shared by `run_batch` (which then calls for the rest) and by
the cost preview (`engine.estimate`, which only counts them): the same dedupe (one key per person,
however the URL is spelled), the same local validation, the same freshness rule (`Ledger.fresh`),
so a preview counts exactly what a run would skip and fetch. Nothing here makes an HTTP call.

Example:
    >>> plan = plan_inputs(act, ["https://www.linkedin.com/in/jane"], ledger=ledger,
    ...                    max_age=timedelta(days=30))
    >>> (plan.unique_inputs, plan.fresh, len(plan.todo))
    (1, 0, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.engine.batch.inputs import BatchItem, iter_inputs, prepare_input
from captaindata_dagster.engine.estimate import InputCounts
from captaindata_dagster.storage.ledger import Entry, Ledger

OnInvalid = Callable[[BatchItem, CaptainDataError], None]
OnFresh = Callable[[BatchItem, Entry], None]


@dataclass
class InputPlan:
    """The inputs of a batch, sorted out before any call.

    `inputs` counts what was given, `unique_inputs` the distinct ones (invalid ones included),
    `invalid` those refused locally (no call, no credit), `fresh` those the ledger answers (no
    call, no credit); `todo` holds the inputs left to fetch, in the caller's order.
    """

    inputs: int = 0
    unique_inputs: int = 0
    invalid: int = 0
    fresh: int = 0
    todo: list[BatchItem] = field(default_factory=list)

    def counts(self) -> InputCounts:
        """The counts, what the cost estimate reads (`engine.estimate.estimate_plan`)."""
        return InputCounts(
            self.inputs, self.unique_inputs, self.invalid, self.fresh, len(self.todo)
        )


def plan_inputs(
    act: Action,
    inputs: Iterable[Any],
    *,
    parameters: Mapping[str, Any] | None = None,
    max_results: int | None = None,
    ledger: Ledger | None = None,
    max_age: timedelta | None = None,
    validate: bool = True,
    on_invalid: OnInvalid | None = None,
    on_fresh: OnFresh | None = None,
) -> InputPlan:
    """Dedupe and check `inputs` locally, then ask the ledger which are fresh.

    Args:
        act: the action.
        inputs: dicts, strings meaning the action's primary field, None, or a DataFrame.
        parameters: the action's parameters (part of each ledger key).
        max_results: the cap on a search's results (part of each ledger key).
        ledger: the ledger to read (None: nothing is fresh).
        max_age: how old a ledger entry may be and still answer (None: entries never expire).
        validate: check each input against the catalog (the client's `validate`).
        on_invalid: told of each refused input and its problem (a run makes it an error row).
        on_fresh: told of each input the ledger answers and its entry (a run uses its results).

    Example:
        >>> plan = plan_inputs(act, ["https://www.linkedin.com/in/jane", "/in/jane/"])
        >>> (plan.inputs, plan.unique_inputs)
        (2, 1)
    """
    plan = InputPlan()
    pending = _distinct(act, inputs, parameters, max_results, validate, plan, on_invalid)
    for item in pending:
        entry = ledger.fresh(act.id, item.key, max_age) if ledger is not None else None
        if entry is None:
            plan.todo.append(item)
            continue
        plan.fresh += 1
        if on_fresh is not None:
            on_fresh(item, entry)
    return plan


def check_max_results(max_results: int | None) -> None:
    """Refuse a results cap a run would refuse: a positive integer or None.

    Args:
        max_results: the cap on a search's results.

    Example:
        >>> check_max_results(0)
        Traceback (most recent call last):
        ValueError: max_results must be a positive integer or None, got 0
    """
    if max_results is not None and (not isinstance(max_results, int) or max_results < 1):
        raise ValueError(f"max_results must be a positive integer or None, got {max_results!r}")


def _distinct(
    act: Action,
    inputs: Iterable[Any],
    parameters: Mapping[str, Any] | None,
    max_results: int | None,
    validate: bool,
    plan: InputPlan,
    on_invalid: OnInvalid | None,
) -> list[BatchItem]:
    """The valid distinct inputs, in order; counts the given, distinct and refused ones."""
    pending: list[BatchItem] = []
    seen: set[str] = set()
    for raw in iter_inputs(inputs):
        plan.inputs += 1
        item, problem = prepare_input(
            act, raw, parameters, max_results, plan.inputs, validate=validate
        )
        if item.key in seen:
            continue
        seen.add(item.key)
        if problem is not None:
            plan.invalid += 1
            if on_invalid is not None:
                on_invalid(item, problem)
            continue
        pending.append(item)
    plan.unique_inputs = len(seen)
    return pending
