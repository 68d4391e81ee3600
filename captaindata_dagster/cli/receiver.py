"""`captaindata-dagster receiver`: serve the callback receiver until Ctrl-C.

    captaindata-dagster receiver --port 8787 --public-url https://hooks.example.com \\
        --store postgresql://captaindata@db/captaindata

It prints one line (`--json`: one JSON object): the callback URL to give the API and where the
callbacks land (the store, its password redacted), then serves until SIGINT or SIGTERM. Bind it
to loopback behind a TLS proxy; `--public-url` is the https URL the proxy is reached on.
"""

from __future__ import annotations

import json
from typing import Any

import click

from captaindata_dagster.cli.options import CONTEXT_SETTINGS, SettingsError, json_option
from captaindata_dagster.receiver.settings import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PATH,
    DEFAULT_PORT,
    PUBLIC_URL_ENV,
    ReceiverSettings,
)


def receiver_settings(**options: Any) -> ReceiverSettings:
    """The receiver's settings from the command's options (their names, without `as_json`).

    Raises:
        SettingsError: a setting the receiver refuses (exit code 2), such as a non-loopback bind
            address without `--public-url` (the API would be given plain http).

    Example:
        >>> receiver_settings(port=0, public_url="https://h.example.com").callback_url()
        'https://h.example.com/callbacks'
    """
    try:
        settings = ReceiverSettings(**options)
        settings.callback_url()  # refuses a public bind address without --public-url
    except ValueError as err:
        raise SettingsError(str(err)) from err
    return settings


@click.command(name="receiver", context_settings=CONTEXT_SETTINGS)
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="The address to bind.")
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True,
              help="The port to bind (0 picks a free one).")  # fmt: skip
@click.option("--public-url", default=None,
              help=f"The https URL the API reaches the receiver on, through your TLS proxy "
              f"[default: ${PUBLIC_URL_ENV}, else the bind address, if loopback].")  # fmt: skip
@click.option("--store", default=None,
              help="The callback store: a SQLite path or a postgresql:// URL "
              "[default: $CAPTAINDATA_CALLBACK_STORE, else beside the ledger].")  # fmt: skip
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BODY_BYTES,
              show_default=True, help="Larger callback bodies are refused (413).")  # fmt: skip
@click.option("--path", default=DEFAULT_PATH, show_default=True,
              help="The path callbacks are posted to.")  # fmt: skip
@json_option
def receiver_command(as_json: bool, **options: Any) -> None:
    """Serve the callback receiver of bulk runs until Ctrl-C.

    Prints the callback URL and the store, then serves. Exit codes: 0 stopped, 2 bad settings.
    """
    settings = receiver_settings(**options)
    from captaindata_dagster.receiver.server import serve_receiver  # uvicorn: only when serving

    store = settings.open_store()
    url = settings.callback_url()
    if as_json:
        click.echo(json.dumps({"callback_url": url, "store": store.describe()}))
    else:
        click.echo(f"captaindata receiver: callbacks to {url}  store={store.describe()}")
    serve_receiver(settings, store=store)
