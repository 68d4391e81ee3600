"""`captaindata-dagster identities|users create|list|connect`: accounts and their LinkedIn.

    export CAPTAINDATA_API_KEY=...                  # or --sandbox / CAPTAINDATA_SANDBOX=1
    captaindata-dagster identities create --name "Ada Lovelace"   # prints its LinkedIn login link
    captaindata-dagster identities list             # uid, name, LinkedIn status, login link; --json
    CAPTAINDATA_LI_AT=... captaindata-dagster identities connect <identity uid>

Identities are the published API's holders of LinkedIn accounts (sent as `identity_ids`); `users`
(`create --email --name`, `list`, `connect`) are the seed's (`integration_users`), kept for
clients with `account_form="integration_users"`. An identity's login link (valid 48 hours) lets
the person connect their own LinkedIn without handing over a cookie. Cookies are read from the
variables `--li-at-env` / `--li-a-env` name, and are never printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from captaindata_dagster.api import accounts
from captaindata_dagster.api.accounts import IDENTITY, USER, AccountKind
from captaindata_dagster.api.client import AccountForm, CaptainDataClient
from captaindata_dagster.cli.environment import client_from_environment
from captaindata_dagster.cli.options import (
    CONTEXT_SETTINGS,
    PROG,
    api_errors,
    json_option,
    print_json,
    sandbox_option,
)

USER_COLUMNS = ("uid", "name", "email", "linkedin")
IDENTITY_COLUMNS = ("uid", "name", "linkedin", "login_link")
FORMS: dict[AccountKind, AccountForm] = {IDENTITY: "identity_ids", USER: "integration_users"}
GROUP_NAMES: dict[AccountKind, str] = {IDENTITY: "identities", USER: "users"}
TIMEZONE_HELP = "IANA time zone."


@contextmanager
def _client(kind: AccountKind, sandbox: bool) -> Iterator[CaptainDataClient]:
    """The environment's client in `kind`'s account form; the API's errors become exit codes."""
    with api_errors():
        client = client_from_environment(sandbox=sandbox, account_form=FORMS[kind])
        try:
            yield client
        finally:
            client.close()


@click.group(name="identities", context_settings=CONTEXT_SETTINGS)
def identities_group() -> None:
    """Create, list and connect identities (identity_ids).

    Identities are the published API's holders of LinkedIn accounts. An identity holds the LinkedIn account that actions run from. `create` prints a login link
    (valid 48 h) the person opens to connect their own LinkedIn; `connect` does it from cookies.
    """


@click.group(name="users", context_settings=CONTEXT_SETTINGS)
def users_group() -> None:
    """Create, list and connect workspace users (the former form).

    Workspace users are the seed's integration_users, kept for clients built with account_form="integration_users"; new setups use `identities`.
    """


@identities_group.command(name="create")
@click.option("--name", required=True, help="The person's name, e.g. 'Ada Lovelace'.")
@click.option("--timezone", default="UTC", show_default=True, help=TIMEZONE_HELP)
@sandbox_option
@json_option
def create_identity(name: str, timezone: str, sandbox: bool, as_json: bool) -> None:
    """Create an identity and print its LinkedIn login link (valid 48 h).

    Hand the link to the person whose LinkedIn the identity will use: they open it within 48
    hours and log in, no cookie changes hands.
    """
    with _client(IDENTITY, sandbox) as client:
        identity = accounts.create_identity(client, name, timezone)
    if as_json:
        print_json(identity)
        return
    uid, shown = identity.get("uid"), identity.get("name") or name
    click.echo(f"created identity {uid} ({shown})")
    link = accounts.login_link(identity)
    if link:
        click.echo(f"LinkedIn login link (valid {accounts.LOGIN_LINK_HOURS} h): {link}")
        click.echo(
            f"hand it to {shown}, the person whose LinkedIn this identity will use: they open it "
            "and log in to LinkedIn themselves, no cookie changes hands. Anyone who opens it "
            "can connect their LinkedIn here, so send it to that person only."
        )
    click.echo(f"or connect from cookies: {accounts.LI_AT_ENV}=... {PROG} identities connect {uid}")


@users_group.command(name="create")
@click.option("--email", required=True, help="The user's email.")
@click.option("--name", "full_name", required=True, help="The user's full name.")
@click.option("--timezone", default="UTC", show_default=True, help=TIMEZONE_HELP)
@sandbox_option
@json_option
def create_user(email: str, full_name: str, timezone: str, sandbox: bool, as_json: bool) -> None:
    """Create a workspace user, who can then connect LinkedIn."""
    with _client(USER, sandbox) as client:
        user = accounts.create_user(client, email, full_name, timezone)
    if as_json:
        print_json(user)
        return
    click.echo(f"created user {user.get('uid')} ({user.get('email')})")
    click.echo(
        f"connect its LinkedIn: {accounts.LI_AT_ENV}=... {PROG} users connect {user.get('uid')}"
    )


def _list_command(kind: AccountKind) -> click.Command:
    group = GROUP_NAMES[kind]

    @click.command(
        name="list",
        help=f"List {group} with the status of their LinkedIn account.\n\n"
        "The table goes to stdout, the counts to stderr.",
    )
    @click.option("--query", help="Filter by name" + (" or email." if kind == USER else "."))
    @click.option("--connected", is_flag=True, help=f"Only {group} whose LinkedIn is connected.")
    @sandbox_option
    @json_option
    def list_accounts(query: str | None, connected: bool, sandbox: bool, as_json: bool) -> None:
        with _client(kind, sandbox) as client:
            found = accounts.list_accounts(client, query=query, kind=kind)
        rows = [accounts.account_row(a, kind) for a in found]
        if connected:
            rows = [r for r in rows if r["linkedin"] == accounts.CONNECTED]
        if as_json:
            print_json(rows)
            return
        _print_table(rows, IDENTITY_COLUMNS if kind == IDENTITY else USER_COLUMNS)
        linked = sum(r["linkedin"] == accounts.CONNECTED for r in rows)
        click.echo(f"{_count(len(rows), kind)}, {linked} with LinkedIn connected", err=True)

    return list_accounts


def _print_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for r in rows:
        click.echo("  ".join(str(r[c]).ljust(widths[c]) for c in columns).rstrip())


def _count(n: int, kind: AccountKind) -> str:
    if kind == USER:
        return f"{n} user(s)"
    return f"{n} identit{'y' if n == 1 else 'ies'}"


def _connect_help(kind: AccountKind) -> str:
    group = GROUP_NAMES[kind]
    return (
        f"Connect (or refresh) the LinkedIn account of one of the {group}, from cookies in the "
        f"environment.\n\nReads the li_at cookie (and li_a, if set) from the variables "
        f"--li-at-env and --li-a-env name, and connects the {kind}'s LinkedIn account, or "
        f"refreshes it when one is already connected (e.g. after LK_BAD_COOKIE). The values are "
        f"never printed. {kind.upper()}_UID: see `{PROG} {group} list`."
    )


def _connect_command(kind: AccountKind) -> click.Command:
    @click.command(name="connect", help=_connect_help(kind))
    @click.argument("uid", metavar=f"{kind.upper()}_UID")
    @click.option(
        "--li-at-env", default=accounts.LI_AT_ENV, show_default=True, metavar="VAR",
        help="The variable holding the li_at cookie.",
    )  # fmt: skip
    @click.option(
        "--li-a-env", default=accounts.LI_A_ENV, show_default=True, metavar="VAR",
        help="The variable holding the li_a cookie (Sales Navigator), optional; '' for none.",
    )  # fmt: skip
    @click.option("--account-name", help="A label for the account.")
    @click.option(
        "--update/--new",
        default=None,
        help=f"Refresh an existing account (PUT) or connect a new one (POST), without looking "
        f"the {kind} up first.",
    )
    @sandbox_option
    @json_option
    def connect(
        uid: str,
        li_at_env: str,
        li_a_env: str,
        account_name: str | None,
        update: bool | None,
        sandbox: bool,
        as_json: bool,
    ) -> None:
        with _client(kind, sandbox) as client:
            account = accounts.connect_linkedin(
                client,
                uid,
                li_at_env=li_at_env,
                li_a_env=li_a_env or None,
                account_name=account_name,
                update=update,
                kind=kind,
            )
        if as_json:
            print_json(account)
            return
        status = f" (error: {account['error']})" if account.get("error") else ""
        click.echo(f"LinkedIn account {account.get('uid')} connected for {kind} {uid}{status}")

    return connect


GROUPS: dict[AccountKind, click.Group] = {IDENTITY: identities_group, USER: users_group}
for _kind, _group in GROUPS.items():
    _group.add_command(_list_command(_kind))
    _group.add_command(_connect_command(_kind))
