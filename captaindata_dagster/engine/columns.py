"""The errors table's columns and their types, the same for every strategy (a batch's, outreach's).

One schema per table, whatever the action: a warehouse table that grows a column per run is not a
table. Outreach adds its `campaign` column after these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where the frame is built, in a step
    import pandas as pd

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


def errors_frame(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = ERROR_COLUMNS
) -> pd.DataFrame:
    """The errors table of a run: one row per failed input, typed the same even with no rows.

    `status_code` is a nullable integer (Int64: an error without an HTTP answer has none),
    `retryable` and `from_cache` are booleans and `at` is a UTC datetime; the other columns are
    kept as given. A key of a row missing from `columns` is dropped.

    Args:
        rows: column -> value, one mapping per failed input.
        columns: the table's columns: `ERROR_COLUMNS`, then any a strategy adds (outreach's
            `campaign`).

    Example:
        >>> errors_frame([]).dtypes["status_code"]
        Int64Dtype()
    """
    import pandas as pd

    frame = pd.DataFrame.from_records(list(rows), columns=list(columns))
    frame["status_code"] = frame["status_code"].astype("Int64")
    frame["retryable"] = frame["retryable"].astype(bool)
    frame["from_cache"] = frame["from_cache"].astype(bool)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame
