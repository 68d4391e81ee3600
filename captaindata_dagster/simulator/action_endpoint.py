"""The action endpoint (`POST /v4/actions/{id}/run/live`, and the GET actions): one live run.

In the order the API checks them: the body (a JSON object the request schema accepts), the input
and parameters, the page asked for, the workspace's rate limit and credits, the account's in-flight
slot and whether it can run LinkedIn actions; then maybe an injected fault, else the answer, its
results counted and its credits charged.
"""

from __future__ import annotations

import time
from typing import Any

from captaindata_dagster.api.catalog import Action, Problem
from captaindata_dagster.simulator import data
from captaindata_dagster.simulator.account_checks import account_refusal
from captaindata_dagster.simulator.action_body import body_from_query, body_problem
from captaindata_dagster.simulator.config import SimulatorConfig
from captaindata_dagster.simulator.fault_replies import fault_reply, pick_fault
from captaindata_dagster.simulator.paging import list_page, requested_page
from captaindata_dagster.simulator.replies import (
    Call,
    Replies,
    Reply,
    json_bytes,
    limit_headers,
    parse_body,
)
from captaindata_dagster.simulator.state import redact


class ActionEndpoint(Replies):
    """Runs one action call like a live run: validate, limit, maybe fail, then answer a page."""

    def run(self, call: Call, action: Action, raw: bytes) -> Reply:
        """Validate, limit, maybe fail, then answer one page of an action, like a live run."""
        call.action_id = action.id
        cfg = self.sim.config  # one snapshot for the whole call, whatever `configure` does
        body = self.request_body(call, action, raw)
        if isinstance(body, Reply):
            return body
        page = self.checked_page(call, action, body)
        if isinstance(page, Reply):
            return page
        refused = self.workspace_limit(call, cfg)
        if refused is not None:
            return refused
        if not action.uses_account:
            return self.perform(call, action, cfg, body, page)
        return self.on_account(call, action, cfg, body, page)

    def request_body(self, call: Call, action: Action, raw: bytes) -> dict[str, Any] | Reply:
        """The call's body (a GET action's from its query), or the 400 refusing it."""
        if action.method == "GET":
            return body_from_query(call.query)
        body, err = parse_body(raw)
        if err or not isinstance(body, dict):
            return self.error(
                call, 400, "BAD_INPUT", "input", err or "request body must be a JSON object"
            )
        call.body = redact(body)
        bad = body_problem(action, body)
        if bad is None:
            return body
        field_name, message = bad
        if field_name.startswith("parameters"):
            return self.error(call, 400, "BAD_PARAMETERS", "param", message, {"field": field_name})
        return self.error(call, 400, "BAD_INPUT", "input", message, {"field": field_name})

    def checked_page(self, call: Call, action: Action, body: dict[str, Any]) -> int | Reply:
        """The page asked for (1 unless a paginated list), or the 400 for a bad input,
        parameters or page."""
        inp = body.get("input")
        if isinstance(inp, dict):
            call.input = redact(action.canonical_input(inp))
        problems = action.input_problems(inp)
        if problems:
            return self.problems(call, problems, "INVALID_INPUT", "input")
        problems = action.parameter_problems(body.get("parameters"))
        if problems:
            return self.problems(call, problems, "BAD_PARAMETERS", "param")
        if not action.is_list or action.pagination is None:
            return 1
        page = requested_page(action, call.query)
        if isinstance(page, Problem):
            return self.problems(call, [page], "BAD_PARAMETERS", "param")
        return page

    def workspace_limit(self, call: Call, cfg: SimulatorConfig) -> Reply | None:
        """The 429 past the workspace's rate limit, or the 402 once its credits are spent."""
        st = self.sim.state
        if cfg.rps is not None:
            wait = st.take_rate(cfg.rps)
            if wait is not None:
                return self.error(
                    call,
                    429,
                    "LIMIT_REACHED",
                    "config",
                    f"rate limit of {cfg.rps:g} requests per second reached",
                    headers=limit_headers(wait, "requests_per_second"),
                )
        if cfg.credits is not None and st.credits_used >= cfg.credits:
            return self.error(
                call, 402, "NO_CREDITS", "config", "no credits left in this workspace"
            )
        return None

    def on_account(
        self, call: Call, action: Action, cfg: SimulatorConfig, body: dict[str, Any], page: int
    ) -> Reply:
        """Perform holding one in-flight slot of the account the body names ("default" if none),
        refused with a 429 when it has none free, or a 424 when it cannot run the action."""
        st = self.sim.state
        given = body.get("integration_users") or body.get("identity_ids")
        account = str((given or ["default"])[0])
        call.account = account
        if not st.acquire_account(account, cfg.account_concurrency):
            return self.error(
                call,
                429,
                "STATUS_429",
                "integ",
                f"account {account} is already running {cfg.account_concurrency} action(s)",
                headers=limit_headers(1.0, "account"),
            )
        try:
            refused = account_refusal(self, call, cfg, account, bool(given))
            if refused is not None:
                return refused
            return self.perform(call, action, cfg, body, page)
        finally:
            st.release_account(account)

    def perform(
        self, call: Call, action: Action, cfg: SimulatorConfig, body: dict[str, Any], page: int
    ) -> Reply:
        """The answer, or the injected fault instead (before or, if so set, after the work)."""
        inp = action.canonical_input(body.get("input"))
        fault = pick_fault(cfg, inp, self.sim.state.draw)
        after = (
            fault is not None
            and fault.is_server_side
            and (cfg.fault_after_billing or (cfg.fault_after_effect and action.side_effects))
        )
        if fault is not None and not after:
            return fault_reply(
                self, call, fault, cfg, lambda: self.answer(call, action, cfg, body, page, dry=True)
            )
        if cfg.latency_ms:
            time.sleep(cfg.latency_ms / 1000.0)
        reply = self.answer(call, action, cfg, body, page)
        if fault is not None:
            return fault_reply(self, call, fault, cfg, lambda: reply)
        return reply

    def answer(
        self,
        call: Call,
        action: Action,
        cfg: SimulatorConfig,
        body: dict[str, Any],
        page: int,
        dry: bool = False,
    ) -> Reply:
        """The successful answer; unless `dry`, counts results and charges credits."""
        inp = body.get("input")
        if action.response == "file":
            url = str((inp or {}).get("url", ""))
            reply = Reply(200, data.attachment_bytes(cfg.seed, url), "application/octet-stream")
            results = 1
        elif not action.is_list:
            reply = Reply(200, json_bytes(data.make_result(action, cfg.seed, inp)))
            results = 1
        else:
            items, headers = list_page(action, cfg, inp, page, self.sim.base_url)
            reply = Reply(200, json_bytes(items), headers=headers)
            results = len(items)
        if not dry:
            cost = action.credits_billed(results, body)
            self.sim.state.charge(cost)
            call.results = results
            call.credits = cost
            call.performed = True
            call.status = 200
        return reply
