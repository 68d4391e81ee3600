"""The storage layer: what was paid for (the ledger), what was sent (the outreach records) and what
bulk runs' callbacks brought (the callback store).

Both live on one store (`store.py`): a local SQLite file by default (safe for several processes),
or a PostgreSQL server when a deployment spans machines. Where a store lives is decided in
`locations.py`; the SQL is written once for both databases (`sql.py`: named-column upserts);
timestamps and JSON are encoded in `encoding.py`; an error's fields are one record
(`error_fields.py`) for ledger entries and outreach records alike. The ledger is split by concern
(`ledger_*.py`), the outreach records likewise (`outreach_*.py`, `profile_keys.py`); the callback
store (`callbacks.py`, `callbacks_schema.py`) keeps each bulk submission's secret hash and every
callback the receiver landed, once. Nothing here imports Dagster.

Why the backends use the database drivers (sqlite3, psycopg 3) and not SQLAlchemy Core: we
weighed it, and it would not make this code smaller. Its pool is not wanted: each process keeps
one connection, because a claim is a PostgreSQL *session* advisory lock that must be given back
on the session that took it, and SQLite admits one writer anyway. Its reconnects (`pool_pre_ping`)
cost a round trip on every transaction, where ours replace a dead connection only when `BEGIN`
fails, and its wrapped errors carry the SQL and its parameters, so we would still map them to
`StoreUnavailable` and scrub them. A forked child must still point inherited sockets at
/dev/null (disposing of a pool lets the garbage collector close them on the parent's session);
SQLite's `BEGIN IMMEDIATE` writes and WAL settings would need event hooks around pysqlite's own
transaction handling; its upserts are two dialect-specific constructs where our `ON CONFLICT`
text serves both; and importing it costs about 0.3 s in every process (CLI, children).

Example:
    >>> from captaindata_dagster.storage import Ledger, OutreachStore
"""

from captaindata_dagster.storage.callbacks import CallbackStore
from captaindata_dagster.storage.ledger import Ledger
from captaindata_dagster.storage.outreach_records import OutreachStore

__all__ = ["CallbackStore", "Ledger", "OutreachStore"]
