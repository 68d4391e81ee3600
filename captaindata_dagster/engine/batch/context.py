"""What a batch's strategies share: the action and its call settings, and the run's pieces.

One `BatchContext` per `run_batch` call: the client and action, the parameters and ledger the
calls use, and the shared pieces (queue, runner, budget, outcomes, accounts, claims). Each piece
guards its own state; the context only puts them within the strategies' reach.

Example:
    >>> if ctx.reserve(ctx.factor):
    ...     ...  # call, then ctx.budget.settle(ctx.factor, spent)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.engine.account_pool import AccountPool
from captaindata_dagster.engine.batch.claims import Claims
from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.batch.outcomes import BatchOutcomes
from captaindata_dagster.engine.budget import CreditBudget
from captaindata_dagster.engine.runner import Runner
from captaindata_dagster.engine.work_queue import WorkQueue
from captaindata_dagster.storage.ledger import Ledger


@dataclass
class BatchContext:
    """A batch run's settings and pieces (see the module docstring)."""

    client: CaptainDataClient
    act: Action
    parameters: dict[str, Any] | None
    ledger: Ledger | None
    max_age: timedelta | None
    max_results: int | None
    log: Any
    queue: WorkQueue[BatchItem]
    runner: Runner[BatchItem]
    budget: CreditBudget
    outcomes: BatchOutcomes
    accounts: AccountPool
    claims: Claims
    factor: float  # the most one result can cost (see `budget.most_per_result`)

    def reserve(self, cost: float) -> bool:
        """Claim `cost` credits before a call; False: start no new call (the run is halted, or
        the call could pass the budget, which halts the run: in-flight calls finish)."""
        if self.queue.halted:
            return False
        if self.budget.reserve(cost):
            return True
        self.queue.halt()
        return False
