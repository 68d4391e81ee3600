"""A callback body, read within its size limit, parsed, and checked for a callback's shape.

The shape is `callback_shape.callback_problem`'s to decide, in one place: what the store's
identity of a callback needs, always, and the callback schema the spec declares for the
submission's action, when the catalog knows it. Unknown top-level fields (`custom_data`) are
kept, not refused.
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
        BadPayload: not UTF-8 JSON (or nested too deeply to parse), or not a callback's shape.

    Example:
        >>> parse_callback(b'{"run": {"run_uid": "r1", "status": "SUCCEEDED"}}')["run"]["run_uid"]
        'r1'
    """
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadPayload("the body is not UTF-8 JSON") from None
    except RecursionError:
        raise BadPayload("the body's JSON is nested too deeply") from None
    if not isinstance(payload, dict):
        raise BadPayload("the body is not a JSON object")
    problem = callback_problem(action, payload)
    if problem is not None:
        where = "a callback" if action is None else f"a {action.id} callback"
        raise BadPayload(f"not {where}: {problem}")
    return payload
