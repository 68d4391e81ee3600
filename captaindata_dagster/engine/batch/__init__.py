"""The batch: fetch each input of a batch once (or walk each search), skipping what is fresh.

`run.py` is the entry (`run_batch`, its records `BatchResult` and `BatchStats`); the two
strategies it hands the shared runner are `fetch.py` (one call per input) and `search_walk.py`
(page by page, resumable); `strategy.py` is what both do around a call (claim, call, release,
retire an account), `failed_calls.py` what a failed call means, `inputs.py` how inputs are
normalised and keyed, `plan.py` what they come to before any call (distinct, valid, not fresh),
`preview.py` the cost preview of a batch built on it (`estimate_batch`, no call),
`result_rows.py` the compact result rows, `context.py` the pieces bundled.

Example:
    >>> from captaindata_dagster.engine.batch import BatchResult, run_batch
"""

from captaindata_dagster.engine.batch.preview import estimate_batch
from captaindata_dagster.engine.batch.run import BatchResult, BatchStats, run_batch
from captaindata_dagster.engine.columns import ERROR_COLUMNS

__all__ = ["ERROR_COLUMNS", "BatchResult", "BatchStats", "estimate_batch", "run_batch"]
