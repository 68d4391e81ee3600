"""Bulk mode's endpoints: submit (`run/async`, `run/schedule`), and the runs, callbacks and
schedules endpoints, answering as the spec's schemas say.

The lists' filters, `sort`, `limit` and `offset` are read by `simulator/bulk_lists.py`. Only bulk
runs are listed (live calls are in the request log, not in `GET /v4/runs`). A schedule's run is
created when its `schedule_at` comes, then at each minute its `cron` matches (`simulator/cron.py`),
by `runs.clock`, checked by a background ticker or `fire_due_schedules()`.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from captaindata_dagster.api.bulk_statuses import RESUMABLE_RUN_STATUSES
from captaindata_dagster.api.catalog import Action
from captaindata_dagster.simulator.bulk_lists import QueryProblem, list_page, read_list_query
from captaindata_dagster.simulator.bulk_processing import BulkProcessor
from captaindata_dagster.simulator.bulk_runs import BulkRun, BulkRuns, Schedule
from captaindata_dagster.simulator.bulk_submission import Refusal, Submission, check_submission
from captaindata_dagster.simulator.callback_delivery import CallbackRecord
from captaindata_dagster.simulator.cron import next_cron_run
from captaindata_dagster.simulator.replies import Call, Replies, Reply, parse_body
from captaindata_dagster.simulator.state import REDACTED, redact

if TYPE_CHECKING:
    from captaindata_dagster.simulator.server import Simulator

RUN_BULK = re.compile(r"^/v4/actions/([^/]+)/run/(async|schedule)$")
_RUN = re.compile(r"^/v4/runs/([^/]+)$")
_RESUME = re.compile(r"^/v4/runs/([^/]+)/resume$")
_CALLBACK = re.compile(r"^/v4/runs/callbacks/([^/]+)$")
_REPLAY = re.compile(r"^/v4/runs/callbacks/([^/]+)/replay$")
_SCHEDULE = re.compile(r"^/v4/schedules/([^/]+)$")
_MANAGE = re.compile(r"^/v4/schedules/([^/]+)/(resume|cancel|pause)$")
# schedule verb -> (statuses it applies to, the status it leaves)
SCHEDULE_MOVES = {"pause": ({"ACTIVE"}, "PAUSED"), "resume": ({"PAUSED"}, "ACTIVE"),
                  "cancel": ({"ACTIVE", "PAUSED"}, "CANCELLED")}  # fmt: skip
TICK_S = 0.02  # how often the schedule ticker looks for due schedules


def logged_body(body: dict[str, Any]) -> Any:
    """A submission as the request log keeps it: secrets redacted, and the values of
    `callback.headers` too (they usually carry the receiver's own secret)."""
    logged = redact(body)
    callback = logged.get("callback")
    if isinstance(callback, dict) and isinstance(callback.get("headers"), dict):
        logged["callback"] = {**callback, "headers": dict.fromkeys(callback["headers"], REDACTED)}
    return logged


class BulkEndpoints(Replies):
    """The bulk endpoints of one simulator, with its runs (`runs`) and their processing."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__(sim)
        self.runs = BulkRuns()
        self.processor = BulkProcessor(sim, self.runs)
        owner = random.Random(f"{sim.state.seed}:bulk-owner").getrandbits(128)
        self.owner_uid = str(uuid.UUID(int=owner, version=4))
        self._ticker: threading.Thread | None = None

    @staticmethod
    def allowed_methods(path: str) -> tuple[str, ...]:
        """The methods a bulk path serves (empty for any other path)."""
        posts = (RUN_BULK, _RESUME, _REPLAY, _MANAGE)
        if any(p.match(path) for p in posts):
            return ("POST",)
        if path in ("/v4/runs", "/v4/schedules", "/v4/runs/callbacks"):
            return ("GET",)
        return ("GET",) if any(p.match(path) for p in (_RUN, _CALLBACK, _SCHEDULE)) else ()

    def route(self, call: Call, raw: bytes) -> Reply | None:
        """The answer of a bulk endpoint, or None when the path and method are not one."""
        path, method = call.path, call.method
        if method == "GET":
            return self.get(call, path)
        if method != "POST":
            return None
        for pattern, handler in ((_RESUME, self.resume_run), (_REPLAY, self.replay_callback)):
            m = pattern.match(path)
            if m:
                return handler(call, m.group(1))
        m = _MANAGE.match(path)
        return self.manage_schedule(call, m.group(1), m.group(2)) if m else None

    def get(self, call: Call, path: str) -> Reply | None:
        """The GET endpoints: the three lists and one run, callback or schedule."""
        ws = self.sim.state.workspace_uid
        lists = {
            "/v4/runs": "runs",
            "/v4/runs/callbacks": "callbacks",
            "/v4/schedules": "schedules",
        }
        if path in lists:
            return self.page(call, lists[path])
        for pattern, table, what in ((_CALLBACK, self.runs.callbacks, "callback"),
                                     (_RUN, self.runs.runs, "run"),
                                     (_SCHEDULE, self.runs.schedules, "schedule")):  # fmt: skip
            m = pattern.match(path)
            if m:
                found = table.get(m.group(1))
                if found is None:
                    return self.not_found(call, f"{what} {m.group(1)}")
                return self.ok(call, found.to_api(ws))
        return None

    def page(self, call: Call, name: str) -> Reply:
        """One page of a list, filtered and sorted by the query, bounded as the spec's query
        schema says (`simulator/bulk_lists.py`)."""
        catalog = self.sim.routes.catalog
        schema = catalog.bulk_schema(f"{name}_query") or {}
        item_fields = set((catalog.bulk_schema(name[:-1]) or {}).get("properties", {}))
        query = read_list_query(call.query, schema, item_fields)
        if isinstance(query, QueryProblem):
            return self.error(call, 400, "BAD_PARAMETERS", "param", query.message,
                              {"field": query.field})  # fmt: skip
        ws = self.sim.state.workspace_uid
        items = [item.to_api(ws) for item in self.runs.listed()[name]]
        return self.ok(call, list_page(items, query))

    # submissions

    def submit(self, call: Call, action: Action, mode: str, raw: bytes) -> Reply:
        """`POST .../run/async` (a run, queued at once) or `.../run/schedule` (a schedule)."""
        call.action_id = action.id
        body, err = parse_body(raw)
        if err or not isinstance(body, dict):
            return self.error(
                call, 400, "BAD_INPUT", "input", err or "request body must be a JSON object"
            )
        call.body = logged_body(body)
        sub = check_submission(action, body, mode)
        if isinstance(sub, Refusal):
            return self.error(call, 400, sub.label, sub.scope, sub.message, {"field": sub.field})
        ws = self.sim.state.workspace_uid
        if mode == "async":
            run = self.new_run(action, sub)
            self.processor.start(run)
            return self.ok(call, run.submission(ws))
        first = self.first_execution(sub)
        if first is None:
            return self.error(call, 400, "BAD_INPUT", "input",
                              f"cron {sub.cron!r} never matches a date", {"field": "cron"})  # fmt: skip
        schedule = Schedule(
            self.sim.state.new_uid(), action.id, self.action_number(action), self.owner_uid,
            sub, sub.cron, sub.timezone, first, self.runs.now(),
        )  # fmt: skip
        self.runs.add_schedule(schedule)
        self.start_ticker()
        return self.ok(call, schedule.submitted(ws))

    def first_execution(self, sub: Submission) -> datetime | None:
        """When a new schedule first fires: its `schedule_at`, else its cron's first minute from
        now (None if the cron never matches), else now."""
        if sub.schedule_at is not None:
            return sub.schedule_at
        now = self.runs.clock()
        if sub.cron is None:
            return now
        return next_cron_run(sub.cron, sub.timezone, now)

    def new_run(self, action: Action, sub: Submission) -> BulkRun:
        """A CREATED run of a submission, remembered (the caller starts it)."""
        with self.runs.lock:
            number = len(self.runs.runs) + 1
        run = BulkRun(
            number, self.sim.state.new_uid(), self.sim.state.new_uid(), action.id,
            self.action_number(action), self.owner_uid, list(sub.inputs), dict(sub.common),
            sub.callback_url, dict(sub.callback_headers), self.runs.now(),
        )  # fmt: skip
        self.runs.add_run(run)
        return run

    def action_number(self, action: Action) -> int:
        """The action's numeric id, as runs show it: its place in the catalog."""
        return 1 + [a.id for a in self.sim.routes.catalog].index(action.id)

    # schedules coming due

    def start_ticker(self) -> None:
        """Start the background thread that fires due schedules (once per start of the
        simulator: it ends when `stop()` sets the stopping event it was started with)."""
        if self._ticker is None or not self._ticker.is_alive():
            self._ticker = threading.Thread(target=self._tick, args=(self.sim.stopping,),
                                            name="captaindata-bulk-schedules", daemon=True)  # fmt: skip
            self._ticker.start()

    def _tick(self, stopping: threading.Event) -> None:
        while not stopping.wait(TICK_S):
            self.fire_due_schedules()

    def stop(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s` in all) for the ticker and the run workers to end; the
        caller has set the stopping event they watch."""
        deadline = time.monotonic() + timeout_s
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.join(max(0.0, deadline - time.monotonic()))
        self.processor.join(deadline)

    def reset(self, timeout_s: float) -> None:
        """Stop the ticker and the run workers (the caller has set the stopping event they
        watch), then forget every run, callback and schedule."""
        self.stop(timeout_s)
        self.processor.forget_held()
        self.runs.clear()

    def fire_due_schedules(self) -> list[str]:
        """Create and start the run of every schedule that has come due; their run uids."""
        started = []
        for schedule in self.runs.due_schedules():
            action = self.sim.routes.catalog.get(schedule.action_id)
            assert action is not None
            run = self.new_run(action, schedule.submission)
            schedule.run_uids.append(run.uid)
            self.processor.start(run)
            started.append(run.uid)
        return started

    def skip_paused_minutes(self, schedule: Schedule) -> None:
        """A resumed cron schedule does not run late for the minutes it was paused over: its next
        execution moves to the cron's first minute after the current one (a future one stays)."""
        now = self.runs.clock()
        after_now = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        nxt = schedule.next_execution_at
        if nxt is None or nxt < after_now:
            schedule.next_execution_at = next_cron_run(str(schedule.cron), schedule.timezone,
                                                       after_now)  # fmt: skip

    # managing runs, callbacks, schedules

    def resume_run(self, call: Call, uid: str) -> Reply:
        """`POST /v4/runs/{uid}/resume`: a stopped run carries on from the input it stopped at."""
        run = self.runs.runs.get(uid)
        if run is None:
            return self.not_found(call, f"run {uid}")
        if not self.runs.claim_resume(run):
            return self.error(call, 400, "BAD_PARAMETERS", "param",
                              f"run {uid} is {run.status}; only "
                              f"{', '.join(sorted(RESUMABLE_RUN_STATUSES))} runs resume",
                              {"field": "run_uid"})  # fmt: skip
        self.processor.start(run)
        return self.ok(call, run.to_api(self.sim.state.workspace_uid))

    def replay_callback(self, call: Call, uid: str) -> Reply:
        """`POST /v4/runs/callbacks/{uid}/replay`: the same payload POSTed again, as a new
        callback whose `parent_uid` is the replayed one (delivered before this answers)."""
        old = self.runs.callbacks.get(uid)
        if old is None:
            return self.not_found(call, f"callback {uid}")
        new = CallbackRecord(
            self.sim.state.new_uid(), old.run_uid, old.batch_uid, old.url, dict(old.headers),
            old.payload, self.runs.now(), parent_uid=old.uid,
        )  # fmt: skip
        self.runs.add_callback(new)
        self.processor.post(new)
        return self.ok(call, new.to_api(self.sim.state.workspace_uid))

    def manage_schedule(self, call: Call, uid: str, verb: str) -> Reply:
        """`POST /v4/schedules/{uid}/{pause|resume|cancel}`."""
        schedule = self.runs.schedules.get(uid)
        if schedule is None:
            return self.not_found(call, f"schedule {uid}")
        allowed, after = SCHEDULE_MOVES[verb]
        with self.runs.lock:
            moved = schedule.status in allowed
            if moved:
                schedule.status = after
                schedule.updated_at = self.runs.now()
            if moved and verb == "resume" and schedule.cron is not None:
                self.skip_paused_minutes(schedule)
        if not moved:
            return self.error(call, 400, "BAD_PARAMETERS", "param",
                              f"schedule {uid} is {schedule.status}: cannot {verb} it",
                              {"field": "action"})  # fmt: skip
        return self.ok(call, schedule.to_api(self.sim.state.workspace_uid))
