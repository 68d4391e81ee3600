"""`captaindata-dagster identities|users|outreach ...`: accounts and outreach review, from a shell.

    export CAPTAINDATA_API_KEY=...                  # or --sandbox / CAPTAINDATA_SANDBOX=1
    captaindata-dagster identities create --name "Ada Lovelace"   # prints its LinkedIn login link
    captaindata-dagster identities list             # uid, name, LinkedIn status, login link; --json
    CAPTAINDATA_LI_AT=... captaindata-dagster identities connect <identity uid>

Identities are the published API's holders of LinkedIn accounts (sent as `identity_ids`); `users`
(`create --email --name`, `list`, `connect`) are the seed's (`integration_users`), kept for
clients with `account_form="integration_users"`. An identity's login link (valid 48 hours) lets
the person connect their own LinkedIn without handing over a cookie.

`outreach list|mark-sent|mark-retry` reviews outreach sends whose outcome is unknown, in the
outreach records (no API call, no key); it lives in `outreach_cli.py`.

The key and the base URL come from the environment only (`CAPTAINDATA_API_KEY`,
`CAPTAINDATA_BASE_URL`): a command-line argument would show in `ps` and the shell's history. So do
the cookies (`--li-at-env` names the variable, `CAPTAINDATA_LI_AT` by default). Neither is ever
printed. Exit codes: 0 done, 1 the API refused or failed, 2 bad usage or settings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from captaindata_dagster.api import accounts
from captaindata_dagster.api.accounts import IDENTITY, USER, AccountKind
from captaindata_dagster.api.client import DEFAULT_BASE_URL, AccountForm, CaptainDataClient
from captaindata_dagster.api.errors import CaptainDataError, ValidationError
from captaindata_dagster.outreach_cli import GROUP as OUTREACH
from captaindata_dagster.outreach_cli import add_outreach_parser, run_outreach_command

API_KEY_ENV = "CAPTAINDATA_API_KEY"  # the resource's names, repeated: no Dagster import here
BASE_URL_ENV = "CAPTAINDATA_BASE_URL"
PROG = "captaindata-dagster"
COLUMNS = ("uid", "name", "email", "linkedin")  # users list
IDENTITY_COLUMNS = ("uid", "name", "linkedin", "login_link")  # identities list
GROUPS: dict[str, AccountKind] = {"identities": IDENTITY, "users": USER}
FORMS: dict[AccountKind, AccountForm] = {IDENTITY: "identity_ids", USER: "integration_users"}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Manage Captain Data identities (or the seed's workspace users) and their "
        f"LinkedIn accounts. The API key is read from {API_KEY_ENV} (and {BASE_URL_ENV}), never "
        "from the command line. Review outreach sends whose outcome is unknown.",
    )
    sub = ap.add_subparsers(dest="group", required=True, metavar="{identities,users,outreach}")
    identities = sub.add_parser(
        "identities",
        help="create, list and connect identities (the published API; identity_ids)",
    )
    cmds = identities.add_subparsers(dest="command", required=True)
    create = cmds.add_parser(
        "create",
        help="create an identity and print its LinkedIn login link (valid 48 h)",
        description="Creates an identity and prints its LinkedIn login link: hand it to the "
        "person whose LinkedIn the identity will use; they open it within 48 hours and log in, "
        "no cookie changes hands.",
    )
    create.add_argument("--name", required=True, help="the person's name, e.g. 'Ada Lovelace'")
    create.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")
    _common(create)
    _add_list(cmds, IDENTITY)
    _add_connect(cmds, IDENTITY)

    users = sub.add_parser(
        "users", help="create, list and connect workspace users (the seed's integration_users)"
    )
    cmds = users.add_subparsers(dest="command", required=True)
    create = cmds.add_parser("create", help="create a user (who can then connect LinkedIn)")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True, dest="full_name", help="full name")
    create.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")
    _common(create)
    _add_list(cmds, USER)
    _add_connect(cmds, USER)
    add_outreach_parser(sub)
    return ap


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sandbox",
        action="store_true",
        help="use a throwaway bundled simulator in this process (synthetic; also "
        "CAPTAINDATA_SANDBOX=1)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _add_list(cmds: Any, kind: AccountKind) -> None:
    group = "identities" if kind == IDENTITY else "users"
    ls = cmds.add_parser("list", help=f"{group} with the status of their LinkedIn account")
    ls.add_argument("--query", help="filter by name" + (" or email" if kind == USER else ""))
    ls.add_argument(
        "--connected", action="store_true", help=f"only {group} whose LinkedIn is connected"
    )
    _common(ls)


def _add_connect(cmds: Any, kind: AccountKind) -> None:
    group = "identities" if kind == IDENTITY else "users"
    connect = cmds.add_parser(
        "connect",
        help=f"connect (or refresh) the LinkedIn account of one of the {group}, from cookies "
        "in the environment",
        description="Reads the li_at cookie (and li_a, for Sales Navigator, if set) from "
        f"environment variables and connects the {kind}'s LinkedIn account, or refreshes it when "
        "one is already connected (e.g. after LK_BAD_COOKIE). The values are never printed.",
    )
    connect.add_argument("user_uid", metavar=f"{kind}_uid", help=f"see `{group} list`")
    connect.add_argument(
        "--li-at-env",
        default=accounts.LI_AT_ENV,
        metavar="VAR",
        help=f"variable holding the li_at cookie (default {accounts.LI_AT_ENV})",
    )
    connect.add_argument(
        "--li-a-env",
        default=accounts.LI_A_ENV,
        metavar="VAR",
        help=f"variable holding the li_a cookie, optional (default {accounts.LI_A_ENV})",
    )
    connect.add_argument("--account-name", help="a label for the account")
    mode = connect.add_mutually_exclusive_group()
    mode.add_argument(
        "--update", dest="update", action="store_const", const=True, default=None,
        help=f"refresh an existing account (PUT) without looking the {kind} up",
    )  # fmt: skip
    mode.add_argument(
        "--new", dest="update", action="store_const", const=False,
        help=f"connect a new account (POST) without looking the {kind} up",
    )  # fmt: skip
    _common(connect)


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 the API failed, 2 bad usage/settings).

    `outreach` commands return 1 when a mark was refused (see `outreach_cli.py`).
    """
    stream: TextIO = out if out is not None else sys.stdout
    args = build_parser().parse_args(argv)
    if args.group == OUTREACH:
        return run_outreach_command(args, stream)
    kind = GROUPS[args.group]
    try:
        client = _client(args.sandbox, FORMS[kind])
    except ValidationError as err:
        print(f"{PROG}: {err.message}", file=sys.stderr)
        return 2
    try:
        if args.command == "create":
            create = _create_identity if kind == IDENTITY else _create
            return create(client, args, stream)
        if args.command == "list":
            return _list(client, args, stream, kind)
        return _connect(client, args, stream, kind)
    except ValidationError as err:
        print(f"{PROG}: {err.message}", file=sys.stderr)
        return 2
    except CaptainDataError as err:
        print(f"{PROG}: the API refused: {err}", file=sys.stderr)
        return 1
    finally:
        client.close()


def _client(sandbox: bool, account_form: AccountForm = "integration_users") -> CaptainDataClient:
    """A client from the environment (or the bundled simulator); the key is never an argument.

    `account_form` is the command group's: identity_ids for `identities`, integration_users for
    `users`.
    """
    from captaindata_dagster.simulator.sandbox import SANDBOX_ENV, sandbox_enabled

    if sandbox or sandbox_enabled():
        from captaindata_dagster.simulator.sandbox import sandbox_simulator

        sim = sandbox_simulator()
        return CaptainDataClient(sim.api_key, sim.base_url, account_form=account_form)
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise ValidationError(
            f"no API key: set {API_KEY_ENV} (and {BASE_URL_ENV} for another API root), or pass "
            f"--sandbox / set {SANDBOX_ENV}=1 to try the commands on the bundled simulator",
            field=API_KEY_ENV,
            error_label="MISSING_API_KEY",
            error_scope="auth",
        )
    base_url = os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
    return CaptainDataClient(key, base_url, account_form=account_form)


def _create(client: CaptainDataClient, args: argparse.Namespace, out: TextIO) -> int:
    user = accounts.create_user(client, args.email, args.full_name, args.timezone)
    if args.json:
        _print_json(user, out)
    else:
        print(f"created user {user.get('uid')} ({user.get('email')})", file=out)
        print(
            f"connect its LinkedIn: {accounts.LI_AT_ENV}=... {PROG} users connect "
            f"{user.get('uid')}",
            file=out,
        )
    return 0


def _create_identity(client: CaptainDataClient, args: argparse.Namespace, out: TextIO) -> int:
    identity = accounts.create_identity(client, args.name, args.timezone)
    if args.json:
        _print_json(identity, out)
        return 0
    uid, name = identity.get("uid"), identity.get("name") or args.name
    print(f"created identity {uid} ({name})", file=out)
    link = accounts.login_link(identity)
    if link:
        print(f"LinkedIn login link (valid {accounts.LOGIN_LINK_HOURS} h): {link}", file=out)
        print(
            f"hand it to {name}, the person whose LinkedIn this identity will use: they open it "
            "and log in to LinkedIn themselves, no cookie changes hands. Anyone who opens it "
            "can connect their LinkedIn here, so send it to that person only.",
            file=out,
        )
    print(
        f"or connect from cookies: {accounts.LI_AT_ENV}=... {PROG} identities connect {uid}",
        file=out,
    )
    return 0


def _list(
    client: CaptainDataClient, args: argparse.Namespace, out: TextIO, kind: AccountKind = USER
) -> int:
    found = accounts.list_accounts(client, query=args.query, kind=kind)
    rows = [accounts.account_row(a, kind) for a in found]
    if args.connected:
        rows = [r for r in rows if r["linkedin"] == accounts.CONNECTED]
    if args.json:
        _print_json(rows, out)
        return 0
    columns = IDENTITY_COLUMNS if kind == IDENTITY else COLUMNS
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip(), file=out)
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in columns).rstrip(), file=out)
    connected = sum(r["linkedin"] == accounts.CONNECTED for r in rows)
    counted = f"{len(rows)} user(s)" if kind == USER else _identities(len(rows))
    print(f"{counted}, {connected} with LinkedIn connected", file=sys.stderr)
    return 0


def _identities(n: int) -> str:
    return f"{n} identit{'y' if n == 1 else 'ies'}"


def _connect(
    client: CaptainDataClient, args: argparse.Namespace, out: TextIO, kind: AccountKind = USER
) -> int:
    account = accounts.connect_linkedin(
        client,
        args.user_uid,
        li_at_env=args.li_at_env,
        li_a_env=args.li_a_env or None,
        account_name=args.account_name,
        update=args.update,
        kind=kind,
    )
    if args.json:
        _print_json(account, out)
        return 0
    status = f" (error: {account['error']})" if account.get("error") else ""
    print(
        f"LinkedIn account {account.get('uid')} connected for {kind} {args.user_uid}{status}",
        file=out,
    )
    return 0


def _print_json(value: Any, out: TextIO) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str), file=out)


if __name__ == "__main__":
    sys.exit(main())
