"""The ledger's reads: one entry, the fresh ones, all of them, the errors, and counts.

Each read sees one state of the ledger (SQLite: the file; PostgreSQL: one REPEATABLE READ
snapshot), so an entry and its pages are never read half-written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from captaindata_dagster.storage.ledger_records import (
    STATUS_ERROR,
    STATUS_OK,
    STATUS_PARTIAL,
    Entry,
    is_fresh,
    read_entry,
    select_entry,
)
from captaindata_dagster.storage.ledger_schema import ENTRY_COLUMNS, SELECT_ENTRY
from captaindata_dagster.storage.sql import POSTGRES, Connection, as_row
from captaindata_dagster.storage.store import Store


class LedgerReads(Store):
    """`get`, `fresh`, `entries`, `errors` and `stats` of the `Ledger`."""

    def get(self, action_id: str, key: str, *, results: bool = True) -> Entry | None:
        """The entry for a key, whatever its state, or None."""
        with self._read() as conn:
            row = select_entry(conn, action_id, key)
            return None if row is None else read_entry(conn, row, results)

    def fresh(self, action_id: str, key: str, max_age: timedelta | None = None) -> Entry | None:
        """The entry if it can be used instead of a call, else None.

        Fresh means: a complete result younger than `max_age`, or a permanent (non-retryable)
        error younger than `max_age`, so an input the API refused is not paid for again every run.
        Retryable errors, account errors (`ACCOUNT_LABELS`: the account failed, not the input; it
        may work once reconnected or on another account) and unfinished searches are never
        fresh. `max_age=None` means entries never expire; `timedelta(0)` means nothing is fresh.
        """
        entry = self.get(action_id, key, results=False)
        if entry is None or not is_fresh(entry, max_age):
            return None
        return self.get(action_id, key) if entry.ok else entry

    def entries(
        self,
        action_id: str | None = None,
        *,
        status: str | None = None,
        results: bool = True,
    ) -> list[Entry]:
        """All entries (of one action, of one status), oldest write first."""
        clauses: list[str] = []
        args: list[Any] = []
        if action_id is not None:
            clauses.append("action_id = ?")
            args.append(action_id)
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read() as conn:
            rows = conn.execute(
                f"{SELECT_ENTRY}{where} ORDER BY fetched_at, input_key", args
            ).fetchall()
            return [read_entry(conn, as_row(ENTRY_COLUMNS, r), results) for r in rows]

    def errors(self, action_id: str | None = None) -> list[Entry]:
        """Entries whose last attempt failed, with the input that failed."""
        return self.entries(action_id, status=STATUS_ERROR, results=False)

    def stats(self) -> dict[str, Any]:
        """Counts for a dashboard: entries by status, stored pages, credits recorded, size.

        `path` is the file, or the URL with its password redacted; `size_bytes` the file's size,
        or the tables' on the server.
        """
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
            size = self._size_bytes(conn)
        return {
            "path": self.describe(),
            "entries": sum(by_status.values()),
            "ok": by_status.get(STATUS_OK, 0),
            "partial": by_status.get(STATUS_PARTIAL, 0),
            "errors": by_status.get(STATUS_ERROR, 0),
            "errors_by_label": {str(k): v for k, v in labels.items()},
            "actions": actions,
            "pages": pages,
            "credits": float(spent),
            "size_bytes": int(size),
        }

    def _size_bytes(self, conn: Connection) -> int:
        """The file's size (SQLite), or the size of the schema's tables on the server."""
        if conn.dialect == POSTGRES:
            return int(
                conn.execute(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
                ).fetchone()[0]
            )
        if self.path is not None and self.path.exists():
            return self.path.stat().st_size
        return 0
