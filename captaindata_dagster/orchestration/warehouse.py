"""`DuckDBWarehouseIOManager`: Dagster's DuckDB + pandas IO manager, imported only when a step runs.

Loading a code location should cost little more than importing Dagster: the webserver, the daemon
and every run worker load it. `dagster-duckdb-pandas` pulls in pandas, numpy and duckdb at import,
so this factory holds only the settings and imports it (and `warehouse_writes`, which builds on
it) in `create_io_manager`, inside the run. Tables, schemas and partition handling are those of
`DuckDBPandasIOManager`, with one difference: an empty frame is written too (its table created
from the frame's columns when missing, the partition's earlier rows deleted), where
`DuckDBPandasIOManager` skips it with a warning. So a clean run creates its `_errors` table, with
0 rows, and a partition re-run with no errors left keeps none of the earlier run's.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field


class DuckDBWarehouseIOManager(dg.ConfigurableIOManagerFactory):
    """Stores each asset as a DuckDB table `<schema>.<asset name>`, partitions appended in place.

    A partition written again replaces its rows; a frame with no rows still creates its table
    (typed, with the frame's columns) and empties its partition.

    Example: `DuckDBWarehouseIOManager(database="warehouse.duckdb", schema="linkedin")`.
    """

    database: str = Field(description="Path to the DuckDB file (created on first write).")
    schema_: str | None = Field(
        default=None,
        alias="schema",
        description="Schema holding the tables; unset: the asset key's prefix, else `public`.",
    )
    # The DuckDB client reads these three from the resource config by name: keep them so named,
    # with plain defaults (a default_factory leaves the key out of the config).
    connection_config: dict[str, Any] = Field(
        default={}, description="DuckDB connection options, passed through unchanged."
    )

    def create_io_manager(self, context: dg.InitResourceContext) -> dg.IOManager:
        from captaindata_dagster.orchestration.warehouse_writes import (
            WarehouseDuckDBIOManager,  # pandas, numpy, duckdb: at run time
        )

        return WarehouseDuckDBIOManager(
            database=self.database, schema=self.schema_, connection_config=self.connection_config
        ).create_io_manager(context)
