"""The storage layer: what was paid for (the ledger) and what was sent (the outreach records).

Both live on one store: a local SQLite file by default (safe for several processes), or a
PostgreSQL server when a deployment spans machines. Nothing here imports Dagster.

Example:
    >>> from captaindata_dagster.storage import Ledger, OutreachStore
"""

from captaindata_dagster.storage.ledger import Ledger
from captaindata_dagster.storage.outreach_records import OutreachStore

__all__ = ["Ledger", "OutreachStore"]
