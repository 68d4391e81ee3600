"""Recipe: land the same assets in PostgreSQL, Snowflake or BigQuery instead of DuckDB.

The asset factories return pandas frames and declare their `partition_expr` (`partition_key`, or
one column per dimension), so a warehouse is only the `io_manager` resource: no asset changes.
`WAREHOUSE` picks one when the code location loads: `duckdb` (default), `postgres`, `snowflake`
or `bigquery`.

- PostgreSQL has no official Dagster pandas IO manager: `PostgresPandasIOManager` below is a small
  one (pandas `to_sql` through SQLAlchemy and psycopg 3: `pip install "captaindata-dagster[postgres]"`).
  A partition's rows are deleted and the new ones appended in one transaction, so re-running a
  partition replaces it; downstream assets read their partition (or the whole table) back.
  URL in `WAREHOUSE_POSTGRES_URL` (`postgresql://user:password@host:5432/db`).
- Snowflake (`pip install dagster-snowflake-pandas`) and BigQuery (`pip install dagster-gcp-pandas`)
  use Dagster's own IO managers; they are imported only when chosen. These two are shown, not
  tested here: this project does not depend on them.

Run it with `WAREHOUSE=postgres dagster dev -f examples/recipes/warehouses.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from captaindata_dagster import (
    CaptainDataResource,
    DuckDBWarehouseIOManager,
    build_people_search_asset,
    build_profile_extraction_asset,
)

if TYPE_CHECKING:  # pandas and SQLAlchemy load inside steps, not with the code location
    import pandas as pd
    import sqlalchemy as sa

WAREHOUSE_ENV = "WAREHOUSE"
POSTGRES_URL_ENV = "WAREHOUSE_POSTGRES_URL"
POSTGRES_DRIVER = "postgresql+psycopg"


class PostgresPandasIOManager(dg.ConfigurableIOManager):
    """Stores each asset as the table `<schema>.<asset name>` of a PostgreSQL database.

    Partitioned assets name their partition column(s) in the `partition_expr` metadata (the
    package's assets do): writing a partition deletes its rows then appends, in one transaction
    (writers of one table take turns: an advisory lock). Loading reads the partitions the
    downstream step needs, or the whole table. An unpartitioned asset replaces all its rows.
    The first write creates the table from the frame's types; a column added later fails the
    write until it is added to the table (`ALTER TABLE`) or the table is dropped. Example::

        PostgresPandasIOManager(url=dg.EnvVar("WAREHOUSE_POSTGRES_URL"), schema="linkedin")
    """

    url: str = Field(
        description="postgresql://user:password@host:5432/database (psycopg 3 is used). Give it "
        "as an EnvVar: a literal password would show in the UI's resource config."
    )
    schema_: str | None = Field(
        default=None,
        alias="schema",
        description="Schema holding the tables; unset: the asset key's prefix, else `public`.",
    )

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        import pandas as pd
        import sqlalchemy as sa

        if not isinstance(obj, pd.DataFrame):
            raise dg.Failure(
                f"PostgresPandasIOManager stores pandas DataFrames; {context.asset_key.to_user_string()} "
                f"returned {type(obj).__name__}"
            )
        schema, table = self._table(context)
        where = None
        if context.has_asset_partitions:
            where = _partition_filter(
                context.definition_metadata,
                context.asset_key,
                context.asset_partitions_def,
                context.asset_partition_keys,
                lambda: context.asset_partitions_time_window,
            )
            obj = _typed_partition_columns(
                obj, context.definition_metadata["partition_expr"], context.asset_partitions_def
            )
        engine = self._engine()
        try:
            lock = sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))")  # until commit
            with engine.begin() as conn:  # one transaction: the old rows go only if new ones land
                if not sa.inspect(conn).has_schema(schema):
                    conn.execute(lock, {"k": f"io_manager:{schema}"})
                    conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
                conn.execute(lock, {"k": f"io_manager:{schema}.{table}"})
                if sa.inspect(conn).has_table(table, schema=schema):
                    target = sa.table(table, schema=schema)
                    conn.execute(target.delete() if where is None else target.delete().where(where))
                obj.to_sql(table, conn, schema=schema, if_exists="append", index=False)
        finally:
            engine.dispose()
        context.add_output_metadata(
            {"postgres/table": f"{schema}.{table}", "postgres/rows_written": len(obj)}
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        import pandas as pd
        import sqlalchemy as sa

        schema, table = self._table(context)
        query = sa.select(sa.text("*")).select_from(sa.table(table, schema=schema))
        if context.has_asset_partitions:
            upstream = context.upstream_output
            query = query.where(
                _partition_filter(
                    upstream.definition_metadata if upstream is not None else {},
                    context.asset_key,
                    context.asset_partitions_def,
                    context.asset_partition_keys,
                    lambda: context.asset_partitions_time_window,
                )
            )
        engine = self._engine()
        try:
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table(table, schema=schema):
                    raise dg.Failure(
                        f"table {schema}.{table} does not exist in {self._safe_url()}: materialize "
                        f"{context.asset_key.to_user_string()} first"
                    )
                return pd.read_sql(query, conn)
        finally:
            engine.dispose()

    def _table(self, context: dg.OutputContext | dg.InputContext) -> tuple[str, str]:
        if not context.has_asset_key:
            raise dg.Failure(
                "PostgresPandasIOManager stores assets (table = asset name); give this job's ops "
                "another io_manager, e.g. dg.FilesystemIOManager()"
            )
        key = context.asset_key
        prefix = key.path[:-1]
        return self.schema_ or (prefix[-1] if prefix else "public"), key.path[-1]

    def _url(self) -> sa.URL:
        import sqlalchemy as sa

        try:
            url = sa.make_url(self.url)
        except sa.exc.ArgumentError as exc:
            raise dg.Failure(
                f"PostgresPandasIOManager.url is not a database URL ({exc}); expected "
                "postgresql://user:password@host:5432/database"
            ) from None
        if url.get_backend_name() != "postgresql":
            raise dg.Failure(
                f"PostgresPandasIOManager.url must be a postgresql:// URL, got {url.drivername}://"
            )
        return url.set(drivername=POSTGRES_DRIVER)

    def _safe_url(self) -> str:
        return self._url().render_as_string(hide_password=True)

    def _engine(self) -> sa.Engine:
        import sqlalchemy as sa

        # No pool: a step opens one connection per table it writes or reads, then lets it go.
        return sa.create_engine(self._url(), poolclass=sa.pool.NullPool)


def _partition_filter(
    metadata: Any,
    key: dg.AssetKey,
    pdef: dg.PartitionsDefinition,
    partition_keys: Sequence[str],
    time_window: Callable[[], Any],
) -> sa.ColumnElement[bool]:
    """The rows of these partitions, by the `partition_expr` column(s) of the asset."""
    import sqlalchemy as sa

    expr = (metadata or {}).get("partition_expr")
    if not expr:
        raise dg.Failure(
            f"{key.to_user_string()} is partitioned but declares no partition_expr metadata: "
            "add metadata={'partition_expr': '<column holding the partition key>'}"
        )
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        if not isinstance(expr, dict):
            raise dg.Failure(
                f"{key.to_user_string()} has several partition dimensions: its partition_expr "
                "must map each dimension to its column, e.g. {'search': 'search', 'date': 'date'}"
            )
        clauses = []
        for partition in partition_keys:
            by_dim = pdef.get_partition_key_from_str(str(partition)).keys_by_dimension
            parts = []
            for dim in pdef.partitions_defs:
                column = sa.column(expr[dim.name])
                if isinstance(dim.partitions_def, dg.TimeWindowPartitionsDefinition):
                    window = dim.partitions_def.time_window_for_partition_key(by_dim[dim.name])
                    parts.append(_in_window(column, window))
                else:
                    parts.append(column == by_dim[dim.name])
            clauses.append(sa.and_(*parts))
        return sa.or_(*clauses)
    if not isinstance(expr, str):
        raise dg.Failure(f"{key.to_user_string()}: partition_expr must name one column")
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        return _in_window(sa.column(expr), time_window())
    return sa.column(expr).in_(list(partition_keys))


def _typed_partition_columns(
    obj: pd.DataFrame, expr: str | dict[str, str], pdef: dg.PartitionsDefinition
) -> pd.DataFrame:
    """Partition columns as text, or timestamps for time dimensions, even in an empty frame.

    A table is created by its first write: an empty frame's columns would otherwise be created
    as floats, and no partition key could be compared with them afterwards.
    """
    import pandas as pd

    if isinstance(pdef, dg.MultiPartitionsDefinition) and isinstance(expr, dict):
        dims = [(expr[d.name], d.partitions_def) for d in pdef.partitions_defs]
    else:
        dims = [(str(expr), pdef)]
    typed = {}
    for column, dim in dims:
        if column in obj.columns:
            is_time = isinstance(dim, dg.TimeWindowPartitionsDefinition)
            typed[column] = pd.to_datetime(obj[column]) if is_time else obj[column].astype("string")
    return obj.assign(**typed)


def _in_window(column: sa.ColumnClause, window: Any) -> sa.ColumnElement[bool]:
    """Rows whose timestamp falls in a partition's window; the package stores naive starts."""
    import sqlalchemy as sa

    start, end = (t.replace(tzinfo=None) for t in (window.start, window.end))
    return sa.and_(column >= start, column < end)


# -------------------------------------------------------------------- one IO manager per warehouse


def duckdb_io_manager() -> dg.ConfigurableIOManagerFactory:
    """The default: a local DuckDB file."""
    return DuckDBWarehouseIOManager(
        database=os.environ.get("CAPTAINDATA_WAREHOUSE", "warehouse.duckdb"), schema="linkedin"
    )


def postgres_io_manager() -> dg.ConfigurableIOManager:
    """PostgreSQL through the IO manager above; the URL is read when a step runs."""
    return PostgresPandasIOManager(url=dg.EnvVar(POSTGRES_URL_ENV), schema="linkedin")


def snowflake_io_manager() -> dg.ConfigurableIOManagerFactory:
    """Snowflake: `pip install dagster-snowflake-pandas` (not a dependency of this project)."""
    from dagster_snowflake_pandas import SnowflakePandasIOManager

    return SnowflakePandasIOManager(
        account=dg.EnvVar("SNOWFLAKE_ACCOUNT"),  # e.g. abc12345.eu-west-1
        user=dg.EnvVar("SNOWFLAKE_USER"),
        password=dg.EnvVar("SNOWFLAKE_PASSWORD"),
        warehouse=dg.EnvVar("SNOWFLAKE_WAREHOUSE"),
        database="ANALYTICS",
        schema="LINKEDIN",
    )


def bigquery_io_manager() -> dg.ConfigurableIOManagerFactory:
    """BigQuery: `pip install dagster-gcp-pandas` (not a dependency of this project).

    Credentials: the machine's (GOOGLE_APPLICATION_CREDENTIALS), or `gcp_credentials=` a
    base64-encoded service account key.
    """
    from dagster_gcp_pandas import BigQueryPandasIOManager

    return BigQueryPandasIOManager(
        project=dg.EnvVar("GCP_PROJECT"), dataset="linkedin", location="EU"
    )


WAREHOUSES: dict[str, tuple[Callable[[], Any], str]] = {
    "duckdb": (duckdb_io_manager, "captaindata-dagster"),
    "postgres": (postgres_io_manager, "captaindata-dagster[postgres]"),
    "snowflake": (snowflake_io_manager, "dagster-snowflake-pandas"),
    "bigquery": (bigquery_io_manager, "dagster-gcp-pandas"),
}


def io_manager_for(name: str) -> Any:
    """The IO manager of one warehouse, with an error naming the variable or package to fix."""
    choice = name.strip().lower()
    if choice not in WAREHOUSES:
        raise ValueError(
            f"{WAREHOUSE_ENV}={name!r} is not a known warehouse; use one of: {', '.join(WAREHOUSES)}"
        )
    build, package = WAREHOUSES[choice]
    try:
        return build()
    except ImportError as exc:
        raise ImportError(
            f"{WAREHOUSE_ENV}={choice} needs {package}: pip install {package} ({exc})"
        ) from exc


SEARCHES = {
    "data-engineers-paris": "https://www.linkedin.com/search/results/people/?keywords=data%20engineer&geoUrn=%5B%22105015875%22%5D",
    "cto-saas-berlin": "https://www.linkedin.com/search/results/people/?keywords=cto%20saas&geoUrn=%5B%22106967730%22%5D",
}

people = build_people_search_asset(name="linkedin_people", searches=SEARCHES, max_results=30)
profiles = build_profile_extraction_asset(name="linkedin_profiles", upstream=people)

defs = dg.Definitions(
    assets=[people, profiles],
    resources={
        # The key is read from CAPTAINDATA_API_KEY when a step runs (or CAPTAINDATA_SANDBOX=1).
        "captaindata": CaptainDataResource(
            # your plan's limit: trial 1, low 2, mid 10, high 20, highest 40
            requests_per_second=float(os.environ.get("CAPTAINDATA_REQUESTS_PER_SECOND", "2"))
        ),
        "io_manager": io_manager_for(os.environ.get(WAREHOUSE_ENV, "duckdb")),
    },
)
