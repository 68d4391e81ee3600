"""The ledger's tables, written once for both databases, and the one row of `entries` by name.

The tables only ever gain what old ledgers can do without (a new table, never a new column of an
old one), so a ledger file written by an earlier version opens with no migration.
"""

from __future__ import annotations

from typing import Any

from captaindata_dagster.storage.encoding import dump_json
from captaindata_dagster.storage.error_fields import NO_ERROR, ErrorFields

SCHEMA_VERSION = 1
ENTRY_KEYS = ("action_id", "input_key")
ENTRY_COLUMNS = (
    "action_id", "input_key", "status", "complete", "input_json", "parameters_json",
    "max_results", "results_json", "pages_done", "next_url", "started_at", "fetched_at",
    "credits", "attempts", "error_label", "error_scope", "error_ref", "message", "status_code",
    "retryable",
)  # fmt: skip
MESSAGE_COLUMN = "message"  # the error's message, in `entries`
SELECT_ENTRY = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries"
CLAIM_COLUMNS = ("action_id", "input_key", "owner", "host", "pid", "pid_start", "claimed_at")

LEDGER_SCHEMA = (
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
        credits DOUBLE PRECISION NOT NULL DEFAULT 0,
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
        credits DOUBLE PRECISION NOT NULL DEFAULT 0,
        PRIMARY KEY (action_id, input_key, page)
    )""",
    """CREATE INDEX IF NOT EXISTS entries_status ON entries (action_id, status)""",
    # Which account failed (LK_BAD_COOKIE names a person to call): a table of its own, so
    # ledgers written before it need no migration. Read only while the entry is an error.
    """CREATE TABLE IF NOT EXISTS error_users (
        action_id TEXT NOT NULL,
        input_key TEXT NOT NULL,
        user_uid TEXT NOT NULL,
        PRIMARY KEY (action_id, input_key)
    )""",
    f"INSERT INTO meta (name, value) VALUES ('schema_version', '{SCHEMA_VERSION}') "
    "ON CONFLICT (name) DO NOTHING",
)
# Claims: on SQLite a row naming the process that holds the input; on PostgreSQL a session
# advisory lock instead (freed by the server the moment its holder's session ends).
LEDGER_SQLITE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS claims (
        action_id TEXT NOT NULL,
        input_key TEXT NOT NULL,
        owner TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        pid_start TEXT,
        claimed_at TEXT NOT NULL,
        PRIMARY KEY (action_id, input_key)
    )""",
)


def entry_row(
    action_id: str,
    key: str,
    *,
    status: str,
    complete: bool,
    call: tuple[Any, Any, int | None],
    results: list[dict[str, Any]] | None,
    walk: tuple[int, str | None, str],
    fetched_at: str,
    spent: tuple[float, int],
    error: ErrorFields = NO_ERROR,
) -> dict[str, Any]:
    """Every column of one `entries` row by name (an upsert rewrites them all, as it always did).

    Args:
        action_id: the action.
        key: the `input_key`.
        status: `ok`, `partial` or `error`.
        complete: a whole result (or a search walked to its end).
        call: (input, parameters, max_results) as the caller gave them.
        results: the result items when they are kept in the row (not in `pages`), else None.
        walk: (pages_done, next_url, started_at): where a search stands and when it began.
        fetched_at: when the row is written (ISO text).
        spent: (credits, attempts) over the walk.
        error: what the last attempt's error said (none by default).

    Example:
        >>> entry_row("a", "k", status="ok", complete=True, call=(None, None, None), results=[],
        ...           walk=(1, None, now), fetched_at=now, spent=(0.0, 1))  # doctest: +SKIP
    """
    input_, parameters, max_results = call
    pages_done, next_url, started_at = walk
    paid, attempts = spent
    return {
        "action_id": action_id,
        "input_key": key,
        "status": status,
        "complete": 1 if complete else 0,
        "input_json": dump_json(input_),
        "parameters_json": dump_json(parameters),
        "max_results": max_results,
        "results_json": None if results is None else dump_json(list(results)),
        "pages_done": int(pages_done),
        "next_url": next_url,
        "started_at": started_at,
        "fetched_at": fetched_at,
        "credits": float(paid),
        "attempts": int(attempts),
        **error.error_columns(MESSAGE_COLUMN),
    }
