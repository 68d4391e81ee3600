"""Idempotency records for actions with side effects: each invitation or message sent at most once.

A message sent twice cannot be taken back, so every send goes through a record keyed by
(campaign, action, profile) in a SQLite file (WAL, busy timeout, short transactions, safe for
several processes), or in PostgreSQL for runs on several machines (a `postgresql://` URL; by
default the ledger's own database when the ledger is there, see `default_store_path`):

    (none) --reserve--> pending --answer 2xx--------------------> sent
                           |  --the API said no (4xx, 429,
                           |    no connection opened)----------> failed (retryable or not)
                           |  --answer lost (timeout, dropped,
                           |    5xx, ambiguous upstream)-------> unknown
                           '--process died-----------------------> stays pending

`reserve` commits the `pending` record *before* the call, in the same transaction that checks the
record and the account's rolling 24 h cap, so two runs (or processes) never both send. `pending`
left behind by a dead process and `unknown` both need a person: they are reported, never re-sent
blindly. A person resolves one with `mark_sent` (it went out: never send it) or `mark_retry` (it
did not: the next run sends it), from Python, from the outreach op's run config, or from a shell::

    python -m captaindata_dagster.storage.outreach_records list --store .captaindata/outreach.sqlite
    python -m captaindata_dagster.storage.outreach_records mark-sent --campaign spring --action \
        linkedin-connect-profile https://www.linkedin.com/in/ada-lovelace

This is a module of its own, in a file of its own, on purpose: the ledger is a cache a user may
delete to refetch; deleting it must never make a campaign send again. The store never sees the key.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from captaindata_dagster.api.entity_keys import entity_key
from captaindata_dagster.storage.store import NULL_SAFE_EQ, Store, is_postgres_url, upsert_sql

STORE_ENV = "CAPTAINDATA_OUTREACH_STORE"
LEDGER_URL_ENV = "CAPTAINDATA_LEDGER_URL"  # the ledger's PostgreSQL URL (see ledger.py)
STORE_FILENAME = "outreach.sqlite"
DEFAULT_STORE_PATH = Path(".captaindata") / STORE_FILENAME
CAP_WINDOW = timedelta(hours=24)

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


def default_store_path(ledger_path: str | os.PathLike[str] | None = None) -> str | Path:
    """`$CAPTAINDATA_OUTREACH_STORE` (a path or a PostgreSQL URL), else beside the ledger: the
    same PostgreSQL database when the ledger is one (given here, or `$CAPTAINDATA_LEDGER_URL`
    without a ledger), else `outreach.sqlite` next to the ledger file."""
    env = os.environ.get(STORE_ENV, "").strip()
    if env:
        return env if is_postgres_url(env) else Path(env)
    if is_postgres_url(ledger_path):
        return str(ledger_path).strip()
    if ledger_path is not None:
        return Path(ledger_path).with_name(STORE_FILENAME)
    url = os.environ.get(LEDGER_URL_ENV, "").strip()
    if is_postgres_url(url):
        return url
    return DEFAULT_STORE_PATH


_SUBDOMAIN = re.compile(r"^(?:www|[a-z]{2})\.")


def profile_key(url: str) -> str:
    """One key per person whatever the URL's spelling: its `entity_key` (`person:jane-doe` for
    `/in/jane-doe`, `fr.linkedin.com/in/Jane-Doe/fr`, `/in/jane-doe/overlay/contact-info/`...).

    A URL naming no entity keeps the key records had before entity keys (`legacy_profile_key`).
    """
    return entity_key(url) or legacy_profile_key(url)


def legacy_profile_key(url: str) -> str:
    """The key records had before entity keys: host without `www.`, path without query or slash.

    `/in/` and `/pub/` slugs are lowered; other paths (Sales Navigator ids) keep their case. A
    store written then holds such keys: every lookup by entity also reads them (`_find`), so a
    person invited before the upgrade is never invited again.
    """
    text = str(url).strip()
    parts = urlsplit(text) if "://" in text else urlsplit("https://" + text)
    host = _SUBDOMAIN.sub("", parts.netloc.lower())
    path = unquote(parts.path).rstrip("/")
    if re.match(r"^/(in|pub)/", path, re.IGNORECASE):
        path = path.lower()
    return f"{host}{path}" if host else text


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SendRecord:
    """The state of one (campaign, action, profile): what was done, when, from which account."""

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
    error_label: str | None = None
    error_scope: str | None = None
    error_ref: str | None = None
    error_message: str | None = None
    status_code: int | None = None
    retryable: bool | None = None
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
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Reservation:
    """What `reserve` decided: `reserved` (send it now, then settle `attempt`), `taken` (the record
    says not to send: see `record`), or `over_cap` (the account used its day: `used` sends)."""

    outcome: str
    record: SendRecord | None
    attempt: int = 0
    used: int = 0


_COLUMNS = (
    "campaign, action_id, profile_key, profile_url, state, account, message, attempts, "
    "created_at, attempted_at, settled_at, run_id, error_label, error_scope, error_ref, "
    "error_message, status_code, retryable, result_json, resolved_by, note"
)


class OutreachStore(Store):
    """The idempotency records of outreach actions, in one SQLite file or a PostgreSQL database.

    Nothing is opened until the first call. One connection per process, shared by threads under
    a lock. Between processes, SQLite's `BEGIN IMMEDIATE` admits one writer at a time; on
    PostgreSQL each decision locks the records it reads (`_lock_keys`): the profile's record, and
    the account's cap when there is one, so two machines never both reserve the same send.
    """

    _SCHEMA = (
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

    _SYNCHRONOUS = "FULL"  # a reservation must survive a power cut, not only a killed process

    @classmethod
    def default_location(cls) -> str | Path:
        return default_store_path()

    # ------------------------------------------------------------------ reads

    def get(self, campaign: str, action_id: str, profile: str) -> SendRecord | None:
        """The record of one profile (any spelling of its URL, records written before entity keys
        included: see `_find`), or None."""
        with self._read() as conn:
            return _find(conn, campaign, action_id, profile_key(profile))

    def records(
        self,
        campaign: str | None = None,
        action_id: str | None = None,
        states: Iterable[str] | None = None,
    ) -> list[SendRecord]:
        """Records, oldest first, optionally of one campaign, one action, some states."""
        clauses, args = [], []
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
                f"SELECT {_COLUMNS} FROM sends{where} ORDER BY created_at, profile_key", args
            ).fetchall()
        return [_record(r) for r in rows]

    def needs_review(
        self, campaign: str | None = None, action_id: str | None = None
    ) -> list[SendRecord]:
        """Unsettled records (`pending` left by a dead run, `unknown`): for a person to check."""
        return self.records(campaign, action_id, REVIEW_STATES)

    def used(self, action_id: str, account: str | None, *, now: datetime | None = None) -> int:
        """Sends that may have gone out from `account` for `action_id` in the last 24 h."""
        with self._read() as conn:
            return _used(conn, action_id, account, now or utcnow())

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
            locks = [_record_lock(campaign, action_id, key)]
            if daily_cap is not None:
                locks.append(f"captaindata:outreach-cap:{action_id}:{account}")
            self._lock_keys(conn, *locks)
            binding = _find(conn, campaign, action_id, key)
            if binding is not None and not binding.may_send:
                return Reservation(TAKEN, binding)
            existing = _one(conn, campaign, action_id, key)
            used = 0
            if daily_cap is not None:
                used = _used(conn, action_id, account, at)
                if used >= daily_cap:
                    return Reservation(OVER_CAP, existing, used=used)
            attempt = (existing.attempts if existing else 0) + 1
            created = _iso(existing.created_at) if existing else _iso(at)
            conn.execute(
                upsert_sql(
                    "sends",
                    _COLUMNS,
                    ("campaign", "action_id", "profile_key"),
                    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL, NULL, NULL, NULL, NULL, NULL, "
                    "NULL, ?, ?",
                ),
                (
                    campaign,
                    action_id,
                    key,
                    str(profile_url).strip(),
                    PENDING,
                    account,
                    message,
                    attempt,
                    created,
                    _iso(at),
                    run_id,
                    existing.resolved_by if existing else None,
                    existing.note if existing else None,
                ),
            )
            record = _one(conn, campaign, action_id, key)
        return Reservation(RESERVED, record, attempt, used)

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
        err = error or {}
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE sends SET state = ?, settled_at = ?, error_label = ?, error_scope = ?, "
                "error_ref = ?, error_message = ?, status_code = ?, retryable = ?, "
                "result_json = ? WHERE campaign = ? AND action_id = ? AND profile_key = ? "
                "AND attempts = ? AND state IN (?, ?)",
                (
                    state,
                    _iso(now or utcnow()),
                    err.get("error_label"),
                    err.get("error_scope"),
                    err.get("error_ref"),
                    err.get("message"),
                    err.get("status_code"),
                    None if retryable is None else int(bool(retryable)),
                    _dump(result),
                    campaign,
                    action_id,
                    profile_key(profile),
                    int(attempt),
                    PENDING,
                    RETRY,
                ),
            )
            return cur.rowcount == 1

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
        at = _iso(now or utcnow())
        with self._write() as conn:
            self._lock_keys(conn, _record_lock(campaign, action_id, key))
            for old in _legacy(conn, campaign, action_id, key):
                if old.state in REVIEW_STATES:
                    _resolve(conn, old, SENT, at, by, note)
            existing = _one(conn, campaign, action_id, key)
            if existing is None:
                conn.execute(
                    "INSERT INTO sends (campaign, action_id, profile_key, profile_url, state, "
                    "attempts, created_at, settled_at, resolved_by, note) "
                    "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                    (campaign, action_id, key, str(profile_url).strip(), SENT, at, at, by, note),
                )
            else:
                conn.execute(
                    "UPDATE sends SET state = ?, settled_at = ?, resolved_by = ?, "
                    "note = COALESCE(?, note) "
                    "WHERE campaign = ? AND action_id = ? AND profile_key = ?",
                    (SENT, at, by, note, campaign, action_id, key),
                )
            record = _one(conn, campaign, action_id, key)
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
        the same person written before entity keys (`_find`) are marked with it.
        """
        key = profile_key(profile_url)
        at = _iso(now or utcnow())
        with self._write() as conn:
            self._lock_keys(conn, _record_lock(campaign, action_id, key))
            existing = _find(conn, campaign, action_id, key)
            if existing is None:
                return None
            if existing.state == SENT:
                raise ValueError(
                    f"{existing.profile_url} is recorded as sent in campaign {campaign!r}; "
                    "it will not be sent again"
                )
            current = _one(conn, campaign, action_id, key)
            if current is not None:
                _resolve(conn, current, RETRY, at, by, note)
            for old in _legacy(conn, campaign, action_id, key):
                if not old.may_send:
                    _resolve(conn, old, RETRY, at, by, note)
            return _find(conn, campaign, action_id, key)


# ---------------------------------------------------------------------- rows


def _record_lock(campaign: str, action_id: str, key: str) -> str:
    return f"captaindata:outreach:{campaign}:{action_id}:{key}"


def _one(conn: Any, campaign: str, action_id: str, key: str) -> SendRecord | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM sends WHERE campaign = ? AND action_id = ? AND profile_key = ?",
        (campaign, action_id, key),
    ).fetchone()
    return None if row is None else _record(row)


# Which record of a person speaks first: sent, then unsettled, then refused for good.
_BINDING = {SENT: 0, PENDING: 1, UNKNOWN: 1, FAILED: 2}
_ENTITY_KEY = re.compile(
    r"^(?:person|sales_navigator_lead|sales_navigator_company|company|school):"
)  # the kinds of `entity_keys.entity_key`; any other key is a `legacy_profile_key`


def _find(conn: Any, campaign: str, action_id: str, key: str) -> SendRecord | None:
    """The record that decides for `key`: of the records of `key` and of the same person under the
    keys of before entity keys (`_legacy`), the most binding one that says not to send (sent,
    then unsettled, then refused), else the record of `key`, else an older one, else None."""
    current = _one(conn, campaign, action_id, key)
    found = [r for r in (current, *_legacy(conn, campaign, action_id, key)) if r is not None]
    binding = [r for r in found if not r.may_send]
    if binding:
        return min(binding, key=lambda r: _BINDING.get(r.state, 3))
    return found[0] if found else None


def _legacy(conn: Any, campaign: str, action_id: str, key: str) -> list[SendRecord]:
    """Records of the entity `key` names, kept under a `legacy_profile_key` by a store written
    before entity keys (`linkedin.com/in/jane-doe/fr`): never rewritten, read with every lookup.

    The SQL keeps the keys holding the entity's id (LIKE, on the campaign's rows only); the
    stored URL's own `entity_key` decides."""
    if not _ENTITY_KEY.match(key):
        return []
    ident = re.sub(r"([\\%_])", r"\\\1", key.partition(":")[2])
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM sends WHERE campaign = ? AND action_id = ? "
        "AND profile_key <> ? AND profile_key LIKE ? ESCAPE '\\' ORDER BY created_at",
        (campaign, action_id, key, f"%{ident}%"),
    ).fetchall()
    return [r for r in map(_record, rows) if entity_key(r.profile_url) == key]


def _resolve(conn: Any, record: SendRecord, state: str, at: str, by: str, note: str | None) -> None:
    """A person's decision (`sent` or `retry`) on one record, whatever its key."""
    conn.execute(
        "UPDATE sends SET state = ?, settled_at = ?, resolved_by = ?, note = COALESCE(?, note) "
        "WHERE campaign = ? AND action_id = ? AND profile_key = ?",
        (state, at, by, note, record.campaign, record.action_id, record.profile_key),
    )


def _used(conn: Any, action_id: str, account: str | None, now: datetime) -> int:
    since = _iso(now - CAP_WINDOW)
    (n,) = conn.execute(
        f"SELECT COUNT(*) FROM sends WHERE action_id = ? AND account {NULL_SAFE_EQ[conn.dialect]} ? "
        "AND attempted_at >= ? "
        f"AND state IN ({','.join('?' * len(CAP_STATES))})",
        (action_id, account, since, *CAP_STATES),
    ).fetchone()
    return int(n)


def _record(row: Sequence[Any]) -> SendRecord:
    (campaign, action_id, key, url, state, account, message, attempts, created, attempted,
     settled, run_id, label, scope, ref, err_message, status, retryable, result_json,
     resolved_by, note) = row  # fmt: skip
    return SendRecord(
        campaign=campaign,
        action_id=action_id,
        profile_key=key,
        profile_url=url,
        state=state,
        account=account,
        message=message,
        attempts=int(attempts),
        created_at=datetime.fromisoformat(created),
        attempted_at=datetime.fromisoformat(attempted) if attempted else None,
        settled_at=datetime.fromisoformat(settled) if settled else None,
        run_id=run_id,
        error_label=label,
        error_scope=scope,
        error_ref=ref,
        error_message=err_message,
        status_code=status,
        retryable=None if retryable is None else bool(retryable),
        result=None if result_json is None else json.loads(result_json),
        resolved_by=resolved_by,
        note=note,
    )


def _iso(d: datetime) -> str:
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True, default=str)


# ---------------------------------------------------------------------- a person's shell


def main(argv: list[str] | None = None) -> int:
    """`python -m captaindata_dagster.storage.outreach_records list | mark-sent | mark-retry ...`."""
    ap = argparse.ArgumentParser(
        prog="python -m captaindata_dagster.storage.outreach_records",
        description="Review and resolve outreach sends whose outcome is unknown.",
    )
    ap.add_argument("--store", default=None, help=f"store file or postgresql:// URL (default: "
                    f"${STORE_ENV}, else ${LEDGER_URL_ENV}, else {DEFAULT_STORE_PATH})")  # fmt: skip
    sub = ap.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="records to review (pending, unknown); --all for every one")
    ls.add_argument("--campaign")
    ls.add_argument("--all", action="store_true")
    for name, help_ in (
        ("mark-sent", "it went out: never send it again"),
        ("mark-retry", "it did not go out: the next run sends it"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--campaign", required=True)
        p.add_argument("--action", required=True, help="e.g. linkedin-connect-profile")
        p.add_argument("--note")
        p.add_argument("profiles", nargs="+", help="LinkedIn profile URLs")
    args = ap.parse_args(argv)
    store = OutreachStore(args.store)
    if args.command == "list":
        records = store.records(args.campaign) if args.all else store.needs_review(args.campaign)
        for r in records:
            when = r.attempted_at.isoformat() if r.attempted_at else "-"
            print(
                f"{r.state:8} {r.campaign} {r.action_id} {r.profile_url} account={r.account} "
                f"attempted={when} label={r.error_label or '-'}"
            )
        print(f"{len(records)} record(s)", file=sys.stderr)
        return 0
    for url in args.profiles:
        if args.command == "mark-sent":
            store.mark_sent(args.campaign, args.action, url, note=args.note)
            print(f"sent   {url}")
        else:
            try:
                done = store.mark_retry(args.campaign, args.action, url, note=args.note)
            except ValueError as exc:
                print(f"refused {url}: {exc}", file=sys.stderr)
                return 1
            print(f"retry  {url}" if done else f"no record for {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
