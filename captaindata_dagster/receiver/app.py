"""The receiver's Starlette app: `POST <path>` lands a callback, `GET /health` checks the store.

What a callback post is answered, in the order it is checked (nothing lands unless it is 2xx):

- 401: a callback header is missing, the submission is unknown, or the secret is not the
  submission's (compared in constant time: `CallbackStore.authenticate`). An unknown submission
  is answered as a wrong secret is, so the answers do not tell which submission ids exist. Decided
  from the headers alone, before the body is read, so an anonymous post costs a lookup, not a
  10 MB read.
- 413: the body is over `max_body_bytes` (by its Content-Length, or counted while it is read).
- 400: not JSON (nested too deep included), or not a callback's shape (`payload.py`); 409: the
  callback names another run than the submission's (checked in the store's transaction:
  `CallbackStore.land_callback`).
- 200 `{"outcome": "landed"}` once the callback is committed to the store, or `"duplicate"` when
  it was stored before (a redelivery or a replay is acknowledged, and lands nothing new).
- 503: the store cannot be reached; the API keeps the callback and retries it later.

The store's calls and the JSON parsing run in Starlette's thread pool (they block). Security: see
`storage/callbacks.py` (what the secret protects) and `settings.py` (the public URL).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from captaindata_dagster.api.catalog import Catalog, load_catalog
from captaindata_dagster.receiver.payload import (
    BadPayload,
    BodyTooLarge,
    parse_callback,
    read_limited,
)
from captaindata_dagster.receiver.settings import ReceiverSettings
from captaindata_dagster.storage.callbacks import (
    SECRET_HEADER,
    SUBMISSION_HEADER,
    CallbackStore,
    WrongRun,
)
from captaindata_dagster.storage.errors import StoreError


def _answer(code: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=code)


class _Receiver:
    """The handlers, over one store and one body limit."""

    def __init__(self, store: CallbackStore, max_body_bytes: int, catalog: Catalog) -> None:
        self.store = store
        self.max_body_bytes = max_body_bytes
        self.catalog = catalog

    async def callback(self, request: Request) -> JSONResponse:
        submission_id = request.headers.get(SUBMISSION_HEADER, "")
        secret = request.headers.get(SECRET_HEADER, "")
        if not submission_id or not secret:
            return _answer(401, error=f"{SUBMISSION_HEADER} and {SECRET_HEADER} are required")
        try:
            submission = await run_in_threadpool(self.store.submission, submission_id)
            known = await run_in_threadpool(self.store.authenticate, submission_id, secret)
            if submission is None or not known:
                return _answer(401, error="unknown submission or wrong secret")
            body = await read_limited(
                request.stream(), self.max_body_bytes, request.headers.get("content-length")
            )
            action = self.catalog.get(submission.action_id)
            payload = await run_in_threadpool(parse_callback, body, action)
            outcome = await run_in_threadpool(self.store.land_callback, submission_id, payload)
        except WrongRun:
            return _answer(409, error="the callback names another run than the submission's")
        except BodyTooLarge:
            return _answer(413, error=f"the body is over {self.max_body_bytes} bytes")
        except BadPayload as err:
            return _answer(400, error=str(err))
        except StoreError:
            return _answer(503, error="the callback store is unavailable")
        return _answer(200, outcome=outcome)

    async def health(self, request: Request) -> JSONResponse:
        try:
            await run_in_threadpool(self.store.ping)
        except Exception:  # any failure to answer is "not healthy"; the message may hold a URL
            return _answer(503, status="unavailable")
        return _answer(200, status="ok")  # where the store lives is not told to the Internet


def build_receiver_app(
    settings: ReceiverSettings | None = None,
    *,
    store: CallbackStore | None = None,
    catalog: Catalog | None = None,
) -> Starlette:
    """The receiver as an ASGI app (serve it with uvicorn, or test it with Starlette's client).

    Args:
        settings: the path and body limit (and the store, unless `store` is given).
        store: the callback store to land callbacks in (default: `settings.open_store()`).
        catalog: where each submission's action (and its callback schema) is looked up
            (default: the bundled catalog).

    Example:
        >>> app = build_receiver_app(ReceiverSettings(store="/tmp/cb.sqlite"))  # doctest: +SKIP
    """
    settings = settings or ReceiverSettings()
    receiver = _Receiver(
        store or settings.open_store(), settings.max_body_bytes, catalog or load_catalog()
    )
    return Starlette(
        routes=[
            Route(settings.path, receiver.callback, methods=["POST"]),
            Route("/health", receiver.health, methods=["GET"]),
        ]
    )
