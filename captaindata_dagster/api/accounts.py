"""Identities (or users) and their LinkedIn accounts: create, list, connect, find the usable ones.

LinkedIn actions run on a connected LinkedIn account, one call at a time per account, so more
connected accounts means more throughput; an account whose session expired (`LK_BAD_COOKIE`)
must be reconnected by a person. The API names the holders of accounts two ways: *identities*
(`/v4/identities`, the published form, sent as `identity_ids`) and *users* (`/v4/users`, the
seed's form, sent as `integration_users`). The helpers that do not say which (`create_account`,
`list_accounts`, `connected_users`, `connect_linkedin`) follow `client.account_form`; `create_user`
/ `list_users` and `create_identity` / `list_identities` always mean the one they name.

These are plain functions on a `CaptainDataClient` (no Dagster import): the CLI
(`captaindata-dagster identities ...` / `users ...`), the Dagster ops in `account_ops` and the
resource's `rotate_connected_users` all build on them. An identity can also be connected without
any cookie: its `identity_login_links["linkedin"]`, valid 48 hours, is handed to the person, who
logs in to LinkedIn through it.

Session cookies are read from environment variables named by the caller and sent once: they never
appear in a return value, a log line or an exception.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any, Literal

from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import NotFoundError, ValidationError
from captaindata_dagster.api.labels import ACCOUNT_LABELS

LI_AT_ENV = "CAPTAINDATA_LI_AT"
LI_A_ENV = "CAPTAINDATA_LI_A"
LINKEDIN = "linkedin"
MAX_USER_PAGES = 1000  # a guard against a server that keeps answering the same page

CONNECTED = "connected"
NOT_CONNECTED = "not connected"
USER = "user"
IDENTITY = "identity"
AccountKind = Literal["user", "identity"]
LOGIN_LINK_HOURS = 48  # how long an identity's login link works (the API's word)

_SECRET_KEYS = frozenset({"auth_data", "cookies", "li_at", "li_a", "password"})
log = logging.getLogger("captaindata_dagster.api.accounts")


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


def create_identity(client: CaptainDataClient, name: str, timezone: str = "UTC") -> dict[str, Any]:
    """Create an identity (the published form of a user). Returns it, login link included.

    Checked locally first so an empty name costs no call (`ValidationError` names the field).

    Args:
        client: The client to create it with.
        name: The display name of the person whose LinkedIn it will run on, e.g. "Ada Lovelace".
        timezone: That person's IANA time zone.

    Example:
        >>> ada = create_identity(client, "Ada Lovelace")  # doctest: +SKIP
        >>> login_link(ada)  # valid 48 h: hand it to Ada  # doctest: +SKIP
    """
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(
            "name is required to create an identity (e.g. 'Ada Lovelace')",
            field="name",
            error_label="BAD_INPUT",
        )
    return client.create_identity(name.strip(), timezone or "UTC")


def create_account(
    client: CaptainDataClient,
    name: str,
    *,
    email: str | None = None,
    timezone: str = "UTC",
    kind: AccountKind | None = None,
) -> dict[str, Any]:
    """Create an identity or a user, as `client.account_form` (or `kind`) says.

    Args:
        client: The client to create it with.
        name: The person's name (an identity's `name`, a user's `full_name`).
        email: A user's email address (required for users, ignored for identities).
        timezone: IANA time zone.
        kind: "identity" or "user"; None follows `client.account_form`.

    Example:
        >>> create_account(client, "Ada Lovelace")["uid"]  # doctest: +SKIP
    """
    if account_kind(client, kind) == IDENTITY:
        return create_identity(client, name, timezone)
    return create_user(client, email or "", name, timezone)


def account_kind(client: Any, kind: str | None = None) -> AccountKind:
    """`kind` if given, else the kind of account `client.account_form` sends ("identity"/"user")."""
    if kind is None:
        form = getattr(client, "account_form", "integration_users")
        return IDENTITY if form == "identity_ids" else USER
    if kind not in (USER, IDENTITY):
        raise ValueError(f"kind must be {USER!r} or {IDENTITY!r}, got {kind!r}")
    return IDENTITY if kind == IDENTITY else USER


def list_accounts(
    client: CaptainDataClient, query: str | None = None, *, kind: AccountKind | None = None
) -> list[dict[str, Any]]:
    """Every identity or user of the workspace (all pages), each with its `integrations`.

    Which one follows `client.account_form` unless `kind` says. `query` filters on the server.
    Pages are read until one is empty or brings nothing not seen before.

    Args:
        client: The client to list with.
        query: Filter by name (or a user's email), on the server.
        kind: "identity" or "user"; None follows `client.account_form`.

    Example:
        >>> [a["uid"] for a in list_accounts(client) if is_connected(a)]  # doctest: +SKIP
    """
    fetch: Callable[..., list[dict[str, Any]]] = (
        client.list_identities if account_kind(client, kind) == IDENTITY else client.list_users
    )
    found: dict[str, dict[str, Any]] = {}
    for page in range(1, MAX_USER_PAGES + 1):
        batch = fetch(query=query, page=page)
        new = [a for a in batch if isinstance(a, Mapping) and str(a.get("uid")) not in found]
        for account in new:
            found[str(account.get("uid"))] = dict(account)
        if not new:
            break
    return list(found.values())


def list_users(client: CaptainDataClient, query: str | None = None) -> list[dict[str, Any]]:
    """Every user of the workspace (the seed's form; all pages), each with its `integrations`.

    `query` filters by name or email on the server. Pages are read until one is empty or brings
    no user not seen before.
    """
    return list_accounts(client, query, kind=USER)


def list_identities(client: CaptainDataClient, query: str | None = None) -> list[dict[str, Any]]:
    """Every identity of the workspace (all pages), each with its `integrations`.

    Args:
        client: The client to list with.
        query: Filter by name, on the server.

    Example:
        >>> [i["name"] for i in list_identities(client) if not is_connected(i)]  # doctest: +SKIP
    """
    return list_accounts(client, query, kind=IDENTITY)


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
    """Uids whose LinkedIn account is connected and without error, in list order.

    Identities with `client.account_form="identity_ids"` (what `identity_ids` takes), users with
    "integration_users".
    """
    return [str(a["uid"]) for a in list_accounts(client) if a.get("uid") and is_connected(a)]


def login_link(account: Mapping[str, Any], integration: str = LINKEDIN) -> str | None:
    """An identity's login link for `integration` (a person opens it to connect), or None."""
    links = account.get("identity_login_links")
    link = links.get(integration) if isinstance(links, Mapping) else None
    return str(link) if link else None


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
    kind: AccountKind | None = None,
) -> dict[str, Any]:
    """Connect an identity's or a user's LinkedIn account from cookies in environment variables.

    `user_uid` is an identity uid or a user uid, as `client.account_form` (or `kind`) says.
    `update=None` looks it up first (an unknown uid is refused before any cookie is sent) and
    refreshes the account (PUT) if one is already connected, else connects one (POST); this is
    how a `LK_BAD_COOKIE` account is repaired. Returns the account without any cookie.

    Args:
        client: The client to connect with.
        user_uid: The identity's or user's uid.
        li_at_env: Environment variable holding the li_at cookie.
        li_a_env: Environment variable holding the li_a cookie (Sales Navigator), optional.
        account_name: A label for the account.
        update: True refreshes (PUT), False connects (POST), None looks it up to decide.
        environ: Where to read the variables (default `os.environ`).
        kind: "identity" or "user"; None follows `client.account_form`.

    Example:
        >>> connect_linkedin(client, ada["uid"], li_at_env="ADA_LI_AT")  # doctest: +SKIP
    """
    kind = account_kind(client, kind)
    group = _GROUPS[kind]
    if not isinstance(user_uid, str) or not user_uid.strip():
        raise ValidationError(f"{kind}_uid is required (see `{group} list`)", field=f"{kind}_uid")
    uid = user_uid.strip()
    li_at, li_a = read_cookies(li_at_env, li_a_env, environ)
    if update is None:
        holder = _find_account(client, uid, kind)
        if holder is None:
            raise ValidationError(
                f"no {kind} {uid} in this workspace: list them with "
                f"`captaindata-dagster {group} list`, or create one with `{group} create`",
                field=f"{kind}_uid",
                error_label="STATUS_404",
            )
        update = linkedin_account(holder) is not None
    connect = (
        client.connect_identity_integration if kind == IDENTITY else client.connect_integration
    )
    account = connect(
        uid, LINKEDIN, li_at=li_at, li_a=li_a, account_name=account_name, update=update
    )
    del li_at, li_a
    log.info("LinkedIn account of %s %s %s", kind, uid, "refreshed" if update else "connected")
    return _without_secrets(account) if isinstance(account, Mapping) else {}


_GROUPS = {USER: "users", IDENTITY: "identities"}  # the CLI's command group of each kind


def _find_account(client: CaptainDataClient, uid: str, kind: AccountKind) -> dict[str, Any] | None:
    """The identity or user `uid` (with its `integrations`), or None if the workspace has none."""
    if kind == USER:
        return next((u for u in list_users(client) if str(u.get("uid")) == uid), None)
    try:
        return client.get_identity(uid)
    except NotFoundError:
        return None


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


def identity_row(identity: Mapping[str, Any]) -> dict[str, Any]:
    """One identity as the CLI and the list op show it: uid, name, LinkedIn status, login link.

    `login_link` is the identity's LinkedIn login link when the API gave one (else "").
    """
    return {
        "uid": str(identity.get("uid") or ""),
        "name": str(identity.get("name") or ""),
        "linkedin": linkedin_status(identity),
        "login_link": login_link(identity) or "",
    }


def account_row(account: Mapping[str, Any], kind: AccountKind) -> dict[str, Any]:
    """`identity_row` or `user_row`, by kind."""
    return identity_row(account) if kind == IDENTITY else user_row(account)


def account_hint(
    label: str, user_uids: list[str] | tuple[str, ...] = (), kind: AccountKind | None = USER
) -> str | None:
    """What a person runs to repair the accounts behind an account label, naming each one.

    None for labels that are not about an account. Quoted by the error and run-failure sensors.
    `kind` says whether the uids are users (the default) or identities; None when the caller
    cannot tell (a sensor reading error rows): the identity command, then the user one.
    """
    if label not in ACCOUNT_LABELS:
        return None
    if kind is None:
        first, second = (account_hint(label, user_uids, k) for k in (IDENTITY, USER))
        return f"{first} (a /v4/users account: {second})"
    group = _GROUPS[kind]
    uids = [u for u in dict.fromkeys(user_uids) if u][:5]
    if not uids:
        return (
            f"connect a LinkedIn account: `captaindata-dagster {group} list` shows each {kind}'s "
            f"status, then `captaindata-dagster {group} connect <{kind} uid>`"
        )
    verb = "reconnect" if label == "LK_BAD_COOKIE" else "connect"
    why = " (its session cookie expired)" if label == "LK_BAD_COOKIE" else ""
    return "; ".join(
        f"{verb} {kind} {u}'s LinkedIn{why}: captaindata-dagster {group} connect {u}" for u in uids
    )
