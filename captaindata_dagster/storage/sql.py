"""SQL written once for both databases: dialect names, a connection's shape, named-column writes.

Every statement of the stores uses `?` placeholders (the PostgreSQL connection turns them into
psycopg's `%s`), column types both databases accept, and `ON CONFLICT` upserts (SQLite >= 3.24).
Writes name their columns: `upsert`, `insert` and `update` take a mapping of column -> value, so
a row is never a position in a list padded with NULLs. A column left out of an upsert keeps its
stored value on conflict: to clear one, give it as None.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, Protocol

SQLITE = "sqlite"
POSTGRES = "postgres"
NULL_SAFE_EQ = {SQLITE: "IS", POSTGRES: "IS NOT DISTINCT FROM"}  # `a = b`, NULL equal to NULL


class Cursor(Protocol):
    """What a statement gives back, on either database."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection speaking the stores' SQL (`?` placeholders), and naming its dialect."""

    @property
    def dialect(self) -> str: ...

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor: ...


@functools.lru_cache(maxsize=128)
@lru_cache(maxsize=256)  # a handful of (table, columns) shapes, written once per result
def upsert_sql(table: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> str:
    """`INSERT ... ON CONFLICT (keys) DO UPDATE SET` every other column: valid on both databases.

    Args:
        table: the table written.
        columns: the columns given, in the order of their values.
        keys: the columns of the table's primary key (the conflict target).

    Example:
        >>> upsert_sql("meta", ("name", "value"), ("name",))
        'INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'
    """
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) {action}"
    )


def upsert(conn: Connection, table: str, row: Mapping[str, Any], keys: Sequence[str]) -> None:
    """Write `row` (column -> value), replacing the columns it names when `keys` already exist.

    Args:
        conn: a connection inside a write transaction.
        table: the table written.
        row: every column to write, by name; a column not named keeps its stored value.
        keys: the primary key's columns (all of them in `row`).

    Example:
        >>> upsert(conn, "error_users", {"action_id": a, "input_key": k, "user_uid": u},
        ...        ("action_id", "input_key"))  # doctest: +SKIP
    """
    columns = tuple(row)
    conn.execute(upsert_sql(table, columns, tuple(keys)), tuple(row[c] for c in columns))


def insert(conn: Connection, table: str, row: Mapping[str, Any]) -> None:
    """`INSERT INTO table` the columns `row` names (the others take their defaults).

    Example:
        >>> insert(conn, "sends", {"campaign": "c", ...})  # doctest: +SKIP
    """
    columns = tuple(row)
    conn.execute(_insert_sql(table, columns), tuple(row[c] for c in columns))


@lru_cache(maxsize=256)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def update(
    conn: Connection, table: str, values: Mapping[str, Any], where: str, args: Sequence[Any]
) -> int:
    """`UPDATE table SET` the columns `values` names `WHERE where` (with `?` for `args`).

    Returns the number of rows changed.

    Example:
        >>> update(conn, "entries", {"status": "ok"}, "action_id = ?", ["a"])  # doctest: +SKIP
        1
    """
    sets = ", ".join(f"{c} = ?" for c in values)
    cur = conn.execute(f"UPDATE {table} SET {sets} WHERE {where}", (*values.values(), *args))
    return int(cur.rowcount)


def as_row(columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """A fetched row as column -> value (for `SELECT` statements listing `columns`)."""
    return dict(zip(columns, values, strict=True))
