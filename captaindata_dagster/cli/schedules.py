"""`captaindata-dagster schedules create|list|show|pause|resume|cancel`: server-side schedules.

    export CAPTAINDATA_API_KEY=...
    captaindata-dagster schedules create linkedin-extract-people --input-file people.jsonl \\
        --cron "0 6 * * *" --timezone Europe/Paris --public-url https://hooks.example.com
    captaindata-dagster schedules list --status ACTIVE
    captaindata-dagster schedules pause|resume|cancel <schedule uid>

The API runs a schedule's action over its inputs at each time (`--cron`, or once `--at`), and
posts each run's callbacks to the receiver (`captaindata-dagster receiver --public-url URL`).
`create` registers the schedule's submission in the callback store first, with a fresh secret
the API sends back with every callback, so the callbacks of every run of the schedule land
there; it prints the schedule's uid and the submission id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from captaindata_dagster.api.bulk_records import ScheduleInfo
from captaindata_dagster.api.bulk_statuses import SCHEDULE_STATUSES
from captaindata_dagster.cli.options import (
    CONTEXT_SETTINGS,
    SettingsError,
    json_option,
    print_json,
    print_listing,
    sandbox_option,
)
from captaindata_dagster.cli.runs import api_client
from captaindata_dagster.orchestration.bulk_control import create_schedule_with_callbacks
from captaindata_dagster.receiver.settings import PUBLIC_URL_ENV, ReceiverSettings
from captaindata_dagster.storage.callbacks import CallbackStore

SCHEDULE_FIELDS = (
    "uid", "status", "action_name", "cron", "timezone", "next_execution_at", "last_executed_at",
    "created_at", "updated_at",
)  # fmt: skip


def schedule_row(schedule: ScheduleInfo) -> dict[str, Any]:
    return {name: getattr(schedule, name) for name in SCHEDULE_FIELDS}


def _json_value(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SettingsError(f"{what} is not JSON: {err}") from err


def read_inputs(input_file: Path | None, inline: tuple[str, ...]) -> list[dict[str, Any]]:
    """The inputs of `--input-file` (JSON Lines, one object a line) and of each `--input`."""
    texts = list(inline)
    if input_file is not None:
        lines = input_file.read_text(encoding="utf-8").splitlines()
        texts = [line for line in lines if line.strip()] + texts
    inputs = [_json_value(t, f"input {i + 1}") for i, t in enumerate(texts)]
    bad = [i + 1 for i, v in enumerate(inputs) if not isinstance(v, dict)]
    if bad:
        raise SettingsError(f"input(s) {bad} are not JSON objects")
    if not inputs:
        raise SettingsError("no inputs: give --input-file F.jsonl or --input JSON")
    return inputs


@click.group(name="schedules", context_settings=CONTEXT_SETTINGS)
def schedules_group() -> None:
    """Create, list, show, pause, resume and cancel server-side schedules.

    Each run of a schedule posts its callbacks to the receiver, like an async run.
    """


@schedules_group.command(name="create")
@click.argument("action")
@click.option("--input-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Inputs as JSON Lines, one object a line.")  # fmt: skip
@click.option("--input", "inline", multiple=True, metavar="JSON",
              help="One input object (repeat for several).")  # fmt: skip
@click.option("--cron", help='Repeat on this cron expression, e.g. "0 6 * * *".')
@click.option("--timezone", help="The cron's IANA time zone, e.g. Europe/Paris.")
@click.option("--at", "schedule_at", metavar="ISO", help="Run once at this date-time (with zone).")
@click.option("--public-url", required=True, envvar=PUBLIC_URL_ENV,
              help=f"The receiver's public https URL [default: ${PUBLIC_URL_ENV}].")  # fmt: skip
@click.option("--parameters", metavar="JSON", help="The action's options, a JSON object.")
@click.option("--callback-store", default=None, metavar="PATH|URL",
              help="Where the receiver lands callbacks [default: $CAPTAINDATA_CALLBACK_STORE, "
              "else beside the ledger].")  # fmt: skip
@sandbox_option
@json_option
def create_schedule(
    action: str, input_file: Path | None, inline: tuple[str, ...], cron: str | None,
    timezone: str | None, schedule_at: str | None, public_url: str, parameters: str | None,
    callback_store: str | None, sandbox: bool, as_json: bool,
) -> None:  # fmt: skip
    """Create a schedule of ACTION (--cron, or once --at) whose callbacks land in the store."""
    if bool(cron) == bool(schedule_at):
        raise SettingsError("give exactly one of --cron (repeat) and --at (once)")
    inputs = read_inputs(input_file, inline)
    params = None if parameters is None else _json_value(parameters, "--parameters")
    if params is not None and not isinstance(params, dict):
        raise SettingsError("--parameters must be a JSON object")
    try:
        callback_url = ReceiverSettings(public_url=public_url).callback_url()
    except ValueError as err:
        raise SettingsError(str(err)) from err
    with CallbackStore(callback_store) as store, api_client(sandbox) as client:
        created = create_schedule_with_callbacks(
            client, store, action, inputs, callback_url=callback_url, cron=cron,
            timezone=timezone, schedule_at=schedule_at, parameters=params,
        )  # fmt: skip
    sched = created.schedule
    if as_json:
        print_json({
            "schedule_uid": sched.schedule_uid, "status": sched.status, "cron": sched.cron,
            "timezone": sched.timezone, "next_execution_at": sched.next_execution_at,
            "submission_id": created.submission_id, "callback_url": created.callback_url,
        })  # fmt: skip
        return
    click.echo(f"created schedule {sched.schedule_uid} ({sched.status}), next run "
               f"{sched.next_execution_at or '-'}")  # fmt: skip
    click.echo(f"its callbacks go to {created.callback_url}, submission {created.submission_id}")


@schedules_group.command(name="list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(list(SCHEDULE_STATUSES)),
              help="Only schedules in this status (repeat for several).")  # fmt: skip
@click.option("--action", help="Only schedules of this action.")
@sandbox_option
@json_option
def list_schedules(
    statuses: tuple[str, ...], action: str | None, sandbox: bool, as_json: bool
) -> None:
    """List the workspace's schedules. The table to stdout, the count to stderr."""
    with api_client(sandbox) as client:
        found = list(client.iter_schedules(status=list(statuses) or None, action_name=action))
    print_listing(found, as_json=as_json, row=schedule_row, line=_schedule_line, noun="schedule")


def _schedule_line(s: ScheduleInfo) -> str:
    return (
        f"{s.uid}  {s.status or '-':9} {s.action_name or '-'}  cron={s.cron or '-'}"
        f" next={s.next_execution_at or '-'}"
    )


@schedules_group.command(name="show")
@click.argument("schedule_uid")
@sandbox_option
@json_option
def show_schedule(schedule_uid: str, sandbox: bool, as_json: bool) -> None:
    """Show one schedule."""
    with api_client(sandbox) as client:
        row = schedule_row(client.get_schedule(schedule_uid))
    if as_json:
        print_json(row)
        return
    for name, value in row.items():
        click.echo(f"{name:17} {'-' if value is None else value}")


def _state_command(verb: str, summary: str) -> click.Command:
    @click.command(name=verb, help=summary)
    @click.argument("schedule_uid")
    @sandbox_option
    @json_option
    def set_state(schedule_uid: str, sandbox: bool, as_json: bool) -> None:
        with api_client(sandbox) as client:
            schedule = getattr(client, f"{verb}_schedule")(schedule_uid)
        if as_json:
            print_json(schedule_row(schedule))
            return
        click.echo(f"schedule {schedule.uid}: {schedule.status}")

    return set_state


for _verb, _summary in (
    ("pause", "Pause a schedule: no run starts until it is resumed."),
    ("resume", "Resume a paused schedule."),
    ("cancel", "Cancel a schedule for good."),
):
    schedules_group.add_command(_state_command(_verb, _summary))
