"""Dagster ops for identities (or the seed's workspace users) and their LinkedIn accounts.

The same operations as `captaindata-dagster identities ...` / `users ...`, for teams that manage
accounts from the Dagster UI. Identities (the published API's form, sent as `identity_ids`):
`create_captaindata_identity_op` (its LinkedIn login link, valid 48 hours, in the logs and the
metadata: hand it to the person, who connects their own LinkedIn with it),
`connect_identity_linkedin_op` and `list_captaindata_identities_op`. Users (the seed's form,
`integration_users`): `create_captaindata_user_op`, `connect_linkedin_op` and
`list_captaindata_users_op`. The connect ops read cookies from environment variables of the run
worker, named in the run config, never the values; the list ops put a status table in their
metadata. All use the `captaindata` resource.

`connect_linkedin_job` connects a user's account, then lists the users;
`connect_identity_linkedin_job` does the same for an identity. In the launchpad::

    ops:
      connect_identity_linkedin:          # connect_linkedin: user_uid or email instead
        config:
          identity_uid: 5f0c2a9e-...      # or name: Ada Lovelace (`identities list` shows both)
          li_at_env: CAPTAINDATA_LI_AT    # the default; li_a_env: CAPTAINDATA_LI_A (optional)

What they did is in their output metadata and logs (uids, statuses, a table), not in values
handed to an IO manager: they fit in any code location, a warehouse `io_manager` included.
Their `after` input (`dg.Nothing`) orders them in a job: create, then connect, then list.
"""

# No `from __future__ import annotations`: Dagster reads the ops' annotations as objects.
from typing import Any, Optional

import dagster as dg
from pydantic import Field

from captaindata_dagster.api import accounts
from captaindata_dagster.api.accounts import IDENTITY, USER, AccountKind
from captaindata_dagster.api.errors import CaptainDataError, ValidationError
from captaindata_dagster.orchestration.metadata import failure_for_error
from captaindata_dagster.orchestration.metadata_set import ACCOUNTS_TAG
from captaindata_dagster.orchestration.resource import CaptainDataResource


class CreateUserConfig(dg.Config):
    """A workspace user to create."""

    email: str = Field(description="The user's email address.")
    full_name: str = Field(description="The user's full name, e.g. 'Ada Lovelace'.")
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Paris.")


class CreateIdentityConfig(dg.Config):
    """An identity to create (the published API's form of a user)."""

    name: str = Field(description="The name of the person whose LinkedIn it will use.")
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Paris.")


class CookieSettings(dg.Config):
    """The environment variables holding the session cookies, and how to connect."""

    li_at_env: str = Field(
        default=accounts.LI_AT_ENV,
        description="Environment variable of the run worker holding the li_at cookie.",
    )
    li_a_env: Optional[str] = Field(  # noqa: UP045 - Dagster's config reads Optional
        default=accounts.LI_A_ENV,
        description="Environment variable holding the li_a cookie (Sales Navigator); optional.",
    )
    account_name: Optional[str] = Field(default=None, description="Label of the account.")  # noqa: UP045
    update: Optional[bool] = Field(  # noqa: UP045
        default=None,
        description="True: refresh an existing account (PUT); False: connect a new one (POST). "
        "Unset: refresh if one is already connected, e.g. after LK_BAD_COOKIE.",
    )


class ConnectLinkedInConfig(CookieSettings):
    """Which user to connect, and the environment variables holding the session cookies."""

    user_uid: Optional[str] = Field(  # noqa: UP045
        default=None, description="The user to connect (`users list` shows the uids)."
    )
    email: Optional[str] = Field(  # noqa: UP045
        default=None,
        description="Or the email of the user to connect, e.g. one just created by "
        "create_captaindata_user_op in the same run.",
    )


class ConnectIdentityLinkedInConfig(CookieSettings):
    """Which identity to connect, and the environment variables holding the session cookies."""

    identity_uid: Optional[str] = Field(  # noqa: UP045
        default=None, description="The identity to connect (`identities list` shows the uids)."
    )
    name: Optional[str] = Field(  # noqa: UP045
        default=None,
        description="Or the name of the identity to connect (it must be the only one with that "
        "name), e.g. one just created by create_captaindata_identity_op in the same run.",
    )


class ListUsersConfig(dg.Config):
    """Which users to list."""

    query: Optional[str] = Field(default=None, description="Filter by name or email.")  # noqa: UP045
    connected_only: bool = Field(
        default=False, description="Only users whose LinkedIn account is connected without error."
    )


class ListIdentitiesConfig(dg.Config):
    """Which identities to list."""

    query: Optional[str] = Field(default=None, description="Filter by name.")  # noqa: UP045
    connected_only: bool = Field(
        default=False,
        description="Only identities whose LinkedIn account is connected without error.",
    )


AFTER = {"after": dg.In(dg.Nothing, description="Run after this op (ordering only).")}
DONE = dg.Out(dg.Nothing, description="What was done is in the metadata.")


@dg.op(
    name="create_captaindata_user",
    description="Create a Captain Data workspace user (who can then connect a LinkedIn account).",
    ins=AFTER,
    out=DONE,
    tags={ACCOUNTS_TAG: "create"},
)
def create_captaindata_user_op(
    context: dg.OpExecutionContext, config: CreateUserConfig, captaindata: CaptainDataResource
) -> dg.Output:
    try:
        user = accounts.create_user(
            captaindata.get_client(), config.email, config.full_name, config.timezone
        )
    except CaptainDataError as err:
        raise failure_for_error(err) from err
    context.log.info(f"created user {user.get('uid')} ({user.get('email')})")
    return dg.Output(
        None,
        metadata={"user_uid": str(user.get("uid") or ""), "email": str(user.get("email") or "")},
    )


@dg.op(
    name="create_captaindata_identity",
    description="Create a Captain Data identity; its LinkedIn login link (valid 48 h, in the "
    "metadata) lets the person connect their own LinkedIn without handing over a cookie.",
    ins=AFTER,
    out=DONE,
    tags={ACCOUNTS_TAG: "create"},
)
def create_captaindata_identity_op(
    context: dg.OpExecutionContext, config: CreateIdentityConfig, captaindata: CaptainDataResource
) -> dg.Output:
    try:
        identity = accounts.create_identity(captaindata.get_client(), config.name, config.timezone)
    except CaptainDataError as err:
        raise failure_for_error(err) from err
    uid, name = str(identity.get("uid") or ""), str(identity.get("name") or config.name)
    link = accounts.login_link(identity)
    context.log.info(f"created identity {uid} ({name})")
    if link:
        context.log.info(
            f"hand {name} this LinkedIn login link, valid {accounts.LOGIN_LINK_HOURS} h (they open "
            f"it and log in to LinkedIn; send it to them only): {link}"
        )
    else:
        context.log.warning(
            f"identity {uid} came without a LinkedIn login link: connect it from cookies "
            "with connect_identity_linkedin_op"
        )
    metadata: dict[str, Any] = {"identity_uid": uid, "name": name}
    if link:
        metadata["login_link"] = dg.MetadataValue.url(link)
        metadata["login_link_valid_hours"] = accounts.LOGIN_LINK_HOURS
    return dg.Output(None, metadata=metadata)


@dg.op(
    name="connect_linkedin",
    description="Connect (or refresh) a user's LinkedIn account from cookies held in "
    "environment variables of the run worker.",
    ins=AFTER,
    out=DONE,
    tags={ACCOUNTS_TAG: "connect"},
)
def connect_linkedin_op(
    context: dg.OpExecutionContext, config: ConnectLinkedInConfig, captaindata: CaptainDataResource
) -> dg.Output:
    return _connect(context, config, captaindata, USER, config.user_uid, config.email)


@dg.op(
    name="connect_identity_linkedin",
    description="Connect (or refresh) an identity's LinkedIn account from cookies held in "
    "environment variables of the run worker (without cookies: hand the person its login link).",
    ins=AFTER,
    out=DONE,
    tags={ACCOUNTS_TAG: "connect"},
)
def connect_identity_linkedin_op(
    context: dg.OpExecutionContext,
    config: ConnectIdentityLinkedInConfig,
    captaindata: CaptainDataResource,
) -> dg.Output:
    return _connect(context, config, captaindata, IDENTITY, config.identity_uid, config.name)


# What differs between users and identities: (command group, lookup field, list-op metadata key).
_KINDS = {USER: ("users", "email", "users"), IDENTITY: ("identities", "name", "identities")}


def _connect(
    context: dg.OpExecutionContext,
    config: CookieSettings,
    captaindata: CaptainDataResource,
    kind: AccountKind,
    uid: Optional[str],  # noqa: UP045
    lookup: Optional[str],  # noqa: UP045
) -> dg.Output:
    """The connect ops: `uid`, or the one user/identity whose email/name is `lookup`."""
    group, key, _ = _KINDS[kind]
    if bool(uid) == bool(lookup):
        raise dg.Failure(
            description=f"{context.op.name}: set exactly one of {kind}_uid and {key} in the "
            f"op's config (`captaindata-dagster {group} list` shows both).",
            metadata={"field": f"{kind}_uid"},
            allow_retries=False,
        )
    try:
        client = captaindata.get_client()
        uid = uid or _uid_for(client, kind, str(lookup))
        account = accounts.connect_linkedin(
            client,
            uid,
            li_at_env=config.li_at_env,
            li_a_env=config.li_a_env,
            account_name=config.account_name,
            update=config.update,
            kind=kind,
        )
    except CaptainDataError as err:
        raise failure_for_error(err) from err
    context.log.info(f"LinkedIn account {account.get('uid')} connected for {kind} {uid}")
    return dg.Output(
        None,
        metadata={
            f"{kind}_uid": uid,
            "account_uid": str(account.get("uid") or ""),
            "account_error": str(account.get("error") or ""),
        },
    )


@dg.op(
    name="list_captaindata_users",
    description="List the workspace's users and the status of their LinkedIn accounts.",
    ins=AFTER,
    out=DONE,
    tags={ACCOUNTS_TAG: "list"},
)
def list_captaindata_users_op(
    context: dg.OpExecutionContext, config: ListUsersConfig, captaindata: CaptainDataResource
) -> dg.Output:
    return _list(context, config, captaindata, USER)


@dg.op(
    name="list_captaindata_identities",
    description="List the workspace's identities, the status of their LinkedIn accounts and "
    "their login links.",
    ins=AFTER,
    out=DONE,
    tags={ACCOUNTS_TAG: "list"},
)
def list_captaindata_identities_op(
    context: dg.OpExecutionContext, config: ListIdentitiesConfig, captaindata: CaptainDataResource
) -> dg.Output:
    return _list(context, config, captaindata, IDENTITY)


def _list(
    context: dg.OpExecutionContext,
    config: Any,
    captaindata: CaptainDataResource,
    kind: AccountKind,
) -> dg.Output:
    """The list ops: rows, a status table, and a warning per account needing a person."""
    group, _, plural = _KINDS[kind]
    try:
        found = accounts.list_accounts(captaindata.get_client(), query=config.query, kind=kind)
    except CaptainDataError as err:
        raise failure_for_error(err) from err
    rows = [accounts.account_row(a, kind) for a in found]
    if config.connected_only:
        rows = [r for r in rows if r["linkedin"] == accounts.CONNECTED]
    attention = [r for r in rows if r["linkedin"] != accounts.CONNECTED]
    for r in attention:
        who = r.get("email") or r["name"]
        link = f"hand them the login link {r['login_link']}, or " if r.get("login_link") else ""
        context.log.warning(
            f"{kind} {r['uid']} ({who}): LinkedIn {r['linkedin']}; "
            f"fix: {link}`captaindata-dagster {group} connect {r['uid']}`"
        )
    connected = len(rows) - len(attention)
    context.log.info(f"{len(rows)} {plural}, {connected} with a connected LinkedIn account")
    return dg.Output(
        None,
        metadata={
            plural: dg.MetadataValue.int(len(rows)),
            "rows": dg.MetadataValue.json(rows),
            "connected": dg.MetadataValue.int(connected),
            "needs_attention": dg.MetadataValue.json([r["uid"] for r in attention]),
            "table": dg.MetadataValue.md(_markdown(rows, kind)),
        },
    )


def _uid_for(client: Any, kind: AccountKind, value: str) -> str:
    """The uid of the one user with this email / identity with this name; else a
    `ValidationError` naming it (none, or several identities of that name)."""
    group, key, _ = _KINDS[kind]
    wanted = value.strip().lower()
    uids = [
        str(a["uid"])
        for a in accounts.list_accounts(client, query=value.strip(), kind=kind)
        if str(a.get(key) or "").strip().lower() == wanted and a.get("uid")
    ]
    if len(uids) == 1:
        return uids[0]
    if uids:
        raise ValidationError(
            f"{len(uids)} {group} have the {key} {value!r} ({', '.join(uids)}): set {kind}_uid",
            field=key,
            error_label="BAD_INPUT",
        )
    raise ValidationError(
        f"no {kind} with {key} {value!r} in this workspace: create it first "
        f"(create_captaindata_{kind}_op or `captaindata-dagster {group} create`)",
        field=key,
        error_label="STATUS_404",
    )


def _markdown(rows: list[dict[str, Any]], kind: AccountKind) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|")

    columns = list(accounts.account_row({}, kind))  # the row's keys, in order
    lines = [f"| {' | '.join(columns)} |", "|" + "---|" * len(columns)]
    lines += [f"| {' | '.join(cell(r[k]) for k in columns)} |" for r in rows]
    return "\n".join(lines)


@dg.job(
    description="Connect a user's LinkedIn account from cookies in the run worker's environment, "
    "then list the users and their status (see the module doc for the run config).",
    tags={ACCOUNTS_TAG: "connect"},
)
def connect_linkedin_job() -> None:
    list_captaindata_users_op(after=connect_linkedin_op())


@dg.job(
    description="Connect an identity's LinkedIn account from cookies in the run worker's "
    "environment, then list the identities, their status and login links (see the module doc).",
    tags={ACCOUNTS_TAG: "connect"},
)
def connect_identity_linkedin_job() -> None:
    list_captaindata_identities_op(after=connect_identity_linkedin_op())
