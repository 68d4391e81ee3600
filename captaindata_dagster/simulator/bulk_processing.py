"""A bulk run worked through in the background, as the API does it: paced, one call at a time per
account, billed like live calls, a callback after each page of results and a final one.

Each input goes through the live endpoint's own steps (`ActionEndpoint.perform`: the injected
faults, the answer built from the response schemas, the credits charged), under the workspace's
rate limit (waiting for a token instead of answering 429) and holding the account's in-flight slot
(waiting for it, so a live call on the same account meanwhile gets its 429). The token is taken
once the slot is held, so calls never burst above the rate after a wait. A run naming several
accounts (`identity_ids` / `integration_users`) uses them round-robin, one input each in turn
(its one worker makes one call at a time, so the accounts are not used in parallel). Each page is
a logged call (`sim.calls()`, path `.../run/async`). An input that fails is a callback with its
`error`; credits running out or an account that cannot run the action BLOCK the run.

Each worker watches the stopping event of the simulator's start it began under: `stop()` sets it
(cutting waits short), then joins the workers; a later `start()` makes a new event, so a worker of
the previous start never carries on.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.simulator.account_checks import account_refusal
from captaindata_dagster.simulator.bulk_runs import BulkRun, BulkRuns
from captaindata_dagster.simulator.callback_delivery import (
    CallbackRecord,
    DeliveryPolicy,
    deliver,
)
from captaindata_dagster.simulator.config import SimulatorConfig, label_status
from captaindata_dagster.simulator.replies import Call, Reply
from captaindata_dagster.simulator.state import redact

if TYPE_CHECKING:
    from captaindata_dagster.simulator.server import Simulator

SLOT_WAIT_S = 0.01  # how often a run waiting for its account's slot looks again


class RunStopping(Exception):
    """The simulator is stopping: the worker ends here, the run STOPPED, no final callback."""


@dataclass
class RunHalted(Exception):
    """The run stops here with `status` (BLOCKED, FAILED) and the error envelope that says why."""

    status: str
    error: dict[str, Any]


class BulkProcessor:
    """Starts one background thread per run and delivers its callbacks."""

    def __init__(self, sim: Simulator, runs: BulkRuns) -> None:
        self.sim = sim
        self.runs = runs
        self._held: dict[str, list[CallbackRecord]] = {}  # run uid -> held back (out_of_order)
        self._workers: list[threading.Thread] = []
        self._workers_lock = threading.Lock()
        self._local = threading.local()  # .stopping: the event a worker thread watches

    def start(self, run: BulkRun) -> None:
        """Queue `run` and work through it from `run.next_index` in a daemon thread (kept, so
        `join` can wait for it)."""
        self.runs.set_status(run, "QUEUED")
        worker = threading.Thread(target=self.work, args=(run, self.sim.stopping),
                                  name=f"captaindata-bulk:{run.uid[:8]}", daemon=True)  # fmt: skip
        with self._workers_lock:
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
        worker.start()

    def join(self, deadline: float) -> None:
        """Wait for every worker to end, until `deadline` (a `time.monotonic()` value)."""
        with self._workers_lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def forget_held(self) -> None:
        """Drop the callbacks held back (`sim.reset()`, once the workers have ended)."""
        self._held.clear()

    def stopping(self) -> threading.Event:
        """The stopping event this thread watches (a worker's own start's; else the current)."""
        return getattr(self._local, "stopping", None) or self.sim.stopping

    def pause(self, seconds: float) -> None:
        """Wait `seconds` (through `runs.sleep` if a test injected one), cut short by `stop()`."""
        if self.runs.sleep is not None:
            self.runs.sleep(seconds)
        else:
            self.stopping().wait(seconds)

    def work(self, run: BulkRun, stopping: threading.Event) -> None:
        """Every input left, then the final callback with the run's status."""
        self._local.stopping = stopping
        action = self.sim.routes.catalog.get(run.action_id)
        assert action is not None
        self.runs.set_status(run, "RUNNING")
        try:
            while run.next_index < len(run.inputs):
                if stopping.is_set():
                    raise RunStopping
                self.halt_halfway(run)
                self.one_input(run, action, run.inputs[run.next_index])
                run.next_index += 1
        except RunHalted as halt:
            self.finish(run, halt.status, halt.error)
            return
        except RunStopping:  # the simulator stops: the run stops, no final callback
            self.runs.set_status(run, "STOPPED")
            return
        if run.failed_inputs and run.failed_inputs >= len(run.inputs):
            error = {"error_label": "GENERIC_ERROR", "message": "every input failed"}
            self.finish(run, "FAILED", error)
        else:
            self.finish(run, "PARTIAL_SUCCEEDED" if run.failed_inputs else "SUCCEEDED", None)

    def halt_halfway(self, run: BulkRun) -> None:
        """The `run_halt_after` fault: the run stops once, at that input, FAILED or BLOCKED."""
        cfg = self.sim.config
        if cfg.run_halt_after is None or run.halted_once or run.next_index < cfg.run_halt_after:
            return
        run.halted_once = True
        label = "LIMIT_REACHED" if cfg.run_halt_status == "BLOCKED" else "GENERIC_ERROR"
        message = f"run {cfg.run_halt_status.lower()} after {run.next_index} input(s) (fault)"
        raise RunHalted(cfg.run_halt_status, self.envelope(label, message))

    def one_input(self, run: BulkRun, action: Action, inp: dict[str, Any]) -> None:
        """Every page of one input, a callback after each (an error callback if it failed)."""
        body = {**run.common, "input": inp}
        cap, max_pages = self.walk_limits(action, body)
        account = None
        if action.uses_account:
            key = next((k for k in ("integration_users", "identity_ids") if body.get(k)), None)
            given = body[key] if key else ["default"]
            account = str(given[run.next_index % len(given)])  # round-robin, one input each
            if key:
                body[key] = [account]
        page, got = 1, 0
        while True:
            reply, call = self.one_call(action, body, page, account)
            if reply.status != 200:
                run.failed_inputs += 1
                self.send(run, inp, [], self.error_of(reply))
                return
            items = self.items_of(action, reply)
            run.results += len(items)
            got += len(items)
            self.send(run, inp, items, None)
            if not (action.is_list and reply.headers.get("X-Pagination-Next")):
                return
            if (cap is not None and got >= cap) or (max_pages is not None and page >= max_pages):
                return  # the walk's limits: the page reaching them is the last (billed whole)
            page += 1

    @staticmethod
    def walk_limits(action: Action, body: dict[str, Any]) -> tuple[int | None, int | None]:
        """A search's `max_results` and `max_pages`, async-only parameters: taken out of the
        body the live steps read; `max_results` defaults to the spec's default (100) for an
        action whose async parameters declare it."""
        params = dict(body.get("parameters") or {})
        schema = (action.async_request_schema or {}).get("properties", {})
        declared = schema.get("parameters", {}).get("properties", {})
        cap = params.pop("max_results", declared.get("max_results", {}).get("default"))
        max_pages = params.pop("max_pages", None)
        if "parameters" in body:
            body["parameters"] = params
        return cap, max_pages

    def one_call(
        self, action: Action, body: dict[str, Any], page: int, account: str | None
    ) -> tuple[Reply, Call]:
        """One page on `account`'s slot, then paced, logged like a live call (its time in the
        log starts once the slot and the token are taken, so waiting is not counted)."""
        cfg = self.sim.config
        given = bool(body.get("integration_users") or body.get("identity_ids"))
        if account is not None:
            self.take_slot(account, cfg)
        call: Call | None = None
        try:
            self.wait_for_rate(cfg)
            if cfg.credits is not None and self.sim.state.credits_used >= cfg.credits:
                raise RunHalted("BLOCKED", self.envelope("NO_CREDITS", "no credits left"))
            call = Call("POST", f"/v4/actions/{action.id}/run/async", {}, time.time(),
                        time.monotonic())  # fmt: skip
            call.action_id, call.body, call.account = action.id, redact(body), account
            call.input = redact(action.canonical_input(body.get("input")))
            actions = self.sim.routes.actions
            refused = account and account_refusal(actions, call, cfg, account, given)
            if refused:
                raise RunHalted("BLOCKED", json.loads(refused.body))
            return actions.perform(call, action, cfg, body, page), call
        finally:
            if account is not None:
                self.sim.state.release_account(account)
            if call is not None:
                self.sim.log_call(call)

    def wait_for_rate(self, cfg: SimulatorConfig) -> None:
        """Take a token of the workspace's bucket (shared with live calls), waiting for one."""
        while cfg.rps is not None:
            if self.stopping().is_set():
                raise RunStopping
            wait = self.sim.state.take_rate(cfg.rps)
            if wait is None:
                with self.runs.lock:
                    self.runs.paced_calls += 1
                return
            self.pause(wait)

    def take_slot(self, account: str, cfg: SimulatorConfig) -> None:
        """Hold one of the account's in-flight slots (the live endpoint's), waiting for it."""
        st = self.sim.state
        while True:
            if self.stopping().is_set():
                raise RunStopping
            if st.acquire_account(account, cfg.account_concurrency):
                break
            self.pause(SLOT_WAIT_S)
        with st.lock:
            held = st.inflight.get(account, 0)
        with self.runs.lock:
            peak = self.runs.peak_inflight
            peak[account] = max(peak.get(account, 0), held)

    @staticmethod
    def items_of(action: Action, reply: Reply) -> list[Any]:
        """The results an answer carries (a list page, or one object)."""
        if reply.content_type != "application/json":
            return []
        value = json.loads(reply.body)
        return value if isinstance(value, list) else [value]

    def error_of(self, reply: Reply) -> dict[str, Any]:
        """The error envelope of a failed call (a hang-up or cut answer becomes a timeout)."""
        if reply.mode == "send" and reply.content_type == "application/json":
            try:
                value = json.loads(reply.body)
            except ValueError:
                value = None
            if isinstance(value, dict) and "message" in value:
                return value
        return self.envelope("API_TIMEOUT_ERROR", "the upstream call did not answer")

    def envelope(self, label: str, message: str) -> dict[str, Any]:
        """An error envelope as the API writes it (status and scope from the label table)."""
        status, scope = label_status(label)
        return {"error_label": label, "error_scope": scope, "status_code": status,
                "error_ref": self.sim.state.error_ref(), "message": message, "params": {}}  # fmt: skip

    def finish(self, run: BulkRun, status: str, error: dict[str, Any] | None) -> None:
        """The run's final status, the callbacks held back, then the final callback."""
        short = {"label": error["error_label"], "message": error["message"]} if error else None
        self.runs.set_status(run, status, short)
        self.flush(run)
        self.send(run, None, [], error, final=True)

    # callbacks

    def send(
        self,
        run: BulkRun,
        inp: dict[str, Any] | None,
        results: list[Any],
        error: dict[str, Any] | None,
        final: bool = False,
    ) -> None:
        """Build one callback and deliver it, unless a fault holds it back or sends it twice."""
        payload: dict[str, Any] = {
            "run": {"run_uid": run.uid, "batch_uid": run.batch_uid, "status": run.status},
            "results_count": len(results),
            "results": results,
        }
        if inp is not None:
            payload["input"] = inp
            payload["custom_data"] = inp.get("custom_data")
        if error is not None:
            payload["error"] = error
        record = CallbackRecord(
            self.sim.state.new_uid(), run.uid, run.batch_uid, run.callback_url,
            dict(run.callback_headers), payload, self.runs.now(),
        )  # fmt: skip
        self.runs.add_callback(record)
        if not final and run.uid not in self._held and self.faulty("out_of_order"):
            self._held.setdefault(run.uid, []).append(record)
            return
        self.post(record)
        self.flush(run)

    def flush(self, run: BulkRun) -> None:
        """Deliver the callback held back (it arrives after the one sent just before)."""
        for record in self._held.pop(run.uid, []):
            self.post(record)

    def post(self, record: CallbackRecord) -> CallbackRecord:
        """Deliver one callback with the configured retries (twice under "duplicate")."""
        deliver(record, self.policy())
        if record.status == "SUCCESS" and self.faulty("duplicate"):
            deliver(record, self.policy())
        return record

    def policy(self) -> DeliveryPolicy:
        cfg = self.sim.config
        unreachable = self.faulty("unreachable")
        return DeliveryPolicy(cfg.callback_retries, cfg.callback_backoff_s, self.pause,
                              unreachable, self.stopping().is_set)  # fmt: skip

    def faulty(self, name: str) -> bool:
        """Whether the callback fault `name` strikes this time (drawn like the call faults)."""
        rate = self.sim.config.callback_faults.get(name, 0.0)
        return rate >= 1.0 or (rate > 0.0 and self.sim.state.draw() < rate)
