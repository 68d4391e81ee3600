"""Async mode: a batch's inputs sent as async runs of up to 100,000, landed from their callbacks.

`run.py` is the entry (`run_bulk_batch`, the same `BatchResult` as `batch.run_batch`);
`settings.py` says where callbacks go and how to wait (`BulkSettings`); `submissions.py` submits
chunks recorded in the ledger before the API call; `waiting.py` waits for the runs at a modest
pace and replays the callbacks the receiver missed; `landing.py` lands each callback in the
ledger and the frames, and gives every input an outcome at the end.

Example:
    >>> from captaindata_dagster.engine.bulk import BulkSettings, run_bulk_batch
"""

from captaindata_dagster.engine.bulk.run import run_bulk_batch
from captaindata_dagster.engine.bulk.settings import MAX_INPUTS_PER_RUN, BulkSettings

__all__ = ["MAX_INPUTS_PER_RUN", "BulkSettings", "run_bulk_batch"]
