"""The ledger: what was fetched, when, at what cost, and what failed, kept across runs.

Credits are money, so every result and every per-input error is written as it arrives, in its own
short transaction: a run killed at any point keeps what it paid for, and the next run fetches only
what is missing. A search stores each page as it comes, so an interrupted walk resumes from the next
page instead of paying for the first ones again.

The default store is one SQLite file in WAL mode with a busy timeout, safe for several threads and
processes at once; a `postgresql://` URL puts it on a PostgreSQL server shared by runs on several
machines (`store.py`). All SQL lives in `Ledger`, written once for both. Before a run calls the API
for an input it `claim`s it, so two runs at once never pay for the same input twice: one fetches,
the other waits and takes the answer. The ledger never sees the API key: it stores inputs,
parameters, results and error envelopes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from captaindata_dagster.api.catalog import CUSTOM_DATA, Action
from captaindata_dagster.api.entity_keys import entity_key
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.api.labels import ACCOUNT_LABELS
from captaindata_dagster.storage.store import (
    POSTGRES,
    Store,
    is_postgres_url,
    redact_url,
    upsert_sql,
)

LEDGER_ENV = "CAPTAINDATA_LEDGER"
LEDGER_URL_ENV = "CAPTAINDATA_LEDGER_URL"
DEFAULT_LEDGER_PATH = Path(".captaindata") / "ledger.sqlite"
SCHEMA_VERSION = 1

STATUS_OK = "ok"  # a complete result (an object, or a search walked to its end)
STATUS_PARTIAL = "partial"  # a search with some pages stored, not yet walked to its end
STATUS_ERROR = "error"  # the last attempt failed; `retryable` says whether to try again

CLAIMED = "claimed"  # this ledger holds the input now: call the API for it, then `release` it
DONE = "done"  # an answer is stored (another run's, meanwhile): use `Claim.entry`, no call
BUSY = "busy"  # another live process is fetching it now: come back later
CLAIM_TTL = timedelta(hours=6)  # SQLite: a claim of another machine's process, older, is stale


def input_key(
    action: Action,
    input: Mapping[str, Any] | None,  # noqa: A002 - the API's own word
    parameters: Mapping[str, Any] | None = None,
    max_results: int | None = None,
    *,
    by_entity: bool = True,
) -> str:
    """The ledger key of one call: sha256 of its canonical JSON.

    Aliases are renamed to catalog field names, strings stripped, `None` values and `custom_data`
    left out (it is echoed back, it does not change what the API fetches), keys sorted. For list
    actions `max_results` is part of the key: a search capped at 50 is not the one capped at 200.

    A field naming a LinkedIn person, lead, company or school (`entity_keys.entity_key`) is keyed
    by who it names, written as that entity's canonical URL (`https://www.linkedin.com/in/<id>`):
    every spelling of one person is one entry, and an input already given in canonical form keeps
    the key it had before entity keys. For a list action the URL may also hold the query
    (`/school/x/people/?educationStartYear=2010`, `/company/x/people/?keywords=cto`): there only
    a URL naming the entity alone (no query but tracking, no path after it) is folded, so two
    different lists are never one entry. `by_entity=False` keys the text as given (a batch keys
    an input it refuses that way, so a refused spelling never hides a valid one).
    """
    data = action.canonical_input(input) if isinstance(input, Mapping) else input
    if isinstance(data, dict):
        data = {
            k: _entity_or_text(v, action.is_list) if by_entity else v
            for k, v in data.items()
            if k != CUSTOM_DATA
        }
    payload = {
        "action": action.id,
        "input": _normalise(data),
        "parameters": _normalise(dict(parameters or {})),
        "max_results": max_results if action.is_list else None,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# entity kind -> the path of its canonical URL (a `/pub/` person's id holds its four segments)
_CANONICAL_PATHS = {
    "person": "in",
    "sales_navigator_lead": "sales/lead",
    "sales_navigator_company": "sales/company",
    "company": "company",
    "school": "school",
}


_TRACKING = re.compile(r"^(trk|trackingId|originalSubdomain|lipi|utm_\w+)$")


def _entity_or_text(value: Any, is_list: bool) -> Any:
    """The entity's canonical URL for `value`, or `value` itself (see `input_key`)."""
    url = canonical_url(value)
    if url is None or not is_list:
        return url or value
    parts = urlsplit(value.strip() if "://" in value else "https://" + value.strip())
    query = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if any(not _TRACKING.match(k) for k in query):
        return value
    segments = [s for s in parts.path.split("/") if s]
    named = [s for s in urlsplit(url).path.split("/") if s]
    return url if len(segments) <= len(named) else value


def canonical_url(value: Any) -> str | None:
    """The one URL the ledger keys an entity by, e.g. `https://www.linkedin.com/in/jane-doe` for
    every spelling of Jane's profile URL; None for a value naming no entity (kept as given)."""
    key = entity_key(value)
    if key is None:
        return None
    kind, _, ident = key.partition(":")
    path = _CANONICAL_PATHS.get(kind)
    if path is None:
        return None
    if kind == "person" and "/" in ident:
        path = "pub"
    return f"https://www.linkedin.com/{path}/{ident}"


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value


def default_ledger_path() -> Path:
    """`$CAPTAINDATA_LEDGER`, else `.captaindata/ledger.sqlite` under the current directory."""
    env = os.environ.get(LEDGER_ENV, "").strip()
    return Path(env) if env else DEFAULT_LEDGER_PATH


def resolve_ledger_location(
    ledger_url: str | None = None, ledger_path: str | os.PathLike[str] | None = None
) -> str | Path:
    """Where the ledger lives: `ledger_url`, else `ledger_path`, else `$CAPTAINDATA_LEDGER_URL`,
    else `$CAPTAINDATA_LEDGER`, else `.captaindata/ledger.sqlite`. Settings given in code win
    over the environment; a URL that is not PostgreSQL's is refused naming where it came from."""
    url = (ledger_url or "").strip() or None
    if url is not None and ledger_path:
        raise ValidationError(
            "Both ledger_url and ledger_path are set: keep ledger_url for a PostgreSQL ledger "
            "shared by several machines, or ledger_path for a SQLite file, not both.",
            field="ledger_url",
        )
    source = "ledger_url"
    if url is None and not ledger_path:
        url = os.environ.get(LEDGER_URL_ENV, "").strip() or None
        source = LEDGER_URL_ENV
    if url is not None:
        if not is_postgres_url(url):
            raise ValidationError(
                f"{source} must be a PostgreSQL URL such as "
                f"postgresql://user@host:5432/database, got {redact_url(url)!r}; "
                "for a SQLite file use ledger_path (or CAPTAINDATA_LEDGER).",
                field=source,
            )
        return url
    return Path(ledger_path) if ledger_path else default_ledger_path()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Entry:
    """One ledger row: the outcome of one (action, input, parameters[, max_results]) call.

    `results` is the list of result items (a search's pages concatenated, in order; `None` when
    loaded without results). Error fields are set only when `status == "error"`; a search that failed
    midway keeps its stored pages (`pages_done`, `next_url`) so it can resume.
    `started_at` is when the first page of the current walk was fetched (the age of the data);
    `fetched_at` when the row was last written.
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
    error_label: str | None = None
    error_scope: str | None = None
    error_ref: str | None = None
    message: str | None = None
    status_code: int | None = None
    retryable: bool | None = None
    user_uid: str | None = None  # errors only: the user whose connected account made the call

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


_ENTRY_COLUMNS = (
    "action_id, input_key, status, complete, input_json, parameters_json, max_results, "
    "results_json, pages_done, next_url, started_at, fetched_at, credits, attempts, "
    "error_label, error_scope, error_ref, message, status_code, retryable"
)


class Ledger(Store):
    """Checkpoint and cache store: one SQLite file (WAL, busy timeout, short transactions), or a
    PostgreSQL database when given a `postgresql://` URL.

    Nothing is opened until the first call: the file (or the schema) is created then. One
    connection per process, shared by threads under a lock; a forked child opens its own.
    """

    def __init__(
        self, location: str | os.PathLike[str] | None = None, *, timeout_s: float = 30.0
    ) -> None:
        super().__init__(location, timeout_s=timeout_s)
        self._token = uuid.uuid4().hex[:12]  # tells this ledger's claims from other instances'
        self._held: set[tuple[str, str]] = set()  # claims this process holds through this ledger
        self._held_pid = os.getpid()

    @classmethod
    def default_location(cls) -> str | Path:
        return resolve_ledger_location()

    # ------------------------------------------------------------------ connection and schema

    _SCHEMA = (
        """CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS entries (
            action_id TEXT NOT NULL,
            input_key TEXT NOT NULL,
            status TEXT NOT NULL,
            complete INTEGER NOT NULL DEFAULT 0,
            input_json TEXT,
            parameters_json TEXT,
            max_results INTEGER,
            results_json TEXT,
            pages_done INTEGER NOT NULL DEFAULT 0,
            next_url TEXT,
            started_at TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            credits DOUBLE PRECISION NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            error_label TEXT,
            error_scope TEXT,
            error_ref TEXT,
            message TEXT,
            status_code INTEGER,
            retryable INTEGER,
            PRIMARY KEY (action_id, input_key)
        )""",
        """CREATE TABLE IF NOT EXISTS pages (
            action_id TEXT NOT NULL,
            input_key TEXT NOT NULL,
            page INTEGER NOT NULL,
            results_json TEXT NOT NULL,
            next_url TEXT,
            fetched_at TEXT NOT NULL,
            credits DOUBLE PRECISION NOT NULL DEFAULT 0,
            PRIMARY KEY (action_id, input_key, page)
        )""",
        """CREATE INDEX IF NOT EXISTS entries_status ON entries (action_id, status)""",
        # Which account failed (LK_BAD_COOKIE names a person to call): a table of its own, so
        # ledgers written before it need no migration. Read only while the entry is an error.
        """CREATE TABLE IF NOT EXISTS error_users (
            action_id TEXT NOT NULL,
            input_key TEXT NOT NULL,
            user_uid TEXT NOT NULL,
            PRIMARY KEY (action_id, input_key)
        )""",
        f"INSERT INTO meta (name, value) VALUES ('schema_version', '{SCHEMA_VERSION}') "
        "ON CONFLICT (name) DO NOTHING",
    )
    # Claims: on SQLite a row naming the process that holds the input; on PostgreSQL a session
    # advisory lock instead (freed by the server the moment its holder's session ends).
    _SQLITE_SCHEMA = (
        """CREATE TABLE IF NOT EXISTS claims (
            action_id TEXT NOT NULL,
            input_key TEXT NOT NULL,
            owner TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            pid_start TEXT,
            claimed_at TEXT NOT NULL,
            PRIMARY KEY (action_id, input_key)
        )""",
    )

    # ------------------------------------------------------------------ writes

    def save_result(
        self,
        action_id: str,
        key: str,
        results: list[dict[str, Any]],
        *,
        input: Any = None,  # noqa: A002
        parameters: Mapping[str, Any] | None = None,
        max_results: int | None = None,
        credits: float = 0.0,  # noqa: A002 - the API's own word
        attempts: int = 1,
        at: datetime | None = None,
    ) -> None:
        """Store a complete result (an object action's one item, or a whole list at once).

        Replaces whatever the key held before, an error included.
        """
        now = _iso(at or utcnow())
        with self._write() as conn:
            self._lock_keys(conn, _key_lock(action_id, key))
            conn.execute(
                "DELETE FROM pages WHERE action_id = ? AND input_key = ?", (action_id, key)
            )
            conn.execute(
                _UPSERT_ENTRY.format(
                    "?, ?, ?, 1, ?, ?, ?, ?, 1, NULL, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL"
                ),
                (
                    action_id,
                    key,
                    STATUS_OK,
                    _dump(input),
                    _dump(parameters),
                    max_results,
                    _dump(list(results)),
                    now,
                    now,
                    float(credits),
                    int(attempts),
                ),
            )

    def save_page(
        self,
        action_id: str,
        key: str,
        page: int,
        results: list[dict[str, Any]],
        *,
        next_url: str | None,
        complete: bool = False,
        input: Any = None,  # noqa: A002
        parameters: Mapping[str, Any] | None = None,
        max_results: int | None = None,
        credits: float = 0.0,  # noqa: A002 - the API's own word
        attempts: int = 1,
        at: datetime | None = None,
    ) -> None:
        """Store one page of a search in its own transaction; `complete=True` on the last one.

        Page 1 starts a new walk: pages stored by an earlier walk of the same key are dropped.
        Credits and attempts add up over the walk's pages.
        """
        if page < 1:
            raise ValueError(f"page must be >= 1, got {page!r}")
        now = _iso(at or utcnow())
        with self._write() as conn:
            self._lock_keys(conn, _key_lock(action_id, key))
            row = conn.execute(
                "SELECT credits, attempts, started_at FROM entries "
                "WHERE action_id = ? AND input_key = ?",
                (action_id, key),
            ).fetchone()
            if page == 1 or row is None:
                conn.execute(
                    "DELETE FROM pages WHERE action_id = ? AND input_key = ?", (action_id, key)
                )
                total_credits, total_attempts, started = float(credits), int(attempts), now
            else:
                total_credits = float(row[0]) + float(credits)
                total_attempts = int(row[1]) + int(attempts)
                started = row[2]
            conn.execute(
                upsert_sql(
                    "pages",
                    "action_id, input_key, page, results_json, next_url, fetched_at, credits",
                    ("action_id", "input_key", "page"),
                    "?, ?, ?, ?, ?, ?, ?",
                ),
                (action_id, key, page, _dump(list(results)), next_url, now, float(credits)),
            )
            conn.execute(
                _UPSERT_ENTRY.format(
                    "?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL"
                ),
                (
                    action_id,
                    key,
                    STATUS_OK if complete else STATUS_PARTIAL,
                    1 if complete else 0,
                    _dump(input),
                    _dump(parameters),
                    max_results,
                    page,
                    None if complete else next_url,
                    started,
                    now,
                    total_credits,
                    total_attempts,
                ),
            )

    def mark_complete(self, action_id: str, key: str, at: datetime | None = None) -> None:
        """Close a search whose walk ended without a new page (e.g. the last page was full)."""
        now = _iso(at or utcnow())
        with self._write() as conn:
            conn.execute(
                "UPDATE entries SET status = ?, complete = 1, next_url = NULL, fetched_at = ? "
                "WHERE action_id = ? AND input_key = ? AND status = ?",
                (STATUS_OK, now, action_id, key, STATUS_PARTIAL),
            )

    def save_error(
        self,
        action_id: str,
        key: str,
        *,
        error_label: str | None,
        error_scope: str | None = None,
        error_ref: str | None = None,
        message: str | None = None,
        status_code: int | None = None,
        retryable: bool = False,
        input: Any = None,  # noqa: A002
        parameters: Mapping[str, Any] | None = None,
        max_results: int | None = None,
        attempts: int = 1,
        at: datetime | None = None,
        user_uid: str | None = None,
        keep_pages: bool = True,
    ) -> None:
        """Record that the call failed for this input (after the client's retries).

        A search that failed midway keeps its stored pages, so a retry resumes after them,
        unless `keep_pages` is False (the walk itself was broken: a pagination loop, a next URL
        naming another endpoint; its stored next URL must not be followed again); an
        error on a key whose earlier result was complete replaces that result. `user_uid` is the
        user whose connected account made the call, if one did. An account error
        (`ACCOUNT_LABELS`) is stored like any other but is never `fresh`: the next run retries.
        """
        now = _iso(at or utcnow())
        with self._write() as conn:
            self._lock_keys(conn, _key_lock(action_id, key))
            row = conn.execute(
                "SELECT complete, pages_done, next_url, started_at, credits, attempts "
                "FROM entries WHERE action_id = ? AND input_key = ?",
                (action_id, key),
            ).fetchone()
            keep = keep_pages and row is not None and not row[0] and row[1] > 0
            if keep:
                pages_done, next_url, started = row[1], row[2], row[3]
                spent, total_attempts = float(row[4]), int(row[5]) + int(attempts)
            else:
                conn.execute(
                    "DELETE FROM pages WHERE action_id = ? AND input_key = ?", (action_id, key)
                )
                pages_done, next_url, started, spent, total_attempts = 0, None, now, 0.0, attempts
            conn.execute(
                _UPSERT_ENTRY.format(
                    "?, ?, ?, 0, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
                ),
                (
                    action_id,
                    key,
                    STATUS_ERROR,
                    _dump(input),
                    _dump(parameters),
                    max_results,
                    pages_done,
                    next_url,
                    started,
                    now,
                    spent,
                    int(total_attempts),
                    error_label,
                    error_scope,
                    error_ref,
                    message,
                    status_code,
                    None if retryable is None else int(bool(retryable)),
                ),
            )
            if user_uid:
                conn.execute(
                    upsert_sql(
                        "error_users",
                        "action_id, input_key, user_uid",
                        ("action_id", "input_key"),
                        "?, ?, ?",
                    ),
                    (action_id, key, str(user_uid)),
                )
            else:
                conn.execute(
                    "DELETE FROM error_users WHERE action_id = ? AND input_key = ?",
                    (action_id, key),
                )

    def delete(self, action_id: str, key: str | None = None) -> int:
        """Forget one key (or every key of an action); returns the entries removed."""
        where, args = "action_id = ?", [action_id]
        if key is not None:
            where, args = where + " AND input_key = ?", [*args, key]
        with self._write() as conn:
            conn.execute(f"DELETE FROM pages WHERE {where}", args)
            conn.execute(f"DELETE FROM error_users WHERE {where}", args)
            return conn.execute(f"DELETE FROM entries WHERE {where}", args).rowcount

    # ------------------------------------------------------------------ reads

    def get(self, action_id: str, key: str, *, results: bool = True) -> Entry | None:
        """The entry for a key, whatever its state, or None."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE action_id = ? AND input_key = ?",
                (action_id, key),
            ).fetchone()
            if row is None:
                return None
            return self._entry(conn, row, results)

    def fresh(self, action_id: str, key: str, max_age: timedelta | None = None) -> Entry | None:
        """The entry if it can be used instead of a call, else None.

        Fresh means: a complete result younger than `max_age`, or a permanent (non-retryable)
        error younger than `max_age`, so an input the API refused is not paid for again every run.
        Retryable errors, account errors (`ACCOUNT_LABELS`: the account failed, not the input; it
        may work once reconnected or on another account) and unfinished searches are never
        fresh. `max_age=None` means entries never expire; `timedelta(0)` means nothing is fresh.
        """
        entry = self.get(action_id, key, results=False)
        if entry is None or not _is_fresh(entry, max_age):
            return None
        return self.get(action_id, key) if entry.ok else entry

    def resume_point(
        self, action_id: str, key: str, max_age: timedelta | None = None
    ) -> ResumePoint | None:
        """Where to pick up an unfinished search (some pages stored, more to fetch), or None.

        A walk whose first page is older than `max_age` is not resumed: mixing old and new pages
        would give a result nobody fetched at once.
        """
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE action_id = ? AND input_key = ?",
                (action_id, key),
            ).fetchone()
            if row is None:
                return None
            entry = self._entry(conn, row, results=True)
        if entry.complete or entry.pages_done < 1 or not entry.next_url:
            return None
        if max_age is not None and utcnow() - entry.started_at >= max_age:
            return None
        return ResumePoint(entry.pages_done, entry.results or [], entry.next_url, entry.credits)

    def entries(
        self,
        action_id: str | None = None,
        *,
        status: str | None = None,
        results: bool = True,
    ) -> list[Entry]:
        """All entries (of one action, of one status), oldest write first."""
        clauses, args = [], []
        if action_id is not None:
            clauses.append("action_id = ?")
            args.append(action_id)
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries{where} ORDER BY fetched_at, input_key",
                args,
            ).fetchall()
            return [self._entry(conn, r, results) for r in rows]

    def errors(self, action_id: str | None = None) -> list[Entry]:
        """Entries whose last attempt failed, with the input that failed."""
        return self.entries(action_id, status=STATUS_ERROR, results=False)

    def stats(self) -> dict[str, Any]:
        """Counts for a dashboard: entries by status, stored pages, credits recorded, size.

        `path` is the file, or the URL with its password redacted; `size_bytes` the file's size,
        or the tables' on the server.
        """
        with self._read() as conn:
            by_status = dict(
                conn.execute("SELECT status, COUNT(*) FROM entries GROUP BY status").fetchall()
            )
            actions = conn.execute("SELECT COUNT(DISTINCT action_id) FROM entries").fetchone()[0]
            pages = conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
            spent = conn.execute("SELECT COALESCE(SUM(credits), 0) FROM entries").fetchone()[0]
            labels = dict(
                conn.execute(
                    "SELECT error_label, COUNT(*) FROM entries WHERE status = ? "
                    "GROUP BY error_label",
                    (STATUS_ERROR,),
                ).fetchall()
            )
            if conn.dialect == POSTGRES:
                size = conn.execute(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
                ).fetchone()[0]
            elif self.path is not None and self.path.exists():
                size = self.path.stat().st_size
            else:
                size = 0
        return {
            "path": self.describe(),
            "entries": sum(by_status.values()),
            "ok": by_status.get(STATUS_OK, 0),
            "partial": by_status.get(STATUS_PARTIAL, 0),
            "errors": by_status.get(STATUS_ERROR, 0),
            "errors_by_label": {str(k): v for k, v in labels.items()},
            "actions": actions,
            "pages": pages,
            "credits": float(spent),
            "size_bytes": int(size),
        }

    # ------------------------------------------------------------------ claims

    def claim(
        self,
        action_id: str,
        key: str,
        *,
        max_age: timedelta | None = None,
        since: datetime | None = None,
    ) -> Claim:
        """Take an input before calling the API for it, so two runs never pay for it twice.

        `done`: an answer is stored that this run can use instead of a call (fresh as `fresh`
        says, or an error recorded since `since`: another run tried it during this one; not an
        account error, which says nothing of the input: this run tries it on its own accounts).
        `busy`: another live process holds it (this one too, through another ledger instance).
        `claimed`: it is this ledger's until `release` (or this process's end): call the API.
        A claim dies with its holder: on PostgreSQL it is a session advisory lock, freed by the
        server when the session ends (a vanished machine: within about a minute); on SQLite a
        row naming the process, stale once that process is gone.
        """
        token = (action_id, key)
        with self._session() as conn:
            held = self._held_claims()
            if token in held:
                return Claim(BUSY)
            if not self._take(conn, action_id, key):
                return Claim(BUSY)
            try:
                row = conn.execute(
                    f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE action_id = ? AND input_key = ?",
                    (action_id, key),
                ).fetchone()
                entry = None if row is None else self._entry(conn, row, results=False)
                if entry is not None and (
                    _is_fresh(entry, max_age)
                    or (
                        entry.is_error
                        and entry.error_label not in ACCOUNT_LABELS
                        and since is not None
                        and entry.fetched_at >= since
                    )
                ):
                    self._give_back(conn, action_id, key)
                    return Claim(DONE, self._entry(conn, row, results=True) if entry.ok else entry)
            except BaseException:
                if conn.dialect == POSTGRES:  # a session lock outlives a failed statement
                    try:
                        self._give_back(conn, action_id, key)
                    except Exception:  # the session is gone, and its locks with it
                        pass
                raise
            held.add(token)
            return Claim(CLAIMED)

    def release(self, action_id: str, key: str) -> None:
        """Give back a claim taken by `claim` (after the answer is saved, or when giving up)."""
        token = (action_id, key)
        with self._session() as conn:
            held = self._held_claims()
            if token not in held:
                return
            held.discard(token)
            self._give_back(conn, action_id, key)

    def close(self) -> None:
        """Close this process's connection, giving back the claims it still holds."""
        held = self._held_claims()
        if held and self.dialect != POSTGRES:  # on PostgreSQL closing the session frees them
            with self._write() as conn:
                conn.execute("DELETE FROM claims WHERE owner = ?", (self._owner(),))
        held.clear()
        super().close()

    def _held_claims(self) -> set[tuple[str, str]]:
        if self._held_pid != os.getpid():  # a forked child holds none of its parent's claims
            self._held, self._held_pid = set(), os.getpid()
        return self._held

    def _owner(self) -> str:
        host, pid, _ = _this_process()
        return f"{host}:{pid}:{self._token}"

    def _take(self, conn: Any, action_id: str, key: str) -> bool:
        if conn.dialect == POSTGRES:
            return bool(
                conn.execute(
                    "SELECT pg_try_advisory_lock(hashtextextended(?, 0))",
                    (_claim_lock(action_id, key),),
                ).fetchone()[0]
            )
        row = conn.execute(
            "SELECT owner, host, pid, pid_start, claimed_at FROM claims "
            "WHERE action_id = ? AND input_key = ?",
            (action_id, key),
        ).fetchone()
        if row is not None and row[0] != self._owner() and _claim_alive(*row[1:]):
            return False
        conn.execute(
            upsert_sql(
                "claims",
                "action_id, input_key, owner, host, pid, pid_start, claimed_at",
                ("action_id", "input_key"),
                "?, ?, ?, ?, ?, ?, ?",
            ),
            (action_id, key, self._owner(), *_this_process(), _iso(utcnow())),
        )
        return True

    def _give_back(self, conn: Any, action_id: str, key: str) -> None:
        if conn.dialect == POSTGRES:
            conn.execute(
                "SELECT pg_advisory_unlock(hashtextextended(?, 0))", (_claim_lock(action_id, key),)
            ).fetchone()
        else:
            conn.execute(
                "DELETE FROM claims WHERE action_id = ? AND input_key = ? AND owner = ?",
                (action_id, key, self._owner()),
            )

    # ------------------------------------------------------------------ rows to entries

    def _entry(self, conn: Any, row: tuple[Any, ...], results: bool) -> Entry:
        (action_id, key, status, complete, input_json, parameters_json, max_results,
         results_json, pages_done, next_url, started_at, fetched_at, spent, attempts,
         label, scope, ref, message, status_code, retryable) = row  # fmt: skip
        items: list[dict[str, Any]] | None = None
        if results:
            if results_json is not None:
                items = _load(results_json)
            else:
                items = []
                for (page_json,) in conn.execute(
                    "SELECT results_json FROM pages WHERE action_id = ? AND input_key = ? "
                    "ORDER BY page",
                    (action_id, key),
                ):
                    items.extend(_load(page_json))
        user_uid = None
        if status == STATUS_ERROR:
            found = conn.execute(
                "SELECT user_uid FROM error_users WHERE action_id = ? AND input_key = ?",
                (action_id, key),
            ).fetchone()
            user_uid = found[0] if found else None
        return Entry(
            action_id=action_id,
            input_key=key,
            status=status,
            complete=bool(complete),
            input=_load(input_json),
            parameters=_load(parameters_json),
            max_results=max_results,
            results=items,
            pages_done=int(pages_done),
            next_url=next_url,
            started_at=datetime.fromisoformat(started_at),
            fetched_at=datetime.fromisoformat(fetched_at),
            credits=float(spent),
            attempts=int(attempts),
            error_label=label,
            error_scope=scope,
            error_ref=ref,
            message=message,
            status_code=status_code,
            retryable=None if retryable is None else bool(retryable),
            user_uid=user_uid,
        )


_UPSERT_ENTRY = upsert_sql("entries", _ENTRY_COLUMNS, ("action_id", "input_key"), "{}")


def _is_fresh(entry: Entry, max_age: timedelta | None) -> bool:
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


def _key_lock(action_id: str, key: str) -> str:
    return f"captaindata:ledger:{action_id}:{key}"


def _claim_lock(action_id: str, key: str) -> str:
    return f"captaindata:claim:{action_id}:{key}"


def _process_start(pid: int) -> str | None:
    """When a process started (Linux: clock ticks since boot), so a reused pid is not taken for
    the process that held a claim; None where /proc is not there."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


_PROCESS: tuple[str, int, str | None] | None = None


def _this_process() -> tuple[str, int, str | None]:
    """(host, pid, start) of this process, as a SQLite claim records its holder."""
    global _PROCESS
    if _PROCESS is None or _PROCESS[1] != os.getpid():
        _PROCESS = (socket.gethostname(), os.getpid(), _process_start(os.getpid()))
    return _PROCESS


def _claim_alive(host: str, pid: int, pid_start: str | None, claimed_at: str) -> bool:
    """Whether the process that took a SQLite claim may still be working on it."""
    if host != socket.gethostname():  # another machine's process: trust it for CLAIM_TTL
        return utcnow() - datetime.fromisoformat(claimed_at) < CLAIM_TTL
    if pid_start is not None:
        return _process_start(pid) == pid_start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _iso(d: datetime) -> str:
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.astimezone(timezone.utc).isoformat(timespec="microseconds")


_BYTES = "__bytes_b64__"  # a downloaded file's content survives the round trip as bytes


def _encode(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    return str(value)


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _BYTES in obj:
        return base64.b64decode(obj[_BYTES])
    return obj


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_encode)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text, object_hook=_decode)
