"""The errors table's columns and their types, the same for every strategy (a batch's, outreach's).

One schema per table, whatever the action: a warehouse table that grows a column per run is not a
table. Outreach adds its `campaign` column after these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # pandas is imported where the frame is built, in a step
    import pandas as pd

# column -> catalog type (`column_types` says what each becomes in a schema and in pandas)
ERROR_COLUMN_KINDS: dict[str, str] = {
    "action_id": "string",
    "input": "string",
    "error_label": "string",
    "error_scope": "string",
    "error_ref": "string",
    "message": "string",
    "status_code": "integer",  # None: the error had no HTTP answer
    "retryable": "boolean",
    "at": "timestamp",
    "from_cache": "boolean",  # True: recorded by an earlier run (a permanent error still fresh)
    "user_uid": "string",  # the user whose connected account made the failed call (None: no
    # account used; an input not sent because every account had failed: the one that failed last)
}
ERROR_COLUMNS = tuple(ERROR_COLUMN_KINDS)


def errors_frame(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = ERROR_COLUMNS
) -> pd.DataFrame:
    """The errors table of a run: one row per failed input, typed the same even with no rows.

    Each error column has the dtype `column_types.errors_columns()` gives the warehouse table
    (`status_code` a nullable Int64, `retryable` and `from_cache` nullable booleans, `at` a UTC
    datetime, text as `string`); columns a strategy adds are kept as given. A key of a row missing
    from `columns` is dropped.

    Args:
        rows: column -> value, one mapping per failed input.
        columns: the table's columns: `ERROR_COLUMNS`, then any a strategy adds (outreach's
            `campaign`).

    Example:
        >>> errors_frame([]).dtypes["status_code"]
        Int64Dtype()
    """
    import pandas as pd

    from captaindata_dagster.engine.column_types import errors_columns
    from captaindata_dagster.engine.frames import typed_column

    frame = pd.DataFrame.from_records(list(rows), columns=list(columns))
    for column in errors_columns():
        if column.name in frame.columns:
            frame[column.name] = typed_column(cast("pd.Series", frame[column.name]), column)
    return frame
