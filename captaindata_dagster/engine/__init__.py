"""The engine: runs a batch of inputs through the client, within pacing, budget and accounts.

Dedupes, skips what the ledger holds fresh, runs concurrently, writes each result or error to the
store as it arrives, and hands back records (`BatchResult`, `BatchStats`). Nothing here imports
Dagster: an op, an asset or a plain script call it alike.

One runner (`runner`: worker threads, stop and watch) runs a strategy per kind of work (`fetch`,
`search_walk`, the outreach side effect) over shared pieces: `work_queue`, `budget` (credits,
at risk included), `account_pool` (one call at a time per account, retiring a failed one),
`claims` (cross-run claims in the ledger) and `outcomes` (result rows, error rows, counts).

Example:
    >>> from captaindata_dagster.engine import run_batch
"""

from captaindata_dagster.engine.batch.run import BatchResult, BatchStats, run_batch

__all__ = ["BatchResult", "BatchStats", "run_batch"]
