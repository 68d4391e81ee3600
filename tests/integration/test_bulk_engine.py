"""The engine's async mode end to end on loopback: submit, callbacks through a real receiver, land.

The simulator processes each async run in the background and POSTs its callbacks to a real
`ReceiverServer`, which lands them in a SQLite callback store; `run_bulk_batch` waits reading that
store and `GET /runs`, and lands every input in the ledger and the frames. Waits poll quickly
(`poll_s`); nothing asserts a duration.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from captaindata_dagster.api import CaptainDataClient
from captaindata_dagster.api.bulk import SubmissionOutcomeUnknownError
from captaindata_dagster.engine.bulk import BulkSettings, run_bulk_batch
from captaindata_dagster.engine.bulk.submissions import INPUT_KEY_FIELD, callback_url_for
from captaindata_dagster.receiver import ReceiverServer, ReceiverSettings
from captaindata_dagster.simulator import Simulator, run_simulator
from captaindata_dagster.storage.callbacks import CallbackStore
from captaindata_dagster.storage.ledger import Ledger
from tests.helpers import wait_until

ACTION = "linkedin-extract-people"


def urls(n: int, offset: int = 0) -> list[str]:
    return [f"https://www.linkedin.com/in/person-{i}" for i in range(offset, offset + n)]


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite") as led:
        yield led


def settings(receiver: ReceiverServer, store: CallbackStore, **kw: Any) -> BulkSettings:
    fast = {"poll_s": 0.01, "run_check_s": 0.05, "final_check_s": 0.0, "replay_wait_s": 10.0}
    return BulkSettings(callback_url=receiver.callback_url, store=store, **{**fast, **kw})


def client_of(sim: Simulator) -> CaptainDataClient:
    return CaptainDataClient(sim.api_key, sim.base_url, max_retries=2)


def async_submissions(sim: Simulator) -> list[Any]:
    return [c for c in sim.calls() if c.path.endswith("/run/async") and c.method == "POST"
            and c.body is not None and "inputs" in (c.body or {})]  # fmt: skip


def test_every_input_lands_once_in_the_ledger_and_the_frames(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    with run_simulator(seed=3, callback_backoff_s=0.0) as sim:
        client = client_of(sim)
        result = run_bulk_batch(
            client, ACTION, urls(7), bulk=settings(receiver, store, chunk_size=3), ledger=ledger
        )
        stats = result.stats
        assert stats.mode == "async" and stats.submitted == 7 and stats.pending == 0
        assert len(stats.bulk_runs) == 3  # ceil(7 / 3) runs
        assert set(stats.bulk_runs.values()) == {"SUCCEEDED"}
        assert sorted(result.results["_input"]) == sorted(urls(7))
        assert result.errors.empty and stats.succeeded == 7
        assert stats.credits == sim.credits_used == 7
        assert all(ledger.fresh(ACTION, e.input_key) for e in ledger.entries(ACTION))
        assert len(ledger.entries(ACTION)) == 7
        assert [r.state for r in ledger.bulk_submissions(ACTION)] == ["closed"] * 3

        # the same inputs again: all fresh, nothing submitted, nothing billed
        again = run_bulk_batch(
            client, ACTION, urls(7), bulk=settings(receiver, store), ledger=ledger
        )
        assert again.stats.submitted == 0 and again.stats.skipped_fresh == 7
        assert sim.credits_used == 7 and len(again.results) == 7


def test_each_input_carries_its_ledger_key_and_the_url_names_the_submission(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    with run_simulator(seed=3, callback_backoff_s=0.0) as sim:
        run_bulk_batch(
            client_of(sim), ACTION, urls(2), bulk=settings(receiver, store), ledger=ledger
        )
        (record,) = ledger.bulk_submissions(ACTION)
        run = client_of(sim).get_run(record.run_uid or "")
        assert run.callback_url == callback_url_for(receiver.callback_url, record.submission_id)
        keys = {
            c.payload["input"]["custom_data"][INPUT_KEY_FIELD]
            for c in store.callbacks(record.submission_id)
            if c.kind == "page"
        }
        assert keys == set(record.input_keys)


def test_defer_returns_at_submission_and_a_later_batch_lands_without_resubmitting(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    with run_simulator(seed=3, callback_backoff_s=0.0, latency_ms=30) as sim:
        client = client_of(sim)
        first = run_bulk_batch(
            client, ACTION, urls(4), bulk=settings(receiver, store, defer=True), ledger=ledger
        )
        assert first.stats.submitted == 4
        assert first.stats.pending + first.stats.succeeded == 4
        (record,) = ledger.bulk_submissions(ACTION)
        assert record.state == "submitted" and record.run_uid is not None

        later = run_bulk_batch(
            client, ACTION, urls(4), bulk=settings(receiver, store), ledger=ledger
        )
        assert later.stats.submitted == 0 and later.stats.pending == 0
        assert sorted(later.results["_input"]) == sorted(urls(4))
        assert sim.credits_used == 4
        assert len(async_submissions(sim)) == 1
        assert ledger.bulk_submission(record.submission_id).state == "closed"  # type: ignore[union-attr]


def test_a_lost_answer_is_never_resubmitted_and_its_run_is_found_by_its_url(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with run_simulator(seed=3, callback_backoff_s=0.0) as sim:
        client = client_of(sim)
        real = client.run_async

        def lost(*args: Any, **kwargs: Any) -> Any:
            real(*args, **kwargs)  # the API queued it; the answer never came back
            raise SubmissionOutcomeUnknownError("the answer was lost", error_label="TIMEOUT")

        monkeypatch.setattr(client, "run_async", lost)
        result = run_bulk_batch(
            client, ACTION, urls(3), bulk=settings(receiver, store), ledger=ledger
        )
        assert sorted(result.results["_input"]) == sorted(urls(3))
        assert sim.credits_used == 3  # one run, found again, landed
        (record,) = ledger.bulk_submissions(ACTION)
        assert record.state == "closed" and record.run_uid is not None


def test_a_halted_run_gives_labelled_error_rows_and_keeps_its_inputs(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    with run_simulator(
        seed=3, callback_backoff_s=0.0, run_halt_after=2, run_halt_status="BLOCKED"
    ) as sim:
        client = client_of(sim)
        result = run_bulk_batch(
            client, ACTION, urls(5), bulk=settings(receiver, store), ledger=ledger
        )
        assert len(result.results) == 2
        assert set(result.errors["error_label"]) == {"LIMIT_REACHED"}
        assert len(result.errors) == 3
        assert all("runs resume" in m for m in result.errors["message"])
        (record,) = ledger.bulk_submissions(ACTION)
        assert record.state == "submitted"  # the inputs are still the run's: not resubmitted

        again = run_bulk_batch(
            client, ACTION, urls(5), bulk=settings(receiver, store), ledger=ledger
        )
        assert again.stats.submitted == 0 and again.stats.skipped_fresh == 2

        client.resume_run(record.run_uid or "")
        resumed = run_bulk_batch(
            client, ACTION, urls(5), bulk=settings(receiver, store), ledger=ledger
        )
        assert resumed.errors.empty and sorted(resumed.results["_input"]) == sorted(urls(5))
        assert sim.credits_used == 5


def test_callbacks_the_receiver_missed_are_replayed_and_none_is_lost(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    with run_simulator(seed=3, callback_backoff_s=0.0, callback_retries=0) as sim:
        client = client_of(sim)
        bulk = settings(receiver, store, defer=True, replay_wait_s=0.3)
        port, url = receiver.port, receiver.callback_url
        receiver.stop()  # the receiver is down while the run delivers
        first = run_bulk_batch(client, ACTION, urls(6), bulk=bulk, ledger=ledger)
        assert first.stats.submitted == 6
        (record,) = ledger.bulk_submissions(ACTION)
        wait_until(lambda: client.get_run(record.run_uid or "").ended, "the run never ended")
        assert store.callbacks(record.submission_id) == []  # nothing reached the store
        replayed = run_bulk_batch(client, ACTION, urls(6), bulk=bulk, ledger=ledger)
        assert set(replayed.errors["error_label"]) == {"CALLBACK_FAILED"}  # still down
        assert ledger.bulk_submission(record.submission_id).state == "submitted"  # type: ignore[union-attr]

        with ReceiverServer(ReceiverSettings(port=port), store=store):
            back = BulkSettings(callback_url=url, store=store, poll_s=0.01, final_check_s=0.0)
            later = run_bulk_batch(client, ACTION, urls(6), bulk=back, ledger=ledger)
        assert sorted(later.results["_input"]) == sorted(urls(6)) and later.errors.empty
        assert later.stats.submitted == 0 and sim.credits_used == 6
        assert ledger.bulk_submission(record.submission_id).state == "closed"  # type: ignore[union-attr]


def test_a_run_ended_without_some_callbacks_gives_no_callback_rows_retried_next_time(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API delivered every callback (none FAILED) but one input's never reached the store:
    that input becomes a retryable NO_CALLBACK row, and the next batch submits only it."""
    lost = "person-1"
    by_key = store.callbacks_by_key

    def hide(found: list[Any]) -> list[Any]:
        return [c for c in found if lost not in json.dumps(c.payload.get("input"))]

    monkeypatch.setattr(store, "callbacks_by_key", lambda *a, **k: hide(by_key(*a, **k)))
    with run_simulator(seed=3, callback_backoff_s=0.0) as sim:
        client = client_of(sim)
        result = run_bulk_batch(
            client, ACTION, urls(3), bulk=settings(receiver, store), ledger=ledger
        )
        assert list(result.errors["error_label"]) == ["NO_CALLBACK"]
        assert list(result.errors["input"]) == [f"https://www.linkedin.com/in/{lost}"]
        assert len(result.results) == 2
        assert [r.state for r in ledger.bulk_submissions(ACTION)] == ["closed"]

        monkeypatch.undo()
        again = run_bulk_batch(
            client, ACTION, urls(3), bulk=settings(receiver, store), ledger=ledger
        )
        assert again.stats.submitted == 1 and again.stats.skipped_fresh == 2
        assert again.errors.empty and len(again.results) == 3


def test_a_failed_run_labels_its_missing_inputs_with_its_last_error_and_they_are_retried(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    with run_simulator(
        seed=3, callback_backoff_s=0.0, run_halt_after=2, run_halt_status="FAILED"
    ) as sim:
        client = client_of(sim)
        result = run_bulk_batch(
            client, ACTION, urls(5), bulk=settings(receiver, store), ledger=ledger
        )
        (record,) = ledger.bulk_submissions(ACTION)
        run = client.get_run(record.run_uid or "")
        assert run.status == "FAILED" and run.last_error_label
        assert list(result.errors["error_label"]) == [run.last_error_label] * 3
        assert len(result.results) == 2 and record.state == "closed"
        assert all(e.retryable for e in ledger.errors(ACTION))

        sim.configure(run_halt_after=None)
        again = run_bulk_batch(
            client, ACTION, urls(5), bulk=settings(receiver, store), ledger=ledger
        )
        assert again.stats.submitted == 3 and again.stats.skipped_fresh == 2
        assert again.errors.empty and sim.credits_used == 5


def test_a_budget_caps_what_is_submitted_since_a_run_cannot_be_stopped_halfway(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    with run_simulator(seed=3, callback_backoff_s=0.0) as sim:
        client = client_of(sim)
        bulk = settings(receiver, store)
        result = run_bulk_batch(client, ACTION, urls(5), bulk=bulk, ledger=ledger, budget=3)
        assert result.stats.submitted == 3 and result.stats.not_started == 2
        assert len(result.results) == 3 and sim.credits_used == 3
        with pytest.raises(ValueError, match="needs max_results"):
            search = "https://www.linkedin.com/search/results/people/?keywords=data"
            run_bulk_batch(client, "linkedin-search-people", [search], bulk=bulk, ledger=ledger,
                           budget=10)  # fmt: skip


def test_a_search_in_async_mode_stops_at_max_results_and_lands_its_pages_together(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    searches = [
        f"https://www.linkedin.com/search/results/people/?keywords=data&geoUrn=%5B{n}%5D"
        for n in (1, 2)
    ]
    with run_simulator(seed=3, callback_backoff_s=0.0, search_total=200) as sim:
        client = client_of(sim)
        result = run_bulk_batch(client, "linkedin-search-people", searches,
                                bulk=settings(receiver, store), ledger=ledger, max_results=25)  # fmt: skip
        runs = [c for c in sim.calls() if c.path.endswith("/run/async") and c.input]
        assert len(runs) == 2 * 3  # three pages of 10 reach 25, per search; no fourth
        counts = result.results.groupby("_input").size().to_dict()
        assert counts == dict.fromkeys(searches, 25)  # capped as a live walk is
        assert result.stats.credits == sim.credits_used == 2 * 30  # three whole pages each
        (record,) = ledger.bulk_submissions("linkedin-search-people")
        body = next(c.body for c in sim.calls() if c.path.endswith("/run/async") and not c.input)
        assert body["parameters"]["max_results"] == 25 and record.state == "closed"


SEARCH = "linkedin-search-people"


def searches(n: int) -> list[str]:
    base = "https://www.linkedin.com/search/results/people/?keywords=data&geoUrn=%5B{}%5D"
    return [base.format(i) for i in range(1, n + 1)]


def test_a_search_cut_short_by_a_failed_run_is_not_landed_as_a_whole_walk(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    with run_simulator(seed=3, callback_backoff_s=0.0, search_total=200, run_halt_after=2,
                       run_halt_status="FAILED") as sim:  # fmt: skip
        client = client_of(sim)
        bulk = settings(receiver, store)
        result = run_bulk_batch(client, SEARCH, searches(3), bulk=bulk, ledger=ledger,
                                max_results=20)  # fmt: skip
        assert set(result.results["_input"]) == {searches(3)[0]}  # walked to its end
        assert sorted(result.errors["input"]) == sorted(searches(3)[1:])
        fresh = [s for s in searches(3) if _fresh_search(ledger, s)]
        assert fresh == [searches(3)[0]]  # the last walk the run touched may be cut: not fresh


def test_a_halted_search_lands_nothing_until_its_run_is_resumed_and_ends(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    with run_simulator(seed=3, callback_backoff_s=0.0, search_total=200, run_halt_after=1,
                       run_halt_status="BLOCKED") as sim:  # fmt: skip
        client = client_of(sim)
        bulk = settings(receiver, store)
        first = run_bulk_batch(client, SEARCH, searches(2), bulk=bulk, ledger=ledger,
                               max_results=20)  # fmt: skip
        assert first.results.empty and len(first.errors) == 2
        assert ledger.entries(SEARCH) == []  # nothing landed as a whole walk yet
        (record,) = ledger.bulk_submissions(SEARCH)
        client.resume_run(record.run_uid or "")
        resumed = run_bulk_batch(client, SEARCH, searches(2), bulk=bulk, ledger=ledger,
                                 max_results=20)  # fmt: skip
        assert resumed.errors.empty and resumed.stats.submitted == 0
        assert resumed.results.groupby("_input").size().to_dict() == dict.fromkeys(searches(2), 20)


def _fresh_search(ledger: Ledger, url: str) -> bool:
    return any(
        e.input
        and e.input.get("linkedin_people_search_url") == url
        and ledger.fresh(SEARCH, e.input_key) is not None
        for e in ledger.entries(SEARCH)
    )


def test_two_batches_submitting_shared_inputs_at_once_send_each_input_once(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    """Two partitions naming the same people, run at the same moment: the second to record its
    submission leaves out the inputs the first took, and waits for the first's run for them."""
    barrier = threading.Barrier(2)
    with run_simulator(seed=3, callback_backoff_s=0.0) as sim:
        results: dict[str, Any] = {}

        def batch(name: str, inputs: list[str]) -> None:
            with Ledger(ledger.location) as own:
                real = own.record_bulk_submission

                def together(*args: Any, **kwargs: Any) -> Any:
                    barrier.wait(timeout=30)  # both planned with nothing held: both record now
                    return real(*args, **kwargs)

                own.record_bulk_submission = together  # type: ignore[method-assign]
                results[name] = run_bulk_batch(
                    client_of(sim), ACTION, inputs, bulk=settings(receiver, store), ledger=own
                )

        a = threading.Thread(target=batch, args=("a", urls(6)))
        b = threading.Thread(target=batch, args=("b", urls(6, offset=3)))
        a.start(), b.start()
        a.join(timeout=60), b.join(timeout=60)
        assert sim.credits_used == 9  # 9 distinct people, each paid once
        sent = [k for r in ledger.bulk_submissions(ACTION) for k in r.input_keys]
        assert len(sent) == len(set(sent)) == 9
        assert sorted(results["a"].results["_input"]) == sorted(urls(6))
        assert sorted(results["b"].results["_input"]) == sorted(urls(6, offset=3))


def test_replays_that_partly_fail_are_replayed_again_and_none_is_replayed_twice(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    with run_simulator(seed=3, callback_backoff_s=0.0, callback_retries=0,
                       callback_faults={"unreachable": 1.0}) as sim:  # fmt: skip
        client = client_of(sim)
        bulk = settings(receiver, store, replay_wait_s=0.5)
        first = run_bulk_batch(client, ACTION, urls(6), bulk=bulk, ledger=ledger)
        assert set(first.errors["error_label"]) == {"CALLBACK_FAILED"}
        sim.configure(callback_faults={"unreachable": 0.5})  # some replays get through
        second = run_bulk_batch(client, ACTION, urls(6), bulk=bulk, ledger=ledger)
        assert second.stats.submitted == 0
        sim.configure(callback_faults={})
        third = run_bulk_batch(client, ACTION, urls(6), bulk=bulk, ledger=ledger)
        assert third.errors.empty and third.stats.submitted == 0
        assert len(first.results) + len(second.results) <= 6 and sim.credits_used == 6
        (record,) = ledger.bulk_submissions(ACTION)
        assert record.state == "closed"
        assert sorted(third.results["_input"]) == sorted(urls(6))


def test_a_deferred_batch_waits_for_every_submission_holding_its_inputs(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    """Partition B shares inputs with A's open submission: B waits for A's run for those (the
    landing sensor reads who waits for what in `open_bulk_waiters`), and submits only the rest."""
    with run_simulator(seed=3, callback_backoff_s=0.0, run_halt_after=1,
                       run_halt_status="BLOCKED") as sim:  # fmt: skip
        client = client_of(sim)
        a = {"asset_key": "profiles", "partition_key": "a"}
        b = {"asset_key": "profiles", "partition_key": "b"}
        first = run_bulk_batch(client, ACTION, urls(4), ledger=ledger,
                               bulk=settings(receiver, store, defer=True, origin=a))  # fmt: skip
        (sub_a,) = (r.submission_id for r in ledger.bulk_submissions(ACTION))
        wait_until(lambda: client.get_run(_run_of(ledger, sub_a)).status == "BLOCKED", "halt")
        sim.configure(run_halt_after=None)
        second = run_bulk_batch(client, ACTION, urls(4, offset=2), ledger=ledger,
                                bulk=settings(receiver, store, defer=True, origin=b))  # fmt: skip
        assert first.stats.submitted == 4 and second.stats.submitted == 2
        (sub_b,) = (
            r.submission_id for r in ledger.bulk_submissions(ACTION) if r.submission_id != sub_a
        )
        waiting = {(o["partition_key"], r.submission_id) for r, o in ledger.open_bulk_waiters()}
        assert {("a", sub_a), ("b", sub_a)} <= waiting  # B waits for A's run too

        client.resume_run(_run_of(ledger, sub_a))
        landed = run_bulk_batch(client, ACTION, urls(4, offset=2), ledger=ledger,
                                bulk=settings(receiver, store))  # fmt: skip
        assert sorted(landed.results["_input"]) == sorted(urls(4, offset=2))
        assert sim.credits_used == 6  # six people, each paid once


def _run_of(ledger: Ledger, submission_id: str) -> str:
    record = ledger.bulk_submission(submission_id)
    assert record is not None and record.run_uid is not None
    return record.run_uid


def test_a_partial_success_lands_each_input_s_own_error_with_its_label(
    store: CallbackStore, ledger: Ledger, receiver: ReceiverServer
) -> None:
    with run_simulator(seed=3, callback_backoff_s=0.0) as sim:
        sim.set_fail_inputs({urls(3)[1]: "NOT_FOUND", urls(3)[2]: "STATUS_429"})
        result = run_bulk_batch(client_of(sim), ACTION, urls(3), bulk=settings(receiver, store),
                                ledger=ledger)  # fmt: skip
        assert set(result.stats.bulk_runs.values()) == {"PARTIAL_SUCCEEDED"}
        labels = dict(zip(result.errors["input"], result.errors["error_label"], strict=True))
        assert labels == {urls(3)[1]: "NOT_FOUND", urls(3)[2]: "STATUS_429"}
        retry = {e.error_label: e.retryable for e in ledger.errors(ACTION)}
        assert retry == {"NOT_FOUND": False, "STATUS_429": True}  # as a live answer would say
        assert list(result.results["_input"]) == [urls(3)[0]]
