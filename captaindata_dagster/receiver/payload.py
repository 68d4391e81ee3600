"""A callback body, read within its size limit and checked for the shape the store relies on.

Two checks, in order. The structural one always runs: it asks what the store's identity of a
callback needs (`storage.callbacks_schema`) and what a later reader must be able to trust: `run`
an object with a non-empty `run_uid`, `batch_uid` and `status` strings when present, `input` and
`error` objects (or null), `results` a list (or null). When the submission's action is known, the
body is then checked against the callback schema the spec declares for that action
(`callback_shape.callback_problem`: required run fields, the run status, results that are the
action's items). Unknown top-level fields (`custom_data`) are kept, not refused.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.receiver.callback_shape import callback_problem


class BodyTooLarge(Exception):
    """The body is over the limit (said by Content-Length, or found while reading)."""


class BadPayload(ValueError):
    """The body is not a callback: not JSON, or not its shape. The message says what is wrong."""


async def read_limited(
    chunks: AsyncIterator[bytes], max_bytes: int, declared_length: str | None = None
) -> bytes:
    """The whole body, refused as soon as it passes `max_bytes` (never read to the end first).

    Args:
        chunks: the body as it arrives (Starlette's `request.stream()`).
        max_bytes: the most accepted.
        declared_length: the Content-Length header, if any: a larger one is refused unread.

    Raises:
        BodyTooLarge: over the limit.
        BadPayload: a Content-Length that is not a number.
    """
    if declared_length is not None:
        try:
            declared = int(declared_length)
        except ValueError:
            raise BadPayload("Content-Length is not a number") from None
        if declared > max_bytes:
            raise BodyTooLarge
    received = bytearray()
    async for chunk in chunks:
        received += chunk
        if len(received) > max_bytes:
            raise BodyTooLarge
    return bytes(received)


def parse_callback(body: bytes, action: Action | None = None) -> dict[str, Any]:
    """The callback payload of a body, checked (see the module's docstring).

    Args:
        body: the raw request body.
        action: the action the submission ran, when known: the body must then also be the
            shape of its `callback_schema`.

    Raises:
        BadPayload: not UTF-8 JSON, or not a callback's shape.

    Example:
        >>> parse_callback(b'{"run": {"run_uid": "r1", "status": "SUCCEEDED"}}')["run"]["run_uid"]
        'r1'
    """
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadPayload("the body is not UTF-8 JSON") from None
    if not isinstance(payload, dict):
        raise BadPayload("the body is not a JSON object")
    run = payload.get("run")
    if not isinstance(run, dict):
        raise BadPayload("`run` must be an object")
    if not isinstance(run.get("run_uid"), str) or not run["run_uid"].strip():
        raise BadPayload("`run.run_uid` must be a non-empty string")
    for name in ("batch_uid", "status"):
        if run.get(name) is not None and not isinstance(run[name], str):
            raise BadPayload(f"`run.{name}` must be a string")
    for name in ("input", "error"):
        if payload.get(name) is not None and not isinstance(payload[name], dict):
            raise BadPayload(f"`{name}` must be an object or null")
    if payload.get("results") is not None and not isinstance(payload["results"], list):
        raise BadPayload("`results` must be a list or null")
    if action is not None:
        problem = callback_problem(action, payload)
        if problem is not None:
            raise BadPayload(f"not a {action.id} callback: {problem}")
    return payload
