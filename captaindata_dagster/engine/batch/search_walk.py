"""The search walk strategy: a list action walked page by page, each page saved as it arrives.

Each page reserves its most from the budget first: the API charges every result a page returns,
wanted or not. A walk stopped midway (budget, stop, a failed account) keeps its pages: the next run
resumes after the pages the ledger holds, and within a run another account resumes after the pages
a failed account fetched, so no page is paid for twice.

Example:
    >>> runner.run(SearchWalkStrategy(ctx), ctx.accounts.started)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from captaindata_dagster.api.action_result import ActionResult
from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.api.paging import is_last_page
from captaindata_dagster.api.stopping import CallStopped
from captaindata_dagster.engine.batch.context import BatchContext
from captaindata_dagster.engine.batch.failed_calls import AccountFailed, settle_failure
from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.batch.outcomes import cap_results
from captaindata_dagster.engine.batch.strategy import BatchStrategy
from captaindata_dagster.storage.ledger import ResumePoint


@dataclass
class _Walk:
    """One search being walked: the next page's number, what was collected, where it resumes."""

    page: int
    collected: list[dict[str, Any]]
    next_url: str | None
    fetched: int = 0  # pages fetched by this call
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


class SearchWalkStrategy(BatchStrategy):
    """Walk each input's search (see the module docstring)."""

    def __init__(self, ctx: BatchContext) -> None:
        super().__init__(ctx)
        self._lock = threading.Lock()
        self._walks: dict[str, ResumePoint] = {}  # searches an account stopped midway -> resume

    def call(self, item: BatchItem, users: list[str] | None) -> AccountFailed | None:
        """Walk one search, saving each page; not None: the account failed (see
        `settle_failure`).

        Args:
            item: the input.
            users: the account to call with (None: the API picks).
        """
        ctx = self.ctx
        walk = self._start(item)
        remaining = None if ctx.max_results is None else ctx.max_results - len(walk.collected)
        pages = ctx.client.iter_pages(
            ctx.act.id,
            item.input,
            parameters=ctx.parameters,
            integration_users=users,
            max_results=remaining,
            start_url=walk.next_url,
            start_page=walk.page,
        )
        try:
            done, failed = self._pages(item, walk, pages, users)
        finally:  # the client's pages are a generator: closing it ends its walk at once
            pages.close()
        if done:
            ctx.outcomes.record_ok(
                item, cap_results(walk.collected, ctx.max_results), walk.at, False
            )
        return failed

    def _start(self, item: BatchItem) -> _Walk:
        """Where the walk starts: after the pages this run or a past one stored, or page 1."""
        ctx = self.ctx
        with self._lock:
            resume = self._walks.pop(item.key, None)
        if resume is None and ctx.ledger is not None:
            resume = ctx.ledger.resume_point(ctx.act.id, item.key, ctx.max_age)
        if resume is None:
            return _Walk(1, [], None)
        walk = _Walk(resume.pages_done + 1, list(resume.results), resume.next_url)
        ctx.log.info(
            "%s: resuming %s at page %d (%d results stored)",
            ctx.act.id,
            item.label,
            walk.page,
            len(walk.collected),
        )
        return walk

    def _pages(
        self,
        item: BatchItem,
        walk: _Walk,
        pages: Iterator[ActionResult],
        users: list[str] | None,
    ) -> tuple[bool, AccountFailed | None]:
        """Fetch pages until the last; (True, None): the walk is complete."""
        ctx = self.ctx
        while True:
            cost = self._page_cost(len(walk.collected))
            if not ctx.reserve(cost):
                ctx.outcomes.not_done(started=walk.fetched > 0)
                return False, None
            t0 = time.monotonic()
            try:
                res = next(pages)
            except StopIteration:  # the client saw nothing more to fetch
                ctx.budget.settle(cost, 0.0)
                walk.at = datetime.now(timezone.utc)
                if ctx.ledger is not None:
                    ctx.ledger.mark_complete(ctx.act.id, item.key, at=walk.at)
                return True, None
            except CallStopped:  # the stored pages stay: the next run resumes after them
                ctx.budget.settle(cost, 0.0)
                ctx.outcomes.not_done(started=walk.fetched > 0)
                return False, None
            except CaptainDataError as err:
                ctx.budget.settle(cost, 0.0, err.credits_at_risk)
                failed = settle_failure(ctx, item, err, time.monotonic() - t0, users)
                if failed is not None and walk.page > 1:  # another account resumes, paying once
                    point = ResumePoint(walk.page - 1, walk.collected, walk.next_url, 0.0)
                    with self._lock:
                        self._walks[item.key] = point
                return False, failed
            ctx.budget.settle(cost, res.credits, res.credits_at_risk)
            if self._page(item, walk, res):
                return True, None

    def _page(self, item: BatchItem, walk: _Walk, res: ActionResult) -> bool:
        """Count and save one page; True: it was the last one the walk needs."""
        ctx = self.ctx
        ctx.outcomes.calls.count(res.attempts, res.rate_limited, res.elapsed_s)
        walk.fetched += 1
        walk.next_url = res.next_url
        walk.collected.extend(res.results)
        over = is_last_page(ctx.act, res, len(walk.collected), ctx.max_results)
        walk.at = datetime.now(timezone.utc)
        if ctx.ledger is not None:
            ctx.ledger.save_page(
                ctx.act.id,
                item.key,
                walk.page,
                res.results,
                next_url=res.next_url,
                complete=over,
                input=item.input,
                parameters=ctx.parameters,
                max_results=ctx.max_results,
                credits=res.credits,
                attempts=res.attempts,
                at=walk.at,
            )
        walk.page += 1
        return over

    def _page_cost(self, seen: int) -> float:
        """The most a page can cost: the API charges every result a page returns, wanted or not."""
        act, max_results = self.ctx.act, self.ctx.max_results
        if act.page_size:
            cost = float(act.page_size)
        elif max_results is not None:
            cost = float(max(1, max_results - seen))
        else:
            cost = 1.0  # an unpaged list of unknown length: the settle records the real cost
        return cost * self.ctx.factor
