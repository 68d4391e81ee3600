"""The workspace endpoints: the workspace's credits, its users and identities (the later name of
users), and the accounts connected to them (`/v4/users/{uid}/integrations/{integration}`,
`/v4/identities/{uid}/integrations/{integration}`).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from captaindata_dagster.simulator.replies import Call, Replies, Reply, parse_body
from captaindata_dagster.simulator.state import number, redact

UNLIMITED_CREDITS = 1_000_000_000
USERS_PAGE_SIZE = 25
_INTEGRATION = re.compile(r"^/v4/users/([^/]+)/integrations/([^/]+)$")
_USER = re.compile(r"^/v4/users/([^/]+)$")
_IDENTITY_INTEGRATION = re.compile(r"^/v4/identities/([^/]+)/integrations/([^/]+)$")
_IDENTITY = re.compile(r"^/v4/identities/([^/]+)$")


class WorkspaceEndpoints(Replies):
    """`/v4/workspaces`, `/v4/users[/...]` and `/v4/identities[/...]`."""

    def route(self, call: Call, raw: bytes) -> Reply | None:
        """The answer of a workspace endpoint, or None when the path and method are not one."""
        path, method = call.path, call.method
        if path == "/v4/workspaces" and method == "GET":
            return self.ok(call, self.workspace())
        if path == "/v4/users" and method in ("GET", "POST"):
            return self.create_user(call, raw) if method == "POST" else self.list_users(call)
        if path == "/v4/identities" and method in ("GET", "POST"):
            if method == "POST":
                return self.create_identity(call, raw)
            return self.list_identities(call)
        m = _IDENTITY.match(path)
        if m and method == "GET":
            return self.get_identity(call, m.group(1))
        m = _IDENTITY_INTEGRATION.match(path)
        if m and method in ("POST", "PUT"):
            return self.connect(call, m.group(1), m.group(2), raw, kind="identity")
        m = _USER.match(path)
        if m and method == "GET":
            return self.get_user(call, m.group(1))
        m = _INTEGRATION.match(path)
        if m and method in ("POST", "PUT"):
            return self.connect(call, m.group(1), m.group(2), raw)
        return None

    @staticmethod
    def allowed_methods(path: str) -> tuple[str, ...]:
        """The methods a workspace path serves (empty for any other path)."""
        if path == "/v4/workspaces":
            return ("GET",)
        if path in ("/v4/users", "/v4/identities"):
            return ("GET", "POST")
        if _USER.match(path) or _IDENTITY.match(path):
            return ("GET",)
        if _INTEGRATION.match(path) or _IDENTITY_INTEGRATION.match(path):
            return ("POST", "PUT")
        return ()

    def workspace(self) -> dict[str, Any]:
        """`GET /v4/workspaces`: the plan, this month's credits and the seats."""
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
    ) -> dict[str, Any] | Reply:
        """The JSON object body, or the 400 answer for a body that is not one, or that has
        fields outside `allowed`."""
        body, err = parse_body(raw)
        if err or not isinstance(body, dict):
            return self.error(call, 400, "BAD_INPUT", "input", err or "body must be a JSON object")
        call.body = redact(body)
        unknown = sorted(set(body) - allowed) if allowed is not None else []
        if unknown:
            return self.error(
                call, 400, "BAD_INPUT", "input", f"unknown field(s) {', '.join(unknown)}",
                {"field": unknown[0]},
            )  # fmt: skip
        return body

    def create_user(self, call: Call, raw: bytes) -> Reply:
        """`POST /v4/users`: a new user (no account connected yet)."""
        body = self.object_body(call, raw, {"email", "full_name", "timezone", "role"})
        if isinstance(body, Reply):
            return body
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
        """`POST /v4/identities`: a new identity, with a LinkedIn login link."""
        body = self.object_body(call, raw, {"name", "timezone"})
        if isinstance(body, Reply):
            return body
        name, timezone = body.get("name"), body.get("timezone") or "UTC"
        for key, value in (("name", name), ("timezone", timezone)):
            if not isinstance(value, str) or not value.strip():
                return self.error(
                    call, 400, "INVALID_INPUT", "input", f"{key} must be a non-empty string",
                    {"field": key},
                )  # fmt: skip
        link_root = self.sim.base_url.removesuffix("/v4")
        return self.ok(call, self.sim.state.add_identity(str(name), timezone, link_root), 201)

    def list_users(self, call: Call) -> Reply:
        """`GET /v4/users`: a page of users, searched by email and name."""
        return self.listing(call, self.sim.state.users, ("email", "full_name"))

    def list_identities(self, call: Call) -> Reply:
        """`GET /v4/identities`: a page of identities, searched by name."""
        return self.listing(call, self.sim.state.identities, ("name",))

    def get_user(self, call: Call, uid: str) -> Reply:
        """`GET /v4/users/{uid}`."""
        with self.sim.state.lock:
            user = self.sim.state.users.get(uid)
            user = self.view_user(user) if user else None
        return self.ok(call, user) if user else self.not_found(call, f"user {uid}")

    def get_identity(self, call: Call, uid: str) -> Reply:
        """`GET /v4/identities/{uid}`."""
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
        body = self.object_body(call, raw)
        if isinstance(body, Reply):
            return body
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
