"""The PostgreSQL backend of the stores: one database shared by runs on several machines.

psycopg 3 is imported on the first call (never for a SQLite store). One connection per process,
shared by its threads under a lock, in autocommit mode with explicit short transactions: writes
are READ COMMITTED and take transaction-scoped advisory locks on the keys they read and rewrite
(`lock_keys`), reads run in one REPEATABLE READ snapshot. The tables live in their own schema
(`captaindata`), created on first use under an advisory lock so two processes may start at once.

A connection found dead when a transaction begins (server restarted, session killed) is replaced
and the transaction begins again: nothing of it had run. One lost in the middle raises
`StoreUnavailable`: the transaction did not commit (or, lost during COMMIT, may have). Server
down: reconnection is retried until `timeout_s`, then `StoreUnavailable` names the redacted URL.
A forked child never touches its parent's connection (its socket is pointed at /dev/null in the
child, so even closing it cannot end the parent's session) and opens its own.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from captaindata_dagster.storage.errors import StoreError, StoreUnavailable
from captaindata_dagster.storage.locations import redact_url, scrub
from captaindata_dagster.storage.sql import POSTGRES, Connection

SCHEMA = "captaindata"
APPLICATION_NAME = "captaindata-dagster"
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
# Refused for good: retrying the connection until the timeout would only delay the message.
_PERMANENT = (
    "authentication failed",
    "does not exist",
    "pg_hba.conf",
    "permission denied",
    "invalid",
    "password",
)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise StoreError(
            "A postgresql:// ledger needs psycopg 3: pip install 'captaindata-dagster[postgres]' "
            "(or 'psycopg[binary]')"
        ) from exc
    return psycopg


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    """The store's `?` placeholders as psycopg's `%s` (a literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresConnection:
    """The one psycopg connection of a process, speaking the stores' SQL (`?` placeholders)."""

    dialect = POSTGRES

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(_pg_sql(sql), tuple(params))


class _Autocommit(PostgresConnection):
    """The connection outside any transaction; found dead at its first statement (nothing had
    run), it is replaced once."""

    def __init__(self, backend: PostgresBackend) -> None:
        super().__init__(backend._connection())
        self.backend = backend
        self.first = True

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        first, self.first = self.first, False
        try:
            return super().execute(sql, params)
        except _psycopg().OperationalError:
            if not first or not (self.raw.broken or self.raw.closed):
                raise
            self.backend._drop()
            self.raw = self.backend._connection()
            return super().execute(sql, params)


class PostgresBackend:
    """One PostgreSQL database: a connection per process, short explicit transactions."""

    dialect = POSTGRES

    def __init__(self, url: str, schema: tuple[str, ...], *, timeout_s: float) -> None:
        self._url = url
        self.url = redact_url(url)
        self.schema = schema
        self.timeout_s = timeout_s
        self._lock = threading.RLock()
        self._conn: Any = None
        self._pid: int | None = None
        _LIVE.add(self)

    # ------------------------------------------------------------------ connection

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                try:
                    # a claim is a session advisory lock: give it back now, not when the server
                    # gets round to ending the session (another process may claim at once)
                    self._conn.execute("SELECT pg_advisory_unlock_all()")
                except Exception:  # a broken connection: the server frees them with it
                    pass
                try:
                    self._conn.close()
                except Exception:  # closing a broken connection may complain
                    pass
            self._conn = None
            self._pid = None

    def _after_fork_in_child(self) -> None:
        conn, self._conn, self._pid = self._conn, None, None
        self._lock = threading.RLock()
        _detach(conn)

    def backend_pid(self) -> int | None:
        """The server process of this process's session (None before the first call)."""
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                return None
            return int(self._conn.info.backend_pid)

    def _connection(self) -> Any:
        conn = self._conn
        if conn is not None and self._pid == os.getpid() and not conn.closed and not conn.broken:
            return conn
        if conn is not None and self._pid != os.getpid():
            _detach(conn)  # inherited through a fork the hook did not see
        elif conn is not None:
            self.close()
        self._conn, self._pid = self._open(), os.getpid()
        return self._conn

    def _open(self) -> Any:
        psycopg = _psycopg()
        deadline = time.monotonic() + self.timeout_s
        pause = 0.1
        while True:
            try:
                conn = psycopg.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=max(2, int(min(self.timeout_s, 10))),
                    application_name=APPLICATION_NAME,
                    **KEEPALIVE,
                )
                break
            except psycopg.Error as exc:
                reason = str(exc).strip()
                permanent = any(p in reason.lower() for p in _PERMANENT)
                if permanent or time.monotonic() + pause > deadline:
                    raise self._unavailable("cannot connect", exc) from exc
                time.sleep(pause)
                pause = min(pause * 2, 1.0)
        try:
            self._setup(conn)
        except psycopg.Error as exc:
            conn.close()
            if conn.broken:
                raise self._unavailable("lost the connection while preparing it", exc) from exc
            raise StoreError(
                f"PostgreSQL store at {self.url}: cannot prepare the {SCHEMA!r} schema and its "
                f"tables: {scrub(str(exc).strip(), self._url)}. The user needs CREATE on the "
                f"database, or a schema {SCHEMA!r} it may create tables in."
            ) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _setup(self, conn: Any) -> None:
        """Session settings, then the schema (under an advisory lock: two processes may start
        together, and concurrent CREATE ... IF NOT EXISTS can collide)."""
        ms = int(self.timeout_s * 1000)
        # a lock held longer than this is an error, not a hang; a client that froze inside a
        # transaction loses it; the server notices a vanished machine within ~1 min and frees
        # its locks (and the claims it held).
        for stmt in (
            f"SET lock_timeout = {ms}",
            f"SET idle_in_transaction_session_timeout = {max(ms * 2, 60_000)}",
            "SET tcp_keepalives_idle = 30",
            "SET tcp_keepalives_interval = 10",
            "SET tcp_keepalives_count = 3",
        ):
            conn.execute(stmt)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (SCHEMA,))
            exists = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)
            ).fetchone()
            if not exists:
                conn.execute(f"CREATE SCHEMA {SCHEMA}")
            conn.execute(f"SET search_path TO {SCHEMA}")
            for stmt in self.schema:
                conn.execute(_pg_sql(stmt), ())

    def _unavailable(self, what: str, exc: BaseException) -> StoreUnavailable:
        reason = scrub(str(exc).strip() or type(exc).__name__, self._url)
        return StoreUnavailable(
            f"PostgreSQL store at {self.url}: {what}: {reason}. Check that the server is up and "
            "the URL (ledger_url or CAPTAINDATA_LEDGER_URL) is right; the password can come "
            "from PGPASSWORD or ~/.pgpass instead of the URL."
        )

    # ------------------------------------------------------------------ transactions

    def _begin(self, statement: str) -> PostgresConnection:
        """Begin a transaction; a connection found dead is replaced once (nothing had run)."""
        psycopg = _psycopg()
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.execute(statement)
                return PostgresConnection(conn)
            except psycopg.OperationalError as exc:
                self._drop()
                if attempt == 2:
                    raise self._unavailable("lost the connection", exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop(self) -> None:
        conn, self._conn, self._pid = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken
                pass

    def _end(self, conn: PostgresConnection, statement: str) -> None:
        psycopg = _psycopg()
        try:
            conn.raw.execute(statement)
        except psycopg.OperationalError as exc:
            self._drop()
            raise self._unavailable(
                f"lost the connection during {statement} (its outcome is unknown)", exc
            ) from exc

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[PostgresConnection]:
        psycopg = _psycopg()
        with self._lock:
            conn = self._begin(begin)
            try:
                yield conn
            except psycopg.Error as exc:
                if conn.raw.broken or conn.raw.closed:
                    self._drop()  # the transaction died with the session: nothing committed
                    raise self._unavailable(
                        "lost the connection; nothing was committed", exc
                    ) from exc
                self._rollback(conn)
                if isinstance(exc, psycopg.errors.LockNotAvailable):
                    raise StoreError(
                        f"PostgreSQL store at {self.url}: another process held the same records "
                        f"for more than {self.timeout_s:g}s (lock_timeout); nothing was committed"
                    ) from exc
                raise
            except BaseException:
                self._rollback(conn)
                raise
            self._end(conn, "COMMIT")

    def _rollback(self, conn: PostgresConnection) -> None:
        try:
            conn.raw.execute("ROLLBACK")
        except _psycopg().Error:
            self._drop()

    def write(self) -> AbstractContextManager[PostgresConnection]:
        return self._transaction("BEGIN")

    @contextmanager
    def session(self) -> Iterator[PostgresConnection]:
        """Statements committed one by one (autocommit), e.g. to take or give back a session
        advisory lock: fewer round trips than a transaction where none is needed."""
        psycopg = _psycopg()
        with self._lock:
            conn = _Autocommit(self)
            try:
                yield conn
            except psycopg.Error as exc:
                if conn.raw.broken or conn.raw.closed:
                    self._drop()
                    raise self._unavailable("lost the connection", exc) from exc
                raise

    def read(self) -> AbstractContextManager[PostgresConnection]:
        return self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def lock_keys(self, conn: Connection, names: tuple[str, ...]) -> None:
        for name in sorted(set(names)):
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (name,))


def _detach(conn: Any) -> None:
    """Make an inherited connection harmless: its socket now leads to /dev/null, so closing it
    (or the garbage collector doing so) sends nothing on the parent's session."""
    if conn is None:
        return
    try:
        fd = conn.pgconn.socket
        null = os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
    except Exception:  # already closed: nothing to protect
        pass
    _ORPHANS.append(conn)  # never closed in this process: nothing more is sent either way


_ORPHANS: list[Any] = []
_LIVE: weakref.WeakSet[PostgresBackend] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    _ORPHANS.clear()  # the parent's orphans are the parent's
    for backend in list(_LIVE):
        backend._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
