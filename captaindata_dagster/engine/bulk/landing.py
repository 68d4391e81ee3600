"""Landing what an async run's callbacks bring: into the ledger, then the batch's frames.

The receiver stores each callback (`CallbackStore`); a step waiting on the run reads them as they
come (`SubmissionLanding.poll`) and lands each input's outcome in the ledger in one transaction
per chunk of callbacks read (`Ledger.land_bulk_outcomes`), so a step killed while waiting keeps what it landed and its
relaunch takes those inputs from the ledger as fresh. An object action's input is one callback, so
it lands at once; a search's pages have no page number, so its results are gathered and land when
the run has ended (`finish`).

At the end (`finish`), every input of the submission has an outcome:

- its results, or the error its callback carried (a retryable one is tried again next run, as in
  live mode);
- a search is landed once its run ended, as a whole walk; a run that ended short (FAILED) may
  have stopped in the middle of the last search it brought pages of: that one is not landed (as
  if no callback came for it, below), the next run walks it again;
- the run ended but no callback came for it, even after the FAILED ones were replayed: the run's
  `last_error` label (a FAILED run's reason), else `NO_CALLBACK`; retryable either way (the next
  run submits it again);
- the run is halted (BLOCKED, STOPPED): an error row with the run's `last_error` label (else
  `RUN_BLOCKED` / `RUN_STOPPED`) and the resume command, kept out of the ledger: the input still
  belongs to the run, which a resume carries on;
- the run ended but its callbacks still fail to reach the receiver after a replay:
  `CALLBACK_FAILED`, kept out of the ledger too (the next batch replays them again).

Inputs of the submission that are not this batch's (another partition submitted them) land in the
ledger and not in this batch's frames.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from captaindata_dagster.api.bulk_records import RunInfo
from captaindata_dagster.api.bulk_statuses import SUBMISSION_UNKNOWN
from captaindata_dagster.api.catalog import CUSTOM_DATA
from captaindata_dagster.api.errors import error_from_response
from captaindata_dagster.api.labels import meaning
from captaindata_dagster.api.request_body import bills_managed
from captaindata_dagster.engine.batch.inputs import BatchItem, prepare_input
from captaindata_dagster.engine.batch.outcomes import BatchOutcomes, cap_results, error_fields
from captaindata_dagster.engine.bulk.submissions import INPUT_KEY_FIELD, BulkCall
from captaindata_dagster.storage.callback_identity import PAGE
from captaindata_dagster.storage.callbacks import LandedCallback
from captaindata_dagster.storage.error_fields import ErrorFields, error_fields_of_envelope
from captaindata_dagster.storage.ledger import BulkSubmissionRecord
from captaindata_dagster.storage.ledger_bulk_records import BulkOutcome

READ_CHUNK = 2000  # callbacks read (payloads parsed) at a time by a poll
NO_CALLBACK = "NO_CALLBACK"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_WHOLE_WALKS = frozenset({"SUCCEEDED", "PARTIAL_SUCCEEDED"})  # each input was done to its end
CALLBACK_FAILED = "CALLBACK_FAILED"


@dataclass
class _Gathered:
    """A search's pages gathered until its run ends (its results, or the error it met)."""

    pages: list[tuple[datetime, str, list[dict[str, Any]]]] = field(default_factory=list)
    error: Mapping[str, Any] | None = None
    at: datetime | None = None

    @property
    def results(self) -> list[dict[str, Any]]:
        """Every page's results, in the order the pages arrived."""
        return [r for _, _, page in sorted(self.pages, key=lambda p: p[:2]) for r in page]


class SubmissionLanding:
    """The callbacks of one submission landed as they come, each once (module docstring)."""

    def __init__(
        self,
        call: BulkCall,
        record: BulkSubmissionRecord,
        items: Mapping[str, BatchItem],
        outcomes: BatchOutcomes,
        fresh: AbstractSet[str] = frozenset(),
    ) -> None:
        self.call = call
        self.record = record
        self.items = items  # this batch's inputs by key
        self.outcomes = outcomes
        self.keys = frozenset(record.input_keys)
        self.read: set[str] = set()  # callback keys read
        # input keys with an outcome in the ledger: those this batch found fresh there were
        # landed by an earlier batch (a relaunch): not written, nor counted, again
        self.landed: set[str] = set(self.keys & fresh)
        self.gathered: dict[str, _Gathered] = {}
        self.closable = False  # `finish` found every input an outcome: the submission may close
        self.credits = 0.0  # what this batch's own inputs landed here were billed
        self.managed = bills_managed(call.act, call.client.account_form, call.client.identity_mode)

    @property
    def submission_id(self) -> str:
        return self.record.submission_id

    def poll(self) -> int:
        """Land the callbacks stored since the last poll; how many new ones were read.

        The store's keys (its primary-key index, no payload read) are compared with the keys
        already read, whatever order the receiver's threads committed them in; only the new
        ones' payloads are read, `READ_CHUNK` at a time, so memory stays bounded even when a
        relaunched step finds a whole run's callbacks waiting.
        """
        if self.record.run_uid is None:  # a lost answer: its run is not known yet (`find_run`)
            return 0  # nothing is marked read before it is (a callback is matched to the run)
        store = self.call.bulk.store
        fresh = sorted(store.callback_keys(self.submission_id) - self.read)
        taken = 0
        for start in range(0, len(fresh), READ_CHUNK):
            found = store.callbacks_by_key(self.submission_id, fresh[start : start + READ_CHUNK])
            taken += len(found)
            self._take(found)
        return taken

    def finish(self, run: RunInfo, undelivered: int = 0) -> None:
        """Land the rest once the run ended or halted: see the module docstring.

        Args:
            run: the run as last seen.
            undelivered: callbacks of the ended run the receiver still did not take after their
                replay: the inputs without an outcome stay the run's (replayed next batch).
        """
        self.poll()  # what came since the last poll
        now = datetime.now(timezone.utc)
        ended = run.ended and not undelivered
        self.closable = ended
        cut = self._cut_walk(run) if ended else None
        out: list[BulkOutcome] = []
        for key in self.record.input_keys:
            if key in self.landed:
                continue
            got = self.gathered.pop(key, None) if ended else None
            if got is not None and key != cut:
                out.append(self._outcome(key, got.results, got.error, got.at or now))
            elif ended:
                fields = _no_callback(run)
                out.append(BulkOutcome(key, _input_of(self.items.get(key)), None, fields, 0.0, now))
            elif key in self.items:  # halted, or callbacks undelivered: still the run's
                error = _undelivered(run, undelivered) if undelivered else _halted(run)
                self.outcomes.record_error(self.items[key], error, now, False)
        self._land(out)

    def _cut_walk(self, run: RunInfo) -> str | None:
        """The search a run that ended short (FAILED, INVALID) may have stopped in the middle of:
        the last one it brought a page of. Its pages are not landed as a whole walk (the next run
        walks it again); every other search of the run was walked to its end.

        Not ended (halted, or callbacks still undelivered), no search is landed at all: its
        pages stay in the store, and the batch that lands the run once it ends gathers them.
        """
        if run.status in _WHOLE_WALKS or not self.gathered:
            return None
        return max(self.gathered, key=lambda k: self.gathered[k].at or _EPOCH)

    def forget(self) -> None:
        """Drop the bookkeeping of what was read and landed (the stats were taken): the batch's
        frames are built next, and a run of 100,000 inputs holds some 40 MB of keys here."""
        self.read.clear()
        self.landed.clear()
        self.gathered.clear()
        self.keys = frozenset()
        self.record = replace(self.record, input_keys=())

    @property
    def waiting(self) -> int:
        """This batch's inputs of the submission without an outcome yet."""
        return sum(1 for k in self.keys if k not in self.landed and k in self.items)

    def _take(self, callbacks: list[LandedCallback]) -> None:
        out: list[BulkOutcome] = []
        for c in callbacks:
            self.read.add(c.callback_key)
            if c.kind != PAGE or c.run_uid != self.record.run_uid:
                continue
            key = self._key_of(c.payload)
            if key is None or key in self.landed:
                continue
            error = c.payload.get("error") or None
            results = list(c.payload.get("results") or [])
            if self.call.act.is_list:  # pages: gathered until the run ends
                got = self.gathered.setdefault(key, _Gathered())
                got.pages.append((c.received_at, c.callback_key, results))
                got.error = got.error or error
                got.at = c.received_at if got.at is None else max(got.at, c.received_at)
            else:
                out.append(self._outcome(key, results, error, c.received_at))
        self._land(out)

    def _key_of(self, payload: Mapping[str, Any]) -> str | None:
        """The input's ledger key: as submitted in `custom_data`, else computed from the echo."""
        given = payload.get("input")
        custom = given.get(CUSTOM_DATA) if isinstance(given, Mapping) else None
        key = custom.get(INPUT_KEY_FIELD) if isinstance(custom, Mapping) else None
        if not isinstance(key, str):
            item, _ = prepare_input(
                self.call.act, given, self.call.parameters, self.call.max_results, 0
            )
            key = item.key
        if key not in self.keys:
            self.call.log.warning(
                "%s: a callback of submission %s names an input it did not submit; ignored",
                self.call.act.id,
                self.submission_id,
            )
            return None
        return key

    def _outcome(
        self,
        key: str,
        results: list[dict[str, Any]] | None,
        error: Mapping[str, Any] | None,
        at: datetime,
    ) -> BulkOutcome:
        if error is not None and not (self.call.act.is_list and results):
            fields = _error_fields(self.call.act.id, error)
            return BulkOutcome(key, _input_of(self.items.get(key)), None, fields, 0.0, at)
        results = list(results or [])
        billed = self.call.act.credits_for(len(results), managed=self.managed)
        return BulkOutcome(key, _input_of(self.items.get(key)), results, None, billed, at)

    def _land(self, out: list[BulkOutcome]) -> None:
        if not out:
            return
        self.call.ledger.land_bulk_outcomes(
            self.call.act.id,
            out,
            parameters=self.call.parameters,
            max_results=self.call.max_results,
        )
        for o in out:
            self.landed.add(o.key)
            item = self.items.get(o.key)
            if item is None:  # another partition's input: in the ledger, not in these frames
                continue
            self.credits += o.credits
            if o.error is None:
                rows = cap_results(o.results or [], self.call.max_results)
                self.outcomes.record_ok(item, rows, o.at, False)
            else:
                self.outcomes.record_error(
                    item, {**o.error.envelope(), "user_uid": None}, o.at, False
                )


def _input_of(item: BatchItem | None) -> Any:
    return None if item is None else item.input


def _error_fields(action_id: str, error: Mapping[str, Any]) -> ErrorFields:
    """A callback's error as the ledger keeps it, retryable as a live answer would be."""
    status = error.get("status_code")
    if isinstance(status, int) and status >= 400:
        err = error_from_response(status, json.dumps(dict(error)), action_id=action_id)
        return ErrorFields(**error_fields_of_envelope(error_fields(err), err.retryable))
    return ErrorFields(**error_fields_of_envelope(error, meaning(error.get("error_label")).rerun))


def _no_callback(run: RunInfo) -> ErrorFields:
    """The error of an input an ended run brought no callback for: the run's `last_error` label
    when it has one (a FAILED run says why), else `NO_CALLBACK`; always retryable (the input never
    had an outcome, so the next run submits it again)."""
    reason = f" ({run.last_error_label}: {run.last_error_message})" if run.last_error_label else ""
    return ErrorFields(
        error_label=run.last_error_label or NO_CALLBACK,
        error_message=f"async run {run.uid} ended {run.status}{reason} without a callback for "
        "this input, even after replaying the FAILED ones; the next run submits it again",
        retryable=True,
    )


def _undelivered(run: RunInfo, undelivered: int) -> dict[str, Any]:
    return {
        "error_label": CALLBACK_FAILED,
        "error_scope": None,
        "error_ref": None,
        "message": f"async run {run.uid} ended {run.status}, but {undelivered} of its callbacks "
        "failed to reach the receiver, even replayed: check that the receiver answers at its "
        "public URL; the next materialization replays them (nothing is submitted again)",
        "status_code": None,
        "retryable": True,
        "user_uid": None,
    }


def _halted(run: RunInfo) -> dict[str, Any]:
    label = run.last_error_label or f"RUN_{run.status}"
    if label == SUBMISSION_UNKNOWN:
        message = run.last_error_message
    else:
        why = f": {run.last_error_message}" if run.last_error_message else ""
        message = (
            f"async run {run.uid} is {run.status}{why}. Fix the cause, then resume it "
            f"(captaindata-dagster runs resume {run.uid}); the next materialization lands the rest"
        )
    return {
        "error_label": label,
        "error_scope": None,
        "error_ref": None,
        "message": message,
        "status_code": None,
        "retryable": True,
        "user_uid": None,
    }
