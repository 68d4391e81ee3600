"""What the resource's async-mode fields mean (their descriptions, shown by `dg` and the docs).

Kept apart from `bulk_mode.py` so that declaring the resource or an asset (its `mode` is checked
at load) imports none of async mode.
"""

from captaindata_dagster.api.errors import ValidationError

LIVE = "live"
ASYNC = "async"
MODES = (LIVE, ASYNC)

RECEIVER_URL_HELP = (
    "Async mode: the callback receiver's public URL, as `captaindata-dagster receiver "
    "--public-url` serves it. Unset: $CAPTAINDATA_RECEIVER_PUBLIC_URL; in sandbox mode, a "
    "receiver on loopback started by the step."
)
CALLBACK_STORE_HELP = (
    "Async mode: the receiver's callback store (SQLite path or PostgreSQL URL); the receiver "
    "must write where the steps read. Unset: $CAPTAINDATA_CALLBACK_STORE, else beside the ledger."
)
POLL_HELP = "Async mode: how often (seconds) a waiting step reads the callbacks that landed."
STATUS_EVERY_HELP = (
    "Async mode: how often (seconds) a waiting step asks a run's status (GET /runs/{uid}); "
    "once its final callback landed, every 5 s at most."
)


def check_mode(mode: str, where: str) -> None:
    """Refuse a mode other than `live` and `async`, naming the field.

    Example:
        >>> check_mode("bulk", "people")
        Traceback (most recent call last):
        ValidationError: people: mode must be 'live' or 'async', got 'bulk'
    """
    if mode not in MODES:
        raise ValidationError(
            f"{where}: mode must be 'live' or 'async', got {mode!r}", field="mode"
        )
