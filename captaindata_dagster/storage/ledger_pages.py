"""A search in the ledger page by page: each page stored as it comes, and where to resume.

An interrupted walk resumes from the next page instead of paying for the first ones again; a walk
whose first page is too old starts over, so a result never mixes old and new pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from captaindata_dagster.storage.encoding import dump_json, to_iso, utcnow
from captaindata_dagster.storage.ledger_records import (
    STATUS_OK,
    STATUS_PARTIAL,
    ResumePoint,
    read_entry,
    select_entry,
)
from captaindata_dagster.storage.ledger_schema import ENTRY_KEYS, entry_row
from captaindata_dagster.storage.ledger_writes import drop_pages, key_lock
from captaindata_dagster.storage.sql import Connection, update, upsert
from captaindata_dagster.storage.store import Store


class LedgerPages(Store):
    """`save_page`, `mark_complete` and `resume_point` of the `Ledger`."""

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
        now = to_iso(at or utcnow())
        with self._write() as conn:
            self._lock_keys(conn, key_lock(action_id, key))
            started, spent = _walk_so_far(conn, action_id, key, page, now, (credits, attempts))
            page_row = {
                "action_id": action_id,
                "input_key": key,
                "page": page,
                "results_json": dump_json(list(results)),
                "next_url": next_url,
                "fetched_at": now,
                "credits": float(credits),
            }
            upsert(conn, "pages", page_row, (*ENTRY_KEYS, "page"))
            row = entry_row(
                action_id,
                key,
                status=STATUS_OK if complete else STATUS_PARTIAL,
                complete=complete,
                call=(input, parameters, max_results),
                results=None,
                walk=(page, None if complete else next_url, started),
                fetched_at=now,
                spent=spent,
            )
            upsert(conn, "entries", row, ENTRY_KEYS)

    def mark_complete(self, action_id: str, key: str, at: datetime | None = None) -> None:
        """Close a search whose walk ended without a new page (e.g. the last page was full)."""
        done = {"status": STATUS_OK, "complete": 1, "next_url": None}
        with self._write() as conn:
            update(
                conn,
                "entries",
                {**done, "fetched_at": to_iso(at or utcnow())},
                "action_id = ? AND input_key = ? AND status = ?",
                (action_id, key, STATUS_PARTIAL),
            )

    def resume_point(
        self, action_id: str, key: str, max_age: timedelta | None = None
    ) -> ResumePoint | None:
        """Where to pick up an unfinished search (some pages stored, more to fetch), or None.

        A walk whose first page is older than `max_age` is not resumed: mixing old and new pages
        would give a result nobody fetched at once.
        """
        with self._read() as conn:
            row = select_entry(conn, action_id, key)
            if row is None:
                return None
            entry = read_entry(conn, row, results=True)
        if entry.complete or entry.pages_done < 1 or not entry.next_url:
            return None
        if max_age is not None and utcnow() - entry.started_at >= max_age:
            return None
        return ResumePoint(entry.pages_done, entry.results or [], entry.next_url, entry.credits)


def _walk_so_far(
    conn: Connection, action_id: str, key: str, page: int, now: str, spent: tuple[float, int]
) -> tuple[str, tuple[float, int]]:
    """(started_at, (credits, attempts)) of the walk once this page is added: page 1 (or a key
    with no entry) starts a new walk and drops the pages of the last one."""
    row = conn.execute(
        "SELECT credits, attempts, started_at FROM entries WHERE action_id = ? AND input_key = ?",
        (action_id, key),
    ).fetchone()
    paid, attempts = float(spent[0]), int(spent[1])
    if page == 1 or row is None:
        drop_pages(conn, action_id, key)
        return now, (paid, attempts)
    return row[2], (float(row[0]) + paid, int(row[1]) + attempts)
