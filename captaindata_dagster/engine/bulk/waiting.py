"""Waiting for async runs: their callbacks landed as they come, their status asked at a modest pace.

Per submission, each `poll_s`: its new callbacks are landed (a local read of the store, no API
call). Its run's status (`GET /runs/{uid}`, the authority) is asked every `run_check_s` while no
final callback came; once one did, at once, then at most every `final_check_s` (the API's status
may lag its callback by a moment): a run of 100,000 inputs costs a handful of status calls, not
one per callback.

A run is done waiting for when it ended (SUCCEEDED, PARTIAL_SUCCEEDED, FAILED, INVALID) or halted
(BLOCKED, STOPPED: only a resume carries it on, which a person decides). An ended run's FAILED
callbacks (the receiver was down when the API posted them) are replayed, and waited for up to
`replay_wait_s`. Then `SubmissionLanding.finish` gives every input its outcome; while replays
still fail (the receiver is unreachable), the run's inputs without a callback stay its own (the
next batch replays them again) instead of being submitted and paid for twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from captaindata_dagster.api.bulk_records import RunInfo
from captaindata_dagster.api.bulk_statuses import HALTED_RUN_STATUSES, SUBMISSION_UNKNOWN
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.engine.bulk.landing import SubmissionLanding
from captaindata_dagster.engine.bulk.submissions import BulkCall, find_run

DONE_WAITING = HALTED_RUN_STATUSES | {SUBMISSION_UNKNOWN}  # with the ended ones


@dataclass
class _Watch:
    landing: SubmissionLanding
    checked_at: float | None = None
    final_came: bool = False  # a final callback is in the store
    checked_since_final: bool = False  # the status was asked since it came


def wait_for_runs(
    call: BulkCall, landings: list[SubmissionLanding], held: frozenset[str] = frozenset()
) -> dict[str, RunInfo]:
    """Wait for the submissions' runs (see the module docstring); their runs once done with.

    Without `defer`, every run is waited for; with it, only the runs of `held` submissions
    when `wait_for_held` is set (a landing run: they have ended, or nearly), the others looked
    at once. A submission absent from the answer is still pending: not waited for, or
    `max_wait_s` ran out.

    Args:
        call: the batch's client, action, ledger and settings.
        landings: one per submission the batch waits for.
        held: the submissions that existed before this batch submitted anything.

    Example:
        >>> runs = wait_for_runs(call, landings)  # doctest: +SKIP
        >>> {uid: run.status for uid, run in runs.items()}  # doctest: +SKIP
        {'5f0c...': 'SUCCEEDED'}
    """
    bulk = call.bulk
    started = bulk.clock()
    pending = {ld.submission_id: _Watch(ld) for ld in landings}
    must = set(pending) if not bulk.defer else (set(held) if bulk.wait_for_held else set())
    done: dict[str, RunInfo] = {}
    while pending:
        for sub_id, watch in list(pending.items()):
            watch.landing.poll()
            run = _check(call, watch)
            if run is not None and (run.ended or run.status in DONE_WAITING):
                done[sub_id] = run
                del pending[sub_id]
        out_of_time = bulk.max_wait_s is not None and bulk.clock() - started >= bulk.max_wait_s
        if not (must & pending.keys()) or out_of_time:
            break
        bulk.sleep(bulk.poll_s)
    for sub_id, run in done.items():
        landing = next(ld for ld in landings if ld.submission_id == sub_id)
        undelivered = _replay_failed(call, landing, run) if run.ended else 0
        landing.finish(run, undelivered)
    return done


def _check(call: BulkCall, watch: _Watch) -> RunInfo | None:
    """The run's status when it is due to be asked, else None."""
    bulk, record = call.bulk, watch.landing.record
    now = bulk.clock()
    if not watch.final_came:
        watch.final_came = bulk.store.final_status(record.submission_id) is not None
    every = bulk.final_check_s if watch.final_came else bulk.run_check_s
    # the first look after the final callback came is not held back by the look before it
    due = watch.checked_at is None or now - watch.checked_at >= every
    if not due and not (watch.final_came and not watch.checked_since_final):
        return None
    watch.checked_since_final = watch.final_came
    watch.checked_at = now
    run_uid = record.run_uid or find_run(call, record)
    if run_uid is None:
        return _not_found(call, record.submission_id)
    if record.run_uid is None:
        refreshed = call.ledger.bulk_submission(record.submission_id)
        if refreshed is not None:
            watch.landing.record = refreshed
    run = call.client.get_run(run_uid)
    call.ledger.note_bulk_run_status(record.submission_id, run.status, run.last_error_label)
    return run


def _not_found(call: BulkCall, submission_id: str) -> RunInfo:
    """A stand-in run for a submission whose answer was lost and whose run is nowhere (yet): its
    inputs stay the submission's (never resent) until the run shows up or a person releases it."""
    return RunInfo(
        uid=submission_id,
        status=SUBMISSION_UNKNOWN,
        action_name=call.act.id,
        execution_mode="ASYNC",
        last_error_label=SUBMISSION_UNKNOWN,
        last_error_message=(
            f"the answer to submission {submission_id} was lost and no run names it yet; if none "
            f"appears in `captaindata-dagster runs list --action {call.act.id}`, release it with "
            f"`captaindata-dagster runs release {submission_id}`"
        ),
    )


def _replay_failed(call: BulkCall, landing: SubmissionLanding, run: RunInfo) -> int:
    """Ask the API to deliver the run's FAILED callbacks again, land them as they come; how many
    replays did not reach the receiver within `replay_wait_s` (it is still unreachable).

    Whether a replay got through is its own status (the replay answer's, then
    `GET /runs/callbacks/{uid}` while it is pending), not what lands: a replay of a callback
    already landed (an earlier batch replayed it) is answered as a duplicate and lands nothing
    new, yet it was delivered. A replay that failed is itself a FAILED callback naming the one it
    replayed (`parent_uid`): only the latest of each chain is replayed again.
    """
    failed = failed_callbacks(call.client, run.uid)
    if not failed:
        return 0
    call.log.warning(
        "%s: async run %s ended with %d callback(s) the receiver did not take: replaying them",
        call.act.id,
        run.uid,
        len(failed),
    )
    replays = {c.uid: c.status for c in (call.client.replay_callback(uid) for uid in failed)}
    bulk = call.bulk
    started = bulk.clock()
    while True:
        landing.poll()
        waiting = [uid for uid, status in replays.items() if status not in _SETTLED]
        if not waiting or bulk.clock() - started >= bulk.replay_wait_s:
            break
        bulk.sleep(max(bulk.poll_s, bulk.final_check_s))
        for uid in waiting:
            replays[uid] = call.client.get_callback(uid).status
    return sum(1 for status in replays.values() if status != "SUCCESS")


_SETTLED = frozenset({"SUCCESS", "FAILED"})


def failed_callbacks(client: CaptainDataClient, run_uid: str) -> list[str]:
    """The uids of a run's FAILED callbacks that no later FAILED delivery replayed: what to
    replay (the engine after a run ended; `captaindata-dagster runs replay`).

    Args:
        client: the client.
        run_uid: the run.

    Example:
        >>> [client.replay_callback(uid) for uid in failed_callbacks(client, run_uid)]  # doctest: +SKIP
    """
    failed = list(client.iter_callbacks(run_uid=run_uid, status="FAILED"))
    replayed = {c.parent_uid for c in failed if c.parent_uid}
    return [c.uid for c in failed if c.uid not in replayed]
