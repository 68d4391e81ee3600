"""`captaindata-dagster users create|list|connect`: manage workspace users from a shell.

    export CAPTAINDATA_API_KEY=...                  # or --sandbox / CAPTAINDATA_SANDBOX=1
    captaindata-dagster users create --email ada@example.com --name "Ada Lovelace"
    captaindata-dagster users list                  # uid, name, email, LinkedIn status; --json
    CAPTAINDATA_LI_AT=... captaindata-dagster users connect <user uid>

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

from . import accounts
from .client import DEFAULT_BASE_URL, CaptainDataClient
from .errors import CaptainDataError, ValidationError

API_KEY_ENV = "CAPTAINDATA_API_KEY"  # the resource's names, repeated: no Dagster import here
BASE_URL_ENV = "CAPTAINDATA_BASE_URL"
PROG = "captaindata-dagster"
COLUMNS = ("uid", "name", "email", "linkedin")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Manage Captain Data workspace users and their LinkedIn accounts. The API key "
        f"is read from {API_KEY_ENV} (and {BASE_URL_ENV}), never from the command line.",
    )
    sub = ap.add_subparsers(dest="group", required=True, metavar="{users}")
    users = sub.add_parser("users", help="create, list and connect workspace users")
    cmds = users.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--sandbox",
            action="store_true",
            help="use a throwaway bundled simulator in this process (synthetic; also "
            "CAPTAINDATA_SANDBOX=1)",
        )
        p.add_argument("--json", action="store_true", help="print JSON instead of text")

    create = cmds.add_parser("create", help="create a user (who can then connect LinkedIn)")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True, dest="full_name", help="full name")
    create.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")
    common(create)

    ls = cmds.add_parser("list", help="users with the status of their LinkedIn account")
    ls.add_argument("--query", help="filter by name or email")
    ls.add_argument(
        "--connected", action="store_true", help="only users whose LinkedIn is connected"
    )
    common(ls)

    connect = cmds.add_parser(
        "connect",
        help="connect (or refresh) a user's LinkedIn account from cookies in the environment",
        description="Reads the li_at cookie (and li_a, for Sales Navigator, if set) from "
        "environment variables and connects the user's LinkedIn account, or refreshes it when "
        "one is already connected (e.g. after LK_BAD_COOKIE). The values are never printed.",
    )
    connect.add_argument("user_uid", help="the user's uid (see `users list`)")
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
        help="refresh an existing account (PUT) without looking the user up",
    )  # fmt: skip
    mode.add_argument(
        "--new", dest="update", action="store_const", const=False,
        help="connect a new account (POST) without looking the user up",
    )  # fmt: skip
    common(connect)
    return ap


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 the API failed, 2 bad usage/settings)."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    try:
        client = _client(args.sandbox)
    except ValidationError as err:
        print(f"{PROG}: {err.message}", file=sys.stderr)
        return 2
    try:
        if args.command == "create":
            return _create(client, args, out)
        if args.command == "list":
            return _list(client, args, out)
        return _connect(client, args, out)
    except ValidationError as err:
        print(f"{PROG}: {err.message}", file=sys.stderr)
        return 2
    except CaptainDataError as err:
        print(f"{PROG}: the API refused: {err}", file=sys.stderr)
        return 1
    finally:
        client.close()


def _client(sandbox: bool) -> CaptainDataClient:
    """A client from the environment (or the bundled simulator); the key is never an argument."""
    from .sandbox import SANDBOX_ENV, sandbox_enabled

    if sandbox or sandbox_enabled():
        from .sandbox import sandbox_simulator

        sim = sandbox_simulator()
        return CaptainDataClient(sim.api_key, sim.base_url)
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
    return CaptainDataClient(key, base_url)


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


def _list(client: CaptainDataClient, args: argparse.Namespace, out: TextIO) -> int:
    rows = [accounts.user_row(u) for u in accounts.list_users(client, query=args.query)]
    if args.connected:
        rows = [r for r in rows if r["linkedin"] == accounts.CONNECTED]
    if args.json:
        _print_json(rows, out)
        return 0
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in COLUMNS}
    print("  ".join(c.upper().ljust(widths[c]) for c in COLUMNS).rstrip(), file=out)
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in COLUMNS).rstrip(), file=out)
    connected = sum(r["linkedin"] == accounts.CONNECTED for r in rows)
    print(f"{len(rows)} user(s), {connected} with LinkedIn connected", file=sys.stderr)
    return 0


def _connect(client: CaptainDataClient, args: argparse.Namespace, out: TextIO) -> int:
    account = accounts.connect_linkedin(
        client,
        args.user_uid,
        li_at_env=args.li_at_env,
        li_a_env=args.li_a_env or None,
        account_name=args.account_name,
        update=args.update,
    )
    if args.json:
        _print_json(account, out)
        return 0
    status = f" (error: {account['error']})" if account.get("error") else ""
    print(
        f"LinkedIn account {account.get('uid')} connected for user {args.user_uid}{status}",
        file=out,
    )
    return 0


def _print_json(value: Any, out: TextIO) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str), file=out)


if __name__ == "__main__":
    sys.exit(main())
