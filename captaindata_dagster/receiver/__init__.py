"""The callback receiver: a small HTTP server the API posts bulk-run callbacks to.

`POST /callbacks` checks the two callback headers (`storage.callbacks.SUBMISSION_HEADER`,
`SECRET_HEADER`) against the callback store, reads a bounded JSON body, and commits the callback to
the store before it answers 2xx; `GET /health` says whether the store answers. `settings.py` holds
what a deployment sets (where to listen, the public URL the API is given, the store, the body
limit), `app.py` the Starlette app, `payload.py` the body's checks, `server.py` uvicorn around it;
`captaindata-dagster receiver` serves it until Ctrl-C.

It runs on Starlette and uvicorn, the stack dagster-webserver runs on (the `receiver` extra:
`pip install 'captaindata-dagster[receiver]'`); they are imported only when the app is built.
Nothing here imports Dagster.

Example:
    >>> from captaindata_dagster.receiver import ReceiverSettings, ReceiverServer
    >>> with ReceiverServer(ReceiverSettings(port=0, store="/tmp/cb.sqlite")) as server:  # doctest: +SKIP
    ...     server.callback_url
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from captaindata_dagster.lazy_exports import lazy_exports
from captaindata_dagster.receiver.settings import ReceiverSettings

if TYPE_CHECKING:
    from captaindata_dagster.receiver.app import build_receiver_app
    from captaindata_dagster.receiver.server import ReceiverServer, serve_receiver

__all__ = ["ReceiverServer", "ReceiverSettings", "build_receiver_app", "serve_receiver"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {"build_receiver_app": "app", "ReceiverServer": "server", "serve_receiver": "server"},
)
