"""The ledger: what was fetched, when, at what cost, and what failed, kept across runs.

Credits are money, so every result and every per-input error is written as it arrives, in its own
short transaction: a run killed at any point keeps what it paid for, and the next run fetches only
what is missing. A search stores each page as it comes, so an interrupted walk resumes from the next
page instead of paying for the first ones again.

The default store is one SQLite file in WAL mode with a busy timeout, safe for several threads and
processes at once; a `postgresql://` URL puts it on a PostgreSQL server shared by runs on several
machines (`store.py`). Before a run calls the API for an input it `claim`s it, so two runs at once
never pay for the same input twice: one fetches, the other waits and takes the answer. The ledger
never sees the API key: it stores inputs, parameters, results and error envelopes.

`Ledger` is put together from one class per concern, each in its own module: whole results and
errors (`ledger_writes.py`), a search's pages and resume points (`ledger_pages.py`), bulk
submissions (`ledger_bulk.py`), reads
(`ledger_reads.py`) and claims (`ledger_claims.py`), over the tables of `ledger_schema.py`. The
names the engine and the Dagster layer use are importable from here.
"""

from __future__ import annotations

from pathlib import Path

from captaindata_dagster.storage.input_keys import canonical_url, input_key
from captaindata_dagster.storage.ledger_bulk import LedgerBulk
from captaindata_dagster.storage.ledger_bulk_records import BULK_SCHEMA, BulkSubmissionRecord
from captaindata_dagster.storage.ledger_claims import LedgerClaims
from captaindata_dagster.storage.ledger_pages import LedgerPages
from captaindata_dagster.storage.ledger_reads import LedgerReads
from captaindata_dagster.storage.ledger_records import (
    BUSY,
    CLAIMED,
    DONE,
    STATUS_ERROR,
    STATUS_OK,
    STATUS_PARTIAL,
    Claim,
    Entry,
    ResumePoint,
)
from captaindata_dagster.storage.ledger_schema import LEDGER_SCHEMA, LEDGER_SQLITE_SCHEMA
from captaindata_dagster.storage.ledger_writes import LedgerWrites
from captaindata_dagster.storage.locations import (
    LEDGER_URL_ENV,
    default_ledger_path,
    resolve_ledger_location,
)

__all__ = [
    "BUSY",
    "BulkSubmissionRecord",
    "CLAIMED",
    "DONE",
    "LEDGER_URL_ENV",
    "STATUS_ERROR",
    "STATUS_OK",
    "STATUS_PARTIAL",
    "Claim",
    "Entry",
    "Ledger",
    "ResumePoint",
    "canonical_url",
    "default_ledger_path",
    "input_key",
    "resolve_ledger_location",
]


class Ledger(LedgerWrites, LedgerPages, LedgerReads, LedgerClaims, LedgerBulk):
    """Checkpoint and cache store: one SQLite file (WAL, busy timeout, short transactions), or a
    PostgreSQL database when given a `postgresql://` URL.

    Nothing is opened until the first call: the file (or the schema) is created then. One
    connection per process, shared by threads under a lock; a forked child opens its own.

    Example:
        >>> with Ledger("/tmp/ledger.sqlite") as ledger:  # doctest: +SKIP
        ...     ledger.save_result("linkedin-extract-people", key, [{"full_name": "Ada"}])
        ...     ledger.fresh("linkedin-extract-people", key).results
        [{'full_name': 'Ada'}]
    """

    _SCHEMA = (*LEDGER_SCHEMA, *BULK_SCHEMA)
    _SQLITE_SCHEMA = LEDGER_SQLITE_SCHEMA

    @classmethod
    def default_location(cls) -> str | Path:
        """`resolve_ledger_location()`: the environment's ledger, else the default file."""
        return resolve_ledger_location()
