"""One SQLite file shared by threads and processes: the ledger's and the outreach store's base.

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class SQLiteStore:
    """Subclasses give `_SCHEMA` (idempotent statements), `default_path()` and `_SYNCHRONOUS`."""

    _SCHEMA: tuple[str, ...] = ()
    _SYNCHRONOUS = "NORMAL"  # survives a killed process; FULL also survives a power cut

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout_s: float = 30.0):
        self.path = Path(path) if path is not None else self.default_path()
        self.timeout_s = float(timeout_s)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None

    @classmethod
    def default_path(cls) -> Path:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], timeout_s=state["timeout_s"])  # type: ignore[misc]

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close this process's connection; the next call opens a new one."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            self._pid = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(self.path),
            timeout=self.timeout_s,
            isolation_level=None,  # we issue BEGIN ourselves: short, explicit transactions
            check_same_thread=False,  # shared by threads under self._lock
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        deadline = time.monotonic() + self.timeout_s
        while True:  # switching to WAL can answer "locked" while another process creates the file
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(f"PRAGMA synchronous = {self._SYNCHRONOUS}")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for stmt in self._SCHEMA:
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
    def _write(self) -> Iterator[sqlite3.Connection]:
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

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._connection()
