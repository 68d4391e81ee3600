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
  `CallbackStore.land_callbacks`).
- 200 `{"outcome": "landed"}` once the callback is committed to the store, or `"duplicate"` when
  it was stored before (a redelivery or a replay is acknowledged, and lands nothing new).
- 503: the store cannot be reached, or failed the transaction the callback was in (every
  callback of that transaction is a 503, none of it landed); the API keeps the callback and
  retries it later.

Callbacks posted at the same time are parsed and committed together, in one transaction
(`group_commit.py`): each is still answered on its own, and only after the commit. The store's
calls and the JSON parsing run in Starlette's thread pool (they block). Security: see
`storage/callbacks.py` (what the secret protects) and `settings.py` (the public URL).
"""

from __future__ import annotations

import logging
import sqlite3
from collections import OrderedDict
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from captaindata_dagster.api.catalog import Catalog, load_catalog
from captaindata_dagster.receiver.group_commit import GroupCommitter
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
    Submission,
    WrongRun,
)
from captaindata_dagster.storage.callbacks_schema import secret_sha256
from captaindata_dagster.storage.errors import StoreError

KNOWN_SUBMISSIONS = 1024  # the authenticated (submission, secret hash) pairs kept in memory


_log = logging.getLogger("captaindata_dagster.receiver")


def _answer(code: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=code)


class _Receiver:
    """The handlers, over one store and one body limit."""

    def __init__(self, store: CallbackStore, max_body_bytes: int, catalog: Catalog) -> None:
        self.store = store
        self.max_body_bytes = max_body_bytes
        self.catalog = catalog
        self._known: OrderedDict[tuple[str, str], Submission] = OrderedDict()
        self._committer: GroupCommitter[tuple[Submission, bytes], str] = GroupCommitter(
            self.land_all
        )

    async def callback(self, request: Request) -> JSONResponse:
        submission_id = request.headers.get(SUBMISSION_HEADER, "")
        secret = request.headers.get(SECRET_HEADER, "")
        if not submission_id or not secret:
            return _answer(401, error=f"{SUBMISSION_HEADER} and {SECRET_HEADER} are required")
        try:
            submission = await self.authenticated(submission_id, secret)
            if submission is None:
                return _answer(401, error="unknown submission or wrong secret")
            body = await read_limited(
                request.stream(), self.max_body_bytes, request.headers.get("content-length")
            )
            outcome = await self._committer.submit((submission, body))
        except WrongRun:
            return _answer(409, error="the callback names another run than the submission's")
        except BodyTooLarge:
            return _answer(413, error=f"the body is over {self.max_body_bytes} bytes")
        except BadPayload as err:
            return _answer(400, error=str(err))
        except (StoreError, sqlite3.Error):  # the API keeps the callback and retries it later
            return _answer(503, error="the callback store is unavailable")
        except Exception:  # a database error the store did not wrap, or a bug: nothing landed
            _log.exception("callback of submission %s not landed", submission_id)
            return _answer(503, error="the callback could not be landed; retry later")
        return _answer(200, outcome=outcome)

    # Each hop to the thread pool costs more CPU than the store's read it runs (the bench's
    # receiver-throughput scenario measured it), so a post makes as few as it can: the bodies'
    # parse and commit share one per batch (`GroupCommitter`), and the headers' check makes one only
    # the first time a submission's secret is seen (`_known`, on the event loop's thread only).

    async def authenticated(self, submission_id: str, secret: str) -> Submission | None:
        """The submission, when `secret` is its secret; None for a wrong secret or unknown id.

        A pair the store accepted is remembered by the hash of the secret (never the secret), so
        the next callbacks of the run skip the store's lookup; a secret is never replaced
        (`register_submission`), so what was accepted stays true. A refused pair is not
        remembered: forged posts cannot fill the memory.
        """
        key = (submission_id, secret_sha256(secret))
        submission = self._known.get(key)
        if submission is not None:
            self._known.move_to_end(key)
            return submission
        submission = await run_in_threadpool(self._authenticate, submission_id, secret)
        if submission is not None:
            self._known[key] = submission
            while len(self._known) > KNOWN_SUBMISSIONS:
                self._known.popitem(last=False)
        return submission

    def _authenticate(self, submission_id: str, secret: str) -> Submission | None:
        submission = self.store.submission(submission_id)
        known = self.store.authenticate(submission_id, secret)  # the same work for unknown ids
        return submission if known else None

    def land_all(self, posts: list[tuple[Submission, bytes]]) -> list[str | Exception]:
        """Parse each body against its submission's action, commit those that parse in one
        transaction: per post, the store's outcome or what refused it (`BadPayload`, `WrongRun`).

        Raises:
            StoreError: the store failed the transaction (every post of the batch is a 503).
        """
        refused: list[BadPayload | None] = []
        parsed: list[tuple[str, dict[str, Any]]] = []
        for submission, body in posts:
            try:
                payload = parse_callback(body, self.catalog.get(submission.action_id))
            except BadPayload as err:
                refused.append(err)
            else:
                refused.append(None)
                parsed.append((submission.submission_id, payload))
        landed = iter(self.store.land_callbacks(parsed) if parsed else [])
        return [next(landed) if err is None else err for err in refused]

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
