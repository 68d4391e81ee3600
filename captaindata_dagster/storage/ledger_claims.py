"""Claims: before a run calls the API for an input it takes it, so two runs never pay twice.

One run fetches; another, meanwhile, is told `busy` and later `done` (the answer stored). A claim
dies with its holder: on PostgreSQL it is a session advisory lock, freed by the server when the
session ends (a vanished machine: within about a minute); on SQLite a row of `claims` naming the
process (host, pid and the pid's start time), stale once that process is gone.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from captaindata_dagster.api.labels import ACCOUNT_LABELS
from captaindata_dagster.storage.encoding import to_iso, utcnow
from captaindata_dagster.storage.ledger_records import (
    BUSY,
    CLAIMED,
    DONE,
    Claim,
    Entry,
    is_fresh,
    read_entry,
    select_entry,
)
from captaindata_dagster.storage.ledger_schema import CLAIM_COLUMNS, ENTRY_KEYS
from captaindata_dagster.storage.sql import POSTGRES, Connection, upsert
from captaindata_dagster.storage.store import Store

CLAIM_TTL = timedelta(hours=6)  # SQLite: a claim of another machine's process, older, is stale


class LedgerClaims(Store):
    """`claim` and `release` of the `Ledger`; `close` gives back what this ledger still holds."""

    def __init__(
        self, location: str | os.PathLike[str] | None = None, *, timeout_s: float = 30.0
    ) -> None:
        super().__init__(location, timeout_s=timeout_s)
        self._token = uuid.uuid4().hex[:12]  # tells this ledger's claims from other instances'
        self._held: set[tuple[str, str]] = set()  # claims this process holds through this ledger
        self._held_pid = os.getpid()

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
            if token in held or not self._take(conn, action_id, key):
                return Claim(BUSY)
            try:
                answer = _stored_answer(conn, action_id, key, max_age, since)
                if answer is not None:
                    self._give_back(conn, action_id, key)
                    return Claim(DONE, answer)
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

    def _take(self, conn: Connection, action_id: str, key: str) -> bool:
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
        values = (action_id, key, self._owner(), *_this_process(), to_iso(utcnow()))
        upsert(conn, "claims", dict(zip(CLAIM_COLUMNS, values, strict=True)), ENTRY_KEYS)
        return True

    def _give_back(self, conn: Connection, action_id: str, key: str) -> None:
        if conn.dialect == POSTGRES:
            conn.execute(
                "SELECT pg_advisory_unlock(hashtextextended(?, 0))", (_claim_lock(action_id, key),)
            ).fetchone()
        else:
            conn.execute(
                "DELETE FROM claims WHERE action_id = ? AND input_key = ? AND owner = ?",
                (action_id, key, self._owner()),
            )


def _stored_answer(
    conn: Connection,
    action_id: str,
    key: str,
    max_age: timedelta | None,
    since: datetime | None,
) -> Entry | None:
    """The stored entry a claim may answer with instead of a call (see `LedgerClaims.claim`)."""
    row = select_entry(conn, action_id, key)
    if row is None:
        return None
    entry = read_entry(conn, row, results=False)
    tried_meanwhile = (
        entry.is_error
        and entry.error_label not in ACCOUNT_LABELS
        and since is not None
        and entry.fetched_at >= since
    )
    if not (is_fresh(entry, max_age) or tried_meanwhile):
        return None
    return read_entry(conn, row, results=True) if entry.ok else entry


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
