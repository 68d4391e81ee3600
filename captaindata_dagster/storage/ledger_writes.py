"""The ledger's writes of whole outcomes: a complete result, an error, reopening or forgetting a key.

Each is one short transaction holding the key's lock (`Store._lock_keys`), so a run killed at any
point keeps what it paid for. A search's pages are written by `ledger_pages.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from captaindata_dagster.storage.encoding import to_iso, utcnow
from captaindata_dagster.storage.error_fields import ErrorFields
from captaindata_dagster.storage.ledger_records import STATUS_ERROR, STATUS_OK
from captaindata_dagster.storage.ledger_schema import ENTRY_KEYS, entry_row
from captaindata_dagster.storage.sql import Connection, upsert
from captaindata_dagster.storage.store import Store

REOPEN_CHUNK = 500  # keys per UPDATE of `reopen_errors` (well under SQLite's bound parameters)


def key_lock(action_id: str, key: str) -> str:
    """The name of the lock a write of one ledger key holds (`Store._lock_keys`)."""
    return f"captaindata:ledger:{action_id}:{key}"


def drop_pages(conn: Connection, action_id: str, key: str) -> None:
    """Forget the pages stored for a key (a new walk, a whole result, a broken walk)."""
    conn.execute("DELETE FROM pages WHERE action_id = ? AND input_key = ?", (action_id, key))


class LedgerWrites(Store):
    """`save_result`, `save_error`, `reopen_errors` and `delete` of the `Ledger`."""

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
        now = to_iso(at or utcnow())
        row = entry_row(
            action_id,
            key,
            status=STATUS_OK,
            complete=True,
            call=(input, parameters, max_results),
            results=list(results),
            walk=(1, None, now),
            fetched_at=now,
            spent=(credits, attempts),
        )
        with self._write() as conn:
            self._lock_keys(conn, key_lock(action_id, key))
            drop_pages(conn, action_id, key)
            upsert(conn, "entries", row, ENTRY_KEYS)

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
        user_uid: str | None = None,
        keep_pages: bool = True,
    ) -> None:
        """Record that the call failed for this input (after the client's retries).

        A search that failed midway keeps its stored pages, so a retry resumes after them,
        unless `keep_pages` is False (the walk itself was broken: a pagination loop, a next URL
        naming another endpoint; its stored next URL must not be followed again); an
        error on a key whose earlier result was complete replaces that result. `user_uid` is the
        user whose connected account made the call, if one did. An account error
        (`ACCOUNT_LABELS`) is stored like any other but is never `fresh`: the next run retries.
        """
        now = to_iso(at or utcnow())
        error = ErrorFields(
            error_label=error_label,
            error_scope=error_scope,
            error_ref=error_ref,
            error_message=message,
            status_code=status_code,
            retryable=retryable,
        )
        with self._write() as conn:
            self._lock_keys(conn, key_lock(action_id, key))
            walk, spent = _walk_kept(conn, action_id, key, keep_pages, now, attempts)
            row = entry_row(
                action_id,
                key,
                status=STATUS_ERROR,
                complete=False,
                call=(input, parameters, max_results),
                results=None,
                walk=walk,
                fetched_at=now,
                spent=spent,
                error=error,
            )
            upsert(conn, "entries", row, ENTRY_KEYS)
            if user_uid:
                upsert(
                    conn,
                    "error_users",
                    {"action_id": action_id, "input_key": key, "user_uid": str(user_uid)},
                    ENTRY_KEYS,
                )
            else:
                conn.execute(
                    "DELETE FROM error_users WHERE action_id = ? AND input_key = ?",
                    (action_id, key),
                )

    def reopen_errors(self, action_id: str, keys: Iterable[str]) -> int:
        """Let the next run try these keys again although their last answer was a permanent error.

        A permanent error (NO_RESULT, a refused input...) answers for its input until `max_age`,
        so that nobody pays for the same refusal every run; once its cause is fixed, a person asks
        for it again (the `captaindata/refetch` run tag). The error stays recorded, marked
        retryable: the next batch that meets the input fetches it (a search resumes after the pages
        it had stored). A flag, not an outcome: no key lock is taken.

        Args:
            action_id: the action whose entries to reopen.
            keys: the inputs' ledger keys; keys without a permanent error are left as they are.

        Returns:
            How many entries were reopened.

        Example:
            >>> ledger.reopen_errors("linkedin-search-people", [key])
            1
        """
        unique = list(dict.fromkeys(keys))
        reopened = 0
        with self._write() as conn:
            for start in range(0, len(unique), REOPEN_CHUNK):
                chunk = unique[start : start + REOPEN_CHUNK]
                marks = ", ".join("?" * len(chunk))
                reopened += conn.execute(
                    "UPDATE entries SET retryable = 1 WHERE action_id = ? AND status = ? "
                    f"AND (retryable IS NULL OR retryable = 0) AND input_key IN ({marks})",
                    (action_id, STATUS_ERROR, *chunk),
                ).rowcount
        return reopened

    def delete(self, action_id: str, key: str | None = None) -> int:
        """Forget one key (or every key of an action); returns the entries removed."""
        where, args = "action_id = ?", [action_id]
        if key is not None:
            where, args = where + " AND input_key = ?", [*args, key]
        with self._write() as conn:
            conn.execute(f"DELETE FROM pages WHERE {where}", args)
            conn.execute(f"DELETE FROM error_users WHERE {where}", args)
            return conn.execute(f"DELETE FROM entries WHERE {where}", args).rowcount


def _walk_kept(
    conn: Connection, action_id: str, key: str, keep_pages: bool, now: str, attempts: int
) -> tuple[tuple[int, str | None, str], tuple[float, int]]:
    """((pages_done, next_url, started_at), (credits, attempts)) an error leaves on a key: those
    of a search stopped midway, whose pages are kept, else a fresh start (its pages dropped)."""
    row = conn.execute(
        "SELECT complete, pages_done, next_url, started_at, credits, attempts "
        "FROM entries WHERE action_id = ? AND input_key = ?",
        (action_id, key),
    ).fetchone()
    if keep_pages and row is not None and not row[0] and row[1] > 0:
        return (row[1], row[2], row[3]), (float(row[4]), int(row[5]) + int(attempts))
    drop_pages(conn, action_id, key)
    return (0, None, now), (0.0, int(attempts))
