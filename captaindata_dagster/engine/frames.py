"""Warehouse-ready tables: one stable schema per action, whatever a partition happened to return.

A warehouse table is written partition by partition, so every partition must bring the same columns
with the same types, even when a field is missing or empty in this one. The schema comes from the
catalog's output fields: integers, numbers and booleans keep nullable pandas types, strings stay
strings, and nested arrays and objects are stored as JSON text. Fields the catalog does not know are
dropped (they would change the table's shape from one run to the next).

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

A value a boolean, integer or number column cannot hold is not silently lost: each column that
had some logs one warning (field, count, a few examples) on Dagster's logger, so it shows in the
run's logs; the row itself is kept with NA in that column.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import dagster as dg

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.entity_keys import entity_key
from captaindata_dagster.engine.batch import ERROR_COLUMNS
from captaindata_dagster.engine.cell_values import (
    CONVERTERS,
    UNFIT,
    cell_text,
    is_missing,
    json_text,
)

META_COLUMNS = ("_input", "_input_key", "_fetched_at", "_from_cache")
PROFILE_URL = "linkedin_profile_url"
_DTYPES = {"integer": "Int64", "number": "Float64", "boolean": "boolean"}
_EXAMPLES = 3  # unfit values quoted in a column's warning

# pandas and dagster-pandas are imported inside the functions that build or check frames, which run
# in a step: loading a code location (webserver, daemon, every run worker) must not pay for them.
if TYPE_CHECKING:
    import pandas as pd


def _column(values: pd.Series, kind: str, name: str = "") -> pd.Series:
    """`values` as a column of the catalog type `kind`; unfit values are NA and reported."""
    import pandas as pd

    if kind not in CONVERTERS:
        text = json_text if kind in ("array", "object") else cell_text
        out = [None if is_missing(v) else text(v) for v in values]
        return pd.Series(pd.array(out, dtype="string"), index=values.index)
    convert = CONVERTERS[kind]
    out, unfit = [], []
    for v in values:
        c = None if is_missing(v) else convert(v)
        if c is UNFIT:
            unfit.append(v)
            c = None
        out.append(c)
    if unfit:
        _report(name, kind, unfit)
    return pd.Series(pd.array(out, dtype=_DTYPES[kind]), index=values.index)


def _report(name: str, kind: str, unfit: list[Any]) -> None:
    shown = ", ".join(_short(v) for v in unfit[:_EXAMPLES])
    more = ", ..." if len(unfit) > _EXAMPLES else ""
    dg.get_dagster_logger("captaindata_dagster.engine.frames").warning(
        "%s: %d value(s) that a %s column cannot hold were stored as NA: %s%s",
        name or "column",
        len(unfit),
        kind,
        shown,
        more,
    )


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def partition_columns(
    pdef: dg.PartitionsDefinition | None, key: str | dg.MultiPartitionKey | None
) -> dict[str, Any]:
    """The partition of this run as column values, named as `partition_expr` says."""
    if pdef is None or key is None:
        return {}
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        by_dim = key.keys_by_dimension  # type: ignore[union-attr]
        out = {}
        for dim in pdef.partitions_defs:
            value = by_dim[dim.name]
            if isinstance(dim.partitions_def, dg.TimeWindowPartitionsDefinition):
                out[dim.name] = _partition_time(dim.partitions_def, value)
            else:
                out[dim.name] = value
        return out
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        return {"partition_date": _partition_time(pdef, key)}
    return {"partition_key": key}


def _partition_time(pdef: dg.TimeWindowPartitionsDefinition, key: str) -> pd.Timestamp:
    import pandas as pd

    start = pdef.time_window_for_partition_key(key).start
    return pd.Timestamp(start.replace(tzinfo=None))


def partition_expr(partitions_def: dg.PartitionsDefinition | None) -> str | dict[str, str] | None:
    """The `partition_expr` metadata database IO managers need, naming our partition columns.

    One dimension: `partition_key` (static or dynamic) or `partition_date` (time windows);
    several: one column per dimension, named after it.
    """
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return {d.name: d.name for d in partitions_def.partitions_defs}
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return "partition_date"
    return "partition_key"


def results_table(
    action: Action, results: pd.DataFrame, partition: Mapping[str, Any]
) -> pd.DataFrame:
    """The batch's results in the action's stable schema, partition columns first."""
    import pandas as pd

    n = len(results)
    data: dict[str, Any] = {k: _partition_column(v, n) for k, v in partition.items()}
    for name, kind in action.output_types.items():
        src = results[name] if name in results.columns else pd.Series([None] * n, dtype=object)
        src = src.reset_index(drop=True).astype(object)
        data[name] = _column(src, kind, f"{action.id}.{name}").array
    data["_input"] = _column(_get(results, "_input", n), "string", "_input").array
    data["_input_key"] = _column(_get(results, "_input_key", n), "string", "_input_key").array
    fetched = _get(results, "_fetched_at", n)
    data["_fetched_at"] = pd.to_datetime(fetched, utc=True).array
    data["_from_cache"] = _column(_get(results, "_from_cache", n), "boolean", "_from_cache").array
    return pd.DataFrame(data)


def errors_table(errors: pd.DataFrame, partition: Mapping[str, Any]) -> pd.DataFrame:
    """One row per failed input, with the partition columns first; same schema when empty."""
    import pandas as pd

    n = len(errors)
    data: dict[str, Any] = {k: _partition_column(v, n) for k, v in partition.items()}
    for col in ERROR_COLUMNS:
        src = _get(errors, col, n)
        if col == "status_code":
            data[col] = _column(src, "integer", f"errors.{col}").array
        elif col in ("retryable", "from_cache"):
            data[col] = _column(src, "boolean", f"errors.{col}").array
        elif col == "at":
            data[col] = pd.to_datetime(src, utc=True).array
        else:
            data[col] = _column(src, "string", f"errors.{col}").array
    return pd.DataFrame(data)


def _partition_column(value: Any, n: int) -> pd.Series:
    """A partition column typed by its value even with no rows (an empty list would be float)."""
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return pd.Series([value] * n, dtype="datetime64[ns]")
    return pd.Series([value] * n, dtype=object)


def _get(df: pd.DataFrame, col: str, n: int) -> pd.Series:
    import pandas as pd

    if col in df.columns:
        return df[col].reset_index(drop=True).astype(object)
    return pd.Series([None] * n, dtype=object)


def dedupe_people(table: pd.DataFrame, column: str = PROFILE_URL) -> tuple[pd.DataFrame, int]:
    """One row per person: drop rows without a profile URL and repeats of one (first kept).

    Repeats are found by `entity_keys.entity_key`, so two spellings of one person's URL
    (`/in/jane-doe/` and `fr.linkedin.com/in/Jane-Doe`) are one person, as in the ledger.
    """
    keep = table[table[column].notna()]
    who = keep[column].map(lambda url: entity_key(url) or url)
    keep = keep[~who.duplicated(keep="first")].reset_index(drop=True)
    return keep, len(table) - len(keep)


def frame_type(name: str, action: Action, *, key_column: str | None = None) -> dg.DagsterType:
    """A dagster-pandas type: the action's columns all present; `key_column` non-null and unique."""

    def columns() -> list:
        from dagster_pandas import PandasColumn

        cols = [PandasColumn.exists(c, is_required=True) for c in META_COLUMNS]
        for field in action.output_fields:
            if field == key_column:
                cols.append(PandasColumn.exists(field, non_nullable=True, unique=True))
            else:
                cols.append(PandasColumn.exists(field, is_required=True))
        return cols

    description = f"Results of Captain Data action `{action.id}`, one row per result."
    return _lazy_pandas_type(name, description, columns)


def errors_frame_type(name: str) -> dg.DagsterType:
    """The errors table: every error column present, `error_label` never null."""

    def columns() -> list:
        from dagster_pandas import PandasColumn

        return [
            PandasColumn.exists(c, non_nullable=(c in ("action_id", "error_label")))
            for c in ERROR_COLUMNS
        ]

    description = "Captain Data per-input errors, one row per failed input."
    return _lazy_pandas_type(name, description, columns)


def _lazy_pandas_type(name: str, description: str, columns: Callable[[], list]) -> dg.DagsterType:
    """A dagster-pandas dataframe type built at its first check, inside a step, not at load.

    Its checks, and the metadata they report, are dagster-pandas' own: the type it would build
    does the checking. Only its construction (which imports pandas) waits for a frame to check.
    """
    built: list[dg.DagsterType] = []
    lock = threading.Lock()

    def type_check(context: dg.TypeCheckContext, value: Any) -> dg.TypeCheck:
        with lock:
            if not built:
                from dagster_pandas import create_dagster_pandas_dataframe_type

                with _quiet_beta():
                    built.append(
                        create_dagster_pandas_dataframe_type(
                            name=name, description=description, columns=columns()
                        )
                    )
        return built[0].type_check(context, value)

    return dg.DagsterType(type_check_fn=type_check, name=name, description=description)


@contextmanager
def _quiet_beta() -> Iterator[None]:
    """dagster-pandas marks its types beta; users of ours need not see that at every load."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        yield
