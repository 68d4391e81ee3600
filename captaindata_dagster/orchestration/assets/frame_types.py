"""The Dagster types of the results and errors tables, checked by dagster-pandas inside a step.

Each output of a Captain Data asset declares one: the results table must carry the action's columns
(and, for searches, one non-null row per person), the errors table every error column with a label.
The dagster-pandas type is built at its first check, in the step: loading a code location must pay
neither for pandas nor for dagster-pandas.

Example:
    >>> dg.AssetOut(dagster_type=frame_type("people_frame", action, key_column=PROFILE_URL))
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.engine.columns import ERROR_COLUMNS
from captaindata_dagster.engine.frames import META_COLUMNS

ColumnsFactory = Callable[[], list[Any]]  # the dagster-pandas columns, built on first check


def frame_type(name: str, action: Action, *, key_column: str | None = None) -> dg.DagsterType:
    """A dagster-pandas type: the action's columns all present; `key_column` non-null and unique.

    Args:
        name: the type's name in the UI, e.g. `linkedin_people_frame`.
        action: the catalog action whose output fields must be columns.
        key_column: a column that must be filled and unique (the person, for searches).

    Example:
        >>> frame_type("linkedin_people_frame", action, key_column="linkedin_profile_url")
    """

    def columns() -> list[Any]:
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
    """The errors table: every error column present, `action_id` and `error_label` never null.

    Args:
        name: the type's name in the UI, e.g. `linkedin_people_errors_frame`.

    Example:
        >>> errors_frame_type("linkedin_people_errors_frame")
    """

    def columns() -> list[Any]:
        from dagster_pandas import PandasColumn

        return [
            PandasColumn.exists(c, non_nullable=(c in ("action_id", "error_label")))
            for c in ERROR_COLUMNS
        ]

    description = "Captain Data per-input errors, one row per failed input."
    return _lazy_pandas_type(name, description, columns)


def _lazy_pandas_type(name: str, description: str, columns: ColumnsFactory) -> dg.DagsterType:
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
