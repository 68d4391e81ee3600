"""`captaindata-dagster runs list|show|resume|replay|submissions|release`: async runs and the
ledger's bulk submissions.

    export CAPTAINDATA_API_KEY=...
    captaindata-dagster runs list --status FAILED --status BLOCKED   # async runs; --all-modes
    captaindata-dagster runs show <run uid>            # status, last error, callbacks that failed
    captaindata-dagster runs resume <run uid>          # refused when it would pay twice
    captaindata-dagster runs replay <run uid>          # every FAILED callback delivered again
    captaindata-dagster runs submissions --open        # the ledger's bulk submissions
    captaindata-dagster runs release <submission id>   # its inputs go to the next run

`resume` reads the ledger first: when it holds the run's submission as `closed` or `not_sent`,
the run's inputs were released and the next materialization submits them again, so resuming
would pay for them twice; it refuses (exit 2) unless `--force`. `submissions` and `release` read
only the ledger (no API call, no key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any, TypeVar

import click

from captaindata_dagster.api.bulk_records import RunInfo
from captaindata_dagster.api.bulk_statuses import RUN_STATUSES
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.cli.environment import client_from_environment
from captaindata_dagster.cli.options import (
    CONTEXT_SETTINGS,
    PROG,
    SettingsError,
    api_errors,
    json_option,
    print_json,
    print_listing,
    sandbox_option,
)
from captaindata_dagster.orchestration.bulk_control import ResumeRefused, resume_run_guarded
from captaindata_dagster.storage.ledger import Ledger
from captaindata_dagster.storage.ledger_bulk_records import BulkSubmissionRecord
from captaindata_dagster.storage.locations import DEFAULT_LEDGER_PATH, LEDGER_ENV, LEDGER_URL_ENV

LEDGER_HELP = (
    f"The ledger file or postgresql:// URL [default: ${LEDGER_URL_ENV}, else ${LEDGER_ENV}, "
    f"else {DEFAULT_LEDGER_PATH}]."
)
RUN_FIELDS = (
    "uid", "status", "action_name", "execution_mode", "retry_count", "last_error_label",
    "last_error_message", "callback_url", "created_at", "started_at", "finished_at",
    "updated_at", "postponed_until",
)  # fmt: skip
F = TypeVar("F", bound=Callable[..., Any])


def ledger_option(command: F) -> F:
    return click.option("--ledger", default=None, metavar="PATH|URL", help=LEDGER_HELP)(command)


@contextmanager
def api_client(sandbox: bool) -> Iterator[CaptainDataClient]:
    """The environment's client; the API's errors become exit codes (shared with `schedules`)."""
    with api_errors():
        client = client_from_environment(sandbox=sandbox)
        try:
            yield client
        finally:
            client.close()


def run_row(run: RunInfo) -> dict[str, Any]:
    return {name: getattr(run, name) for name in RUN_FIELDS}


@click.group(name="runs", context_settings=CONTEXT_SETTINGS)
def runs_group() -> None:
    """List, show, resume and replay async runs; review the ledger's bulk submissions.

    A resume the ledger says would pay twice is refused (exit 2) unless --force.
    """


@runs_group.command(name="list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(list(RUN_STATUSES)),
              help="Only runs in this status (repeat for several).")  # fmt: skip
@click.option("--action", help="Only runs of this action, e.g. linkedin-extract-people.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="At most this many runs, in the API's order.")  # fmt: skip
@click.option("--all-modes", is_flag=True, help="Live runs too, not only async ones.")
@sandbox_option
@json_option
def list_runs(
    statuses: tuple[str, ...], action: str | None, limit: int, all_modes: bool, sandbox: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """List runs (async ones unless --all-modes). The table to stdout, the count to stderr."""
    filters: dict[str, Any] = {"status": list(statuses) or None, "action_name": action}
    if not all_modes:
        filters["execution_mode"] = "ASYNC"
    with api_client(sandbox) as client:
        runs = list(islice(client.iter_runs(page_size=min(limit, 100), **filters), limit))
    print_listing(runs, as_json=as_json, row=run_row, line=_run_line, noun="run")


def _run_line(r: RunInfo) -> str:
    return (
        f"{r.uid}  {r.status or '-':17} {r.action_name or '-'}  "
        f"mode={r.execution_mode or '-'} error={r.last_error_label or '-'} "
        f"created={r.created_at or '-'}"
    )


@runs_group.command(name="show")
@click.argument("run_uid")
@sandbox_option
@json_option
def show_run(run_uid: str, sandbox: bool, as_json: bool) -> None:
    """Show one run: status, last error, callback URL, times, and its FAILED callbacks."""
    with api_client(sandbox) as client:
        run = client.get_run(run_uid)
        failed = sum(1 for _ in client.iter_callbacks(run_uid=run_uid, status="FAILED"))
    row = {**run_row(run), "resumable": run.resumable, "failed_callbacks": failed}
    if as_json:
        print_json(row)
        return
    for name, value in row.items():
        click.echo(f"{name:19} {'-' if value is None else value}")
    if failed:
        click.echo(f"replay them: {PROG} runs replay {run.uid}", err=True)


@runs_group.command(name="resume")
@click.argument("run_uid")
@click.option("--force", is_flag=True,
              help="Resume even when the ledger released the run's inputs (they are paid twice: "
              "by the resumed run and by the next materialization).")  # fmt: skip
@ledger_option
@sandbox_option
@json_option
def resume_run(run_uid: str, force: bool, ledger: str | None, sandbox: bool, as_json: bool) -> None:
    """Resume a FAILED, BLOCKED or STOPPED run, unless the ledger says it would pay twice.

    Refused (exit 2) when the ledger holds the run's submission as closed or not_sent (its
    inputs were released: the next materialization submits them again), unless --force; refused
    too when the run's status cannot be resumed.
    """
    with Ledger(ledger) as led, api_client(sandbox) as client:
        try:
            run = resume_run_guarded(client, led, run_uid, force=force)
        except ResumeRefused as refused:
            raise SettingsError(str(refused)) from refused
    if as_json:
        print_json(run_row(run))
        return
    click.echo(f"resumed run {run.uid}: {run.status} (retry {run.retry_count})")


@runs_group.command(name="replay")
@click.argument("run_uid")
@sandbox_option
@json_option
def replay_callbacks(run_uid: str, sandbox: bool, as_json: bool) -> None:
    """Ask the API to deliver every FAILED callback of a run again.

    Start the receiver first: the callbacks are posted to the run's callback URL. A replay that
    failed is itself FAILED: only the latest of each chain is replayed again.
    """
    from captaindata_dagster.engine.bulk.waiting import failed_callbacks

    with api_client(sandbox) as client:
        replayed = [client.replay_callback(uid) for uid in failed_callbacks(client, run_uid)]
    if as_json:
        print_json({"run_uid": run_uid, "replayed": [c.uid for c in replayed]})
        return
    click.echo(f"replayed {len(replayed)} failed callback(s) of run {run_uid}")


def submission_row(sub: BulkSubmissionRecord) -> dict[str, Any]:
    return {
        "submission_id": sub.submission_id,
        "action_id": sub.action_id,
        "state": sub.state,
        "run_uid": sub.run_uid,
        "inputs": len(sub.input_keys),
        "run_status": sub.run_status,
        "last_error_label": sub.last_error_label,
        "origin": dict(sub.origin) if sub.origin else None,
        "created_at": sub.created_at.isoformat(),
        "updated_at": sub.updated_at.isoformat(),
    }


@runs_group.command(name="submissions")
@click.option("--open", "open_only", is_flag=True, help="Only the open ones (sending, submitted).")
@ledger_option
@json_option
def list_submissions(open_only: bool, ledger: str | None, as_json: bool) -> None:
    """List the ledger's bulk submissions, oldest first (no API call)."""
    with Ledger(ledger) as led:
        rows = [submission_row(s) for s in led.bulk_submissions(open_only=open_only)]
    print_listing(rows, as_json=as_json, row=dict, line=_submission_line, noun="submission")


def _submission_line(r: dict[str, Any]) -> str:
    return (
        f"{r['submission_id']}  {r['state']:9} {r['action_id']} run={r['run_uid'] or '-'} "
        f"inputs={r['inputs']} status={r['run_status'] or '-'} "
        f"error={r['last_error_label'] or '-'} origin={r['origin'] or '-'}"
    )


@runs_group.command(name="release")
@click.argument("submission_id")
@ledger_option
@json_option
def release_submission(submission_id: str, ledger: str | None, as_json: bool) -> None:
    """Release an open submission: the next run submits its inputs again.

    For a submission whose answer was lost and whose run cannot be found, or a run nobody will
    resume. If its run exists and goes on, its inputs are paid twice.
    """
    with Ledger(ledger) as led:
        try:
            record = led.release_bulk_submission(submission_id)
        except KeyError as err:
            raise SettingsError(f"no bulk submission {submission_id!r} in the ledger") from err
    click.echo(
        f"warning: submission {submission_id} is released: the next run submits its "
        f"{len(record.input_keys)} input(s) again. If its run"
        f"{' ' + record.run_uid if record.run_uid else ''} exists and goes on (or is resumed), "
        "they are paid twice.",
        err=True,
    )
    if as_json:
        print_json(submission_row(record))
        return
    click.echo(f"released {submission_id}: {record.state}")
