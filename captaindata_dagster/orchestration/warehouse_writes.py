"""How `DuckDBWarehouseIOManager` writes a frame: as `DuckDBPandasIOManager`, empty frames included.

`dagster-duckdb-pandas` skips an empty frame ("Skipping DuckDB write for empty DataFrame"): a clean
run then never creates its `_errors` table, so a first query of it fails with "Table ... does not
exist", and the warning shows in every clean run's log. Here an empty frame is written like any
other: the partition's earlier rows are deleted first (the DB IO manager does that before any
write), then the table is created from the frame's columns and dtypes if it is missing, and zero
rows are inserted. A partition re-run that now has no errors is left with no error rows.

A column with no rows and no dtype (`object`: a partition key column of an empty frame) would make
DuckDB a column of type NULL that later text cannot fill: it is created as text (VARCHAR).

This module imports pandas and `dagster_duckdb_pandas` at import: `warehouse.py` imports it only
inside `create_io_manager`, when a step runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg
import pandas as pd
from dagster._core.definitions.metadata.metadata_set import TableMetadataSet
from dagster._core.storage.db_io_manager import DbTypeHandler, TableSlice
from dagster_duckdb import DuckDBIOManager
from dagster_duckdb_pandas import DuckDBPandasTypeHandler

from captaindata_dagster.orchestration.metadata_set import row_count_metadata

_FRAME = "captaindata_frame"  # the name the frame is registered under for one write


class WarehouseFrameHandler(DuckDBPandasTypeHandler):
    """Dagster's pandas handler for DuckDB (loads unchanged), except that an empty frame is written:
    its table created, typed, when missing."""

    def handle_output(
        self,
        context: dg.OutputContext,
        table_slice: TableSlice,
        obj: pd.DataFrame,
        connection: Any,
    ) -> None:
        """Append `obj` to its table, creating the table from the frame's columns if missing.

        Args:
            context: the output's context (its metadata gets the row count and the columns).
            table_slice: where the frame goes (schema, table, partition).
            obj: the frame, empty or not; the partition's earlier rows are already deleted.
            connection: the DuckDB connection the DB IO manager opened.

        Example:
            >>> WarehouseFrameHandler().handle_output(context, table_slice, frame, connection)
        """
        frame = obj if len(obj) else empty_frame_for_table(obj)
        table = f"{table_slice.schema}.{table_slice.table}"
        connection.register(_FRAME, frame)
        try:
            connection.execute(f"create table if not exists {table} as select * from {_FRAME}")
            if not connection.fetchall():  # the table was there already: append
                connection.execute(f"insert into {table} select * from {_FRAME}")
        finally:
            connection.unregister(_FRAME)
        rows = row_count_metadata(len(obj), partitioned=context.has_partition_key)
        columns = [dg.TableColumn(name=str(n), type=str(t)) for n, t in obj.dtypes.items()]
        context.add_output_metadata(
            {
                **rows,
                **TableMetadataSet(storage_kind="duckdb"),
                "dataframe_columns": dg.MetadataValue.table_schema(dg.TableSchema(columns)),
            }
        )


def empty_frame_for_table(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (no rows) with each `object` column as text, so DuckDB types it VARCHAR, not NULL.

    Args:
        frame: a frame with no rows.

    Example:
        >>> empty_frame_for_table(pd.DataFrame({"k": []}, dtype=object)).dtypes["k"]
        string[python]
    """
    untyped = [name for name, dtype in frame.dtypes.items() if str(dtype) == "object"]
    return frame.astype(dict.fromkeys(untyped, "string")) if untyped else frame


class WarehouseDuckDBIOManager(DuckDBIOManager):
    """`DuckDBPandasIOManager` with `WarehouseFrameHandler`: the same tables and partitions."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [WarehouseFrameHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pd.DataFrame
