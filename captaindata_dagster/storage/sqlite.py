"""The SQLite backend of the stores: one file shared by threads and processes of one machine.

Nothing touches the disk until the first call: the parent directory, the file (WAL mode, a busy
timeout) and the schema are created then. One connection per process, shared by threads under a
lock (SQLite's own locking and `busy_timeout` arbitrate between processes); a forked child opens
its own. Writes are short `BEGIN IMMEDIATE` transactions, which never deadlock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from captaindata_dagster.storage.sql import SQLITE, Connection


class SQLiteConnection(sqlite3.Connection):
    """A sqlite3 connection that says which dialect it speaks (`conn.dialect`)."""

    dialect = SQLITE


class SQLiteBackend:
    """One SQLite file: a connection per process, WAL, `BEGIN IMMEDIATE` writes."""

    dialect = SQLITE

    def __init__(
        self, path: Path, schema: tuple[str, ...], *, synchronous: str, timeout_s: float
    ) -> None:
        self.path = path
        self.schema = schema
        self.synchronous = synchronous
        self.timeout_s = timeout_s
        self._lock = threading.RLock()
        self._conn: SQLiteConnection | None = None
        self._pid: int | None = None
        _LIVE.add(self)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            self._pid = None

    def _after_fork_in_child(self) -> None:
        # a thread of the parent may have held the lock when it forked: the child starts afresh
        self._lock = threading.RLock()
        self._conn = None
        self._pid = None

    def _connection(self) -> SQLiteConnection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(self.path),
            timeout=self.timeout_s,
            isolation_level=None,  # we issue BEGIN ourselves: short, explicit transactions
            check_same_thread=False,  # shared by threads under self._lock
            factory=SQLiteConnection,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        deadline = time.monotonic() + self.timeout_s
        while True:  # switching to WAL can answer "locked" while another process creates the file
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(f"PRAGMA synchronous = {self.synchronous}")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for stmt in self.schema:
                        conn.execute(stmt)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    conn.close()
                    raise
                time.sleep(0.05)
        self._conn, self._pid = conn, os.getpid()
        return conn

    @contextmanager
    def write(self) -> Iterator[SQLiteConnection]:
        """One short write transaction, taken with BEGIN IMMEDIATE so it never deadlocks."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def session(self) -> AbstractContextManager[SQLiteConnection]:
        """What PostgreSQL runs outside a transaction is a write transaction here."""
        return self.write()

    @contextmanager
    def read(self) -> Iterator[SQLiteConnection]:
        with self._lock:
            yield self._connection()

    def lock_keys(self, conn: Connection, names: tuple[str, ...]) -> None:
        """Nothing to do: BEGIN IMMEDIATE already admits a single writer to the whole file."""


_LIVE: weakref.WeakSet[SQLiteBackend] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for backend in list(_LIVE):
        backend._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
