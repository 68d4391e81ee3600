"""The receiver's group commit: the callbacks that arrive together are committed together.

A callback is answered 2xx only once it is committed, and on SQLite (synchronous=FULL) a commit's
sync to disk costs more than everything else a callback needs. So the requests do not commit one
by one: each hands its item to one `GroupCommitter` and awaits its own outcome. The committer
runs one batch at a time in a worker thread (the store's call blocks); whatever arrived while a
batch was committing is the next batch. Nothing waits for a batch to fill: a lone callback is
committed at once, as before; under load the batches grow by themselves, one sync for many.

Each item's outcome is its own (a refusal of one item does not touch the others); only when the
batch's call fails as a whole does every item of it get that error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

MAX_BATCH = 256  # items per transaction: bounds a transaction's size and its answers' delay


class GroupCommitter(Generic[Item, Outcome]):
    """One committer on the event loop: `await submit(item)` -> that item's outcome.

    Args:
        commit: the blocking call that lands a batch, run in a worker thread: its result is an
            outcome per item, in order, where an exception instance is that item's error (raised
            to its submitter); when it raises, every item of the batch gets that error.
        max_batch: the most items one call gets.

    Example:
        >>> committer = GroupCommitter(store.land_callbacks)  # doctest: +SKIP
        >>> await committer.submit(("sub-1", payload))  # doctest: +SKIP
        'landed'
    """

    def __init__(
        self,
        commit: Callable[[list[Item]], Sequence[Outcome | Exception]],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Outcome:
        """Queue `item` for the next batch and wait until it is committed: its outcome.

        Raises:
            Exception: the item's own error, or the batch's when the whole call failed.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.append((item, answer))
        if self._draining is None:
            self._draining = loop.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        """Commit batches until nothing waits; the requests' futures get their outcomes."""
        batch: list[tuple[Item, asyncio.Future[Outcome]]] = []
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    outcomes = await run_in_threadpool(self._commit, [item for item, _ in batch])
                except Exception as err:  # the batch's call failed: each of its items hears it
                    outcomes = [err] * len(batch)
                for (_, answer), outcome in zip(batch, outcomes, strict=True):
                    if answer.done():  # its request went away (the client hung up)
                        continue
                    if isinstance(outcome, Exception):
                        answer.set_exception(outcome)
                    else:
                        answer.set_result(outcome)
                batch = []
        finally:
            self._draining = None
            for _, answer in batch + self._waiting:  # cancelled (shutdown): nobody is left hanging
                if not answer.done():
                    answer.cancel()
            self._waiting.clear()
