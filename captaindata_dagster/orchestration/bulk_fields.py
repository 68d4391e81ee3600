"""What the resource's async-mode fields mean (their descriptions, shown by `dg` and the docs).

Kept apart from `bulk_mode.py` so that declaring the resource imports none of async mode.
"""

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
