"""Injected failures: what a fault name means, which one (if any) hits a call, and HTML error pages.

Faults exist so a client's retry, classification and side-effect rules can be exercised on
loopback: JSON error envelopes by label or status, a connection that hangs, one closed before the
answer or in the middle of its body, a 200 whose JSON is cut short, and the HTML pages a proxy in
front of an API answers with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

from captaindata_dagster.simulator.config import (
    HTML_FAULT,
    NUMERIC_FAULT,
    STATUS_LABELS,
    check_fault_name,
    label_status,
)


@dataclass(frozen=True)
class Fault:
    """One resolved fault. `status` is 0 when no HTTP answer is completed (timeout, drop)."""

    name: str
    kind: str  # "error", "html", "malformed_json", "timeout", "drop" or "drop_mid_body"
    status: int
    label: str | None = None
    scope: str | None = None

    @property
    def is_server_side(self) -> bool:
        """True for failures that may come after the work was done (5xx, hang, cut connection)."""
        return self.kind in ("timeout", "drop", "drop_mid_body", "malformed_json") or (
            self.status >= 500
        )


def resolve(name: str) -> Fault:
    """What a fault name means: an error label, a status ("503"), or a special kind."""
    check_fault_name(name)
    if name in ("timeout", "drop", "drop_mid_body"):
        return Fault(name, name, 0)
    if name == "malformed_json":
        return Fault(name, name, 200)
    m = HTML_FAULT.match(name)
    if m:
        return Fault(name, "html", int(m.group(1)))
    if NUMERIC_FAULT.match(name):
        status = int(name)
        label = STATUS_LABELS.get(status, f"STATUS_{status}")
        _, scope = label_status(label)
        return Fault(name, "error", status, label, scope)
    status, scope = label_status(name)
    return Fault(name, "error", status, name, scope)


def pick(faults: Mapping[str, float], r: float) -> str | None:
    """One uniform draw `r` in [0, 1) decides the call: each fault hits with its own probability
    (names in sorted order share the unit interval, so rates summing over 1 are capped)."""
    acc = 0.0
    for name in sorted(faults):
        acc += faults[name]
        if r < acc:
            return name
    return None


MESSAGES = {
    "INVALID_INPUT": "The input is not valid for this action",
    "BAD_INPUT": "The request body is not valid",
    "BAD_PARAMETERS": "The parameters are not valid for this action",
    "UNAUTHORIZED": "Missing or invalid API key",
    "NO_ACCESS": "Your plan does not give access to this action",
    "NO_CREDITS": "No credits left in this workspace",
    "STATUS_403": "LinkedIn refused access to this resource",
    "STATUS_404": "The resource was not found",
    "ACTION_ABORTED": "The action was aborted",
    "NO_RESULT": "No result for this input",
    "LK_ERROR": "LinkedIn answered with an error",
    "LK_524": "LinkedIn timed out",
    "LK_BAD_COOKIE": "The LinkedIn session of this account is invalid or expired: reconnect it",
    "NOT_CONNECTED": "The account is not connected to this integration",
    "NO_VALID_ACCOUNT_CONFIGURED": "No valid account is configured for this integration",
    "INTEGRATION_ERROR": "The integration failed",
    "PROXY_ERROR": "The proxy in front of the integration failed",
    "API_TIMEOUT_ERROR": "The upstream API timed out",
    "API_MAX_RETRY": "The upstream API failed after several retries",
    "STATUS_429": "Too many requests for this account; retry later",
    "LIMIT_REACHED": "Rate limit of your plan reached; retry later",
    "GENERIC_ERROR": "Internal error",
    "SERVICE_UNAVAILABLE": "Service temporarily unavailable",
}


def message(label: str) -> str:
    """A human message for an injected error label (marked as simulated)."""
    return f"{MESSAGES.get(label, f'Upstream failure {label}')} (simulated)"


def html_page(status: int) -> bytes:
    """A bare proxy error page, the kind a load balancer answers with instead of the API's JSON."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return (
        "<html>\r\n"
        f"<head><title>{status} {phrase}</title></head>\r\n"
        "<body>\r\n"
        f"<center><h1>{status} {phrase}</h1></center>\r\n"
        "<hr><center>edge-proxy</center>\r\n"
        "</body>\r\n"
        "</html>\r\n"
    ).encode()
