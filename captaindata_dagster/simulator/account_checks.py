"""Whether the account a LinkedIn action names can run it: connected, with a session that works.

The API answers 424 when it cannot: NOT_CONNECTED (no LinkedIn account), LK_BAD_COOKIE (an expired
session) or, when no account was named and none of the workspace's is usable,
NO_VALID_ACCOUNT_CONFIGURED.
"""

from __future__ import annotations

from typing import Any

from captaindata_dagster.simulator.config import SimulatorConfig
from captaindata_dagster.simulator.replies import Call, Replies, Reply


def linkedin_account(holder: dict[str, Any]) -> dict[str, Any] | None:
    """A user's or identity's LinkedIn account (an entry of its `integrations`), or None."""
    return next((a for a in holder["integrations"] if a.get("integration") == "linkedin"), None)


def account_refusal(
    replies: Replies, call: Call, cfg: SimulatorConfig, uid: str | None, given: bool
) -> Reply | None:
    """The API's answer when the account cannot run a LinkedIn action, else None.

    Enforced only for users and identities this simulator created (uids such as "u1" that
    never went through `POST /v4/users` or `/v4/identities` always work), whichever body
    field named them: NOT_CONNECTED without a LinkedIn account, LK_BAD_COOKIE for
    `bad_cookie_users`; with none given while the workspace has some and none is usable,
    NO_VALID_ACCOUNT_CONFIGURED.
    """
    st = replies.sim.state
    bad = set(cfg.bad_cookie_users)
    with st.lock:
        holder = st.holder(uid)
        kind = "identity" if uid in st.identities else "user"
        linked = linkedin_account(holder) if holder is not None else None
        everyone = [*st.users.values(), *st.identities.values()]
        usable = any(linkedin_account(h) is not None and h["uid"] not in bad for h in everyone)
    if not given:
        if everyone and not usable:
            return replies.error(
                call, 424, "NO_VALID_ACCOUNT_CONFIGURED", "integ",
                "no user or identity of this workspace has a usable LinkedIn account: "
                "connect one",
            )  # fmt: skip
        return None
    if holder is None:
        return None
    params = {f"{kind}_uid": str(uid), "integration": "linkedin"}
    if linked is None:
        return replies.error(
            call, 424, "NOT_CONNECTED", "integ",
            f"{kind} {uid} has no LinkedIn account connected", params,
        )  # fmt: skip
    if uid in bad:
        return replies.error(
            call, 424, "LK_BAD_COOKIE", "integ",
            f"the LinkedIn session of {kind} {uid} is invalid or expired: reconnect it",
            params,
        )  # fmt: skip
    return None
