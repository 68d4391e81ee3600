"""The callback store: bulk submissions and the callbacks the API posts for them, each kept once.

A bulk run (`POST .../run/async` or `.../run/schedule`) answers through callbacks: the API POSTs
each page of results, then the run's final status, to the `callback.url` we gave, with the
`callback.headers` we gave. So a submission is registered here BEFORE the API is called, with a
fresh per-submission secret, and its callback headers are

    X-Captaindata-Submission: <submission id>     (SUBMISSION_HEADER)
    X-Captaindata-Secret: <secret>                 (SECRET_HEADER)

Security: the receiver listens on a URL the Internet can reach, so anyone may post to it. The
secret is what proves a callback comes from the API we submitted to (which alone was told it): a
post without the right secret for its submission lands nothing. Only the sha256 of the secret is
stored (`callbacks_schema.secret_sha256`): someone who reads the store (a backup, a shared
PostgreSQL database) cannot forge callbacks with what they read. `authenticate` compares the
hashes with `hmac.compare_digest`, so the time it takes does not tell how much of a guess was
right. The secret itself lives only in the submission's request to the API; keep it out of logs.

Callbacks are landed durably and idempotently (`land_callback`, or many in one transaction:
`land_callbacks`; see `callback_landing.py`): each is committed before the receiver answers 2xx,
under an identity drawn from its payload (`callbacks_schema`), so the same callback redelivered,
replayed or out of order lands once. The store lives where the ledger
does, in a database of its own (see `default_callback_store_location`); nothing here imports
Dagster.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from captaindata_dagster.storage.callback_identity import FINAL, PAGE
from captaindata_dagster.storage.callback_landing import SCHEDULE_MODE, CallbackLanding, WrongRun
from captaindata_dagster.storage.callback_reads import CallbackReads
from captaindata_dagster.storage.callbacks_schema import (
    CALLBACK_SCHEMA,
    DUPLICATE,
    LANDED,
    SELECT_CALLBACK,
    SELECT_SUBMISSION,
    LandedCallback,
    Submission,
    landed_callback,
    secret_sha256,
    submission_of,
)
from captaindata_dagster.storage.encoding import to_iso, utcnow
from captaindata_dagster.storage.locations import is_postgres_url, resolve_ledger_location
from captaindata_dagster.storage.sql import insert
from captaindata_dagster.storage.store import Store

__all__ = [
    "CALLBACK_STORE_ENV",
    "DUPLICATE",
    "FINAL",
    "LANDED",
    "PAGE",
    "SCHEDULE_MODE",
    "SECRET_HEADER",
    "SUBMISSION_HEADER",
    "CallbackStore",
    "LandedCallback",
    "Submission",
    "WrongRun",
    "callback_headers",
    "default_callback_store_location",
    "new_secret",
]

SUBMISSION_HEADER = "X-Captaindata-Submission"
SECRET_HEADER = "X-Captaindata-Secret"
CALLBACK_STORE_ENV = "CAPTAINDATA_CALLBACK_STORE"
CALLBACK_STORE_FILENAME = "callbacks.sqlite"
_NO_SECRET_SHA256 = "0" * 64  # compared against when the submission is unknown


def new_secret() -> str:
    """A fresh per-submission secret: 256 random bits, URL-safe text.

    Example:
        >>> len(new_secret()) >= 43
        True
    """
    return secrets.token_urlsafe(32)


def callback_headers(submission_id: str, secret: str) -> dict[str, str]:
    """The `callback.headers` of a submission: the API sends them back with every callback.

    Example:
        >>> callback_headers("s1", "x")
        {'X-Captaindata-Submission': 's1', 'X-Captaindata-Secret': 'x'}
    """
    return {SUBMISSION_HEADER: submission_id, SECRET_HEADER: secret}


def default_callback_store_location(
    ledger_location: str | os.PathLike[str] | None = None,
) -> str | Path:
    """Where the callback store lives when none is given.

    `$CAPTAINDATA_CALLBACK_STORE` (a path or a PostgreSQL URL), else beside the ledger
    (`resolve_ledger_location()` when no ledger is given): its PostgreSQL database, or
    `callbacks.sqlite` next to its file.

    Args:
        ledger_location: the ledger's path or URL, if known.

    Example:
        >>> default_callback_store_location("/srv/ledger.sqlite")  # without the variable
        PosixPath('/srv/callbacks.sqlite')
    """
    env = os.environ.get(CALLBACK_STORE_ENV, "").strip()
    if env:
        return env if is_postgres_url(env) else Path(env)
    ledger = resolve_ledger_location() if ledger_location is None else ledger_location
    if is_postgres_url(ledger):
        return str(ledger).strip()
    return Path(ledger).with_name(CALLBACK_STORE_FILENAME)


class CallbackStore(CallbackLanding, CallbackReads, Store):
    """Submissions and their callbacks, in one SQLite file or a PostgreSQL database.

    Nothing is opened until the first call; one connection per process, shared by threads
    (the receiver's worker threads) under a lock.

    Example:
        >>> store = CallbackStore("/tmp/callbacks.sqlite")  # doctest: +SKIP
        >>> secret = new_secret()
        >>> store.register_submission("sub-1", secret, "linkedin-extract-people")
        >>> headers = callback_headers("sub-1", secret)  # -> the request's callback.headers
        >>> store.attach_run("sub-1", run_uid)  # once the API answered
        >>> store.land_callback("sub-1", payload)
        'landed'
    """

    _SCHEMA = CALLBACK_SCHEMA
    _SYNCHRONOUS = "FULL"  # a 2xx tells the API to forget the callback: it must survive a power cut

    @classmethod
    def default_location(cls) -> str | Path:
        """`default_callback_store_location()`: the environment's store, else beside the ledger."""
        return default_callback_store_location()

    # ------------------------------------------------------------------ submissions

    def register_submission(
        self,
        submission_id: str,
        secret: str,
        action_id: str,
        *,
        mode: str = "async",
        inputs: int | None = None,
    ) -> None:
        """Record a submission and the hash of its secret, before the API is called.

        Args:
            submission_id: our id of the submission (sent back in `SUBMISSION_HEADER`).
            secret: its secret (`new_secret()`); only its sha256 is stored.
            action_id: the action submitted.
            mode: `async` or `schedule`.
            inputs: how many inputs were submitted, if known.

        Raises:
            ValueError: the id is empty or already registered (a secret is never replaced).

        Example:
            >>> store.register_submission("sub-1", new_secret(), "linkedin-extract-people")  # doctest: +SKIP
        """
        if not submission_id or not secret:
            raise ValueError("a submission needs a non-empty id and secret")
        row = {
            "submission_id": submission_id,
            "secret_sha256": secret_sha256(secret),
            "action_id": action_id,
            "mode": mode,
            "inputs": inputs,
            "created_at": to_iso(utcnow()),
        }
        with self._write() as conn:
            self._lock_keys(conn, f"callbacks:{submission_id}")
            found = conn.execute(
                "SELECT 1 FROM submissions WHERE submission_id = ?", (submission_id,)
            ).fetchone()
            if found is not None:
                raise ValueError(f"submission {submission_id!r} is already registered")
            insert(conn, "submissions", row)

    def attach_run(self, submission_id: str, run_uid: str) -> None:
        """Record the run the API created for a submission (its `run_uid`).

        Callbacks may land before the API's answer does: the run is refused when callbacks of
        another run already landed for the submission.

        Args:
            submission_id: a registered submission.
            run_uid: the run the API answered with.

        Raises:
            KeyError: no such submission.
            WrongRun: the submission already has another run, or callbacks of another run landed.
            ValueError: the submission is a schedule's (`mode="schedule"`): it has a run per
                execution, so none is attached.

        Example:
            >>> store.attach_run("sub-1", "run-1")  # doctest: +SKIP
        """
        with self._write() as conn:
            self._lock_keys(conn, f"callbacks:{submission_id}")
            mode = conn.execute(
                "SELECT mode FROM submissions WHERE submission_id = ?", (submission_id,)
            ).fetchone()
            if mode is not None and mode[0] == SCHEDULE_MODE:
                raise ValueError(
                    f"submission {submission_id!r} is a schedule's: no run is attached"
                )
            other = conn.execute(
                "SELECT run_uid FROM callbacks WHERE submission_id = ? AND run_uid <> ? LIMIT 1",
                (submission_id, run_uid),
            ).fetchone()
            if other is not None:
                raise WrongRun(
                    f"submission {submission_id!r} already landed callbacks of run {other[0]!r}"
                )
            updated = conn.execute(
                "UPDATE submissions SET run_uid = ?, run_attached_at = COALESCE(run_attached_at, ?) "
                "WHERE submission_id = ? AND (run_uid IS NULL OR run_uid = ?)",
                (run_uid, to_iso(utcnow()), submission_id, run_uid),
            ).rowcount
            if updated == 1:
                return
            found = conn.execute(
                "SELECT run_uid FROM submissions WHERE submission_id = ?", (submission_id,)
            ).fetchone()
        if found is None:
            raise KeyError(submission_id)
        raise WrongRun(f"submission {submission_id!r} already has run {found[0]!r}")

    def submission(self, submission_id: str) -> Submission | None:
        """The submission as registered, or None."""
        with self._read() as conn:
            row = conn.execute(
                f"{SELECT_SUBMISSION} WHERE submission_id = ?", (submission_id,)
            ).fetchone()
        return None if row is None else submission_of(row)

    def authenticate(self, submission_id: str, secret: str) -> bool:
        """True when `secret` is the submission's secret (compared in constant time).

        An unknown submission is False too; `submission()` tells the two apart.
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT secret_sha256 FROM submissions WHERE submission_id = ?", (submission_id,)
            ).fetchone()
        stored = _NO_SECRET_SHA256 if row is None else str(row[0])  # the same work either way
        return hmac.compare_digest(stored, secret_sha256(secret)) and row is not None

    # ------------------------------------------------------------------ callbacks

    def callbacks(
        self, submission_id: str | None = None, *, run_uid: str | None = None
    ) -> list[LandedCallback]:
        """The callbacks landed, in the order they first arrived: of a submission, of a run, or
        all."""
        where, args = [], []
        if submission_id is not None:
            where.append("submission_id = ?")
            args.append(submission_id)
        if run_uid is not None:
            where.append("run_uid = ?")
            args.append(run_uid)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._read() as conn:
            rows = conn.execute(
                f"{SELECT_CALLBACK}{clause} ORDER BY received_at, callback_key", args
            ).fetchall()
        return [landed_callback(r) for r in rows]

    def final_status(self, submission_id: str) -> str | None:
        """The status of the latest final callback to arrive, or None before one did.

        This is what arrived, in arrival order: after a resume a run posts a final callback per
        batch, and callbacks may be replayed late. The run's status from the API
        (`GET /runs/{uid}`, `CaptainDataClient.get_run`) is the authority; read this as "the
        callbacks say the run ended", not as the run's settled status.

        Example:
            >>> store.final_status("sub-1")  # doctest: +SKIP
            'SUCCEEDED'
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT status FROM callbacks WHERE submission_id = ? AND kind = ? "
                "ORDER BY received_at DESC, callback_key DESC LIMIT 1",
                (submission_id, FINAL),
            ).fetchone()
        return None if row is None else row[0]

    def ping(self) -> bool:
        """True when the store answers a query (the receiver's health check)."""
        with self._read() as conn:
            conn.execute("SELECT COUNT(*) FROM submissions").fetchone()
        return True
