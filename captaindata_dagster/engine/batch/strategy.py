"""The flow every batch strategy gives an input: claim it, call for it, let go, retire on failure.

A batch strategy (`FetchStrategy`, `SearchWalkStrategy`) only says how to call for one input
(`call`); this base makes it a runner `Strategy`: the input is claimed in the ledger first (another
run may be fetching it: see `claims`), the claim is let go once the outcome is saved, and an
account that failed on the input is retired (see `failed_calls.retire_account`).

Example:
    >>> runner.run(FetchStrategy(ctx), ctx.accounts.started)
"""

from __future__ import annotations

from captaindata_dagster.engine.batch.context import BatchContext
from captaindata_dagster.engine.batch.failed_calls import AccountFailed, retire_account
from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.runner import Next


class BatchStrategy:
    """A runner strategy over a batch's inputs; subclasses implement `call`.

    Args:
        ctx: the batch's settings and pieces.
    """

    def __init__(self, ctx: BatchContext) -> None:
        self.ctx = ctx

    def handle(self, item: BatchItem, account: str | None) -> Next:
        """Claim, call, let go; what the worker does next (see `runner.Strategy`)."""
        ctx = self.ctx
        claim = ctx.claims.claim(item, ctx.queue)
        if not claim.go:
            if claim.answer is not None:  # another run answered it meanwhile: as from the ledger
                ctx.outcomes.record_entry(item, claim.answer)
            elif claim.gave_up:
                ctx.outcomes.not_done(started=False)
            return Next(account)
        try:
            failed = self.call(item, [account] if account else None)
        finally:
            ctx.claims.release(item)
        if failed is None:
            return Next(account)
        return retire_account(ctx, item, failed)  # released first: another worker may claim it

    def call(self, item: BatchItem, users: list[str] | None) -> AccountFailed | None:
        """Call for one input and record its outcome; not None: the account failed.

        Args:
            item: the input.
            users: the account to call with, as the client's `integration_users` (None: the
                API picks).
        """
        raise NotImplementedError
