"""Workspace users and their LinkedIn accounts: create, list, connect, and find the usable ones.

LinkedIn actions run on a user's connected LinkedIn account, one call at a time per account, so
more connected users means more throughput; an account whose session expired (`LK_BAD_COOKIE`)
must be reconnected by a person. These are plain functions on a `CaptainDataClient` (no Dagster
import): the CLI (`captaindata-dagster users ...`), the Dagster ops in `account_ops` and the
resource's `rotate_connected_users` all build on them.

Session cookies are read from environment variables named by the caller and sent once: they never
appear in a return value, a log line or an exception.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from .client import CaptainDataClient
from .errors import ACCOUNT_LABELS, ValidationError

LI_AT_ENV = "CAPTAINDATA_LI_AT"
LI_A_ENV = "CAPTAINDATA_LI_A"
LINKEDIN = "linkedin"
MAX_USER_PAGES = 1000  # a guard against a server that keeps answering the same page

CONNECTED = "connected"
NOT_CONNECTED = "not connected"

_SECRET_KEYS = frozenset({"auth_data", "cookies", "li_at", "li_a", "password"})
log = logging.getLogger("captaindata_dagster.accounts")


def create_user(
    client: CaptainDataClient, email: str, full_name: str, timezone: str = "UTC"
) -> dict[str, Any]:
    """Create a workspace user, who can then connect a LinkedIn account. Returns the user.

    Checked locally first so a typo costs no call (`ValidationError` names the field).
    """
    if not isinstance(email, str) or "@" not in email.strip():
        raise ValidationError(
            f"email must be an email address, got {email!r}", field="email", error_label="BAD_INPUT"
        )
    if not isinstance(full_name, str) or not full_name.strip():
        raise ValidationError(
            "full_name is required to create a user (e.g. 'Ada Lovelace')",
            field="full_name",
            error_label="BAD_INPUT",
        )
    return client.create_user(email.strip(), full_name.strip(), timezone or "UTC")


def list_users(client: CaptainDataClient, query: str | None = None) -> list[dict[str, Any]]:
    """Every user of the workspace (all pages), each with its `integrations`.

    `query` filters by name or email on the server. Pages are read until one is empty or brings
    no user not seen before.
    """
    users: dict[str, dict[str, Any]] = {}
    for page in range(1, MAX_USER_PAGES + 1):
        batch = client.list_users(query=query, page=page)
        new = [u for u in batch if isinstance(u, Mapping) and str(u.get("uid")) not in users]
        for user in new:
            users[str(user.get("uid"))] = dict(user)
        if not new:
            break
    return list(users.values())


def linkedin_account(user: Mapping[str, Any]) -> dict[str, Any] | None:
    """The user's LinkedIn account (an entry of its `integrations`), or None."""
    for account in user.get("integrations") or []:
        if not isinstance(account, Mapping):
            continue
        kind = account.get("integration") or account.get("integration_name") or LINKEDIN
        if str(kind).lower() == LINKEDIN:
            return dict(account)
    return None


def linkedin_status(user: Mapping[str, Any]) -> str:
    """`connected`, `not connected`, `error: <label>` or `checkpoint: <kind>` for one user."""
    account = linkedin_account(user)
    if account is None:
        return NOT_CONNECTED
    if account.get("error"):
        return f"error: {account['error']}"
    if account.get("checkpoint"):
        checkpoint = account["checkpoint"]
        kind = checkpoint.get("type") if isinstance(checkpoint, Mapping) else checkpoint
        return f"checkpoint: {kind}"
    return CONNECTED


def is_connected(user: Mapping[str, Any]) -> bool:
    """True when the user has a LinkedIn account with no error and no pending checkpoint."""
    return linkedin_status(user) == CONNECTED


def connected_users(client: CaptainDataClient) -> list[str]:
    """Uids of the users whose LinkedIn account is connected and without error, in list order."""
    return [str(u["uid"]) for u in list_users(client) if u.get("uid") and is_connected(u)]


def read_cookies(
    li_at_env: str = LI_AT_ENV,
    li_a_env: str | None = LI_A_ENV,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, str | None]:
    """(li_at, li_a) from the named environment variables; li_a (Sales Navigator) is optional.

    A missing li_at raises a `ValidationError` naming the variable; values are never echoed.
    """
    env = os.environ if environ is None else environ
    if not li_at_env:
        raise ValidationError("li_at_env must name an environment variable", field="li_at_env")
    li_at = (env.get(li_at_env) or "").strip()
    if not li_at:
        raise ValidationError(
            f"the LinkedIn session cookie is missing: set {li_at_env} to the value of the li_at "
            "cookie of a browser logged in to LinkedIn as this user",
            field=li_at_env,
            error_label="MISSING_COOKIE",
            error_scope="auth",
        )
    li_a = (env.get(li_a_env) or "").strip() if li_a_env else ""
    return li_at, li_a or None


def connect_linkedin(
    client: CaptainDataClient,
    user_uid: str,
    *,
    li_at_env: str = LI_AT_ENV,
    li_a_env: str | None = LI_A_ENV,
    account_name: str | None = None,
    update: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Connect a user's LinkedIn account from cookies held in environment variables.

    `update=None` looks the user up first (an unknown uid is refused before any cookie is sent)
    and refreshes the account (PUT) if one is already connected, else connects one (POST); this
    is how a `LK_BAD_COOKIE` account is repaired. Returns the account without any cookie.
    """
    if not isinstance(user_uid, str) or not user_uid.strip():
        raise ValidationError("user_uid is required (see `users list`)", field="user_uid")
    user_uid = user_uid.strip()
    li_at, li_a = read_cookies(li_at_env, li_a_env, environ)
    if update is None:
        user = next((u for u in list_users(client) if str(u.get("uid")) == user_uid), None)
        if user is None:
            raise ValidationError(
                f"no user {user_uid} in this workspace: list them with "
                "`captaindata-dagster users list`, or create one with `users create`",
                field="user_uid",
                error_label="STATUS_404",
            )
        update = linkedin_account(user) is not None
    account = client.connect_integration(
        user_uid, LINKEDIN, li_at=li_at, li_a=li_a, account_name=account_name, update=update
    )
    del li_at, li_a
    log.info("LinkedIn account of user %s %s", user_uid, "refreshed" if update else "connected")
    return _without_secrets(account) if isinstance(account, Mapping) else {}


def _without_secrets(value: Any) -> Any:
    """A copy of an API answer without any cookie or credential field, should one be echoed."""
    if isinstance(value, Mapping):
        return {k: _without_secrets(v) for k, v in value.items() if k not in _SECRET_KEYS}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def user_row(user: Mapping[str, Any]) -> dict[str, Any]:
    """One user as the CLI and the list op show it: uid, name, email, LinkedIn status."""
    return {
        "uid": str(user.get("uid") or ""),
        "name": str(user.get("full_name") or " ".join(
            str(user.get(k) or "") for k in ("first_name", "last_name")).strip()),
        "email": str(user.get("email") or ""),
        "linkedin": linkedin_status(user),
    }  # fmt: skip


def account_hint(label: str, user_uids: list[str] | tuple[str, ...] = ()) -> str | None:
    """What a person runs to repair the accounts behind an account label, naming each user.

    None for labels that are not about an account. Quoted by the error and run-failure sensors.
    """
    if label not in ACCOUNT_LABELS:
        return None
    uids = [u for u in dict.fromkeys(user_uids) if u][:5]
    if not uids:
        return (
            "connect a LinkedIn account: `captaindata-dagster users list` shows each user's "
            "status, then `captaindata-dagster users connect <user uid>`"
        )
    verb = "reconnect" if label == "LK_BAD_COOKIE" else "connect"
    why = " (its session cookie expired)" if label == "LK_BAD_COOKIE" else ""
    return "; ".join(
        f"{verb} user {u}'s LinkedIn{why}: captaindata-dagster users connect {u}" for u in uids
    )
