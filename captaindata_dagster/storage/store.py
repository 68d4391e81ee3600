"""One store, two databases: a SQLite file (the default) or a PostgreSQL server (several machines).

The ledger and the outreach store derive from `Store` and keep their SQL in their own classes,
written once for both databases (`sql.py`). `Store` chooses the backend from the location (a path
for `sqlite.py`, a `postgresql://` URL for `postgres.py`; the backends know nothing of each other)
and gives what differs as small, explicit hooks: `conn.dialect`, and `_lock_keys`, which gives
PostgreSQL what `BEGIN IMMEDIATE` gives SQLite (one writer at a time) for the keys a
read-modify-write touches. The URL's password is never shown: `repr`, `describe()`, `url` and
every error message carry `redact_url(...)`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from captaindata_dagster.storage.locations import is_postgres_url, redact_url
from captaindata_dagster.storage.postgres import PostgresBackend  # psycopg loads on first use
from captaindata_dagster.storage.sql import SQLITE, Connection
from captaindata_dagster.storage.sqlite import SQLiteBackend

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)


class Store:
    """Base of the ledger and the outreach store: a location, a backend, short transactions.

    Subclasses give `_SCHEMA` (idempotent statements valid on both databases), optionally
    `_SQLITE_SCHEMA` (SQLite only), `default_location()` and `_SYNCHRONOUS` (SQLite's durability).
    Nothing is opened until the first call; one connection per process, shared by its threads
    under a lock; a forked child opens its own.
    """

    _SCHEMA: tuple[str, ...] = ()
    _SQLITE_SCHEMA: tuple[str, ...] = ()
    _SYNCHRONOUS = "NORMAL"  # survives a killed process; FULL also survives a power cut

    def __init__(
        self, location: str | os.PathLike[str] | None = None, *, timeout_s: float = 30.0
    ) -> None:
        loc = self.default_location() if location is None else location
        self.timeout_s = float(timeout_s)
        if is_postgres_url(loc):
            self._location: str | Path = str(loc).strip()
            self.path: Path | None = None
            self._backend: PostgresBackend | SQLiteBackend = PostgresBackend(
                str(self._location), self._SCHEMA, timeout_s=self.timeout_s
            )
        else:
            if isinstance(loc, str) and "://" in loc:
                raise ValueError(
                    f"{type(self).__name__} location {redact_url(loc)!r}: give a file path "
                    "(SQLite) or a postgresql://user@host:5432/database URL (PostgreSQL)"
                )
            self._location = self.path = Path(loc)
            self._backend = SQLiteBackend(
                self.path,
                self._SCHEMA + self._SQLITE_SCHEMA,
                synchronous=self._SYNCHRONOUS,
                timeout_s=self.timeout_s,
            )
        self.dialect: str = self._backend.dialect

    @classmethod
    def default_location(cls) -> str | Path:
        """Where the store lives when no location is given (a path or a PostgreSQL URL)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ what it is, safely shown

    @property
    def location(self) -> str | Path:
        """The path or the URL as given, password included: to open the store, never to show."""
        return self._location

    @property
    def url(self) -> str | None:
        """The PostgreSQL URL with its password redacted (None for a SQLite file)."""
        return None if self.path is not None else redact_url(str(self._location))

    def describe(self) -> str:
        """Where the data lives, fit for logs and metadata: the path, or the redacted URL."""
        return str(self.path) if self.path is not None else redact_url(str(self._location))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"

    __str__ = __repr__

    def __getstate__(self) -> dict[str, Any]:
        return {"location": self._location, "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state.get("location", state.get("path")), timeout_s=state["timeout_s"])  # type: ignore[misc]

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close this process's connection; the next call opens a new one."""
        self._backend.close()

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One short write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: READ COMMITTED)."""
        with self._backend.write() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """Reads that see one state (SQLite: the file; PostgreSQL: one REPEATABLE READ snapshot)."""
        with self._backend.read() as conn:
            yield conn

    @contextmanager
    def _session(self) -> Iterator[Connection]:
        """PostgreSQL: statements committed one by one (for session-level advisory locks).
        SQLite: a write transaction (BEGIN IMMEDIATE), for the same read-then-write."""
        with self._backend.session() as conn:
            yield conn

    def _lock_keys(self, conn: Connection, *names: str) -> None:
        """Inside `_write()`: wait until no other writer holds these keys, until the commit.

        SQLite's BEGIN IMMEDIATE already admits one writer at a time; on PostgreSQL each name is
        a transaction-scoped advisory lock, taken in sorted order so two writers never deadlock.
        """
        self._backend.lock_keys(conn, names)

    def integrity_ok(self) -> bool:
        """SQLite: `PRAGMA integrity_check` finds nothing wrong. PostgreSQL (which keeps its own
        files consistent): every table of the schema exists and can be read."""
        with self._read() as conn:
            if conn.dialect == SQLITE:
                rows = conn.execute("PRAGMA integrity_check").fetchall()
                return [tuple(r) for r in rows] == [("ok",)]
            wanted = set(_TABLE.findall("\n".join(self._SCHEMA)))
            found = {
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                ).fetchall()
            }
            if not wanted <= found:
                return False
            for table in sorted(wanted):
                conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        return True
