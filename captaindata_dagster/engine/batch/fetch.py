"""The fetch strategy: one call per input of an object action (a profile, a company, a place).

The call reserves its most (one result) from the budget first, its result is saved in the ledger
as soon as it arrives, then becomes the input's rows. A call the run's stop kept from being sent
leaves the input for the next run.

Example:
    >>> runner.run(FetchStrategy(ctx), ctx.accounts.started)
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.api.stopping import CallStopped
from captaindata_dagster.engine.batch.failed_calls import AccountFailed, settle_failure
from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.batch.strategy import BatchStrategy


class FetchStrategy(BatchStrategy):
    """Fetch each input of an object action with one call (see the module docstring)."""

    def call(self, item: BatchItem, users: list[str] | None) -> AccountFailed | None:
        """Call the action for one input; not None: the account failed (see `settle_failure`).

        Args:
            item: the input.
            users: the account to call with (None: the API picks).
        """
        ctx = self.ctx
        cost = 1.0 * ctx.factor
        if not ctx.reserve(cost):
            ctx.outcomes.not_done(started=False)
            return None
        t0 = time.monotonic()
        try:
            res = ctx.client.run_action(
                ctx.act.id, item.input, parameters=ctx.parameters, integration_users=users
            )
        except CallStopped:  # the run stopped before this call was sent: left for the next run
            ctx.budget.settle(cost, 0.0)
            ctx.outcomes.not_done(started=False)
            return None
        except CaptainDataError as err:
            ctx.budget.settle(cost, 0.0, err.credits_at_risk)
            return settle_failure(ctx, item, err, time.monotonic() - t0, users)
        ctx.budget.settle(cost, res.credits, res.credits_at_risk)
        ctx.outcomes.calls.count(res.attempts, res.rate_limited, res.elapsed_s)
        at = datetime.now(timezone.utc)
        if ctx.ledger is not None:
            ctx.ledger.save_result(
                ctx.act.id,
                item.key,
                res.results,
                input=item.input,
                parameters=ctx.parameters,
                max_results=ctx.max_results,
                credits=res.credits,
                attempts=res.attempts,
                at=at,
            )
        ctx.outcomes.record_ok(item, res.results, at, False)
        return None
