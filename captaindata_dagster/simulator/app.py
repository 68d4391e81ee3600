"""The HTTP side of the simulator: one request handler and the routes of the v4 contract.

`Handler` parses a request, asks `Routes` for a `Reply`, logs a `RequestRecord` and writes the
answer in one write (or, for injected faults, hangs, cuts the connection, or sends broken JSON).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import date
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from captaindata_dagster.api.catalog import CUSTOM_DATA, Action, Problem, load_catalog
from captaindata_dagster.simulator import data, faults
from captaindata_dagster.simulator.config import SimulatorConfig
from captaindata_dagster.simulator.faults import Fault, html_page, resolve
from captaindata_dagster.simulator.state import RequestRecord, number, redact, retry_after

if TYPE_CHECKING:
    from captaindata_dagster.simulator.server import Simulator

BODY_FIELDS = ("input", "parameters", "integration_users", "identity_ids", "identity_mode")
IDENTITY_MODES = ("direct", "auto", "managed")
UNLIMITED_CREDITS = 1_000_000_000
USERS_PAGE_SIZE = 25
_RUN_LIVE = re.compile(r"^/v4/actions/([^/]+)/run/live$")
_INTEGRATION = re.compile(r"^/v4/users/([^/]+)/integrations/([^/]+)$")
_USER = re.compile(r"^/v4/users/([^/]+)$")
_IDENTITY_INTEGRATION = re.compile(r"^/v4/identities/([^/]+)/integrations/([^/]+)$")
_IDENTITY = re.compile(r"^/v4/identities/([^/]+)$")
_LOGIN_LINK = re.compile(r"^/_simulator/login/([^/]+)$")


@dataclass
class Reply:
    """What to send back. `mode` "send" answers; "close" hangs up; "drop" cuts the answer short;
    "hang" waits `hang_s` (no lock, no account slot held) and then hangs up."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "send"
    hang_s: float = 0.0


@dataclass
class Call:
    """The request being served, filled in as it goes, then logged as a `RequestRecord`."""

    method: str
    path: str
    query: dict[str, str]
    at: float
    t0: float
    action_id: str | None = None
    body: Any = None
    input: dict[str, Any] | None = None
    status: int = 0
    results: int = 0
    credits: float = 0.0
    account: str | None = None
    performed: bool = False
    error_label: str | None = None
    fault: str | None = None
    logged: bool = False

    def record(self) -> RequestRecord:
        return RequestRecord(
            method=self.method,
            path=self.path,
            action_id=self.action_id,
            query=dict(self.query),
            body=self.body,
            input=self.input,
            status=self.status,
            results=self.results,
            credits=number(self.credits),
            account=self.account,
            performed=self.performed,
            at=self.at,
            duration_s=time.monotonic() - self.t0,
            error_label=self.error_label,
            fault=self.fault,
        )


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _parse_body(raw: bytes) -> tuple[Any, str | None]:
    if not raw.strip():
        return {}, None
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError) as e:
        return None, f"request body is not valid JSON: {e}"


def _linkedin(user: dict[str, Any]) -> dict[str, Any] | None:
    """The user's LinkedIn account (an entry of its `integrations`), or None."""
    return next((a for a in user["integrations"] if a.get("integration") == "linkedin"), None)


def _token(action_id: str, page: int) -> str:
    raw = f"{page}:{data.short_hash('token', action_id, page, n=8)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _token_page(action_id: str, token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        page_s, check = raw.split(":", 1)
        page = int(page_s)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return page if page >= 1 and check == data.short_hash("token", action_id, page, n=8) else None


class Routes:
    """Every endpoint of the simulated API; each returns a `Reply` and fills in the `Call`."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.catalog = load_catalog()
        self.get_actions = {
            f"/v4{a.path}": a for a in self.catalog if a.method == "GET" and not a.is_list
        }

    # helpers

    def error(
        self,
        call: Call,
        status: int,
        label: str,
        scope: str | None,
        message: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """The API's error envelope, with the HTTP status equal to its `status_code`."""
        call.status = status
        call.error_label = label
        body = {
            "error_label": label,
            "error_scope": scope,
            "error_ref": self.sim.state.error_ref(),
            "message": message,
            "status_code": status,
            "params": params or {},
        }
        return Reply(status, _json(body), headers=dict(headers or {}))

    def ok(self, call: Call, value: Any, status: int = 200, headers: dict | None = None) -> Reply:
        call.status = status
        return Reply(status, _json(value), headers=dict(headers or {}))

    def problems(self, call: Call, problems: list[Problem], label: str, scope: str) -> Reply:
        message = "; ".join(str(p) for p in problems)
        return self.error(call, 400, label, scope, message, {"field": problems[0].field})

    def not_found(self, call: Call, what: str) -> Reply:
        return self.error(call, 404, "STATUS_404", "input", f"{what} not found")

    def authorized(self, headers: Any) -> bool:
        given = headers.get("X-API-Key") or ""
        return hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"),
            self.sim.api_key.encode("utf-8", "surrogateescape"),
        )

    # dispatch

    def dispatch(self, call: Call, headers: Any, raw: bytes) -> Reply:
        path, method = call.path, call.method
        if path.startswith("/_simulator/"):
            return self.internal(call, raw)
        m = _RUN_LIVE.match(path)
        if m or path in self.get_actions:  # an action call, whatever its fate (401 included)
            call.action_id = m.group(1) if m else self.get_actions[path].id
        if not self.authorized(headers):
            return self.error(
                call, 401, "UNAUTHORIZED", "config", "missing or invalid X-API-Key header"
            )
        if m and method == "POST":
            action = self.catalog.get(m.group(1))
            if action is None or action.method != "POST":
                return self.unknown_action(call, m.group(1))
            return self.not_acceptable(call, action, headers) or self.run_action(call, action, raw)
        if path in self.get_actions and method == "GET":
            action = self.get_actions[path]
            return self.not_acceptable(call, action, headers) or self.run_action(call, action, raw)
        if path == "/v4/workspaces" and method == "GET":
            return self.ok(call, self.workspace())
        if path == "/v4/users":
            if method == "POST":
                return self.create_user(call, raw)
            if method == "GET":
                return self.list_users(call)
        if path == "/v4/identities":
            if method == "POST":
                return self.create_identity(call, raw)
            if method == "GET":
                return self.list_identities(call)
        m = _IDENTITY.match(path)
        if m and method == "GET":
            return self.get_identity(call, m.group(1))
        m = _IDENTITY_INTEGRATION.match(path)
        if m and method in ("POST", "PUT"):
            return self.connect(call, m.group(1), m.group(2), raw, kind="identity")
        m = _USER.match(path)
        if m and method == "GET":
            with self.sim.state.lock:
                user = self.sim.state.users.get(m.group(1))
                user = self.view_user(user) if user else None
            return self.ok(call, user) if user else self.not_found(call, f"user {m.group(1)}")
        m = _INTEGRATION.match(path)
        if m and method in ("POST", "PUT"):
            return self.connect(call, m.group(1), m.group(2), raw)
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
        if path in self.get_actions or path == "/v4/workspaces":
            return ("GET",)
        if path in ("/v4/users", "/v4/identities"):
            return ("GET", "POST")
        if _USER.match(path) or _IDENTITY.match(path):
            return ("GET",)
        if _INTEGRATION.match(path) or _IDENTITY_INTEGRATION.match(path):
            return ("POST", "PUT")
        return ()

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
        call.action_id = action_id
        problem = self.catalog.unknown_action_problem(action_id)
        return self.error(call, 404, "STATUS_404", "input", problem.message, {"field": "action_id"})

    # actions

    def run_action(self, call: Call, action: Action, raw: bytes) -> Reply:
        """Validate, limit, maybe fail, then answer one page of an action, like a live run."""
        call.action_id = action.id
        cfg = self.sim.config
        st = self.sim.state
        if action.method == "GET":
            body = {"input": {k: call.query[k] for k in ("url",) if k in call.query}}
            ident = call.query.get("identity_id")
            if ident:
                body["identity_ids"] = [ident]
        else:
            body, err = _parse_body(raw)
            if err or not isinstance(body, dict):
                return self.error(
                    call, 400, "BAD_INPUT", "input", err or "request body must be a JSON object"
                )
            call.body = redact(body)
            bad = self.body_problem(action, body)
            if bad is not None:
                field_name, message = bad
                if field_name.startswith("parameters"):
                    return self.error(
                        call, 400, "BAD_PARAMETERS", "param", message, {"field": field_name}
                    )
                return self.error(call, 400, "BAD_INPUT", "input", message, {"field": field_name})
        inp = body.get("input")
        if isinstance(inp, dict):
            call.input = redact(action.canonical_input(inp))
        problems = action.input_problems(inp)
        if problems:
            return self.problems(call, problems, "INVALID_INPUT", "input")
        problems = action.parameter_problems(body.get("parameters"))
        if problems:
            return self.problems(call, problems, "BAD_PARAMETERS", "param")
        page = 1
        if action.is_list and action.pagination is not None:
            page_or_problem = self.page(action, call.query)
            if isinstance(page_or_problem, Problem):
                return self.problems(call, [page_or_problem], "BAD_PARAMETERS", "param")
            page = page_or_problem

        if cfg.rps is not None:
            wait = st.take_rate(cfg.rps)
            if wait is not None:
                return self.error(
                    call,
                    429,
                    "LIMIT_REACHED",
                    "config",
                    f"rate limit of {cfg.rps:g} requests per second reached",
                    headers=self.limit_headers(wait, "requests_per_second"),
                )
        if cfg.credits is not None and st.credits_used >= cfg.credits:
            return self.error(
                call, 402, "NO_CREDITS", "config", "no credits left in this workspace"
            )
        account = None
        if action.uses_account:
            users = body.get("integration_users") or body.get("identity_ids") or ["default"]
            account = str(users[0])
            call.account = account
            if not st.acquire_account(account, cfg.account_concurrency):
                return self.error(
                    call,
                    429,
                    "STATUS_429",
                    "integ",
                    f"account {account} is already running {cfg.account_concurrency} action(s)",
                    headers=self.limit_headers(1.0, "account"),
                )
        try:
            if action.uses_account:
                given = body.get("integration_users") or body.get("identity_ids")
                refused = self.account_refusal(call, cfg, account, bool(given))
                if refused is not None:
                    return refused
            return self.perform(call, action, cfg, body, page)
        finally:
            if account is not None:
                st.release_account(account)

    def account_refusal(
        self, call: Call, cfg: SimulatorConfig, uid: str | None, given: bool
    ) -> Reply | None:
        """The API's answer when the account cannot run a LinkedIn action, else None.

        Enforced only for users and identities this simulator created (uids such as "u1" that
        never went through `POST /v4/users` or `/v4/identities` always work), whichever body
        field named them: NOT_CONNECTED without a LinkedIn account, LK_BAD_COOKIE for
        `bad_cookie_users`; with none given while the workspace has some and none is usable,
        NO_VALID_ACCOUNT_CONFIGURED.
        """
        st = self.sim.state
        bad = set(cfg.bad_cookie_users)
        with st.lock:
            holder = st.holder(uid)
            kind = "identity" if uid in st.identities else "user"
            linked = _linkedin(holder) if holder is not None else None
            everyone = [*st.users.values(), *st.identities.values()]
            usable = any(_linkedin(h) is not None and h["uid"] not in bad for h in everyone)
        if not given:
            if everyone and not usable:
                return self.error(
                    call, 424, "NO_VALID_ACCOUNT_CONFIGURED", "integ",
                    "no user or identity of this workspace has a usable LinkedIn account: "
                    "connect one",
                )  # fmt: skip
            return None
        if holder is None:
            return None
        params = {f"{kind}_uid": str(uid), "integration": "linkedin"}
        if linked is None:
            return self.error(
                call, 424, "NOT_CONNECTED", "integ",
                f"{kind} {uid} has no LinkedIn account connected", params,
            )  # fmt: skip
        if uid in bad:
            return self.error(
                call, 424, "LK_BAD_COOKIE", "integ",
                f"the LinkedIn session of {kind} {uid} is invalid or expired: reconnect it",
                params,
            )  # fmt: skip
        return None

    def body_problem(self, action: Action, body: dict[str, Any]) -> tuple[str, str] | None:
        """(field, message) for a body the action's request schema refuses, else None.

        The seed's `integration_users` is accepted too on account actions (the spec's bodies
        declare only `identity_ids`/`identity_mode`), so both forms can be tried here.
        """
        accepted = set(action.body_fields)
        if action.uses_account:
            accepted.add("integration_users")
        unknown = sorted(k for k in body if k not in accepted)
        if unknown:
            shown = ", ".join(f for f in BODY_FIELDS if f in accepted)
            return unknown[0], (
                f"{action.id} does not take body field(s) {', '.join(unknown)}; accepted: {shown}"
            )
        for name in (action.request_schema or {}).get("required", []):
            if name not in body:
                return name, f"{name} is required by {action.id}"
        if "parameters" in body and not isinstance(body["parameters"], dict):
            return "parameters", "parameters must be an object (leave it out for the defaults)"
        given = body.get("parameters") or {}
        for name in action.required_parameters:
            if name not in given:
                return f"parameters.{name}", f"parameters.{name} is required by {action.id}"
        users, ids, mode = (body.get(k) for k in BODY_FIELDS[2:])
        if users is not None and (ids is not None or mode is not None):
            return "integration_users", (
                "send either integration_users or identity_ids/identity_mode, not both"
            )
        for name, value in (("integration_users", users), ("identity_ids", ids)):
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(u, str) and u for u in value):
                return name, f"{name} must be a list of user uids (strings)"
            if value and not action.uses_account:
                return name, f"{action.id} runs without an account; remove {name}"
        if mode is not None and not action.uses_account:
            return "identity_mode", f"{action.id} runs without an account; remove identity_mode"
        if mode is not None and mode not in IDENTITY_MODES:
            return "identity_mode", f"identity_mode must be one of {', '.join(IDENTITY_MODES)}"
        return None

    def page(self, action: Action, query: dict[str, str]) -> int | Problem:
        if "token" in query and query["token"] != "":
            page = _token_page(action.id, query["token"])
            if page is None:
                return Problem("token", "is not a pagination token this action gave", "param")
            return page
        text = query.get("page", "1") or "1"
        try:
            page = int(text)
        except ValueError:
            page = 0
        if page < 1:
            return Problem("page", f"must be an integer >= 1, got {text!r}", "param")
        return page

    def limit_headers(self, wait_s: float, kind: str) -> dict[str, str]:
        return {
            "Retry-After": retry_after(wait_s),
            "X-RateLimit-Type": kind,
            "X-RateLimit-Reset": str(math.ceil(time.time() + max(wait_s, 1.0))),
        }

    def pick_fault(self, cfg: SimulatorConfig, inp: Any) -> Fault | None:
        """The fault hitting this call: a listed failing input first, then a seeded draw."""
        if cfg.fail_inputs and isinstance(inp, dict):
            for key, value in inp.items():
                if key != CUSTOM_DATA and isinstance(value, str) and value in cfg.fail_inputs:
                    return resolve(cfg.fail_inputs[value])
        if cfg.faults:
            name = faults.pick(cfg.faults, self.sim.state.draw())
            if name is not None:
                return resolve(name)
        return None

    def perform(
        self, call: Call, action: Action, cfg: SimulatorConfig, body: dict[str, Any], page: int
    ) -> Reply:
        inp = action.canonical_input(body.get("input"))
        fault = self.pick_fault(cfg, inp)
        after = (
            fault is not None
            and fault.is_server_side
            and (cfg.fault_after_billing or (cfg.fault_after_effect and action.side_effects))
        )
        if fault is not None and not after:
            return self.fault_reply(
                call, fault, cfg, lambda: self.answer(call, action, cfg, body, page, dry=True)
            )
        if cfg.latency_ms:
            time.sleep(cfg.latency_ms / 1000.0)
        reply = self.answer(call, action, cfg, body, page)
        if fault is not None:
            return self.fault_reply(call, fault, cfg, lambda: reply)
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
        seed = cfg.seed
        inp = body.get("input")
        headers: dict[str, str] = {}
        if action.response == "file":
            url = str((inp or {}).get("url", ""))
            payload = data.attachment_bytes(seed, url)
            reply = Reply(200, payload, "application/octet-stream", headers)
            results = 1
        elif not action.is_list:
            reply = Reply(200, _json(data.make_result(action, seed, inp)), headers=headers)
            results = 1
        else:
            total = data.list_total(action, seed, inp)
            if action.pagination is None:
                items = data.make_page(action, seed, inp, 0, total)
            else:
                if cfg.search_total is not None:
                    total = cfg.search_total
                size = action.page_size or 10
                start = (page - 1) * size
                stop = min(start + size, total)
                served = min(stop, start + size // 2) if page in cfg.short_pages else stop
                items = data.make_page(action, seed, inp, start, served) if start < total else []
                if stop < total:  # a short (throttled) page still names the next one
                    headers["X-Pagination-Next"] = self.page_url(action, page + 1)
                if page > 1:
                    headers["X-Pagination-Previous"] = self.page_url(action, page - 1)
            reply = Reply(200, _json(items), headers=headers)
            results = len(items)
        if not dry:
            cost = action.credits_for(results, managed=body.get("identity_mode") == "managed")
            self.sim.state.charge(cost)
            call.results = results
            call.credits = cost
            call.performed = True
            call.status = 200
        return reply

    def page_url(self, action: Action, page: int) -> str:
        base = f"{self.sim.base_url}/actions/{action.id}/run/live"
        if action.pagination == "token":
            return f"{base}?token={_token(action.id, page)}"
        return f"{base}?page={page}"

    def fault_reply(self, call: Call, fault: Fault, cfg: SimulatorConfig, success: Any) -> Reply:
        """The injected failure; `success()` gives the answer a malformed or dropped reply cuts."""
        call.fault = fault.name
        if fault.kind == "timeout":
            call.status = 0
            call.error_label = "timeout"
            return Reply(0, mode="hang", hang_s=cfg.hang_s)
        if fault.kind in ("drop", "drop_mid_body"):
            call.status = 0
            call.error_label = fault.kind
            if fault.kind == "drop":  # hang up before answering
                return Reply(0, mode="close")
            whole = success()  # status line, headers and half the body, then hang up
            return Reply(whole.status, whole.body, whole.content_type, whole.headers, "drop")
        if fault.kind == "malformed_json":
            whole = success()
            call.status = 200
            call.error_label = "malformed_json"
            text = whole.body if whole.content_type == "application/json" else b'{"results": [1'
            return Reply(200, text[: max(1, len(text) // 2)], "application/json", whole.headers)
        if fault.kind == "html":
            call.status = fault.status
            call.error_label = f"html_{fault.status}"
            return Reply(fault.status, html_page(fault.status), "text/html; charset=utf-8")
        headers = {}
        if fault.status == 503 and cfg.retry_after_s is not None:
            headers["Retry-After"] = retry_after(cfg.retry_after_s)
        if fault.status == 429:
            wait = cfg.retry_after_s if cfg.retry_after_s is not None else 1.0
            kind = "requests_per_second" if fault.label == "LIMIT_REACHED" else "account"
            headers = self.limit_headers(wait, kind)
            headers["Retry-After"] = f"{wait:g}" if wait != int(wait) else str(int(wait))
        label = fault.label or "INTEGRATION_ERROR"
        return self.error(
            call,
            fault.status,
            label,
            fault.scope,
            faults.message(label),
            headers=headers,
        )

    # workspace, users, integrations

    def workspace(self) -> dict[str, Any]:
        cfg = self.sim.config
        st = self.sim.state
        credits_max = cfg.credits if cfg.credits is not None else UNLIMITED_CREDITS
        used = st.credits_used
        today = date.today()
        start = today.replace(day=1)
        end = (start.replace(year=start.year + 1, month=1) if start.month == 12
               else start.replace(month=start.month + 1))  # fmt: skip
        return {
            "uid": st.workspace_uid,
            "name": "Simulator workspace",
            "plan_name": "simulator",
            "credits_left": number(max(0.0, credits_max - used)),
            "credits_max": number(credits_max),
            "credits_used": number(used),
            "current_month_start": start.isoformat(),
            "current_month_end": end.isoformat(),
            "seats_used": max(1, len(st.users)),
            "seats_max": 10,
        }

    def object_body(
        self, call: Call, raw: bytes, allowed: set[str] | None = None
    ) -> tuple[dict[str, Any], None] | tuple[None, Reply]:
        """(the JSON object body, None), or (None, the 400 answer) for a body that is not one,
        or that has fields outside `allowed`."""
        body, err = _parse_body(raw)
        if err or not isinstance(body, dict):
            return None, self.error(
                call, 400, "BAD_INPUT", "input", err or "body must be a JSON object"
            )
        call.body = redact(body)
        unknown = sorted(set(body) - allowed) if allowed is not None else []
        if unknown:
            return None, self.error(
                call, 400, "BAD_INPUT", "input", f"unknown field(s) {', '.join(unknown)}",
                {"field": unknown[0]},
            )  # fmt: skip
        return body, None

    def create_user(self, call: Call, raw: bytes) -> Reply:
        body, refused = self.object_body(call, raw, {"email", "full_name", "timezone", "role"})
        if body is None:
            return refused
        email = body.get("email")
        if not isinstance(email, str) or "@" not in email:
            return self.error(
                call, 400, "INVALID_INPUT", "input", "email: a valid email address is required",
                {"field": "email"},
            )  # fmt: skip
        full_name = body.get("full_name") or email.split("@")[0].replace(".", " ").title()
        if not isinstance(full_name, str):
            return self.error(
                call, 400, "INVALID_INPUT", "input", "full_name must be a string",
                {"field": "full_name"},
            )  # fmt: skip
        user = self.sim.state.add_user(email, full_name, body.get("timezone") or "UTC")
        return self.ok(call, user, 201)

    def create_identity(self, call: Call, raw: bytes) -> Reply:
        body, refused = self.object_body(call, raw, {"name", "timezone"})
        if body is None:
            return refused
        name, timezone = body.get("name"), body.get("timezone") or "UTC"
        for key, value in (("name", name), ("timezone", timezone)):
            if not isinstance(value, str) or not value.strip():
                return self.error(
                    call, 400, "INVALID_INPUT", "input", f"{key} must be a non-empty string",
                    {"field": key},
                )  # fmt: skip
        link_root = self.sim.base_url.removesuffix("/v4")
        return self.ok(call, self.sim.state.add_identity(name, timezone, link_root), 201)

    def list_users(self, call: Call) -> Reply:
        return self.listing(call, self.sim.state.users, ("email", "full_name"))

    def list_identities(self, call: Call) -> Reply:
        return self.listing(call, self.sim.state.identities, ("name",))

    def get_identity(self, call: Call, uid: str) -> Reply:
        with self.sim.state.lock:
            identity = self.sim.state.identities.get(uid)
            identity = self.view_user(identity) if identity else None
        return self.ok(call, identity) if identity else self.not_found(call, f"identity {uid}")

    def listing(self, call: Call, stored: dict[str, Any], searched: tuple[str, ...]) -> Reply:
        """One page (`page`, 1-based) of users or identities, filtered by `query` on `searched`."""
        query = (call.query.get("query") or "").lower()
        try:
            page = max(1, int(call.query.get("page") or 1))
        except ValueError:
            return self.error(
                call, 400, "BAD_PARAMETERS", "param", "page must be an integer", {"field": "page"}
            )
        with self.sim.state.lock:
            items = [self.view_user(u) for u in stored.values()]
        if query:
            items = [u for u in items if any(query in str(u.get(k, "")).lower() for k in searched)]
        start = (page - 1) * USERS_PAGE_SIZE
        return self.ok(call, items[start : start + USERS_PAGE_SIZE])

    def connect(
        self, call: Call, uid: str, integration: str, raw: bytes, kind: str = "user"
    ) -> Reply:
        """Connect (POST) or refresh (PUT) a user's or (`kind`) an identity's account."""
        body, refused = self.object_body(call, raw)
        if body is None:
            return refused
        st = self.sim.state
        with st.lock:
            found = uid in (st.identities if kind == "identity" else st.users)
        if not found:
            return self.not_found(call, f"{kind} {uid}")
        auth = body.get("auth_data")
        cookies = auth.get("cookies") if isinstance(auth, dict) else None
        li_at = cookies.get("li_at") if isinstance(cookies, dict) else None
        if not isinstance(li_at, str) or not li_at.strip():
            return self.error(
                call, 400, "INVALID_INPUT", "input",
                "auth_data.cookies.li_at is required to connect a LinkedIn account",
                {"field": "auth_data.cookies.li_at"},
            )  # fmt: skip
        account, created = self.sim.link(uid, integration, body.get("account_name"))
        return self.ok(call, account, 201 if created else 200)

    def view_user(self, user: dict[str, Any]) -> dict[str, Any]:
        """A user or identity as the API shows it (a copy); an expired session shows on its
        account.

        The caller holds the state's lock.
        """
        expired = user["uid"] in self.sim.config.bad_cookie_users
        accounts = [
            dict(a, error="LK_BAD_COOKIE")
            if expired and a.get("integration") == "linkedin"
            else dict(a)
            for a in user["integrations"]
        ]
        return dict(user, integrations=accounts)

    # the simulator's own endpoints (no key, not logged)

    def internal(self, call: Call, raw: bytes) -> Reply:
        path, method = call.path, call.method
        if path == "/_simulator/state" and method == "GET":
            return Reply(200, _json(self.sim.state.summary()))
        if path == "/_simulator/requests" and method == "GET":
            return Reply(200, _json([r.to_dict() for r in self.sim.requests]))
        if path == "/_simulator/reset" and method == "POST":
            self.sim.reset()
            return Reply(200, _json({"reset": True}))
        if path == "/_simulator/config" and method == "POST":
            body, err = _parse_body(raw)
            try:
                if err or not isinstance(body, dict):
                    raise ValueError(err or "body must be a JSON object")
                self.sim.configure(**body)
            except (TypeError, ValueError) as e:
                return Reply(400, _json({"message": str(e)}))
            return Reply(200, _json({"configured": sorted(body)}))
        m = _LOGIN_LINK.match(path)
        if m and method == "GET":
            return self.login_link(call, m.group(1))
        return Reply(404, _json({"message": f"{method} {path} not found"}))

    def login_link(self, call: Call, token: str) -> Reply:
        """A person opened an identity's login link and logged in: its account is connected.

        What the vendor's white-labelled LinkedIn page does, in one GET and without a key.
        """
        found = self.sim.state.login(token)
        if found is None:
            return self.error(call, 404, "STATUS_404", "input", "no such login link")
        if found == "expired":
            return self.error(
                call, 410, "LINK_EXPIRED", "integ",
                "this login link has expired (they last 48 hours): create a new identity link",
            )  # fmt: skip
        uid, integration = found
        account, _ = self.sim.link(uid, integration, via="login_link")
        return self.ok(
            call,
            {"connected": True, "identity_uid": uid, "integration": integration,
             "account_uid": account["uid"]},
        )  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    """Serves one connection (HTTP/1.1 keep-alive) with the routes of the server's simulator."""

    protocol_version = "HTTP/1.1"
    server_version = "captaindata-simulator"
    sys_version = ""
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        """Silent: the request log is `Simulator.requests`, not stderr."""

    def setup(self) -> None:
        super().setup()
        self.server.simulator.track(self.connection, True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.simulator.track(self.connection, False)  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self.serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            return None
        return self.rfile.read(n) if n > 0 else b""

    def serve(self) -> None:
        sim = self.server.simulator  # type: ignore[attr-defined]
        t0 = time.monotonic()
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        call = Call(self.command, path, query, time.time(), t0)
        raw = self.read_body()
        if raw is None:
            self.close_connection = True
            reply = sim.routes.error(call, 400, "BAD_INPUT", "input", "unreadable request body")
        else:
            try:
                reply = sim.routes.dispatch(call, self.headers, raw)
            except Exception as e:  # a simulator bug must still answer in the API's shape
                reply = sim.routes.error(
                    call,
                    500,
                    "GENERIC_ERROR",
                    None,
                    f"simulator error: {type(e).__name__}: {e}",
                )
        if not call.logged and not path.startswith("/_simulator/"):
            sim.log_call(call)
        self.send(reply)

    def send(self, reply: Reply) -> None:
        if reply.mode in ("close", "hang"):
            if reply.hang_s > 0:  # already logged: the client gives up long before we hang up
                self.server.simulator.stopping.wait(reply.hang_s)  # type: ignore[attr-defined]
            self.close_connection = True
            return
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        head = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
        ]
        head.extend(f"{k}: {v}" for k, v in reply.headers.items())
        if self.close_connection:
            head.append("Connection: close")
        blob = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        body = reply.body if self.command != "HEAD" else b""
        if reply.mode == "drop":
            blob += body[: len(body) // 2]
            self.close_connection = True
        else:
            blob += body
        try:
            self.wfile.write(blob)
        except OSError:
            self.close_connection = True
