"""What every `captaindata-dagster` command shares: its options, JSON output and exit codes.

Exit codes are the same on every command: 0 done, 1 the API (or the outreach store) refused or
failed, 2 bad usage or settings. Click itself exits 2 on a bad option; `SettingsError` and
`Refused` carry the other two, so a command raises and never calls `sys.exit`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from captaindata_dagster.api.errors import CaptainDataError, ValidationError

PROG = "captaindata-dagster"
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class SettingsError(click.ClickException):
    """Bad settings (no API key, a missing cookie variable, an invalid value): exit code 2."""

    exit_code = 2


class Refused(click.ClickException):
    """The API refused or failed (or the outreach store refused a mark): exit code 1."""

    exit_code = 1


def json_option(command: F) -> F:
    """Add `--json` (print JSON instead of text) to a command that prints data.

    Example:
        >>> @click.command()
        ... @json_option
        ... def show(as_json: bool) -> None: ...
    """
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(
        command
    )


def sandbox_option(command: F) -> F:
    """Add `--sandbox` (a throwaway bundled simulator instead of the API) to an API command.

    Example:
        >>> @click.command()
        ... @sandbox_option
        ... def ping(sandbox: bool) -> None: ...
    """
    return click.option(
        "--sandbox",
        is_flag=True,
        help="Use a throwaway bundled simulator in this process (synthetic data; also "
        "CAPTAINDATA_SANDBOX=1).",
    )(command)


def print_json(value: Any) -> None:
    """Print `value` as indented JSON on stdout (dates and other values as their text).

    Example:
        >>> print_json({"uid": "u-1"})
        {
          "uid": "u-1"
        }
    """
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def print_listing(
    items: Sequence[T],
    *,
    as_json: bool,
    row: Callable[[T], Any],
    line: Callable[[T], str],
    noun: str,
) -> None:
    """A list command's answer: JSON rows, or one line per item, on stdout; the count on stderr
    (so a pipe reads only the listing).

    Args:
        items: what was found.
        as_json: `--json` was given.
        row: an item as a JSON-ready dict.
        line: an item as one line of text.
        noun: what an item is, for the count (`3 run(s)`).

    Example:
        >>> print_listing(runs, as_json=False, row=run_row, line=run_line, noun="run")
    """
    if as_json:
        print_json([row(item) for item in items])
    else:
        for item in items:
            click.echo(line(item))
    click.echo(f"{len(items)} {noun}(s)", err=True)


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn the client's errors into the CLI's exit codes: 2 for bad input, 1 for a refusal.

    A `ValidationError` (a bad value, a missing cookie variable, an unknown uid) is the user's
    to fix: exit 2. Any other `CaptainDataError` (401, 402, 5xx, a timeout) is the API's: exit 1.

    Example:
        >>> with api_errors():
        ...     pass
    """
    try:
        yield
    except ValidationError as err:
        raise SettingsError(err.message) from err
    except CaptainDataError as err:
        raise Refused(f"the API refused: {err}") from err
