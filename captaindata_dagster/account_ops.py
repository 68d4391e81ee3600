"""Dagster ops for workspace users and their LinkedIn accounts, and a job that connects one.

The same operations as `captaindata-dagster users ...`, for teams that manage accounts from the
Dagster UI: `create_captaindata_user_op`, `connect_linkedin_op` (cookies read from environment
variables of the run worker, named in the run config, never the values) and
`list_captaindata_users_op` (a status table in its metadata). All use the `captaindata` resource.

`connect_linkedin_job` connects an account, then lists the users. In the launchpad::

    ops:
      connect_linkedin:
        config:
          user_uid: 5f0c2a9e-...          # or email: ada@example.com (`users list` shows both)
          li_at_env: CAPTAINDATA_LI_AT    # the default; li_a_env: CAPTAINDATA_LI_A (optional)

What they did is in their output metadata and logs (uids, statuses, a table of users), not in
values handed to an IO manager: they fit in any code location, a warehouse `io_manager` included.
Their `after` input (`dg.Nothing`) orders them in a job: create, then connect, then list.
"""

# No `from __future__ import annotations`: Dagster reads the ops' annotations as objects.
from typing import Any, Optional

import dagster as dg
from pydantic import Field

from . import accounts
from .errors import CaptainDataError, ValidationError
from .metadata import failure_for_error
from .resource import CaptainDataResource


class CreateUserConfig(dg.Config):
    """A workspace user to create."""

    email: str = Field(description="The user's email address.")
    full_name: str = Field(description="The user's full name, e.g. 'Ada Lovelace'.")
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Paris.")


class ConnectLinkedInConfig(dg.Config):
    """Which user to connect, and the environment variables holding the session cookies."""

    user_uid: Optional[str] = Field(  # noqa: UP045 - Dagster's config reads Optional
        default=None, description="The user to connect (`users list` shows the uids)."
    )
    email: Optional[str] = Field(  # noqa: UP045
        default=None,
        description="Or the email of the user to connect, e.g. one just created by "
        "create_captaindata_user_op in the same run.",
    )
    li_at_env: str = Field(
        default=accounts.LI_AT_ENV,
        description="Environment variable of the run worker holding the li_at cookie.",
    )
    li_a_env: Optional[str] = Field(  # noqa: UP045
        default=accounts.LI_A_ENV,
        description="Environment variable holding the li_a cookie (Sales Navigator); optional.",
    )
    account_name: Optional[str] = Field(default=None, description="Label of the account.")  # noqa: UP045
    update: Optional[bool] = Field(  # noqa: UP045
        default=None,
        description="True: refresh an existing account (PUT); False: connect a new one (POST). "
        "Unset: refresh if the user already has one, e.g. after LK_BAD_COOKIE.",
    )


class ListUsersConfig(dg.Config):
    """Which users to list."""

    query: Optional[str] = Field(default=None, description="Filter by name or email.")  # noqa: UP045
    connected_only: bool = Field(
        default=False, description="Only users whose LinkedIn account is connected without error."
    )


AFTER = {"after": dg.In(dg.Nothing, description="Run after this op (ordering only).")}
DONE = dg.Out(dg.Nothing, description="What was done is in the metadata.")


@dg.op(
    name="create_captaindata_user",
    description="Create a Captain Data workspace user (who can then connect a LinkedIn account).",
    ins=AFTER,
    out=DONE,
    tags={"captaindata/accounts": "create"},
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
    name="connect_linkedin",
    description="Connect (or refresh) a user's LinkedIn account from cookies held in "
    "environment variables of the run worker.",
    ins=AFTER,
    out=DONE,
    tags={"captaindata/accounts": "connect"},
)
def connect_linkedin_op(
    context: dg.OpExecutionContext, config: ConnectLinkedInConfig, captaindata: CaptainDataResource
) -> dg.Output:
    if bool(config.user_uid) == bool(config.email):
        raise dg.Failure(
            description="connect_linkedin: set exactly one of user_uid and email in the op's "
            "config (`captaindata-dagster users list` shows both).",
            metadata={"field": "user_uid"},
            allow_retries=False,
        )
    try:
        client = captaindata.get_client()
        uid = config.user_uid or _uid_for_email(client, str(config.email))
        account = accounts.connect_linkedin(
            client,
            uid,
            li_at_env=config.li_at_env,
            li_a_env=config.li_a_env,
            account_name=config.account_name,
            update=config.update,
        )
    except CaptainDataError as err:
        raise failure_for_error(err) from err
    context.log.info(f"LinkedIn account {account.get('uid')} connected for user {uid}")
    return dg.Output(
        None,
        metadata={
            "user_uid": uid,
            "account_uid": str(account.get("uid") or ""),
            "account_error": str(account.get("error") or ""),
        },
    )


@dg.op(
    name="list_captaindata_users",
    description="List the workspace's users and the status of their LinkedIn accounts.",
    ins=AFTER,
    out=DONE,
    tags={"captaindata/accounts": "list"},
)
def list_captaindata_users_op(
    context: dg.OpExecutionContext, config: ListUsersConfig, captaindata: CaptainDataResource
) -> dg.Output:
    try:
        users = accounts.list_users(captaindata.get_client(), query=config.query)
    except CaptainDataError as err:
        raise failure_for_error(err) from err
    rows = [accounts.user_row(u) for u in users]
    if config.connected_only:
        rows = [r for r in rows if r["linkedin"] == accounts.CONNECTED]
    attention = [r for r in rows if r["linkedin"] != accounts.CONNECTED]
    for r in attention:
        context.log.warning(
            f"user {r['uid']} ({r['email']}): LinkedIn {r['linkedin']}; "
            f"fix with `captaindata-dagster users connect {r['uid']}`"
        )
    connected = len(rows) - len(attention)
    context.log.info(f"{len(rows)} user(s), {connected} with a connected LinkedIn account")
    return dg.Output(
        None,
        metadata={
            "users": dg.MetadataValue.int(len(rows)),
            "rows": dg.MetadataValue.json(rows),
            "connected": dg.MetadataValue.int(connected),
            "needs_attention": dg.MetadataValue.json([r["uid"] for r in attention]),
            "table": dg.MetadataValue.md(_markdown(rows)),
        },
    )


def _uid_for_email(client: Any, email: str) -> str:
    """The uid of the workspace's user with this email; a `ValidationError` naming it if none."""
    wanted = email.strip().lower()
    for user in accounts.list_users(client, query=email.strip()):
        if str(user.get("email") or "").lower() == wanted and user.get("uid"):
            return str(user["uid"])
    raise ValidationError(
        f"no user with email {email!r} in this workspace: create it first "
        "(create_captaindata_user_op or `captaindata-dagster users create`)",
        field="email",
        error_label="STATUS_404",
    )


def _markdown(rows: list[dict[str, Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|")

    lines = ["| uid | name | email | linkedin |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(cell(r[k]) for k in ('uid', 'name', 'email', 'linkedin'))} |"
              for r in rows]  # fmt: skip
    return "\n".join(lines)


@dg.job(
    description="Connect a user's LinkedIn account from cookies in the run worker's environment, "
    "then list the users and their status (see the module doc for the run config).",
    tags={"captaindata/accounts": "connect"},
)
def connect_linkedin_job() -> None:
    list_captaindata_users_op(after=connect_linkedin_op())
