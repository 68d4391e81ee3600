"""Warehouse-ready tables: one stable schema per action, whatever a partition happened to return.

A warehouse table is written partition by partition, so every partition must bring the same columns
with the same types, even when a field is missing or empty in this one, or the partition has no
rows at all. Each column's type is its `column_types.ColumnType` (from the catalog's output types):
integers, numbers and booleans keep nullable pandas dtypes (Int64, Float64, boolean: an integer
field with a gap is still a DuckDB BIGINT), strings stay strings, nested arrays and objects are
stored as JSON text, and the times are UTC timestamps. Fields the catalog does not know are dropped
(they would change the table's shape from one run to the next).

Values are converted to their field's catalog type explicitly, never by Python truthiness:

- missing: None, pandas' NA/NaT and float NaN (what pandas puts where a result lacked the field)
  are NA in every column; so is a blank string in a boolean, integer or number column.
- boolean: True/False; the strings "true"/"false", "yes"/"no", "1"/"0" (any case, spaces around
  ignored); the numbers 1 and 0 (1.0 and 0.0 too: pandas turns ints into floats in a column with
  gaps). Anything else ("maybe", 2, a dict) is NA, not a guessed truth value.
- integer (Int64): ints; floats and numeric strings ("42", " -7 ", "4.2e1") with no fractional
  part. NA for a fractional part, a boolean (a JSON boolean is the wrong shape, not 0 or 1),
  non-numeric text ("nan", "inf", "1_000" included) and values outside Int64 (no crash).
- number (Float64): ints, floats and numeric strings. NA for booleans (as above), non-numeric
  text, ±inf (JSON has no such number) and ints too large for a float.
- string: strings as they are; True/False as "true"/"false" and numbers as their JSON text (an
  integral float as an integer, "42" not "42.0", undoing pandas' float upcast); arrays and objects
  as JSON text with sorted keys; bytes described ("<12 bytes>"); anything else via `str`.
- array/object: always valid JSON text with sorted keys. A string that already is JSON text of an
  array or object is parsed and written the same way, not encoded a second time; any other string
  is written as a JSON string ("\\"text\\""); other scalars as their JSON text. Non-finite numbers
  inside are written as null (JSON has no NaN).

- timestamp (the meta and errors tables' times): datetimes and ISO 8601 text, as UTC.

A value its column cannot hold (the API answering "n/a" for an integer) never fails the step and is
not silently lost: the column keeps its declared type (a table that turned to text on one bad value
would change its schema from one partition to the next), the value is NA there, and each column
that had some logs one warning (column, count, a few examples) on the `log` the caller passes (a
step's `context.log`, so it shows in the run's logs). The row is kept, and the ledger keeps the raw
result as the API sent it, so the value can be read back.

Pure pandas: the Dagster types of these frames and the partition columns' names live in the Dagster
layer (`orchestration.assets.frame_types`, `orchestration.assets.partition_columns`).

Example:
    >>> table = results_table(action, batch.results, {"partition_key": "paris"}, log=context.log)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.entity_keys import entity_key
from captaindata_dagster.engine.cell_values import (
    CONVERTERS,
    UNFIT,
    cell_text,
    is_missing,
    json_text,
)
from captaindata_dagster.engine.column_types import (
    META_COLUMNS,
    ColumnType,
    errors_columns,
    results_columns,
)

PROFILE_URL = "linkedin_profile_url"
_EXAMPLES = 3  # unfit values quoted in a column's warning
_log = logging.getLogger("captaindata_dagster.engine.frames")

# pandas is imported inside the functions that build frames, which run in a step: loading a code
# location (webserver, daemon, every run worker) must not pay for it.
if TYPE_CHECKING:
    import pandas as pd


def typed_column(values: pd.Series, column: ColumnType, where: str = "", log: Any = None) -> Any:
    """`values` as a pandas array of `column.pandas_dtype`; unfit values are NA and reported.

    Args:
        values: the raw values, one per row (objects, as the batch collected them).
        column: the column's type.
        where: how the warning names the column (`action.field`); default the column's name.
        log: where unfit values are reported (a step's `context.log`); default this module's.

    Example:
        >>> typed_column(pd.Series([365, None]), column_type("n", "integer")).dtype
        Int64Dtype()
    """
    import pandas as pd

    if column.pandas_dtype.startswith("datetime64"):
        array, unfit = _timestamps(values, column.pandas_dtype)
    elif column.json_type in CONVERTERS:
        convert = CONVERTERS[column.json_type]
        out, unfit = [], []
        for v in values:
            c = None if is_missing(v) else convert(v)
            if c is UNFIT:
                unfit.append(v)
                c = None
            out.append(c)
        array = pd.array(out, dtype=column.pandas_dtype)
    else:
        text = json_text if column.json_type in ("array", "object") else cell_text
        out = [None if is_missing(v) else text(v) for v in values]
        array, unfit = pd.array(out, dtype=column.pandas_dtype), []
    if unfit:
        kind = column.json_type if column.json_type in CONVERTERS else column.type_name
        _report(log if log is not None else _log, where or column.name, kind, unfit)
    return array


def _timestamps(values: pd.Series, dtype: str) -> tuple[Any, list[Any]]:
    """Datetimes and ISO 8601 text as UTC timestamps of `dtype`, and the values that are neither."""
    import pandas as pd

    present = [None if is_missing(v) else v for v in values]
    stamps = pd.to_datetime(
        pd.Series(present, dtype=object), utc=True, format="ISO8601", errors="coerce"
    )
    unfit = [v for v, t in zip(present, stamps, strict=True) if v is not None and t is pd.NaT]
    return stamps.astype(dtype).array, unfit


def _report(log: Any, name: str, kind: str, unfit: list[Any]) -> None:
    shown = ", ".join(_short(v) for v in unfit[:_EXAMPLES])
    more = ", ..." if len(unfit) > _EXAMPLES else ""
    log.warning(
        "%s: %d value(s) that a column of type %s cannot hold were stored as NA: %s%s",
        name,
        len(unfit),
        kind,
        shown,
        more,
    )


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def results_table(
    action: Action, results: pd.DataFrame, partition: Mapping[str, Any], *, log: Any = None
) -> pd.DataFrame:
    """The batch's results in the action's stable schema, partition columns first.

    Columns: the partition's, the action's output fields, then `META_COLUMNS`; each in the dtype
    of its `ColumnType` (`column_types.results_columns`), even with no rows.

    Args:
        action: the catalog action whose output fields make the columns.
        results: `BatchResult.results`, one row per result.
        partition: partition column name -> value, put first in every row.
        log: where unfit values are reported (a step's `context.log`); default this module's.

    Example:
        >>> results_table(action, batch.results, {"partition_key": "paris"}, log=context.log)
    """
    import pandas as pd

    n = len(results)
    data: dict[str, Any] = {k: _partition_column(v, n) for k, v in partition.items()}
    for column in results_columns(action):  # the action's fields, then the meta columns
        src = _get(results, column.name, n)
        what = "" if column.name in META_COLUMNS else f"{action.id}.{column.name}"
        data[column.name] = typed_column(src, column, what, log=log)
    return pd.DataFrame(data)


def errors_table(
    errors: pd.DataFrame, partition: Mapping[str, Any], *, log: Any = None
) -> pd.DataFrame:
    """One row per failed input, with the partition columns first; same schema when empty.

    Each of `ERROR_COLUMNS` in the dtype of its `ColumnType` (`column_types.errors_columns`):
    `status_code` Int64, `retryable` and `from_cache` boolean, `at` a UTC timestamp, text else.

    Args:
        errors: `BatchResult.errors`, one row per failed input.
        partition: partition column name -> value, put first in every row.
        log: where unfit values are reported (a step's `context.log`); default this module's.

    Example:
        >>> errors_table(batch.errors, {"partition_key": "paris"}, log=context.log)
    """
    import pandas as pd

    n = len(errors)
    data: dict[str, Any] = {k: _partition_column(v, n) for k, v in partition.items()}
    for column in errors_columns():
        src = _get(errors, column.name, n)
        data[column.name] = typed_column(src, column, f"errors.{column.name}", log)
    return pd.DataFrame(data)


def _partition_column(value: Any, n: int) -> pd.Series:
    """A partition column typed by its value even with no rows (an empty list would be float)."""
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return pd.Series([value] * n, dtype="datetime64[ns]")
    return pd.Series([value] * n, dtype=object)


def _get(df: pd.DataFrame, col: str, n: int) -> pd.Series:
    """Column `col` of `df` as objects indexed 0..n-1, or n Nones when `df` lacks it."""
    import pandas as pd

    if col in df.columns:
        return cast("pd.Series", df[col]).reset_index(drop=True).astype(object)
    return pd.Series([None] * n, dtype=object)


def dedupe_people(table: pd.DataFrame, column: str = PROFILE_URL) -> tuple[pd.DataFrame, int]:
    """One row per person: drop rows without a profile URL and repeats of one (first kept).

    Repeats are found by `entity_keys.entity_key`, so two spellings of one person's URL
    (`/in/jane-doe/` and `fr.linkedin.com/in/Jane-Doe`) are one person, as in the ledger.

    Args:
        table: a people table (`results_table` of a search).
        column: the column naming the person.

    Returns:
        The table kept, and how many rows were dropped.

    Example:
        >>> people, dropped = dedupe_people(results_table(action, batch.results, {}))
    """
    present = cast("pd.DataFrame", table[table[column].notna()])
    who = cast("pd.Series", present[column]).map(lambda url: entity_key(url) or url)
    keep = cast("pd.DataFrame", present[~who.duplicated(keep="first")]).reset_index(drop=True)
    return keep, len(table) - len(keep)
