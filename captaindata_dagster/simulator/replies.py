"""What every endpoint of the simulator shares: the request being served, the answer, and the API's
JSON envelopes (a success body, and the error envelope with its label, scope and reference).

An endpoint fills in a `Call` as it goes (status, credits, results, error label), so the request
log (`RequestRecord`) says what happened whatever the answer; it returns a `Reply` that the
`Handler` writes in one go.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from captaindata_dagster.api.catalog import Problem
from captaindata_dagster.simulator.state import RequestRecord, number, retry_after

if TYPE_CHECKING:
    from captaindata_dagster.simulator.server import Simulator


@dataclass
class Reply:
    """What to send back. `mode` "send" answers; "close" hangs up; "drop" cuts the answer short;
    "hang" waits `hang_s` (no lock, no account slot held) and then hangs up."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "send"
    hang_s: float = 0.0


@dataclass
class Call:
    """The request being served, filled in as it goes, then logged as a `RequestRecord`."""

    method: str
    path: str
    query: dict[str, str]
    at: float
    t0: float
    action_id: str | None = None
    body: Any = None
    input: dict[str, Any] | None = None
    status: int = 0
    results: int = 0
    credits: float = 0.0
    account: str | None = None
    performed: bool = False
    error_label: str | None = None
    fault: str | None = None
    logged: bool = False

    def record(self) -> RequestRecord:
        """The call as the request log keeps it (its duration measured now)."""
        return RequestRecord(
            method=self.method,
            path=self.path,
            action_id=self.action_id,
            query=dict(self.query),
            body=self.body,
            input=self.input,
            status=self.status,
            results=self.results,
            credits=number(self.credits),
            account=self.account,
            performed=self.performed,
            at=self.at,
            duration_s=time.monotonic() - self.t0,
            error_label=self.error_label,
            fault=self.fault,
        )


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, as the API sends it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def parse_body(raw: bytes) -> tuple[Any, str | None]:
    """(the decoded JSON body, None), `({}, None)` for an empty one, or (None, why not JSON)."""
    if not raw.strip():
        return {}, None
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError) as e:
        return None, f"request body is not valid JSON: {e}"


def limit_headers(wait_s: float, kind: str) -> dict[str, str]:
    """The headers of a 429: when to retry, and which limit (`requests_per_second`, `account`)."""
    return {
        "Retry-After": retry_after(wait_s),
        "X-RateLimit-Type": kind,
        "X-RateLimit-Reset": str(math.ceil(time.time() + max(wait_s, 1.0))),
    }


class Replies:
    """The answers every group of endpoints builds, bound to one simulator (for error refs)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def error(
        self,
        call: Call,
        status: int,
        label: str,
        scope: str | None,
        message: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """The API's error envelope, with the HTTP status equal to its `status_code`."""
        call.status = status
        call.error_label = label
        body = {
            "error_label": label,
            "error_scope": scope,
            "error_ref": self.sim.state.error_ref(),
            "message": message,
            "status_code": status,
            "params": params or {},
        }
        return Reply(status, json_bytes(body), headers=dict(headers or {}))

    def ok(
        self, call: Call, value: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Reply:
        """A JSON success answer."""
        call.status = status
        return Reply(status, json_bytes(value), headers=dict(headers or {}))

    def problems(self, call: Call, problems: list[Problem], label: str, scope: str) -> Reply:
        """A 400 naming every problem found, the first one's field in `params`."""
        message = "; ".join(str(p) for p in problems)
        return self.error(call, 400, label, scope, message, {"field": problems[0].field})

    def not_found(self, call: Call, what: str) -> Reply:
        """A 404 in the API's envelope."""
        return self.error(call, 404, "STATUS_404", "input", f"{what} not found")
