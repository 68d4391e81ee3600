"""The ledger: what was fetched, when, at what cost, and what failed, kept across runs.

Credits are money, so every result and every per-input error is written as it arrives, in its own
short transaction: a run killed at any point keeps what it paid for, and the next run fetches only
what is missing. A search stores each page as it comes, so an interrupted walk resumes from the next
page instead of paying for the first ones again.

The default store is one SQLite file in WAL mode with a busy timeout, safe for several threads and
processes at once. All SQL lives in `Ledger` so a server database (PostgreSQL) can take its place
later. The ledger never sees the API key: it stores inputs, parameters, results and error envelopes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .catalog import CUSTOM_DATA, Action
from .sqlite_store import SQLiteStore

LEDGER_ENV = "CAPTAINDATA_LEDGER"
DEFAULT_LEDGER_PATH = Path(".captaindata") / "ledger.sqlite"
SCHEMA_VERSION = 1

STATUS_OK = "ok"  # a complete result (an object, or a search walked to its end)
STATUS_PARTIAL = "partial"  # a search with some pages stored, not yet walked to its end
STATUS_ERROR = "error"  # the last attempt failed; `retryable` says whether to try again


def input_key(
    action: Action,
    input: Mapping[str, Any] | None,  # noqa: A002 - the API's own word
    parameters: Mapping[str, Any] | None = None,
    max_results: int | None = None,
) -> str:
    """The ledger key of one call: sha256 of its canonical JSON.

    Aliases are renamed to catalog field names, strings stripped, `None` values and `custom_data`
    left out (it is echoed back, it does not change what the API fetches), keys sorted. For list
    actions `max_results` is part of the key: a search capped at 50 is not the one capped at 200.
    """
    data = action.canonical_input(input) if isinstance(input, Mapping) else input
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != CUSTOM_DATA}
    payload = {
        "action": action.id,
        "input": _normalise(data),
        "parameters": _normalise(dict(parameters or {})),
        "max_results": max_results if action.is_list else None,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value


def default_ledger_path() -> Path:
    """`$CAPTAINDATA_LEDGER`, else `.captaindata/ledger.sqlite` under the current directory."""
    env = os.environ.get(LEDGER_ENV, "").strip()
    return Path(env) if env else DEFAULT_LEDGER_PATH


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Entry:
    """One ledger row: the outcome of one (action, input, parameters[, max_results]) call.

    `results` is the list of result items (a search's pages concatenated, in order; `None` when
    loaded without results). Error fields are set only when `status == "error"`; a search that failed
    midway keeps its stored pages (`pages_done`, `next_url`) so it can resume.
    `started_at` is when the first page of the current walk was fetched (the age of the data);
    `fetched_at` when the row was last written.
    """

    action_id: str
    input_key: str
    status: str
    complete: bool
    input: Any
    parameters: dict[str, Any] | None
    max_results: int | None
    results: list[dict[str, Any]] | None
    pages_done: int
    next_url: str | None
    started_at: datetime
    fetched_at: datetime
    credits: float
    attempts: int
    error_label: str | None = None
    error_scope: str | None = None
    error_ref: str | None = None
    message: str | None = None
    status_code: int | None = None
    retryable: bool | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK and self.complete

    @property
    def is_error(self) -> bool:
        return self.status == STATUS_ERROR

    def age(self, now: datetime | None = None) -> timedelta:
        """How old the data is: from `started_at` for results, from `fetched_at` for errors."""
        ref = self.fetched_at if self.is_error else self.started_at
        return (now or utcnow()) - ref


@dataclass(frozen=True)
class ResumePoint:
    """Where an unfinished search stands: pages stored, their results, the URL of the next page."""

    pages_done: int
    results: list[dict[str, Any]]
    next_url: str | None
    credits: float


_ENTRY_COLUMNS = (
    "action_id, input_key, status, complete, input_json, parameters_json, max_results, "
    "results_json, pages_done, next_url, started_at, fetched_at, credits, attempts, "
    "error_label, error_scope, error_ref, message, status_code, retryable"
)


class Ledger(SQLiteStore):
    """Checkpoint and cache store over one SQLite file (WAL, busy timeout, short transactions).

    Nothing touches the disk until the first call: the parent directory, the file and the schema
    are created then. One connection per process, shared by threads under a lock (SQLite's own
    locking and `busy_timeout` arbitrate between processes); a forked child opens its own.
    """

    @classmethod
    def default_path(cls) -> Path:
        return default_ledger_path()

    # ------------------------------------------------------------------ connection and schema

    _SCHEMA = (
        """CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS entries (
            action_id TEXT NOT NULL,
            input_key TEXT NOT NULL,
            status TEXT NOT NULL,
            complete INTEGER NOT NULL DEFAULT 0,
            input_json TEXT,
            parameters_json TEXT,
            max_results INTEGER,
            results_json TEXT,
            pages_done INTEGER NOT NULL DEFAULT 0,
            next_url TEXT,
            started_at TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            credits REAL NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            error_label TEXT,
            error_scope TEXT,
            error_ref TEXT,
            message TEXT,
            status_code INTEGER,
            retryable INTEGER,
            PRIMARY KEY (action_id, input_key)
        )""",
        """CREATE TABLE IF NOT EXISTS pages (
            action_id TEXT NOT NULL,
            input_key TEXT NOT NULL,
            page INTEGER NOT NULL,
            results_json TEXT NOT NULL,
            next_url TEXT,
            fetched_at TEXT NOT NULL,
            credits REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (action_id, input_key, page)
        )""",
        """CREATE INDEX IF NOT EXISTS entries_status ON entries (action_id, status)""",
        f"INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', '{SCHEMA_VERSION}')",
    )

    # ------------------------------------------------------------------ writes

    def save_result(
        self,
        action_id: str,
        key: str,
        results: list[dict[str, Any]],
        *,
        input: Any = None,  # noqa: A002
        parameters: Mapping[str, Any] | None = None,
        max_results: int | None = None,
        credits: float = 0.0,  # noqa: A002 - the API's own word
        attempts: int = 1,
        at: datetime | None = None,
    ) -> None:
        """Store a complete result (an object action's one item, or a whole list at once).

        Replaces whatever the key held before, an error included.
        """
        now = _iso(at or utcnow())
        with self._write() as conn:
            conn.execute(
                "DELETE FROM pages WHERE action_id = ? AND input_key = ?", (action_id, key)
            )
            conn.execute(
                f"INSERT OR REPLACE INTO entries ({_ENTRY_COLUMNS}) "
                "VALUES (?, ?, ?, 1, ?, ?, ?, ?, 1, NULL, ?, ?, ?, ?, "
                "NULL, NULL, NULL, NULL, NULL, NULL)",
                (
                    action_id,
                    key,
                    STATUS_OK,
                    _dump(input),
                    _dump(parameters),
                    max_results,
                    _dump(list(results)),
                    now,
                    now,
                    float(credits),
                    int(attempts),
                ),
            )

    def save_page(
        self,
        action_id: str,
        key: str,
        page: int,
        results: list[dict[str, Any]],
        *,
        next_url: str | None,
        complete: bool = False,
        input: Any = None,  # noqa: A002
        parameters: Mapping[str, Any] | None = None,
        max_results: int | None = None,
        credits: float = 0.0,  # noqa: A002 - the API's own word
        attempts: int = 1,
        at: datetime | None = None,
    ) -> None:
        """Store one page of a search in its own transaction; `complete=True` on the last one.

        Page 1 starts a new walk: pages stored by an earlier walk of the same key are dropped.
        Credits and attempts add up over the walk's pages.
        """
        if page < 1:
            raise ValueError(f"page must be >= 1, got {page!r}")
        now = _iso(at or utcnow())
        with self._write() as conn:
            row = conn.execute(
                "SELECT credits, attempts, started_at FROM entries "
                "WHERE action_id = ? AND input_key = ?",
                (action_id, key),
            ).fetchone()
            if page == 1 or row is None:
                conn.execute(
                    "DELETE FROM pages WHERE action_id = ? AND input_key = ?", (action_id, key)
                )
                total_credits, total_attempts, started = float(credits), int(attempts), now
            else:
                total_credits = float(row[0]) + float(credits)
                total_attempts = int(row[1]) + int(attempts)
                started = row[2]
            conn.execute(
                "INSERT OR REPLACE INTO pages "
                "(action_id, input_key, page, results_json, next_url, fetched_at, credits) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (action_id, key, page, _dump(list(results)), next_url, now, float(credits)),
            )
            conn.execute(
                f"INSERT OR REPLACE INTO entries ({_ENTRY_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, "
                "NULL, NULL, NULL, NULL, NULL, NULL)",
                (
                    action_id,
                    key,
                    STATUS_OK if complete else STATUS_PARTIAL,
                    1 if complete else 0,
                    _dump(input),
                    _dump(parameters),
                    max_results,
                    page,
                    None if complete else next_url,
                    started,
                    now,
                    total_credits,
                    total_attempts,
                ),
            )

    def mark_complete(self, action_id: str, key: str, at: datetime | None = None) -> None:
        """Close a search whose walk ended without a new page (e.g. the last page was full)."""
        now = _iso(at or utcnow())
        with self._write() as conn:
            conn.execute(
                "UPDATE entries SET status = ?, complete = 1, next_url = NULL, fetched_at = ? "
                "WHERE action_id = ? AND input_key = ? AND status = ?",
                (STATUS_OK, now, action_id, key, STATUS_PARTIAL),
            )

    def save_error(
        self,
        action_id: str,
        key: str,
        *,
        error_label: str | None,
        error_scope: str | None = None,
        error_ref: str | None = None,
        message: str | None = None,
        status_code: int | None = None,
        retryable: bool = False,
        input: Any = None,  # noqa: A002
        parameters: Mapping[str, Any] | None = None,
        max_results: int | None = None,
        attempts: int = 1,
        at: datetime | None = None,
    ) -> None:
        """Record that the call failed for this input (after the client's retries).

        A search that failed midway keeps its stored pages, so a retry resumes after them; an
        error on a key whose earlier result was complete replaces that result.
        """
        now = _iso(at or utcnow())
        with self._write() as conn:
            row = conn.execute(
                "SELECT complete, pages_done, next_url, started_at, credits, attempts "
                "FROM entries WHERE action_id = ? AND input_key = ?",
                (action_id, key),
            ).fetchone()
            keep = row is not None and not row[0] and row[1] > 0
            if keep:
                pages_done, next_url, started = row[1], row[2], row[3]
                spent, total_attempts = float(row[4]), int(row[5]) + int(attempts)
            else:
                conn.execute(
                    "DELETE FROM pages WHERE action_id = ? AND input_key = ?", (action_id, key)
                )
                pages_done, next_url, started, spent, total_attempts = 0, None, now, 0.0, attempts
            conn.execute(
                f"INSERT OR REPLACE INTO entries ({_ENTRY_COLUMNS}) "
                "VALUES (?, ?, ?, 0, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    action_id,
                    key,
                    STATUS_ERROR,
                    _dump(input),
                    _dump(parameters),
                    max_results,
                    pages_done,
                    next_url,
                    started,
                    now,
                    spent,
                    int(total_attempts),
                    error_label,
                    error_scope,
                    error_ref,
                    message,
                    status_code,
                    None if retryable is None else int(bool(retryable)),
                ),
            )

    def delete(self, action_id: str, key: str | None = None) -> int:
        """Forget one key (or every key of an action); returns the entries removed."""
        where, args = "action_id = ?", [action_id]
        if key is not None:
            where, args = where + " AND input_key = ?", [*args, key]
        with self._write() as conn:
            conn.execute(f"DELETE FROM pages WHERE {where}", args)
            return conn.execute(f"DELETE FROM entries WHERE {where}", args).rowcount

    # ------------------------------------------------------------------ reads

    def get(self, action_id: str, key: str, *, results: bool = True) -> Entry | None:
        """The entry for a key, whatever its state, or None."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE action_id = ? AND input_key = ?",
                (action_id, key),
            ).fetchone()
            if row is None:
                return None
            return self._entry(conn, row, results)

    def fresh(self, action_id: str, key: str, max_age: timedelta | None = None) -> Entry | None:
        """The entry if it can be used instead of a call, else None.

        Fresh means: a complete result younger than `max_age`, or a permanent (non-retryable)
        error younger than `max_age`, so an input the API refused is not paid for again every run.
        Retryable errors and unfinished searches are never fresh. `max_age=None` means entries
        never expire; `timedelta(0)` means nothing is fresh (always refetch).
        """
        entry = self.get(action_id, key, results=False)
        if entry is None:
            return None
        if entry.ok:
            usable = True
        elif entry.is_error:
            usable = entry.retryable is False
        else:
            usable = False
        if not usable or (max_age is not None and entry.age() >= max_age):
            return None
        return self.get(action_id, key) if entry.ok else entry

    def resume_point(
        self, action_id: str, key: str, max_age: timedelta | None = None
    ) -> ResumePoint | None:
        """Where to pick up an unfinished search (some pages stored, more to fetch), or None.

        A walk whose first page is older than `max_age` is not resumed: mixing old and new pages
        would give a result nobody fetched at once.
        """
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE action_id = ? AND input_key = ?",
                (action_id, key),
            ).fetchone()
            if row is None:
                return None
            entry = self._entry(conn, row, results=True)
        if entry.complete or entry.pages_done < 1 or not entry.next_url:
            return None
        if max_age is not None and utcnow() - entry.started_at >= max_age:
            return None
        return ResumePoint(entry.pages_done, entry.results or [], entry.next_url, entry.credits)

    def entries(
        self,
        action_id: str | None = None,
        *,
        status: str | None = None,
        results: bool = True,
    ) -> list[Entry]:
        """All entries (of one action, of one status), oldest write first."""
        clauses, args = [], []
        if action_id is not None:
            clauses.append("action_id = ?")
            args.append(action_id)
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries{where} ORDER BY fetched_at, input_key",
                args,
            ).fetchall()
            return [self._entry(conn, r, results) for r in rows]

    def errors(self, action_id: str | None = None) -> list[Entry]:
        """Entries whose last attempt failed, with the input that failed."""
        return self.entries(action_id, status=STATUS_ERROR, results=False)

    def integrity_ok(self) -> bool:
        """True when SQLite's `PRAGMA integrity_check` finds nothing wrong."""
        with self._read() as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        return [tuple(r) for r in rows] == [("ok",)]

    def stats(self) -> dict[str, Any]:
        """Counts for a dashboard: entries by status, stored pages, credits recorded, file size."""
        with self._read() as conn:
            by_status = dict(
                conn.execute("SELECT status, COUNT(*) FROM entries GROUP BY status").fetchall()
            )
            actions = conn.execute("SELECT COUNT(DISTINCT action_id) FROM entries").fetchone()[0]
            pages = conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
            spent = conn.execute("SELECT COALESCE(SUM(credits), 0) FROM entries").fetchone()[0]
            labels = dict(
                conn.execute(
                    "SELECT error_label, COUNT(*) FROM entries WHERE status = ? "
                    "GROUP BY error_label",
                    (STATUS_ERROR,),
                ).fetchall()
            )
        return {
            "path": str(self.path),
            "entries": sum(by_status.values()),
            "ok": by_status.get(STATUS_OK, 0),
            "partial": by_status.get(STATUS_PARTIAL, 0),
            "errors": by_status.get(STATUS_ERROR, 0),
            "errors_by_label": {str(k): v for k, v in labels.items()},
            "actions": actions,
            "pages": pages,
            "credits": float(spent),
            "size_bytes": self.path.stat().st_size if self.path.exists() else 0,
        }

    # ------------------------------------------------------------------ rows to entries

    def _entry(self, conn: sqlite3.Connection, row: tuple[Any, ...], results: bool) -> Entry:
        (action_id, key, status, complete, input_json, parameters_json, max_results,
         results_json, pages_done, next_url, started_at, fetched_at, spent, attempts,
         label, scope, ref, message, status_code, retryable) = row  # fmt: skip
        items: list[dict[str, Any]] | None = None
        if results:
            if results_json is not None:
                items = _load(results_json)
            else:
                items = []
                for (page_json,) in conn.execute(
                    "SELECT results_json FROM pages WHERE action_id = ? AND input_key = ? "
                    "ORDER BY page",
                    (action_id, key),
                ):
                    items.extend(_load(page_json))
        return Entry(
            action_id=action_id,
            input_key=key,
            status=status,
            complete=bool(complete),
            input=_load(input_json),
            parameters=_load(parameters_json),
            max_results=max_results,
            results=items,
            pages_done=int(pages_done),
            next_url=next_url,
            started_at=datetime.fromisoformat(started_at),
            fetched_at=datetime.fromisoformat(fetched_at),
            credits=float(spent),
            attempts=int(attempts),
            error_label=label,
            error_scope=scope,
            error_ref=ref,
            message=message,
            status_code=status_code,
            retryable=None if retryable is None else bool(retryable),
        )


def _iso(d: datetime) -> str:
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.astimezone(timezone.utc).isoformat(timespec="microseconds")


_BYTES = "__bytes_b64__"  # a downloaded file's content survives the round trip as bytes


def _encode(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    return str(value)


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _BYTES in obj:
        return base64.b64decode(obj[_BYTES])
    return obj


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_encode)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text, object_hook=_decode)
