"""The callback store's tables and its records.

Two tables, written once for both databases. `submissions`: one row per bulk submission,
registered before the API is called, holding the sha256 of its secret (never the secret) and the
run the API gave it. `callbacks`: one row per distinct callback the API posted, keyed by
(submission, callback key), so a callback delivered again lands nothing new.

The identity of a callback (`callback_key`, and whether it is a page or the run's final status)
is `callback_identity`'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from captaindata_dagster.storage.encoding import from_iso, load_json
from captaindata_dagster.storage.sql import as_row

LANDED = "landed"  # land_callback: the callback is new, it is now stored
DUPLICATE = "duplicate"  # land_callback: the same callback was stored before; nothing new

SUBMISSION_COLUMNS = (
    "submission_id", "secret_sha256", "action_id", "run_uid", "mode", "inputs", "created_at",
    "run_attached_at",
)  # fmt: skip
CALLBACK_KEYS = ("submission_id", "callback_key")
CALLBACK_COLUMNS = (
    "submission_id", "callback_key", "kind", "run_uid", "batch_uid", "status", "input_sha256",
    "payload_json", "received_at", "deliveries",
)  # fmt: skip
SELECT_SUBMISSION = f"SELECT {', '.join(SUBMISSION_COLUMNS)} FROM submissions"
SELECT_CALLBACK = f"SELECT {', '.join(CALLBACK_COLUMNS)} FROM callbacks"

CALLBACK_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS submissions (
        submission_id TEXT PRIMARY KEY,
        secret_sha256 TEXT NOT NULL,
        action_id TEXT NOT NULL,
        run_uid TEXT,
        mode TEXT NOT NULL,
        inputs INTEGER,
        created_at TEXT NOT NULL,
        run_attached_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS callbacks (
        submission_id TEXT NOT NULL,
        callback_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        run_uid TEXT NOT NULL,
        batch_uid TEXT,
        status TEXT,
        input_sha256 TEXT,
        payload_json TEXT NOT NULL,
        received_at TEXT NOT NULL,
        deliveries INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (submission_id, callback_key)
    )""",
    """CREATE INDEX IF NOT EXISTS callbacks_run ON callbacks (run_uid, kind)""",
)


@dataclass(frozen=True)
class Submission:
    """One bulk submission as registered: which action, which run, when; never its secret."""

    submission_id: str
    action_id: str
    run_uid: str | None
    mode: str
    inputs: int | None
    created_at: datetime
    run_attached_at: datetime | None


@dataclass(frozen=True)
class LandedCallback:
    """One callback as stored: its identity, what it said, when it first arrived, how often.

    `deliveries` counts every time it was posted (redeliveries and replays included); the row
    itself was written once, at the first.
    """

    submission_id: str
    callback_key: str
    kind: str
    run_uid: str
    batch_uid: str | None
    status: str | None
    input_sha256: str | None
    payload: Any
    received_at: datetime
    deliveries: int


def secret_sha256(secret: str) -> str:
    """The hex sha256 of a submission's secret: what the store keeps in its place.

    A plain hash suffices (no slow key derivation): the secrets are random tokens of 256 bits
    (`new_secret`), not passwords a dictionary could guess.

    Example:
        >>> secret_sha256("s")[:12]
        '043a718774c5'
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def submission_of(values: Sequence[Any]) -> Submission:
    """The `Submission` of a row fetched with `SELECT_SUBMISSION`."""
    row = as_row(SUBMISSION_COLUMNS, values)
    created = from_iso(row["created_at"])
    assert created is not None  # NOT NULL in the table
    return Submission(
        submission_id=row["submission_id"],
        action_id=row["action_id"],
        run_uid=row["run_uid"],
        mode=row["mode"],
        inputs=None if row["inputs"] is None else int(row["inputs"]),
        created_at=created,
        run_attached_at=from_iso(row["run_attached_at"] or None),
    )


def landed_callback(values: Sequence[Any]) -> LandedCallback:
    """The `LandedCallback` of a row fetched with `SELECT_CALLBACK`."""
    row = as_row(CALLBACK_COLUMNS, values)
    received = from_iso(row["received_at"])
    assert received is not None  # NOT NULL in the table
    return LandedCallback(
        submission_id=row["submission_id"],
        callback_key=row["callback_key"],
        kind=row["kind"],
        run_uid=row["run_uid"],
        batch_uid=row["batch_uid"],
        status=row["status"],
        input_sha256=row["input_sha256"],
        payload=load_json(row["payload_json"]),
        received_at=received,
        deliveries=int(row["deliveries"]),
    )
