"""The ledger's bulk submissions: which inputs were sent to which async run, recorded before sending.

An async run (`run/async`) is paid for by the API as it works through its inputs, and a second
submission of the same inputs is paid for twice. So a step records each submission here, with the
keys of its inputs, BEFORE it calls the API (`record_bulk_submission`, state `sending`), and the
run uid the API answered with right after (`attach_bulk_run`, state `submitted`). A step retried,
relaunched or run again while the submission is open (`sending` or `submitted`) finds its inputs
here and waits for that run instead of submitting them again.

A submission ends in one of two states:

- `closed`: its run ended and what its callbacks brought was landed in the ledger's entries; its
  inputs are free again (an input without an outcome became a retryable error: the next run
  submits it again).
- `not_sent`: the API surely did nothing with it (the request was refused before it reached the
  API, or refused by the API with a 4xx): its inputs are free again.

A `sending` submission without a run uid is one whose answer was lost: it may exist. It stays open
until its run is found (by its callbacks, or in `GET /runs` by its callback URL) or a person
releases it (`release_bulk_submission`, the `captaindata-dagster runs release` command).

The table is new beside the older ones (the ledger never changes an old table): ledgers written
before it open with no migration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from captaindata_dagster.storage.encoding import dump_json, load_json, to_iso, utcnow
from captaindata_dagster.storage.error_fields import NO_ERROR
from captaindata_dagster.storage.ledger_bulk_records import (
    CLOSED,
    NOT_SENT,
    SELECT_BULK_SUBMISSION,
    SENDING,
    SUBMITTED,
    BulkOutcome,
    BulkSubmissionRecord,
    read_bulk_submission,
)
from captaindata_dagster.storage.ledger_records import STATUS_ERROR, STATUS_OK
from captaindata_dagster.storage.ledger_schema import ENTRY_KEYS, entry_row
from captaindata_dagster.storage.ledger_writes import drop_pages, key_lock
from captaindata_dagster.storage.sql import Connection, insert, update, upsert
from captaindata_dagster.storage.store import Store


def _held_keys(conn: Connection, action_id: str) -> set[str]:
    """The input keys the open submissions of an action hold."""
    rows = conn.execute(
        f"SELECT input_keys_json FROM bulk_submissions WHERE action_id = ? AND state IN "
        f"('{SENDING}', '{SUBMITTED}')",
        (action_id,),
    ).fetchall()
    return {k for r in rows for k in load_json(r[0]) or ()}


def _add_waiter(conn: Connection, submission_id: str, origin: Mapping[str, Any]) -> None:
    """`origin` waits for the submission to land (an origin naming no asset waits for nothing)."""
    if not origin.get("asset_key"):
        return
    row = {
        "submission_id": submission_id,
        "asset_key": str(origin["asset_key"]),
        "partition_key": str(origin.get("partition_key") or ""),
    }
    upsert(conn, "bulk_waiters", row, ("submission_id", "asset_key", "partition_key"))


class LedgerBulk(Store):
    """The bulk submissions of the `Ledger` (see the module docstring)."""

    def record_bulk_submission(
        self,
        submission_id: str,
        action_id: str,
        input_keys: Sequence[str],
        *,
        parameters: Mapping[str, Any] | None = None,
        max_results: int | None = None,
        origin: Mapping[str, Any] | None = None,
    ) -> tuple[str, ...]:
        """Record a submission in state `sending`, before the API is called; the keys it took.

        Two steps may submit at once inputs they share (two partitions naming one person): the
        submissions of an action are recorded one at a time (a lock per action), and a key an
        open submission already holds is left out of this one, so no input is sent twice. The
        caller submits only the keys returned (none: nothing is recorded) and waits for the
        other submission for the rest.

        Args:
            submission_id: our id of the submission (the callback store's too).
            action_id: the action submitted.
            input_keys: the ledger keys of its inputs.
            parameters: the action's options, as sent.
            max_results: a search's cap, as sent.
            origin: what asked for it (asset key and partition), for the landing sensor.

        Raises:
            ValueError: the id is already recorded.

        Example:
            >>> ledger.record_bulk_submission("sub-1", "linkedin-extract-people", keys)  # doctest: +SKIP
            ('k1', 'k2')
        """
        now = to_iso(utcnow())
        row = {
            "submission_id": submission_id,
            "action_id": action_id,
            "state": SENDING,
            "run_uid": None,
            "input_keys_json": dump_json(list(input_keys)),
            "parameters_json": dump_json(None if parameters is None else dict(parameters)),
            "max_results": max_results,
            "origin_json": dump_json(None if origin is None else dict(origin)),
            "run_status": None,
            "last_error_label": None,
            "created_at": now,
            "updated_at": now,
        }
        with self._write() as conn:
            self._lock_keys(conn, f"captaindata:bulk:{action_id}")
            found = conn.execute(
                "SELECT 1 FROM bulk_submissions WHERE submission_id = ?", (submission_id,)
            ).fetchone()
            if found is not None:
                raise ValueError(f"bulk submission {submission_id!r} is already recorded")
            held = _held_keys(conn, action_id)
            taken = tuple(k for k in dict.fromkeys(input_keys) if k not in held)
            if not taken:
                return ()
            insert(conn, "bulk_submissions", {**row, "input_keys_json": dump_json(list(taken))})
            if origin is not None:
                _add_waiter(conn, submission_id, origin)
        return taken

    def add_bulk_waiter(self, submission_ids: Sequence[str], origin: Mapping[str, Any]) -> None:
        """`origin` (asset key, partition) waits for these submissions to land too.

        Args:
            submission_ids: open submissions holding some of the origin's inputs.
            origin: `{"asset_key": ..., "partition_key": ...}` of a deferred step.
        """
        with self._write() as conn:
            for submission_id in submission_ids:
                _add_waiter(conn, submission_id, origin)

    def open_bulk_waiters(self) -> list[tuple[BulkSubmissionRecord, dict[str, Any]]]:
        """Each open submission with each origin waiting for it (see `add_bulk_waiter`)."""
        with self._read() as conn:
            waiters = conn.execute(
                "SELECT submission_id, asset_key, partition_key FROM bulk_waiters"
            ).fetchall()
        records = {r.submission_id: r for r in self.bulk_submissions(open_only=True)}
        return [
            (records[w[0]], {"asset_key": w[1], "partition_key": w[2] or None})
            for w in waiters
            if w[0] in records
        ]

    def attach_bulk_run(self, submission_id: str, run_uid: str) -> None:
        """The API answered with `run_uid`: the submission is `submitted` (if it was open).

        Args:
            submission_id: the submission.
            run_uid: the run the API created for it.

        Example:
            >>> ledger.attach_bulk_run("sub-1", run.uid)  # doctest: +SKIP
        """
        self._set(
            submission_id,
            {"run_uid": run_uid, "state": SUBMITTED},
            f"state IN ('{SENDING}', '{SUBMITTED}')",
        )

    def note_bulk_run_status(
        self, submission_id: str, run_status: str | None, last_error_label: str | None
    ) -> None:
        """Keep the run's status and last error label as last seen (the state is unchanged).

        Args:
            submission_id: the submission.
            run_status: its run's status (`GET /runs/{uid}`).
            last_error_label: its run's `last_error` label, if any.

        Example:
            >>> ledger.note_bulk_run_status("sub-1", "BLOCKED", "LIMIT_REACHED")  # doctest: +SKIP
        """
        self._set(submission_id, {"run_status": run_status, "last_error_label": last_error_label})

    def close_bulk_submission(
        self, submission_id: str, run_status: str | None, last_error_label: str | None = None
    ) -> None:
        """The run ended and its outcomes were landed: the submission's inputs are free again.

        Args:
            submission_id: the submission.
            run_status: its run's final status.
            last_error_label: its run's `last_error` label, if any.

        Example:
            >>> ledger.close_bulk_submission("sub-1", "SUCCEEDED")  # doctest: +SKIP
        """
        self._set(
            submission_id,
            {"state": CLOSED, "run_status": run_status, "last_error_label": last_error_label},
        )

    def mark_bulk_not_sent(self, submission_id: str) -> None:
        """The API surely did nothing with the submission: its inputs are free again.

        Args:
            submission_id: a submission still `sending`.

        Example:
            >>> ledger.mark_bulk_not_sent("sub-1")  # doctest: +SKIP
        """
        self._set(submission_id, {"state": NOT_SENT}, f"state = '{SENDING}'")

    def release_bulk_submission(self, submission_id: str) -> BulkSubmissionRecord:
        """A person's decision: forget an open submission, so its inputs may be submitted again.

        For a submission whose answer was lost and whose run cannot be found, or a run a person
        will not resume. Callbacks of its run that land later are kept in the callback store but
        no longer landed by a step.

        Args:
            submission_id: the submission.

        Raises:
            KeyError: no such submission.

        Example:
            >>> ledger.release_bulk_submission("sub-1").state  # doctest: +SKIP
            'not_sent'
        """
        record = self.bulk_submission(submission_id)
        if record is None:
            raise KeyError(submission_id)
        if record.is_open:
            self._set(submission_id, {"state": NOT_SENT if record.run_uid is None else CLOSED})
        found = self.bulk_submission(submission_id)
        assert found is not None
        return found

    def land_bulk_outcomes(
        self,
        action_id: str,
        outcomes: Sequence[BulkOutcome],
        *,
        parameters: Mapping[str, Any] | None = None,
        max_results: int | None = None,
    ) -> None:
        """Write the outcomes of an async run's inputs as entries, in one transaction.

        What a live call's `save_result` / `save_error` write, for many inputs at once: a run of
        100,000 inputs lands in a few hundred commits instead of 100,000. An outcome replaces
        whatever its key held (a stored search walk included).

        Args:
            action_id: the action.
            outcomes: one per input.
            parameters: the action's options, as submitted.
            max_results: a search's cap, as submitted.
        """
        if not outcomes:
            return
        with self._write() as conn:
            self._lock_keys(conn, *(key_lock(action_id, o.key) for o in outcomes))
            for o in outcomes:
                at = to_iso(o.at)
                drop_pages(conn, action_id, o.key)
                row = entry_row(
                    action_id,
                    o.key,
                    status=STATUS_OK if o.error is None else STATUS_ERROR,
                    complete=o.error is None,
                    call=(o.input, parameters, max_results),
                    results=None if o.error is not None else list(o.results or []),
                    walk=(1 if o.error is None else 0, None, at),
                    fetched_at=at,
                    spent=(o.credits, 1),
                    error=NO_ERROR if o.error is None else o.error,
                )
                upsert(conn, "entries", row, ENTRY_KEYS)
                conn.execute(
                    "DELETE FROM error_users WHERE action_id = ? AND input_key = ?",
                    (action_id, o.key),
                )

    def bulk_submission(self, submission_id: str) -> BulkSubmissionRecord | None:
        """One submission by id, or None.

        Args:
            submission_id: the submission.

        Example:
            >>> ledger.bulk_submission("sub-1").state  # doctest: +SKIP
            'submitted'
        """
        with self._read() as conn:
            row = conn.execute(
                f"{SELECT_BULK_SUBMISSION} WHERE submission_id = ?", (submission_id,)
            ).fetchone()
        return None if row is None else read_bulk_submission(row)

    def bulk_submissions(
        self, action_id: str | None = None, *, open_only: bool = False
    ) -> list[BulkSubmissionRecord]:
        """The submissions (of one action; only the open ones), oldest first.

        Args:
            action_id: only this action's (None: every action's).
            open_only: only those `sending` or `submitted`.

        Example:
            >>> [r.run_uid for r in ledger.bulk_submissions(open_only=True)]  # doctest: +SKIP
        """
        clauses, args = [], []
        if action_id is not None:
            clauses.append("action_id = ?")
            args.append(action_id)
        if open_only:
            clauses.append(f"state IN ('{SENDING}', '{SUBMITTED}')")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read() as conn:
            rows = conn.execute(
                f"{SELECT_BULK_SUBMISSION}{where} ORDER BY created_at, submission_id", args
            ).fetchall()
        return [read_bulk_submission(r) for r in rows]

    def _set(self, submission_id: str, values: Mapping[str, Any], condition: str = "") -> None:
        where = "submission_id = ?" + (f" AND {condition}" if condition else "")
        with self._write() as conn:
            update(
                conn,
                "bulk_submissions",
                {**values, "updated_at": to_iso(utcnow())},
                where,
                [submission_id],
            )
