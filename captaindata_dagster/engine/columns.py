"""The errors table's columns, the same for every strategy (a batch's errors, outreach's).

One schema per table, whatever the action: a warehouse table that grows a column per run is not a
table. Outreach adds its `campaign` column after these.
"""

from __future__ import annotations

ERROR_COLUMNS = (
    "action_id",
    "input",
    "error_label",
    "error_scope",
    "error_ref",
    "message",
    "status_code",
    "retryable",
    "at",
    "from_cache",  # True: recorded by an earlier run (a permanent error still fresh in the ledger)
    "user_uid",  # the user whose connected account made the failed call (None: no account used;
    # an input not sent because every account had failed: the account that failed last)
)
