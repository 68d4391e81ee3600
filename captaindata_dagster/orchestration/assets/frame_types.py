"""The Dagster types of the results and errors tables: dagster-pandas checks of columns and dtypes.

Each output of a Captain Data asset declares one. Its columns and their dtypes are the catalog's
(`engine.column_types`): the results table must carry every output field and meta column in its
nullable dtype (an integer field `Int64`, never the `float64` a gap would make of it), the errors
table every error column, `action_id` and `error_label` filled; a search's table one row per
person (the key column filled and unique). A frame that breaks this fails the step's type check
with the column, the dtype expected and the dtype found, before it reaches the warehouse.

A frame that passes shows, on its type check in the UI, its rows and columns and a table of how
filled each column is (so a field the API never answered is seen at a glance); a frame that fails
shows every column whose dtype is wrong and every one missing, not only the first.

The dagster-pandas type is built at its first check, in the step: loading a code location pays
neither for pandas nor for dagster-pandas. Its description (columns and types) needs neither.

Example:
    >>> dg.AssetOut(dagster_type=frame_type("people_frame", action, key_column=PROFILE_URL))
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import dagster as dg

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.engine.column_types import ColumnType, errors_columns, results_columns
from captaindata_dagster.orchestration.beta_features import quiet_beta_warnings

if TYPE_CHECKING:  # pandas is imported in the step, where a frame is checked
    import pandas as pd

_ERRORS_FILLED = ("action_id", "error_label")  # every error row says what failed and how


def frame_type(name: str, action: Action, *, key_column: str | None = None) -> dg.DagsterType:
    """The results table's type: the action's columns in their dtypes; `key_column` filled, unique.

    Args:
        name: the type's name in the UI, e.g. `linkedin_people_frame`.
        action: the catalog action whose output fields, with the meta columns, must be columns.
        key_column: a column that must be filled and unique (the person, for searches).

    Example:
        >>> frame_type("linkedin_people_frame", action, key_column="linkedin_profile_url")
    """
    keys = (key_column,) if key_column else ()
    return _lazy_pandas_type(
        name,
        f"Results of Captain Data action `{action.id}`, one row per result.",
        results_columns(action),
        filled=keys,
        unique=keys,
    )


def errors_frame_type(name: str) -> dg.DagsterType:
    """The errors table's type: every error column in its dtype, `action_id`, `error_label` filled.

    Args:
        name: the type's name in the UI, e.g. `linkedin_people_errors_frame`.

    Example:
        >>> errors_frame_type("linkedin_people_errors_frame")
    """
    return _lazy_pandas_type(
        name,
        "Captain Data per-input errors, one row per failed input.",
        errors_columns(),
        filled=_ERRORS_FILLED,
        unique=(),
    )


def _lazy_pandas_type(
    name: str,
    summary: str,
    columns: Sequence[ColumnType],
    *,
    filled: Sequence[str],
    unique: Sequence[str],
) -> dg.DagsterType:
    """A dagster-pandas dataframe type built at its first check, inside a step, not at load.

    dagster-pandas does the checking (its constraints, its messages) and reports `_summary` on a
    frame that passes; a frame that fails also gets `_mismatches`, since dagster-pandas stops at
    the first column it finds wrong.
    """
    built: list[dg.DagsterType] = []
    lock = threading.Lock()
    description = _description(summary, columns, filled, unique)

    def type_check(context: dg.TypeCheckContext, value: Any) -> dg.TypeCheck:
        with lock:
            if not built:
                built.append(_pandas_type(name, description, columns, filled, unique))
        checked = built[0].type_check(context, value)
        if checked.success:
            return checked
        metadata, wrong = _mismatches(value, columns)
        every = f" Every column not in its declared dtype: {wrong}." if wrong else ""
        return dg.TypeCheck(
            success=False, description=f"{name}: {checked.description}{every}", metadata=metadata
        )

    return dg.DagsterType(type_check_fn=type_check, name=name, description=description)


def _pandas_type(
    name: str,
    description: str,
    columns: Sequence[ColumnType],
    filled: Sequence[str],
    unique: Sequence[str],
) -> dg.DagsterType:
    """The dagster-pandas type: each column required, of exactly its declared dtype."""
    from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type
    from dagster_pandas.constraints import (
        ColumnDTypeInSetConstraint,
        NonNullableColumnConstraint,
        UniqueColumnConstraint,
    )

    with quiet_beta_warnings():
        pandas_columns = []
        for column in columns:
            constraints: list[Any] = [ColumnDTypeInSetConstraint({column.pandas_dtype})]
            if column.name in filled:
                constraints.append(NonNullableColumnConstraint())
            if column.name in unique:
                constraints.append(UniqueColumnConstraint(ignore_missing_vals=False))
            pandas_columns.append(PandasColumn(column.name, constraints, is_required=True))
        return create_dagster_pandas_dataframe_type(
            name=name,
            description=description,
            columns=pandas_columns,
            metadata_fn=lambda frame: _summary(frame, columns),
        )


def _summary(frame: pd.DataFrame, columns: Sequence[ColumnType]) -> dict[str, Any]:
    """Rows, columns and how filled each declared column is: vectorised, cheap on 100k rows."""
    counts = cast("pd.Series", frame[[c.name for c in columns]].count())
    filled = {str(name): int(n) for name, n in counts.items()}
    rows = len(frame)
    records = [
        dg.TableRecord(
            {
                "column": c.name,
                "type": c.type_name,
                "filled": filled[c.name],
                "nulls": rows - filled[c.name],
            }
        )
        for c in columns
    ]
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("column", "string"),
            dg.TableColumn("type", "string"),
            dg.TableColumn("filled", "int", description="rows with a value"),
            dg.TableColumn("nulls", "int", description="rows without one"),
        ]
    )
    empty = [c.name for c in columns if rows and not filled[c.name]]
    return {
        "rows": dg.MetadataValue.int(rows),
        "columns": dg.MetadataValue.int(len(frame.columns)),
        "empty columns": dg.MetadataValue.json(empty),
        "column fill": dg.MetadataValue.table(records, schema),
    }


def _mismatches(value: Any, columns: Sequence[ColumnType]) -> tuple[dict[str, Any], str]:
    """Every declared column a frame lacks or holds in another dtype, as metadata and as text."""
    frame_columns = getattr(value, "columns", None)
    dtypes = getattr(value, "dtypes", None)
    if frame_columns is None or dtypes is None:  # not a frame: dagster-pandas said so
        return {}, ""
    missing = [c.name for c in columns if c.name not in frame_columns]
    wrong = {
        c.name: {"expected": c.pandas_dtype, "found": str(dtypes[c.name])}
        for c in columns
        if c.name in frame_columns and str(dtypes[c.name]) != c.pandas_dtype
    }
    text = ", ".join(f"{k} is {v['found']}, expected {v['expected']}" for k, v in wrong.items())
    metadata = {
        "rows": dg.MetadataValue.int(len(value)),
        "missing columns": dg.MetadataValue.json(missing),
        "wrong dtypes": dg.MetadataValue.json(wrong),
    }
    return metadata, text


def _description(
    summary: str, columns: Sequence[ColumnType], filled: Sequence[str], unique: Sequence[str]
) -> str:
    """The type's description in the UI: what it holds, then its columns and their types."""
    lines = [summary, "", "| column | type | pandas dtype | rule |", "|---|---|---|---|"]
    for c in columns:
        rule = " ".join(
            word for word, on in (("filled", c.name in filled), ("unique", c.name in unique)) if on
        )
        lines.append(f"| `{c.name}` | {c.type_name} | {c.pandas_dtype} | {rule} |")
    return "\n".join(lines)
