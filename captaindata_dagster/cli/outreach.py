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
config's `mark_sent` / `mark_retry` do. No API call is made, so no key is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import click

from captaindata_dagster.cli.options import (
    CONTEXT_SETTINGS,
    Refused,
    json_option,
    print_json,
    print_listing,
)
from captaindata_dagster.storage.locations import DEFAULT_STORE_PATH, LEDGER_URL_ENV, STORE_ENV
from captaindata_dagster.storage.outreach_records import OutreachStore, SendRecord

STORE_HELP = (
    f"The store file or postgresql:// URL [default: ${STORE_ENV}, else ${LEDGER_URL_ENV}, "
    f"else {DEFAULT_STORE_PATH}]."
)
STORE_META = "captaindata.outreach_store"  # the group's --store, for its commands
MARK_LINES = {"sent": "sent   {url}", "retry": "retry  {url}", "no record": "no record for {url}"}
F = TypeVar("F", bound=Callable[..., Any])


def _store_option(command: F) -> F:
    return click.option("--store", default=None, metavar="PATH|URL", help=STORE_HELP)(command)


def _store(store: str | None) -> OutreachStore:
    """The store given after the command, else the one given before it (on the group)."""
    given = store or click.get_current_context().meta.get(STORE_META)
    return OutreachStore(given)


@click.group(name="outreach", context_settings=CONTEXT_SETTINGS)
@_store_option
def outreach_group(store: str | None) -> None:
    """Review outreach sends of unknown outcome.

    Mark each sent or to retry. A send whose answer was lost (unknown), or a pending one left by a killed run, is never
    re-sent blindly: a person checks the account and says what happened. No API call is made.
    `--store` may be given here or after the command. Exit codes: 0 done, 1 a mark was refused
    (mark-retry on a record already sent: un-sending is not a thing).
    """
    click.get_current_context().meta[STORE_META] = store


@outreach_group.command(name="list")
@click.option("--campaign", help="Only this campaign's records.")
@click.option("--all", "every", is_flag=True, help="Every record, not only those to review.")
@_store_option
@json_option
def list_records(campaign: str | None, every: bool, store: str | None, as_json: bool) -> None:
    """List the records to review.

    Those pending or unknown; --all for every one. One line per record on stdout, the count on stderr.
    """
    with _store(store) as records_store:
        found = records_store.records(campaign) if every else records_store.needs_review(campaign)
    print_listing(found, as_json=as_json, row=dataclasses.asdict, line=_record_line, noun="record")


def _record_line(r: SendRecord) -> str:
    when = r.attempted_at.isoformat() if r.attempted_at else "-"
    return (
        f"{r.state:8} {r.campaign} {r.action_id} {r.profile_url} account={r.account} "
        f"attempted={when} label={r.error_label or '-'}"
    )


def _mark_options(command: F) -> F:
    for option in reversed(
        (
            click.option("--campaign", required=True, help="The campaign the sends belong to."),
            click.option("--action", required=True, help="e.g. linkedin-connect-profile."),
            click.option("--note", help="Why: kept on the record."),
            click.argument("profiles", nargs=-1, required=True, metavar="PROFILE_URL..."),
            _store_option,
            json_option,
        )
    ):
        command = option(command)
    return command


@outreach_group.command(name="mark-sent")
@_mark_options
def mark_sent(
    campaign: str, action: str, note: str | None, profiles: tuple[str, ...], store: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Mark sends as gone out: no run sends them again."""
    with _store(store) as records_store:
        for url in profiles:
            records_store.mark_sent(campaign, action, url, note=note)
    _print_marks([(url, "sent") for url in profiles], as_json)


@outreach_group.command(name="mark-retry")
@_mark_options
def mark_retry(
    campaign: str, action: str, note: str | None, profiles: tuple[str, ...], store: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Mark sends as not gone out: the next run sends them.

    Refused (exit 1) for a record already sent: un-sending is not a thing.
    """
    marked: list[tuple[str, str]] = []
    with _store(store) as records_store:
        for url in profiles:
            try:
                done = records_store.mark_retry(campaign, action, url, note=note)
            except ValueError as exc:
                _print_marks(marked, as_json)
                raise Refused(f"refused {url}: {exc}") from exc
            marked.append((url, "retry" if done else "no record"))
    _print_marks(marked, as_json)


def _print_marks(marked: list[tuple[str, str]], as_json: bool) -> None:
    if as_json:
        print_json([{"profile_url": url, "result": result} for url, result in marked])
        return
    for url, result in marked:
        click.echo(MARK_LINES[result].format(url=url))
