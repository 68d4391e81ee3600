"""The ledger's bulk submissions as stored: their states, their table, their records.

A submission is `sending` (recorded, the API called or about to be), `submitted` (the API
answered with its run), `closed` (its run ended and its outcomes were landed) or `not_sent` (the
API surely did nothing with it); `ledger_bulk.py` moves them between these states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from captaindata_dagster.storage.encoding import from_iso, load_json
from captaindata_dagster.storage.error_fields import ErrorFields
from captaindata_dagster.storage.sql import as_row

SENDING = "sending"  # recorded, the API called (or about to be): the run may exist
SUBMITTED = "submitted"  # the API answered with the run's uid
CLOSED = "closed"  # the run ended and its outcomes were landed
NOT_SENT = "not_sent"  # the API surely did nothing with it
OPEN_STATES = (SENDING, SUBMITTED)

BULK_SUBMISSION_COLUMNS = (
    "submission_id", "action_id", "state", "run_uid", "input_keys_json", "parameters_json",
    "max_results", "origin_json", "run_status", "last_error_label", "created_at", "updated_at",
)  # fmt: skip
SELECT_BULK_SUBMISSION = f"SELECT {', '.join(BULK_SUBMISSION_COLUMNS)} FROM bulk_submissions"

BULK_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS bulk_submissions (
        submission_id TEXT PRIMARY KEY,
        action_id TEXT NOT NULL,
        state TEXT NOT NULL,
        run_uid TEXT,
        input_keys_json TEXT NOT NULL,
        parameters_json TEXT,
        max_results INTEGER,
        origin_json TEXT,
        run_status TEXT,
        last_error_label TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS bulk_submissions_state ON bulk_submissions (action_id, state)""",
    # Who waits for a submission to land (an asset key and partition): its own step, and any
    # deferred step whose inputs it holds, so the landing sensor materializes each of them.
    """CREATE TABLE IF NOT EXISTS bulk_waiters (
        submission_id TEXT NOT NULL,
        asset_key TEXT NOT NULL,
        partition_key TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (submission_id, asset_key, partition_key)
    )""",
)


@dataclass(frozen=True)
class BulkSubmissionRecord:
    """One bulk submission as the ledger keeps it.

    `input_keys` are the ledger keys of its inputs, in the order submitted. `origin` says what
    asked for it (`{"asset_key": ..., "partition_key": ...}` for an asset step, so a sensor can
    materialize that partition when the run ends). `run_status` and `last_error_label` are the
    run's as last seen (`GET /runs/{uid}`).
    """

    submission_id: str
    action_id: str
    state: str
    run_uid: str | None
    input_keys: tuple[str, ...]
    parameters: Mapping[str, Any] | None
    max_results: int | None
    origin: Mapping[str, Any] | None
    run_status: str | None
    last_error_label: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        """Sending or submitted: its inputs belong to its run until it is closed."""
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class BulkOutcome:
    """What an async run brought for one input: its results, or its error (`error` not None).

    `credits` are what the results were billed (0 for an error); `at` when the callback landed.
    """

    key: str
    input: Any
    results: list[dict[str, Any]] | None
    error: ErrorFields | None
    credits: float
    at: datetime


def read_bulk_submission(values: Sequence[Any]) -> BulkSubmissionRecord:
    """The record of a row fetched with `SELECT_BULK_SUBMISSION`."""
    row = as_row(BULK_SUBMISSION_COLUMNS, values)
    created, updated = from_iso(row["created_at"]), from_iso(row["updated_at"])
    assert created is not None and updated is not None  # NOT NULL in the table
    return BulkSubmissionRecord(
        submission_id=row["submission_id"],
        action_id=row["action_id"],
        state=row["state"],
        run_uid=row["run_uid"],
        input_keys=tuple(load_json(row["input_keys_json"]) or ()),
        parameters=load_json(row["parameters_json"]),
        max_results=None if row["max_results"] is None else int(row["max_results"]),
        origin=load_json(row["origin_json"]),
        run_status=row["run_status"],
        last_error_label=row["last_error_label"],
        created_at=created,
        updated_at=updated,
    )
