"""The outreach records: their states, the `sends` table, and the records a lookup gives back.

    (none) --reserve--> pending --answer 2xx--------------------> sent
                           |  --the API said no (4xx, 429,
                           |    no connection opened)----------> failed (retryable or not)
                           |  --answer lost (timeout, dropped,
                           |    5xx, ambiguous upstream)-------> unknown
                           '--process died-----------------------> stays pending

A person moves `pending` and `unknown` on: to `sent` (it went out) or `retry` (it did not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from captaindata_dagster.storage.encoding import from_iso, load_json
from captaindata_dagster.storage.error_fields import ErrorFields, error_fields_of_row
from captaindata_dagster.storage.sql import as_row

PENDING = "pending"  # committed before the call; the answer is not recorded (yet)
SENT = "sent"  # the API answered 2xx, or a person said it went out
FAILED = "failed"  # the API said it did not act; `retryable` says whether a later run tries again
UNKNOWN = "unknown"  # the request may have reached the API and its answer was lost
RETRY = "retry"  # a person checked: it did not go out, the next run may send it
STATES = (PENDING, SENT, FAILED, UNKNOWN, RETRY)
REVIEW_STATES = (PENDING, UNKNOWN)
CAP_STATES = (PENDING, SENT, UNKNOWN)  # what may have been sent counts toward the daily cap

RESERVED = "reserved"
TAKEN = "taken"
OVER_CAP = "over_cap"

SEND_KEYS = ("campaign", "action_id", "profile_key")
SEND_COLUMNS = (
    "campaign", "action_id", "profile_key", "profile_url", "state", "account", "message",
    "attempts", "created_at", "attempted_at", "settled_at", "run_id", "error_label",
    "error_scope", "error_ref", "error_message", "status_code", "retryable", "result_json",
    "resolved_by", "note",
)  # fmt: skip
MESSAGE_COLUMN = "error_message"  # the error's message, in `sends` (`message` is the text sent)
SELECT_SEND = f"SELECT {', '.join(SEND_COLUMNS)} FROM sends"

OUTREACH_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sends (
        campaign TEXT NOT NULL,
        action_id TEXT NOT NULL,
        profile_key TEXT NOT NULL,
        profile_url TEXT NOT NULL,
        state TEXT NOT NULL,
        account TEXT,
        message TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        attempted_at TEXT,
        settled_at TEXT,
        run_id TEXT,
        error_label TEXT,
        error_scope TEXT,
        error_ref TEXT,
        error_message TEXT,
        status_code INTEGER,
        retryable INTEGER,
        result_json TEXT,
        resolved_by TEXT,
        note TEXT,
        PRIMARY KEY (campaign, action_id, profile_key)
    )""",
    """CREATE INDEX IF NOT EXISTS sends_cap ON sends (action_id, account, attempted_at)""",
    """CREATE INDEX IF NOT EXISTS sends_state ON sends (state)""",
)


@dataclass(frozen=True, kw_only=True)
class SendRecord(ErrorFields):
    """The state of one (campaign, action, profile): what was done, when, from which account.

    The error fields (`ErrorFields`) say what the API answered when the send failed.
    """

    campaign: str
    action_id: str
    profile_key: str
    profile_url: str
    state: str
    account: str | None
    message: str | None
    attempts: int
    created_at: datetime
    attempted_at: datetime | None
    settled_at: datetime | None
    run_id: str | None
    result: Any = None
    resolved_by: str | None = None
    note: str | None = None

    @property
    def needs_review(self) -> bool:
        """Unsettled: it may have gone out, only a person can tell."""
        return self.state in REVIEW_STATES

    @property
    def may_send(self) -> bool:
        """True when a run may (re)send it: a person said retry, or the API refused it retryably."""
        return self.state == RETRY or (self.state == FAILED and bool(self.retryable))

    def to_dict(self) -> dict[str, Any]:
        """Every field by name, for metadata and logs."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Reservation:
    """What `reserve` decided: `reserved` (send it now, then settle `attempt`), `taken` (the record
    says not to send: see `record`), or `over_cap` (the account used its day: `used` sends)."""

    outcome: str
    record: SendRecord | None
    attempt: int = 0
    used: int = 0


def send_record(values: Sequence[Any]) -> SendRecord:
    """The `SendRecord` of a row fetched with `SELECT_SEND`."""
    row = as_row(SEND_COLUMNS, values)
    created = from_iso(row["created_at"])
    assert created is not None  # NOT NULL in the table
    return SendRecord(
        campaign=row["campaign"],
        action_id=row["action_id"],
        profile_key=row["profile_key"],
        profile_url=row["profile_url"],
        state=row["state"],
        account=row["account"],
        message=row["message"],
        attempts=int(row["attempts"]),
        created_at=created,
        attempted_at=from_iso(row["attempted_at"] or None),
        settled_at=from_iso(row["settled_at"] or None),
        run_id=row["run_id"],
        result=load_json(row["result_json"]),
        resolved_by=row["resolved_by"],
        note=row["note"],
        **error_fields_of_row(row, MESSAGE_COLUMN),
    )
