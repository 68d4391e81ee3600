"""Callbacks as the API POSTs them: loopback receivers only, a few tries, then FAILED.

A bulk run POSTs one callback per page of results and a final one with the run's status to the
`callback.url` its submission gave, with the submission's `callback.headers`. The simulator only
ever POSTs to this machine (127.0.0.1, ::1, localhost): a submission naming another host is refused
with a 400, so a test can never make it call out. Each callback is kept as a `CallbackRecord`
(what `GET /v4/runs/callbacks` lists) and can be replayed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
CALLBACK_TIMEOUT_S = 5.0
# Callback statuses, as `GET /v4/runs/callbacks` shows them.
PENDING, RUNNING, FAILED, SUCCESS = "PENDING", "RUNNING", "FAILED", "SUCCESS"


def callback_url_problem(url: Any) -> str | None:
    """Why a callback URL is refused (not http(s), or not a loopback host), else None.

    Example:
        >>> callback_url_problem("http://127.0.0.1:8080/cb") is None
        True
        >>> callback_url_problem("https://example.com/cb")
        'the simulator only POSTs callbacks to loopback hosts (127.0.0.1, ::1, localhost), not example.com'
    """
    if not isinstance(url, str) or not url:
        return "callback.url must be an http(s) URL"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        return "callback.url must be an http(s) URL"
    host = (parts.hostname or "").lower()
    if host not in LOOPBACK_HOSTS:
        return (
            "the simulator only POSTs callbacks to loopback hosts "
            f"({', '.join(LOOPBACK_HOSTS)}), not {host or url}"
        )
    return None


@dataclass
class CallbackRecord:
    """One callback of a run: where it goes, what it carries, and how its delivery went.

    `http_status` is the receiver's last answer (0 when it never answered); `retry_count` the
    tries after the first; `parent_uid` the callback a replay re-sends.
    """

    uid: str
    run_uid: str
    batch_uid: str
    url: str
    headers: Mapping[str, str]
    payload: Mapping[str, Any]
    created_at: str
    parent_uid: str | None = None
    status: str = PENDING
    http_status: int = 0
    retry_count: int = 0
    attempts: list[int] = field(default_factory=list)

    def to_api(self, workspace_uid: str) -> dict[str, Any]:
        """The callback as `GET /v4/runs/callbacks/{uid}` answers it."""
        return {
            "uid": self.uid,
            "parent_uid": self.parent_uid,
            "retry_count": self.retry_count,
            "created_at": self.created_at,
            "status": self.status,
            "callback_url": self.url,
            "http_status": self.http_status,
            "batch_uid": self.batch_uid,
            "run_uid": self.run_uid,
            "workspace_uid": workspace_uid,
        }


def post_json(url: str, headers: Mapping[str, str], payload: Mapping[str, Any]) -> int:
    """POST `payload` as JSON once; the receiver's HTTP status, or 0 when it could not be reached.

    Args:
        url: a loopback URL (checked at submission by `callback_url_problem`).
        headers: sent as given (the submission's `callback.headers`), plus the JSON content type.
        payload: the callback's body.

    Example:
        >>> post_json("http://127.0.0.1:9/nowhere", {}, {"run": {}})
        0
    """
    if callback_url_problem(url) is not None:  # never leave the machine, whatever was stored
        return 0
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    for name, value in headers.items():
        request.add_header(name, value)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT_S) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (OSError, ValueError):
        return 0


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard the simulator tries: `retries` more POSTs after the first, waiting
    `backoff_s * 2**n` between them through `sleep` (a test injects a fake one). Once `stopped()`
    is true (the simulator stops) no further try is made: the callback is FAILED."""

    retries: int
    backoff_s: float
    sleep: Callable[[float], None]
    unreachable: bool = False  # the "unreachable" fault: every try fails without a POST
    stopped: Callable[[], bool] = lambda: False


def deliver(record: CallbackRecord, policy: DeliveryPolicy) -> CallbackRecord:
    """POST a callback until the receiver answers 2xx or the tries run out; SUCCESS or FAILED.

    Example:
        >>> import time
        >>> rec = CallbackRecord("c1", "r1", "b1", "http://127.0.0.1:9/x", {}, {}, "now")
        >>> deliver(rec, DeliveryPolicy(0, 0.0, time.sleep)).status
        'FAILED'
    """
    record.status = RUNNING
    for attempt in range(policy.retries + 1):
        if attempt:
            policy.sleep(policy.backoff_s * 2 ** (attempt - 1))
        if policy.stopped():
            break
        status = 0 if policy.unreachable else post_json(record.url, record.headers, record.payload)
        record.attempts.append(status)
        record.http_status = status
        record.retry_count = attempt
        if 200 <= status < 300:
            record.status = SUCCESS
            return record
    record.status = FAILED
    return record
