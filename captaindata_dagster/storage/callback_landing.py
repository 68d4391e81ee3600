"""The callback store's landing: many callbacks committed in one transaction, each checked alone.

The receiver answers 2xx only once a callback is committed, and on SQLite (synchronous=FULL) the
commit's sync to disk is most of what a callback costs. Callbacks that arrive together are
therefore landed together (`land_callbacks`, the receiver's group commit): one transaction, one
sync, and each item still gets its own outcome, as `land_callback` would have given it alone,
in the order given:

- `LANDED` (new, now stored) or `DUPLICATE` (stored before: one more delivery counted);
- `KeyError`: the submission is unknown; `WrongRun`: the callback names another run than the
  submission's (an earlier item of the same batch counts, as if landed just before); any error of
  the payload's identity (`ValueError`, `KeyError`, `TypeError`): that item is refused, the others
  land.

Only a failure of the store itself (`StoreError`) fails the whole batch, and then nothing of it
is committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from captaindata_dagster.storage.callback_identity import callback_identity
from captaindata_dagster.storage.callbacks_schema import CALLBACK_KEYS, DUPLICATE, LANDED
from captaindata_dagster.storage.encoding import dump_json, to_iso, utcnow
from captaindata_dagster.storage.sql import Connection
from captaindata_dagster.storage.store import Store

SCHEDULE_MODE = "schedule"  # a schedule's submission: each of its runs lands under it
_ANY_RUN = object()  # the run rule of a schedule's submission
_UNKNOWN = object()  # the run rule of a submission that is not registered

_ROW_COLUMNS = (
    "submission_id",
    "callback_key",
    "kind",
    "run_uid",
    "batch_uid",
    "status",
    "input_sha256",
    "payload_json",
    "received_at",
    "deliveries",
)
_INSERT = (
    f"INSERT INTO callbacks ({', '.join(_ROW_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_ROW_COLUMNS))}) "
    f"ON CONFLICT ({', '.join(CALLBACK_KEYS)}) DO NOTHING"
)
_COUNT_DELIVERY = (
    "UPDATE callbacks SET deliveries = deliveries + 1 WHERE submission_id = ? AND callback_key = ?"
)
_SUBMISSION_RUN = "SELECT run_uid, mode FROM submissions WHERE submission_id = ?"
_LANDED_RUN = "SELECT run_uid FROM callbacks WHERE submission_id = ? LIMIT 1"


class WrongRun(ValueError):
    """A callback or a run that contradicts the run a submission already has (the receiver's 409).

    An async submission has one run: the one `attach_run` recorded, or, before the API answered,
    the one its first landed callback named. A schedule's (`mode="schedule"`) has a run per
    execution: any of them lands, none is attached.
    """


def _row_of(submission_id: str, payload: Mapping[str, Any]) -> tuple[Any, ...]:
    identity = callback_identity(payload)
    run = payload["run"]
    return (
        submission_id,
        identity.key,
        identity.kind,
        str(run["run_uid"]),
        run.get("batch_uid"),
        run.get("status"),
        identity.input_sha256,
        dump_json(dict(payload)),
        to_iso(utcnow()),
        1,
    )


class CallbackLanding(Store):
    """`land_callbacks` and `land_callback` of the `CallbackStore`."""

    def land_callbacks(
        self, items: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[str | Exception]:
        """Store callbacks once each, all in one transaction: an outcome per item, in order.

        Committed before it returns (the receiver answers each post only then). Each item is
        checked as `land_callback` checks it, and its refusal (an exception, returned in its
        place, not raised) leaves the others landing: see the module's docstring.

        Args:
            items: (an authenticated submission id, its callback body) pairs.

        Returns:
            Per item, `LANDED`, `DUPLICATE`, or the exception refusing it (`KeyError`: unknown
            submission; `WrongRun`; an error of the payload's identity).

        Raises:
            StoreError: the store failed; nothing of the batch was committed.

        Example:
            >>> store.land_callbacks([("sub-1", page), ("sub-1", page), ("nope", page)])  # doctest: +SKIP
            ['landed', 'duplicate', KeyError('nope')]
        """
        outcomes: list[str | Exception] = []
        rows: list[tuple[Any, ...] | None] = []
        for submission_id, payload in items:
            try:
                rows.append(_row_of(submission_id, payload))
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                rows.append(None)
                outcomes.append(err)
            else:
                outcomes.append(LANDED)  # a placeholder, decided in the transaction
        if not any(row is not None for row in rows):
            return outcomes
        with self._write() as conn:
            runs = self._run_rules(conn, {row[0] for row in rows if row is not None})
            for i, row in enumerate(rows):
                if row is None:
                    continue
                refusal = _check_run(runs, row[0], row[3])
                if refusal is not None:
                    outcomes[i] = refusal
                elif conn.execute(_INSERT, row).rowcount == 1:
                    runs[row[0]] = runs[row[0]] or row[3]  # the submission's run from now on
                else:
                    conn.execute(_COUNT_DELIVERY, (row[0], row[1]))
                    outcomes[i] = DUPLICATE
        return outcomes

    def land_callback(self, submission_id: str, payload: Mapping[str, Any]) -> str:
        """Store one callback once: `LANDED` when new, `DUPLICATE` when it was stored before.

        Committed before it returns (the receiver answers 2xx only then). A duplicate only counts
        one more delivery on the stored row. The callback's run is checked in the same
        transaction: it must be the submission's run (`attach_run`), or, before one is attached,
        the run of the callbacks already landed; a schedule's submission takes any run.

        Args:
            submission_id: an authenticated submission.
            payload: the callback body (a dict holding `run.run_uid`).

        Raises:
            KeyError: no such submission.
            WrongRun: the callback names another run than the submission's.

        Example:
            >>> store.land_callback("sub-1", {"run": {"run_uid": "r1", "status": "SUCCEEDED"}})  # doctest: +SKIP
            'landed'
        """
        (outcome,) = self.land_callbacks([(submission_id, payload)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _run_rules(self, conn: Connection, submission_ids: set[str]) -> dict[str, Any]:
        """Inside the landing's transaction: per submission, the run its callbacks must name.

        A run id (attached, or of the callbacks already landed), None (any run, the first landed
        becomes the submission's), `_ANY_RUN` (a schedule's) or `_UNKNOWN`. An attached run never
        changes (`attach_run` updates only a NULL or the same run), so it is read without a lock;
        the submissions without one are locked, all at once in sorted order (no deadlock between
        two batches), so that `attach_run` and the callbacks of two runs cannot both pass.
        """
        rules: dict[str, Any] = {}
        unattached: list[str] = []
        for submission_id in submission_ids:
            rules[submission_id] = found = conn.execute(
                _SUBMISSION_RUN, (submission_id,)
            ).fetchone()
            if found is not None and found[1] != SCHEDULE_MODE and found[0] is None:
                unattached.append(submission_id)
        if unattached:
            self._lock_keys(conn, *(f"callbacks:{s}" for s in sorted(unattached)))
            for submission_id in unattached:
                rules[submission_id] = conn.execute(_SUBMISSION_RUN, (submission_id,)).fetchone()
        for submission_id, found in rules.items():
            if found is None:
                rules[submission_id] = _UNKNOWN
            elif found[1] == SCHEDULE_MODE:
                rules[submission_id] = _ANY_RUN
            elif found[0] is not None:
                rules[submission_id] = found[0]
            else:
                landed = conn.execute(_LANDED_RUN, (submission_id,)).fetchone()
                rules[submission_id] = None if landed is None else landed[0]
        return rules


def _check_run(rules: Mapping[str, Any], submission_id: str, run_uid: str) -> Exception | None:
    """The refusal of a callback of `run_uid` under the submission's run rule, or None."""
    rule = rules[submission_id]
    if rule is _UNKNOWN:
        return KeyError(submission_id)
    if rule is _ANY_RUN or rule is None or rule == run_uid:
        return None
    return WrongRun(f"the callback names run {run_uid!r}, the submission's is {rule!r}")
