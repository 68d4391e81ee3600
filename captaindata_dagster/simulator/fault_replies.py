"""The fault hooks of an action call: which injected fault hits it, and the answer it gets instead.

`faults` says what a fault name means; here a resolved fault becomes a `Reply`: a hang, a cut
connection (before the answer or in the middle of its body), JSON cut short, an HTML proxy page,
or the API's error envelope with the right status, label and `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from captaindata_dagster.api.catalog import CUSTOM_DATA
from captaindata_dagster.simulator import faults
from captaindata_dagster.simulator.config import SimulatorConfig
from captaindata_dagster.simulator.faults import Fault, html_page, resolve
from captaindata_dagster.simulator.replies import Call, Replies, Reply, limit_headers
from captaindata_dagster.simulator.state import retry_after


def pick_fault(cfg: SimulatorConfig, inp: Any, draw: Callable[[], float]) -> Fault | None:
    """The fault hitting this call: a listed failing input first, then a seeded draw.

    `draw` is called only when fault rates are set, so the seeded stream follows the calls.
    """
    if cfg.fail_inputs and isinstance(inp, dict):
        for key, value in inp.items():
            if key != CUSTOM_DATA and isinstance(value, str) and value in cfg.fail_inputs:
                return resolve(cfg.fail_inputs[value])
    if cfg.faults:
        name = faults.pick(cfg.faults, draw())
        if name is not None:
            return resolve(name)
    return None


def fault_reply(
    replies: Replies,
    call: Call,
    fault: Fault,
    cfg: SimulatorConfig,
    success: Callable[[], Reply],
) -> Reply:
    """The injected failure; `success()` gives the answer a malformed or dropped reply cuts."""
    call.fault = fault.name
    if fault.kind == "timeout":
        call.status = 0
        call.error_label = "timeout"
        return Reply(0, mode="hang", hang_s=cfg.hang_s)
    if fault.kind in ("drop", "drop_mid_body"):
        call.status = 0
        call.error_label = fault.kind
        if fault.kind == "drop":  # hang up before answering
            return Reply(0, mode="close")
        whole = success()  # status line, headers and half the body, then hang up
        return Reply(whole.status, whole.body, whole.content_type, whole.headers, "drop")
    if fault.kind == "malformed_json":
        whole = success()
        call.status = 200
        call.error_label = "malformed_json"
        text = whole.body if whole.content_type == "application/json" else b'{"results": [1'
        return Reply(200, text[: max(1, len(text) // 2)], "application/json", whole.headers)
    if fault.kind == "html":
        call.status = fault.status
        call.error_label = f"html_{fault.status}"
        return Reply(fault.status, html_page(fault.status), "text/html; charset=utf-8")
    label = fault.label or "INTEGRATION_ERROR"
    return replies.error(
        call,
        fault.status,
        label,
        fault.scope,
        faults.message(label),
        headers=_error_headers(fault, cfg),
    )


def _error_headers(fault: Fault, cfg: SimulatorConfig) -> dict[str, str]:
    """`Retry-After` of an injected 503 (when set) or 429 (1 s unless set), with a 429's limit."""
    headers: dict[str, str] = {}
    if fault.status == 503 and cfg.retry_after_s is not None:
        headers["Retry-After"] = retry_after(cfg.retry_after_s)
    if fault.status == 429:
        wait = cfg.retry_after_s if cfg.retry_after_s is not None else 1.0
        kind = "requests_per_second" if fault.label == "LIMIT_REACHED" else "account"
        headers = limit_headers(wait, kind)
        headers["Retry-After"] = f"{wait:g}" if wait != int(wait) else str(int(wait))
    return headers
