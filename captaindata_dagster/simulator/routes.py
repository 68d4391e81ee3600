"""Which endpoint serves a request: the simulator's own, the key check, the action endpoint, the
workspace endpoints, the bulk endpoints (`run/async`, runs, callbacks, schedules), else a 405 (known path, other method) or a 404, all in the API's envelope.

Each group of endpoints is its own object (`actions`, `workspace`, `bulk`, `own`), so a test can replace one
endpoint of a running simulator (`monkeypatch.setattr(sim.routes.workspace, "list_users", ...)`).
"""

from __future__ import annotations

import hmac
import re
from typing import TYPE_CHECKING, Any

from captaindata_dagster.api.catalog import Action, load_catalog
from captaindata_dagster.simulator.action_endpoint import ActionEndpoint
from captaindata_dagster.simulator.bulk_endpoints import RUN_BULK, BulkEndpoints
from captaindata_dagster.simulator.replies import Call, Replies, Reply
from captaindata_dagster.simulator.simulator_endpoints import SimulatorEndpoints
from captaindata_dagster.simulator.workspace_endpoints import WorkspaceEndpoints

if TYPE_CHECKING:
    from captaindata_dagster.simulator.server import Simulator

_RUN_LIVE = re.compile(r"^/v4/actions/([^/]+)/run/live$")


class Routes(Replies):
    """Every endpoint of the simulated API; each returns a `Reply` and fills in the `Call`."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__(sim)
        self.catalog = load_catalog()
        self.get_actions = {
            f"/v4{a.path}": a for a in self.catalog if a.method == "GET" and not a.is_list
        }
        self.actions = ActionEndpoint(sim)
        self.workspace = WorkspaceEndpoints(sim)
        self.own = SimulatorEndpoints(sim)
        self.bulk = BulkEndpoints(sim)

    def authorized(self, headers: Any) -> bool:
        """Whether the request carries this simulator's key (compared in constant time)."""
        given = headers.get("X-API-Key") or ""
        return hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"),
            self.sim.api_key.encode("utf-8", "surrogateescape"),
        )

    def dispatch(self, call: Call, headers: Any, raw: bytes) -> Reply:
        """The answer to one request (`headers` as the handler parsed them, `raw` its body)."""
        path, method = call.path, call.method
        if path.startswith("/_simulator/"):
            return self.own.route(call, raw)
        m = _RUN_LIVE.match(path)
        if m or path in self.get_actions:  # an action call, whatever its fate (401 included)
            call.action_id = m.group(1) if m else self.get_actions[path].id
        bulk = RUN_BULK.match(path)
        if bulk:
            call.action_id = bulk.group(1)
        if not self.authorized(headers):
            return self.error(
                call, 401, "UNAUTHORIZED", "config", "missing or invalid X-API-Key header"
            )
        if m and method == "POST":
            action = self.catalog.get(m.group(1))
            if action is None or action.method != "POST":
                return self.unknown_action(call, m.group(1))
            return self.not_acceptable(call, action, headers) or self.actions.run(call, action, raw)
        if path in self.get_actions and method == "GET":
            action = self.get_actions[path]
            return self.not_acceptable(call, action, headers) or self.actions.run(call, action, raw)
        if bulk and method == "POST":
            action = self.catalog.get(bulk.group(1))
            if action is None or action.method != "POST":
                return self.unknown_action(call, bulk.group(1))
            return self.bulk.submit(call, action, bulk.group(2), raw)
        reply = self.workspace.route(call, raw) or self.bulk.route(call, raw)
        return reply if reply is not None else self.not_served(call)

    def not_served(self, call: Call) -> Reply:
        """A 405 naming the methods a known path serves, else a 404."""
        path, method = call.path, call.method
        allowed = self.allowed_methods(path)
        if allowed:
            return self.error(
                call,
                405,
                "METHOD_NOT_ALLOWED",
                None,
                f"{method} is not served on {path}; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        return self.not_found(call, f"{method} {path}")

    def allowed_methods(self, path: str) -> tuple[str, ...]:
        """The methods a known path serves (empty for an unknown path: a 404, not a 405)."""
        if _RUN_LIVE.match(path):
            return ("POST",)
        if path in self.get_actions:
            return ("GET",)
        return WorkspaceEndpoints.allowed_methods(path) or BulkEndpoints.allowed_methods(path)

    def not_acceptable(self, call: Call, action: Action, headers: Any) -> Reply | None:
        """A 406, as a strict server answers, when `Accept` excludes what the action returns."""
        produces = "application/octet-stream" if action.response == "file" else "application/json"
        accept = headers.get("Accept") or "*/*"
        ranges = {part.split(";")[0].strip().lower() for part in accept.split(",")}
        if ranges & {produces, "*/*", produces.split("/")[0] + "/*"}:
            return None
        return self.error(
            call, 406, "NOT_ACCEPTABLE", None,
            f"{action.id} answers {produces}; the request's Accept ({accept}) excludes it",
        )  # fmt: skip

    def unknown_action(self, call: Call, action_id: str) -> Reply:
        """A 404 for an action the catalog does not have (with the closest names)."""
        call.action_id = action_id
        problem = self.catalog.unknown_action_problem(action_id)
        return self.error(call, 404, "STATUS_404", "input", problem.message, {"field": "action_id"})
