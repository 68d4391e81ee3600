"""`captaindata-dagster outreach list|mark-sent|mark-retry`: review sends whose outcome is unknown.

    captaindata-dagster outreach --store .captaindata/outreach.sqlite list
    captaindata-dagster outreach mark-sent --campaign spring --action linkedin-connect-profile \\
        https://www.linkedin.com/in/ada-lovelace
    captaindata-dagster outreach mark-retry --campaign spring --action linkedin-connect-profile \\
        https://www.linkedin.com/in/grace-hopper

An outreach send whose answer was lost (`unknown`), or a `pending` one left by a killed run, is
never re-sent blindly: a person checks the account and says what happened. `mark-sent` (it went
out: no run sends it again) and `mark-retry` (it did not: the next run sends it) write that
decision into the outreach records (`OutreachStore.mark_sent` / `mark_retry`), like the run
config's `mark_sent` / `mark_retry` do. `list` prints the records to review (`--all`: every one).

No API call is made, so no key is read. `--store` is a file or a `postgresql://` URL, given before
or after the command; by default the store of `default_store_path`. Exit codes: 0 done, 1 a mark
was refused (`mark-retry` on a record already sent: un-sending is not a thing).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from captaindata_dagster.storage.locations import DEFAULT_STORE_PATH, LEDGER_URL_ENV, STORE_ENV
from captaindata_dagster.storage.outreach_records import OutreachStore, SendRecord

GROUP = "outreach"
STORE_HELP = (
    f"store file or postgresql:// URL (default: ${STORE_ENV}, else ${LEDGER_URL_ENV}, "
    f"else {DEFAULT_STORE_PATH})"
)
MARKS = (
    ("mark-sent", "it went out: never send it again"),
    ("mark-retry", "it did not go out: the next run sends it"),
)


def add_outreach_parser(sub: Any) -> None:
    """Add the `outreach` command group to the CLI's subparsers (`sub`).

    Args:
        sub: what `ArgumentParser.add_subparsers` returned for the CLI's command groups.

    Example:
        >>> ap = argparse.ArgumentParser(prog="captaindata-dagster")
        >>> add_outreach_parser(ap.add_subparsers(dest="group"))
        >>> ap.parse_args(["outreach", "list", "--campaign", "spring"]).command
        'list'
    """
    group = sub.add_parser(
        GROUP,
        help="review outreach sends whose outcome is unknown, and mark them sent or to retry",
        description="Review and resolve outreach sends whose outcome is unknown.",
    )
    group.add_argument("--store", default=None, help=STORE_HELP)
    cmds = group.add_subparsers(dest="command", required=True)
    ls = cmds.add_parser("list", help="records to review (pending, unknown); --all for every one")
    ls.add_argument("--campaign")
    ls.add_argument("--all", action="store_true")
    _store_here(ls)
    for name, help_ in MARKS:
        p = cmds.add_parser(name, help=help_)
        p.add_argument("--campaign", required=True)
        p.add_argument("--action", required=True, help="e.g. linkedin-connect-profile")
        p.add_argument("--note")
        p.add_argument("profiles", nargs="+", help="LinkedIn profile URLs")
        _store_here(p)


def _store_here(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: when absent here, the group's --store (given before the command) is kept.
    p.add_argument("--store", default=argparse.SUPPRESS, help=STORE_HELP)


def run_outreach_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run a parsed `outreach` command; returns the exit code (0 done, 1 a mark was refused).

    Args:
        args: the namespace `add_outreach_parser`'s parser produced (`command`, `store`, ...).
        out: where records and marks are printed (default stdout); counts and refusals go to
            stderr.

    Example:
        >>> from captaindata_dagster.cli import main
        >>> main(["outreach", "--store", "/tmp/outreach.sqlite", "list"])  # doctest: +SKIP
        0
    """
    stream: TextIO = out if out is not None else sys.stdout
    with OutreachStore(args.store) as store:
        if args.command == "list":
            return _list(store, args, stream)
        return _mark(store, args, stream)


def _list(store: OutreachStore, args: argparse.Namespace, out: TextIO) -> int:
    records = store.records(args.campaign) if args.all else store.needs_review(args.campaign)
    for r in records:
        print(_record_line(r), file=out)
    print(f"{len(records)} record(s)", file=sys.stderr)
    return 0


def _record_line(r: SendRecord) -> str:
    when = r.attempted_at.isoformat() if r.attempted_at else "-"
    return (
        f"{r.state:8} {r.campaign} {r.action_id} {r.profile_url} account={r.account} "
        f"attempted={when} label={r.error_label or '-'}"
    )


def _mark(store: OutreachStore, args: argparse.Namespace, out: TextIO) -> int:
    for url in args.profiles:
        if args.command == "mark-sent":
            store.mark_sent(args.campaign, args.action, url, note=args.note)
            print(f"sent   {url}", file=out)
            continue
        try:
            done = store.mark_retry(args.campaign, args.action, url, note=args.note)
        except ValueError as exc:
            print(f"refused {url}: {exc}", file=sys.stderr)
            return 1
        print(f"retry  {url}" if done else f"no record for {url}", file=out)
    return 0
