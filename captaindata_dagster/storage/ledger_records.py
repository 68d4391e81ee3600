"""The ledger's records (`Entry`, `Claim`, `ResumePoint`), how stored rows become them, and when an
entry may answer instead of a call (`is_fresh`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from captaindata_dagster.api.labels import ACCOUNT_LABELS
from captaindata_dagster.storage.encoding import load_json, utcnow
from captaindata_dagster.storage.error_fields import ErrorFields, error_fields_of_row
from captaindata_dagster.storage.ledger_schema import ENTRY_COLUMNS, MESSAGE_COLUMN, SELECT_ENTRY
from captaindata_dagster.storage.sql import Connection, as_row

STATUS_OK = "ok"  # a complete result (an object, or a search walked to its end)
STATUS_PARTIAL = "partial"  # a search with some pages stored, not yet walked to its end
STATUS_ERROR = "error"  # the last attempt failed; `retryable` says whether to try again

CLAIMED = "claimed"  # this ledger holds the input now: call the API for it, then `release` it
DONE = "done"  # an answer is stored (another run's, meanwhile): use `Claim.entry`, no call
BUSY = "busy"  # another live process is fetching it now: come back later


@dataclass(frozen=True, kw_only=True)
class Entry(ErrorFields):
    """One ledger row: the outcome of one (action, input, parameters[, max_results]) call.

    `results` is the list of result items (a search's pages concatenated, in order; `None` when
    loaded without results). The error fields (`ErrorFields`) are set only when
    `status == "error"`; a search that failed midway keeps its stored pages (`pages_done`,
    `next_url`) so it can resume. `started_at` is when the first page of the current walk was
    fetched (the age of the data); `fetched_at` when the row was last written.
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
    user_uid: str | None = None  # errors only: the user whose connected account made the call

    @property
    def message(self) -> str | None:
        """The error's message (`error_message`), by the name of the ledger's column."""
        return self.error_message

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
class Claim:
    """What `Ledger.claim` decided: `claimed` (fetch it, then `release`), `done` (`entry` holds
    an answer stored meanwhile: use it) or `busy` (another live process is fetching it)."""

    state: str
    entry: Entry | None = None


@dataclass(frozen=True)
class ResumePoint:
    """Where an unfinished search stands: pages stored, their results, the URL of the next page."""

    pages_done: int
    results: list[dict[str, Any]]
    next_url: str | None
    credits: float


def is_fresh(entry: Entry, max_age: timedelta | None) -> bool:
    """Usable instead of a call: a complete result, or a permanent error, younger than max_age.

    An account error is kept (it names the user to call) but never answers for the input.
    """
    if entry.ok:
        usable = True
    elif entry.is_error:
        usable = entry.retryable is False and entry.error_label not in ACCOUNT_LABELS
    else:
        usable = False
    return usable and (max_age is None or entry.age() < max_age)


def select_entry(conn: Connection, action_id: str, key: str) -> dict[str, Any] | None:
    """The stored `entries` row of a key as column -> value, or None."""
    found = conn.execute(
        f"{SELECT_ENTRY} WHERE action_id = ? AND input_key = ?", (action_id, key)
    ).fetchone()
    return None if found is None else as_row(ENTRY_COLUMNS, found)


def read_entry(conn: Connection, row: dict[str, Any], results: bool) -> Entry:
    """The `Entry` of a stored row: its results (from the row, or its pages in order) when
    `results`, and the user whose account failed when it is an error."""
    action_id, key = row["action_id"], row["input_key"]
    items: list[dict[str, Any]] | None = None
    if results:
        items = _results(conn, row)
    user_uid = None
    if row["status"] == STATUS_ERROR:
        found = conn.execute(
            "SELECT user_uid FROM error_users WHERE action_id = ? AND input_key = ?",
            (action_id, key),
        ).fetchone()
        user_uid = found[0] if found else None
    return Entry(
        action_id=action_id,
        input_key=key,
        status=row["status"],
        complete=bool(row["complete"]),
        input=load_json(row["input_json"]),
        parameters=load_json(row["parameters_json"]),
        max_results=row["max_results"],
        results=items,
        pages_done=int(row["pages_done"]),
        next_url=row["next_url"],
        started_at=datetime.fromisoformat(row["started_at"]),
        fetched_at=datetime.fromisoformat(row["fetched_at"]),
        credits=float(row["credits"]),
        attempts=int(row["attempts"]),
        user_uid=user_uid,
        **error_fields_of_row(row, MESSAGE_COLUMN),
    )


def _results(conn: Connection, row: dict[str, Any]) -> list[dict[str, Any]]:
    if row["results_json"] is not None:
        return load_json(row["results_json"])
    items: list[dict[str, Any]] = []
    for (page_json,) in conn.execute(
        "SELECT results_json FROM pages WHERE action_id = ? AND input_key = ? ORDER BY page",
        (row["action_id"], row["input_key"]),
    ):
        items.extend(load_json(page_json))
    return items
