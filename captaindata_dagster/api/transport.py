"""One HTTP exchange with the API, and every way it can fail as a typed error.

An exchange never follows a redirect (that would send `X-API-Key` to another host), never raises
for a transport failure (it returns it, with whether the request may have reached the API), and
never lets the key into an error message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from captaindata_dagster.api.errors import (
    CaptainDataError,
    ConnectionFailedError,
    RequestTimeoutError,
    TransportError,
    error_from_response,
)
from captaindata_dagster.api.retries import parse_retry_after

log = logging.getLogger("captaindata_dagster.api.client")  # one logger for the whole client


@dataclass
class Attempt:
    """What one HTTP exchange gave: a response, or an error and whether it may have landed.

    `maybe_sent` is False only when no connection was ever opened: nothing can have been done.
    """

    response: requests.Response | None = None
    error: CaptainDataError | None = None
    maybe_sent: bool = True


@dataclass(frozen=True)
class Exchange:
    """What one request sends: the method, the URL, its query and JSON body, and the headers."""

    method: str
    url: str
    params: Mapping[str, Any] | None
    json_body: Any
    headers: Mapping[str, str]


def api_headers(api_key: str, accept: str = "application/json") -> dict[str, str]:
    """The headers every call carries: the key, what it accepts, who sends it."""
    return {"X-API-Key": api_key, "Accept": accept, "User-Agent": "captaindata-dagster"}


def exchange(
    session: requests.Session,
    request: Exchange,
    *,
    timeout: tuple[float, float],
    action: str | None,
    api_key: str,
) -> Attempt:
    """Send `request` once on `session`; a failure comes back in `Attempt.error`, never raised.

    Args:
        session: the client's session (its adapters pool the connections).
        request: what to send.
        timeout: (connect, read) seconds.
        action: the action id, named in errors.
        api_key: masked out of any error text.
    """
    data = None if request.json_body is None else json.dumps(request.json_body)
    headers = dict(request.headers)
    if data is not None:
        headers["Content-Type"] = "application/json"
    t0 = time.monotonic()
    try:
        resp = session.request(
            request.method,
            request.url,
            params=request.params,
            data=data,
            headers=headers,
            timeout=timeout,
            # The API does not redirect; following one would send X-API-Key to its host.
            allow_redirects=False,
        )
    except requests.exceptions.ConnectTimeout as exc:
        err = transport_error(RequestTimeoutError, exc, action, api_key)
        return Attempt(error=err, maybe_sent=False)
    except requests.exceptions.Timeout as exc:
        return Attempt(error=transport_error(RequestTimeoutError, exc, action, api_key))
    except requests.exceptions.ConnectionError as exc:
        never_connected = _caused_by(exc, NewConnectionError)
        err = transport_error(ConnectionFailedError, exc, action, api_key)
        return Attempt(error=err, maybe_sent=not never_connected)
    except requests.exceptions.RequestException as exc:
        return Attempt(error=transport_error(TransportError, exc, action, api_key))
    except ValueError as exc:  # requests parses a 3xx's Location even when not following it
        return Attempt(error=transport_error(TransportError, exc, action, api_key))
    path = urlsplit(request.url).path
    log.debug("%s %s -> %s in %.3fs", request.method, path, resp.status_code, time.monotonic() - t0)
    return Attempt(response=resp)


def transport_error(
    cls: type[TransportError], exc: Exception, action: str | None, api_key: str
) -> TransportError:
    """A `cls` error for an exchange that got no usable answer, the key masked out of it."""
    text = f"{type(exc).__name__}: {exc}".replace(api_key, "***")
    return cls(f"no usable answer from the API ({text})", action_id=action)


def answer_error(resp: requests.Response, action: str | None, api_key: str) -> CaptainDataError:
    """The typed error for a non-2xx answer, with the wait it asked for when it may name one."""
    # 429 and 503 may say when to come back; other answers' Retry-After is not for retries.
    waits = resp.status_code in (429, 503)
    retry_after = parse_retry_after(resp.headers) if waits else None
    return error_from_response(
        resp.status_code,
        resp.content,
        resp.headers,
        action_id=action,
        retry_after=retry_after,
        secrets=(api_key,),
    )


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """True when `kind` is anywhere in `exc`'s chain (causes, contexts, reasons, arguments)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, kind):
            return True
        stack.extend([e.__cause__, e.__context__, getattr(e, "reason", None)])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return False
