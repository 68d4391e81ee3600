"""How the stores write values into text columns: UTC timestamps as ISO text, values as JSON.

Both stores keep timestamps as ISO 8601 text in UTC with microseconds (it sorts as it reads, on
both databases) and results as compact JSON. Bytes (a downloaded file's content) survive the
round trip: they are written as `{"__bytes_b64__": "<base64>"}` and read back as bytes.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

_BYTES = "__bytes_b64__"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (what every stored timestamp is)."""
    return datetime.now(timezone.utc)


def to_iso(moment: datetime) -> str:
    """`moment` as stored: UTC ISO 8601 with microseconds (a naive datetime is taken as UTC).

    Example:
        >>> to_iso(datetime(2026, 1, 2, 3, 4, 5))
        '2026-01-02T03:04:05.000000+00:00'
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def from_iso(text: str | None) -> datetime | None:
    """A stored timestamp back as a datetime (None stays None)."""
    return None if text is None else datetime.fromisoformat(text)


def dump_json(value: Any) -> str | None:
    """`value` as compact JSON text (None stays NULL); bytes as base64, anything else as str.

    Example:
        >>> dump_json({"a": [1, b"x"]})
        '{"a":[1,{"__bytes_b64__":"eA=="}]}'
    """
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_encode)


def load_json(text: str | None) -> Any:
    """JSON text written by `dump_json` back as values (bytes included); NULL as None."""
    return None if text is None else json.loads(text, object_hook=_decode)


def _encode(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    return str(value)


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _BYTES in obj:
        return base64.b64decode(obj[_BYTES])
    return obj
