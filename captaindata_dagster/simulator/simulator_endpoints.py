"""The simulator's own endpoints under `/_simulator/` (no key, not in the request log): its state,
its request log, reset and configure for another process, and the identities' login-link page.
"""

from __future__ import annotations

import re

from captaindata_dagster.simulator.replies import Call, Replies, Reply, json_bytes, parse_body

_LOGIN_LINK = re.compile(r"^/_simulator/login/([^/]+)$")


class SimulatorEndpoints(Replies):
    """`/_simulator/state`, `/requests`, `/reset`, `/config` and `/login/{token}`."""

    def route(self, call: Call, raw: bytes) -> Reply:
        """The answer to a `/_simulator/...` request (a bare 404 for an unknown one)."""
        path, method = call.path, call.method
        if path == "/_simulator/state" and method == "GET":
            return Reply(200, json_bytes(self.sim.state.summary()))
        if path == "/_simulator/requests" and method == "GET":
            return Reply(200, json_bytes([r.to_dict() for r in self.sim.requests]))
        if path == "/_simulator/reset" and method == "POST":
            self.sim.reset()
            return Reply(200, json_bytes({"reset": True}))
        if path == "/_simulator/config" and method == "POST":
            return self.configure(raw)
        m = _LOGIN_LINK.match(path)
        if m and method == "GET":
            return self.login_link(call, m.group(1))
        return Reply(404, json_bytes({"message": f"{method} {path} not found"}))

    def configure(self, raw: bytes) -> Reply:
        """`POST /_simulator/config`: swap settings (a JSON object of `SimulatorConfig` fields)."""
        body, err = parse_body(raw)
        try:
            if err or not isinstance(body, dict):
                raise ValueError(err or "body must be a JSON object")
            self.sim.configure(**body)
        except (TypeError, ValueError) as e:
            return Reply(400, json_bytes({"message": str(e)}))
        return Reply(200, json_bytes({"configured": sorted(body)}))

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
