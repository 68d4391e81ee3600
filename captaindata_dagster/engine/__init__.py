"""The engine: runs a batch of inputs through the client, within pacing, budget and accounts.

Dedupes, skips what the ledger holds fresh, runs concurrently, writes each result or error to the
store as it arrives, and hands back records (`BatchResult`, `BatchStats`). Nothing here imports
Dagster: an op, an asset or a plain script call it alike.

One runner (`runner`: worker threads, stop and watch) runs a strategy per kind of work
(`batch.fetch`, `batch.search_walk`, the outreach side effect) over shared pieces: `work_queue`,
`budget` (credits, at risk included), `account_pool` (one call at a time per account, retiring a
failed one) and `call_count`; the batch strategies add `batch.claims` (cross-run claims in the
ledger) and `batch.outcomes` (result rows, error rows, counts).

Example:
    >>> from captaindata_dagster.engine import run_batch, run_outreach
"""

from typing import TYPE_CHECKING

from captaindata_dagster.engine.batch import BatchResult, BatchStats, run_batch
from captaindata_dagster.lazy_exports import lazy_exports

if TYPE_CHECKING:  # imported on first use below; a type checker sees them now
    from captaindata_dagster.engine.outreach import OutreachResult, OutreachStats, run_outreach

# Outreach builds its frames with pandas at import: a code location that loads only batch assets
# must not pay for it, so its names are imported when first read.
__getattr__, __dir__ = lazy_exports(
    __name__, dict.fromkeys(("OutreachResult", "OutreachStats", "run_outreach"), "outreach")
)

__all__ = [
    "BatchResult",
    "BatchStats",
    "OutreachResult",
    "OutreachStats",
    "run_batch",
    "run_outreach",
]
