"""One store, two databases: a SQLite file (the default) or a PostgreSQL server (several machines).

The ledger and the outreach store derive from `Store` and keep all their SQL in their own class,
written once for both databases: `?` placeholders (the PostgreSQL connection turns them into
psycopg's `%s`), `ON CONFLICT` upserts (`upsert_sql`), column types both accept. What differs is
small and explicit: `conn.dialect`, `NULL_SAFE_EQ`, and `_lock_keys`, which gives PostgreSQL what
`BEGIN IMMEDIATE` gives SQLite (one writer at a time) for the keys a read-modify-write touches.

A location is a path (SQLite) or a `postgresql://` URL. The URL's password is never shown:
`repr`, `describe()`, `url` and every error message carry `redact_url(...)`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

SQLITE = "sqlite"
POSTGRES = "postgres"
POSTGRES_SCHEMES = ("postgresql", "postgres")
NULL_SAFE_EQ = {SQLITE: "IS", POSTGRES: "IS NOT DISTINCT FROM"}  # `a = b`, NULL equal to NULL
REDACTED = "***"


class StoreError(RuntimeError):
    """The store could not do what was asked; the message says why and what to do."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (server down, connection lost, bad credentials)."""


def is_postgres_url(value: Any) -> bool:
    """True for a `postgresql://` or `postgres://` URL (the PostgreSQL backend's locations)."""
    if not isinstance(value, str):
        return False
    return value.strip().split("://", 1)[0].lower() in POSTGRES_SCHEMES and "://" in value


def redact_url(url: str) -> str:
    """`url` with its password (in the user part or a `password=` parameter) replaced by `***`."""
    text = str(url).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return f"<unparseable URL, {len(text)} characters>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hosts = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + REDACTED
        netloc = f"{userinfo}@{hosts}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() == "password" for k, _ in pairs):
            query = "&".join(
                f"{quote(k)}={REDACTED if k.lower() == 'password' else quote(v)}" for k, v in pairs
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_password(url: str) -> str | None:
    """The password a URL carries (user part or `password=` parameter), percent-decoded."""
    try:
        parts = urlsplit(str(url).strip())
    except ValueError:
        return None
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        if ":" in userinfo:
            return unquote(userinfo.split(":", 1)[1]) or None
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k.lower() == "password" and v:
            return v
    return None


def scrub(text: str, url: str) -> str:
    """`text` with the URL's password (raw or percent-encoded) removed: for messages built from a
    driver's error, which should never hold it, in case one does."""
    secret = url_password(url)
    if not secret:
        return text
    for form in {secret, quote(secret, safe=""), quote(secret)}:
        text = text.replace(form, REDACTED)
    return text


def upsert_sql(table: str, columns: str, keys: tuple[str, ...], values: str) -> str:
    """`INSERT ... ON CONFLICT (keys) DO UPDATE SET` every other column: valid on both databases.

    It is what SQLite's `INSERT OR REPLACE` did here (every column is written), in a form
    PostgreSQL accepts too (SQLite >= 3.24).
    """
    names = [c.strip() for c in columns.split(",")]
    updates = ", ".join(f"{c} = excluded.{c}" for c in names if c not in keys)
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({values}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


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
            from captaindata_dagster.storage.postgres import (
                PostgresBackend,  # psycopg itself loads on first use
            )

            self._location: str | Path = str(loc).strip()
            self.path: Path | None = None
            self._backend: Any = PostgresBackend(
                str(self._location), self._SCHEMA, timeout_s=self.timeout_s
            )
        else:
            if isinstance(loc, str) and "://" in loc:
                raise ValueError(
                    f"{type(self).__name__} location {redact_url(loc)!r}: give a file path "
                    "(SQLite) or a postgresql://user@host:5432/database URL (PostgreSQL)"
                )
            from captaindata_dagster.storage.sqlite import SQLiteBackend

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
    def _write(self) -> Iterator[Any]:
        """One short write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: READ COMMITTED)."""
        with self._backend.write() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Any]:
        """Reads that see one state (SQLite: the file; PostgreSQL: one REPEATABLE READ snapshot)."""
        with self._backend.read() as conn:
            yield conn

    @contextmanager
    def _session(self) -> Iterator[Any]:
        """PostgreSQL: statements committed one by one (for session-level advisory locks).
        SQLite: a write transaction (BEGIN IMMEDIATE), for the same read-then-write."""
        with self._backend.session() as conn:
            yield conn

    def _lock_keys(self, conn: Any, *names: str) -> None:
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
