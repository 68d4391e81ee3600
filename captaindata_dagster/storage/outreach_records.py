"""Idempotency records for actions with side effects: each invitation or message sent at most once.

A message sent twice cannot be taken back, so every send goes through a record keyed by
(campaign, action, profile) in a SQLite file (WAL, busy timeout, short transactions, safe for
several processes), or in PostgreSQL for runs on several machines (a `postgresql://` URL; by
default the ledger's own database when the ledger is there, see `default_store_path`). The states
a record goes through are drawn in `outreach_schema.py`.

`reserve` commits the `pending` record *before* the call, in the same transaction that checks the
record and the account's rolling 24 h cap, so two runs (or processes) never both send. `pending`
left behind by a dead process and `unknown` both need a person: they are reported, never re-sent
blindly. A person resolves one with `mark_sent` (it went out: never send it) or `mark_retry` (it
did not: the next run sends it), from Python, from the outreach op's run config, or from a shell:
`captaindata-dagster outreach list|mark-sent|mark-retry` (`captaindata_dagster/cli/outreach.py`).

These records live in a store of their own, on purpose: the ledger is a cache a user may delete
to refetch; deleting it must never make a campaign send again. The store never sees the key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from captaindata_dagster.storage.encoding import dump_json, to_iso, utcnow
from captaindata_dagster.storage.error_fields import (
    NO_ERROR,
    ErrorFields,
    error_fields_of_envelope,
)
from captaindata_dagster.storage.locations import default_store_path
from captaindata_dagster.storage.outreach_lookups import (
    cap_lock,
    find,
    legacy,
    one,
    record_lock,
    resolve,
    used,
)
from captaindata_dagster.storage.outreach_schema import (
    FAILED,
    MESSAGE_COLUMN,
    OUTREACH_SCHEMA,
    OVER_CAP,
    PENDING,
    RESERVED,
    RETRY,
    REVIEW_STATES,
    SELECT_SEND,
    SEND_KEYS,
    SENT,
    TAKEN,
    UNKNOWN,
    Reservation,
    SendRecord,
    send_record,
)
from captaindata_dagster.storage.profile_keys import profile_key
from captaindata_dagster.storage.sql import insert, update, upsert
from captaindata_dagster.storage.store import Store

__all__ = [
    "FAILED",
    "OVER_CAP",
    "PENDING",
    "RESERVED",
    "RETRY",
    "SENT",
    "TAKEN",
    "UNKNOWN",
    "OutreachStore",
    "Reservation",
    "SendRecord",
    "default_store_path",
    "profile_key",
]
_SETTLED_FROM = (PENDING, RETRY)  # the states a call's outcome may replace


class OutreachStore(Store):
    """The idempotency records of outreach actions, in one SQLite file or a PostgreSQL database.

    Nothing is opened until the first call. One connection per process, shared by threads under
    a lock. Between processes, SQLite's `BEGIN IMMEDIATE` admits one writer at a time; on
    PostgreSQL each decision locks the records it reads (`_lock_keys`): the profile's record, and
    the account's cap when there is one, so two machines never both reserve the same send.

    Example:
        >>> store = OutreachStore("/tmp/outreach.sqlite")  # doctest: +SKIP
        >>> r = store.reserve("spring", "linkedin-connect-profile", url, account="u1")
        >>> store.settle("spring", "linkedin-connect-profile", url, r.attempt, SENT)
        True
    """

    _SCHEMA = OUTREACH_SCHEMA
    _SYNCHRONOUS = "FULL"  # a reservation must survive a power cut, not only a killed process

    @classmethod
    def default_location(cls) -> str | Path:
        """`default_store_path()`: the environment's store, else beside the ledger."""
        return default_store_path()

    # ------------------------------------------------------------------ reads

    def get(self, campaign: str, action_id: str, profile: str) -> SendRecord | None:
        """The record of one profile (any spelling of its URL, records written before entity keys
        included: see `outreach_lookups.find`), or None."""
        with self._read() as conn:
            return find(conn, campaign, action_id, profile_key(profile))

    def records(
        self,
        campaign: str | None = None,
        action_id: str | None = None,
        states: Iterable[str] | None = None,
    ) -> list[SendRecord]:
        """Records, oldest first, optionally of one campaign, one action, some states."""
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (("campaign", campaign), ("action_id", action_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if states is not None:
            wanted = list(states)
            clauses.append(f"state IN ({','.join('?' * len(wanted))})")
            args.extend(wanted)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read() as conn:
            rows = conn.execute(
                f"{SELECT_SEND}{where} ORDER BY created_at, profile_key", args
            ).fetchall()
        return [send_record(r) for r in rows]

    def needs_review(
        self, campaign: str | None = None, action_id: str | None = None
    ) -> list[SendRecord]:
        """Unsettled records (`pending` left by a dead run, `unknown`): for a person to check."""
        return self.records(campaign, action_id, REVIEW_STATES)

    def used(self, action_id: str, account: str | None, *, now: datetime | None = None) -> int:
        """Sends that may have gone out from `account` for `action_id` in the last 24 h."""
        with self._read() as conn:
            return used(conn, action_id, account, now or utcnow())

    # ------------------------------------------------------------------ the send protocol

    def reserve(
        self,
        campaign: str,
        action_id: str,
        profile_url: str,
        *,
        account: str | None,
        message: str | None = None,
        daily_cap: int | None = None,
        run_id: str | None = None,
        now: datetime | None = None,
    ) -> Reservation:
        """Commit a `pending` record before the call, if this profile may be sent to now.

        In one transaction: a record that is sent, unsettled or permanently failed is `taken`
        (under any spelling of the profile's URL, and under the keys of before entity keys); an
        account that already used `daily_cap` sends for this action in the last 24 h is
        `over_cap`; else the record becomes `pending` with its attempt number, and is committed
        (synchronously, to disk) before this returns.
        """
        key = profile_key(profile_url)
        at = now or utcnow()
        with self._write() as conn:
            locks = [record_lock(campaign, action_id, key)]
            if daily_cap is not None:
                locks.append(cap_lock(action_id, account))
            self._lock_keys(conn, *locks)
            binding = find(conn, campaign, action_id, key)
            if binding is not None and not binding.may_send:
                return Reservation(TAKEN, binding)
            existing = one(conn, campaign, action_id, key)
            sends = 0
            if daily_cap is not None:
                sends = used(conn, action_id, account, at)
                if sends >= daily_cap:
                    return Reservation(OVER_CAP, existing, used=sends)
            attempt = (existing.attempts if existing else 0) + 1
            row = {
                "campaign": campaign,
                "action_id": action_id,
                "profile_key": key,
                "profile_url": str(profile_url).strip(),
                "state": PENDING,
                "account": account,
                "message": message,
                "attempts": attempt,
                "created_at": to_iso(existing.created_at if existing else at),
                "attempted_at": to_iso(at),
                "settled_at": None,
                "run_id": run_id,
                **NO_ERROR.error_columns(MESSAGE_COLUMN),
                "result_json": None,
                "resolved_by": existing.resolved_by if existing else None,
                "note": existing.note if existing else None,
            }
            upsert(conn, "sends", row, SEND_KEYS)
            record = one(conn, campaign, action_id, key)
        return Reservation(RESERVED, record, attempt, sends)

    def settle(
        self,
        campaign: str,
        action_id: str,
        profile: str,
        attempt: int,
        state: str,
        *,
        result: Any = None,
        error: dict[str, Any] | None = None,
        retryable: bool | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Record the outcome of the call made under `attempt`: `sent`, `failed` or `unknown`.

        Only that attempt's record changes (a `retry` a person set meanwhile included); a person's
        `sent` stays. Returns False when nothing matched (the record moved on meanwhile).
        """
        if state not in (SENT, FAILED, UNKNOWN):
            raise ValueError(f"settle to sent, failed or unknown, not {state!r}")
        outcome = {
            "state": state,
            "settled_at": to_iso(now or utcnow()),
            **ErrorFields(**error_fields_of_envelope(error, retryable)).error_columns(
                MESSAGE_COLUMN
            ),
            "result_json": dump_json(result),
        }
        with self._write() as conn:
            changed = update(
                conn,
                "sends",
                outcome,
                "campaign = ? AND action_id = ? AND profile_key = ? AND attempts = ? "
                "AND state IN (?, ?)",
                (campaign, action_id, profile_key(profile), int(attempt), *_SETTLED_FROM),
            )
        return changed == 1

    # ------------------------------------------------------------------ a person's decisions

    def mark_sent(
        self,
        campaign: str,
        action_id: str,
        profile_url: str,
        *,
        note: str | None = None,
        by: str = "person",
        now: datetime | None = None,
    ) -> SendRecord:
        """A person checked: it went out (or must never go out). No run will send it again.

        Creates the record when there is none (e.g. sent by hand outside the campaign); records
        of the same person written before entity keys and still to review are settled with it.
        """
        key = profile_key(profile_url)
        at = to_iso(now or utcnow())
        with self._write() as conn:
            self._lock_keys(conn, record_lock(campaign, action_id, key))
            for old in legacy(conn, campaign, action_id, key):
                if old.state in REVIEW_STATES:
                    resolve(conn, old, SENT, at, by, note)
            existing = one(conn, campaign, action_id, key)
            if existing is None:
                row = {
                    **dict(zip(SEND_KEYS, (campaign, action_id, key), strict=True)),
                    "profile_url": str(profile_url).strip(),
                    "state": SENT,
                    "attempts": 0,
                    "created_at": at,
                    "settled_at": at,
                    "resolved_by": by,
                    "note": note,
                }
                insert(conn, "sends", row)
            else:
                resolve(conn, existing, SENT, at, by, note)
            record = one(conn, campaign, action_id, key)
        assert record is not None
        return record

    def mark_retry(
        self,
        campaign: str,
        action_id: str,
        profile_url: str,
        *,
        note: str | None = None,
        by: str = "person",
        now: datetime | None = None,
    ) -> SendRecord | None:
        """A person checked: it did not go out, the next run may send it. None if no record.

        Refused (ValueError) for a record already `sent`: un-sending is not a thing. Records of
        the same person written before entity keys (`outreach_lookups.find`) are marked with it.
        """
        key = profile_key(profile_url)
        at = to_iso(now or utcnow())
        with self._write() as conn:
            self._lock_keys(conn, record_lock(campaign, action_id, key))
            existing = find(conn, campaign, action_id, key)
            if existing is None:
                return None
            if existing.state == SENT:
                raise ValueError(
                    f"{existing.profile_url} is recorded as sent in campaign {campaign!r}; "
                    "it will not be sent again"
                )
            current = one(conn, campaign, action_id, key)
            if current is not None:
                resolve(conn, current, RETRY, at, by, note)
            for old in legacy(conn, campaign, action_id, key):
                if not old.may_send:
                    resolve(conn, old, RETRY, at, by, note)
            return find(conn, campaign, action_id, key)
