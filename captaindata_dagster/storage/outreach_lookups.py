"""The outreach store's queries inside one transaction: a person's records, the one that decides,
an account's sends of the day, and a person's decision written on one record."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from captaindata_dagster.api.entity_keys import entity_key
from captaindata_dagster.storage.encoding import to_iso
from captaindata_dagster.storage.outreach_schema import (
    CAP_STATES,
    FAILED,
    PENDING,
    SELECT_SEND,
    SEND_KEYS,
    SENT,
    UNKNOWN,
    SendRecord,
    send_record,
)
from captaindata_dagster.storage.profile_keys import ENTITY_KEY
from captaindata_dagster.storage.sql import NULL_SAFE_EQ, Connection

CAP_WINDOW = timedelta(hours=24)
# Which record of a person speaks first: sent, then unsettled, then refused for good.
_BINDING = {SENT: 0, PENDING: 1, UNKNOWN: 1, FAILED: 2}
_BY_KEY = " AND ".join(f"{c} = ?" for c in SEND_KEYS)


def record_lock(campaign: str, action_id: str, key: str) -> str:
    """The name of the lock a decision on one record holds (`Store._lock_keys`)."""
    return f"captaindata:outreach:{campaign}:{action_id}:{key}"


def cap_lock(action_id: str, account: str | None) -> str:
    """The name of the lock a decision against an account's daily cap holds."""
    return f"captaindata:outreach-cap:{action_id}:{account}"


def one(conn: Connection, campaign: str, action_id: str, key: str) -> SendRecord | None:
    """The record stored under exactly this key, or None."""
    row = conn.execute(f"{SELECT_SEND} WHERE {_BY_KEY}", (campaign, action_id, key)).fetchone()
    return None if row is None else send_record(row)


def find(conn: Connection, campaign: str, action_id: str, key: str) -> SendRecord | None:
    """The record that decides for `key`: of the records of `key` and of the same person under the
    keys of before entity keys (`legacy`), the most binding one that says not to send (sent,
    then unsettled, then refused), else the record of `key`, else an older one, else None."""
    current = one(conn, campaign, action_id, key)
    found = [r for r in (current, *legacy(conn, campaign, action_id, key)) if r is not None]
    binding = [r for r in found if not r.may_send]
    if binding:
        return min(binding, key=lambda r: _BINDING.get(r.state, 3))
    return found[0] if found else None


def legacy(conn: Connection, campaign: str, action_id: str, key: str) -> list[SendRecord]:
    """Records of the entity `key` names, kept under a `legacy_profile_key` by a store written
    before entity keys (`linkedin.com/in/jane-doe/fr`): never rewritten, read with every lookup.

    The SQL keeps the keys holding the entity's id (LIKE, on the campaign's rows only); the
    stored URL's own `entity_key` decides."""
    if not ENTITY_KEY.match(key):
        return []
    ident = re.sub(r"([\\%_])", r"\\\1", key.partition(":")[2])
    rows = conn.execute(
        f"{SELECT_SEND} WHERE campaign = ? AND action_id = ? "
        "AND profile_key <> ? AND profile_key LIKE ? ESCAPE '\\' ORDER BY created_at",
        (campaign, action_id, key, f"%{ident}%"),
    ).fetchall()
    return [r for r in map(send_record, rows) if entity_key(r.profile_url) == key]


def resolve(
    conn: Connection, record: SendRecord, state: str, at: str, by: str, note: str | None
) -> None:
    """A person's decision (`sent` or `retry`) on one record, whatever its key."""
    conn.execute(
        "UPDATE sends SET state = ?, settled_at = ?, resolved_by = ?, note = COALESCE(?, note) "
        f"WHERE {_BY_KEY}",
        (state, at, by, note, record.campaign, record.action_id, record.profile_key),
    )


def used(conn: Connection, action_id: str, account: str | None, now: datetime) -> int:
    """Sends that may have gone out from `account` for `action_id` in the 24 h before `now`."""
    (n,) = conn.execute(
        f"SELECT COUNT(*) FROM sends WHERE action_id = ? AND account {NULL_SAFE_EQ[conn.dialect]} ? "
        "AND attempted_at >= ? "
        f"AND state IN ({','.join('?' * len(CAP_STATES))})",
        (action_id, account, to_iso(now - CAP_WINDOW), *CAP_STATES),
    ).fetchone()
    return int(n)
