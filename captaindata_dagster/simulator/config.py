"""The simulator's settings and the table of error labels it can answer with.

One frozen dataclass so a running simulator can swap its settings atomically (`Simulator.configure`)
while request threads keep reading a consistent snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# label -> (HTTP status, error_scope). Labels are open-ended: unknown ones answer 424 "integ",
# like the upstream failures that make up most of the real API's error labels. Scopes stay within
# the spec's enum (input, integ, param, config) or null: a bad key is configuration, and a server
# failure has no scope (the docs also show "auth" and "server", which the spec does not declare).
ERROR_LABELS: dict[str, tuple[int, str | None]] = {
    "INVALID_INPUT": (400, "input"),
    "BAD_INPUT": (400, "input"),
    "BAD_PARAMETERS": (400, "param"),
    "UNAUTHORIZED": (401, "config"),
    "NO_ACCESS": (402, "config"),
    "NO_CREDITS": (402, "config"),
    "STATUS_403": (403, "integ"),
    "STATUS_404": (404, "input"),
    "ACTION_ABORTED": (422, "integ"),
    "NO_RESULT": (424, "input"),
    "LK_ERROR": (424, "integ"),
    "LK_524": (424, "integ"),
    "LK_BAD_COOKIE": (424, "integ"),
    "NOT_CONNECTED": (424, "integ"),
    "NO_VALID_ACCOUNT_CONFIGURED": (424, "integ"),
    "INTEGRATION_ERROR": (424, "integ"),
    "PROXY_ERROR": (424, "integ"),
    "API_TIMEOUT_ERROR": (424, "integ"),
    "API_MAX_RETRY": (424, "integ"),
    "STATUS_429": (429, "integ"),
    "LIMIT_REACHED": (429, "config"),
    "GENERIC_ERROR": (500, None),
    "SERVICE_UNAVAILABLE": (503, None),
}
UNKNOWN_LABEL: tuple[int, str | None] = (424, "integ")

# Numeric fault names ("500") answer with this label for that status.
STATUS_LABELS: dict[int, str] = {
    400: "BAD_INPUT",
    401: "UNAUTHORIZED",
    402: "NO_CREDITS",
    403: "STATUS_403",
    404: "STATUS_404",
    422: "ACTION_ABORTED",
    424: "INTEGRATION_ERROR",
    429: "STATUS_429",
    500: "GENERIC_ERROR",
    502: "PROXY_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

# Faults of bulk mode's callbacks (probability per callback), and how a run can stop halfway.
CALLBACK_FAULTS = ("unreachable", "duplicate", "out_of_order")
HALT_STATUSES = ("FAILED", "BLOCKED")

# Fault names that are not error labels.
SPECIAL_FAULTS = ("timeout", "drop", "drop_mid_body", "malformed_json")
HTML_FAULT = re.compile(r"^html_([1-5]\d\d)$")
NUMERIC_FAULT = re.compile(r"^[1-5]\d\d$")
LABEL_FAULT = re.compile(r"^[A-Z][A-Z0-9_]*$")


def label_status(label: str) -> tuple[int, str | None]:
    """(status, scope) for an error label; unknown labels are upstream failures (424, integ)."""
    if label in ERROR_LABELS:
        return ERROR_LABELS[label]
    m = re.fullmatch(r"STATUS_([1-5]\d\d)", label)
    if m:
        status = int(m.group(1))
        return status, None if status >= 500 else "integ"
    return UNKNOWN_LABEL


def check_fault_name(name: str) -> None:
    """Refuse a fault name that is neither a label, a status, nor a special kind (typos)."""
    if not isinstance(name, str) or not (
        name in SPECIAL_FAULTS
        or HTML_FAULT.match(name)
        or NUMERIC_FAULT.match(name)
        or LABEL_FAULT.match(name)
    ):
        raise ValueError(
            f"unknown fault {name!r}: use an error label (e.g. LK_BAD_COOKIE), a status "
            f"('500'), 'timeout', 'drop', 'drop_mid_body', 'malformed_json' or 'html_<status>'"
        )


@dataclass(frozen=True)
class SimulatorConfig:
    """How the simulator behaves. Every field is also a keyword of `run_simulator`."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    api_key: str | None = None  # None: a fresh "sim-<hex>" key
    seed: int = 0  # the data: the same seed and input always give the same people and companies
    # The fault draws (`faults`, `callback_faults`): None follows `seed`, so a test's simulator
    # fails the same calls every run; the sandbox passes a fresh one per start (see `sandbox`).
    fault_seed: int | None = None
    latency_ms: float = 0  # added to every action call, slept without holding a lock
    rps: float | None = None  # action calls per second over the whole simulator; None: no limit
    account_concurrency: int = 1  # calls in flight per connected account
    faults: Mapping[str, float] = field(default_factory=dict)  # name -> probability per call
    fail_inputs: Mapping[str, str] = field(default_factory=dict)  # input value -> fault name
    hang_s: float = 5.0  # how long a "timeout" fault keeps the connection before closing it
    credits: float | None = None  # credits_max; None: unlimited
    retry_after_s: float | None = None  # Retry-After of injected 429 faults (default 1)
    search_total: int | None = None  # results every paginated list has; None: 15..400 by input
    # Page numbers of paginated lists answered short, as a throttled LinkedIn search is: half the
    # page's results, the next page still named (the rest of that page is not served again).
    short_pages: Sequence[int] = ()
    fault_after_effect: bool = False  # 5xx/timeout/drop on side-effect actions after acting
    # 5xx/timeout/drop/malformed answers on EVERY action after the work was done and billed, as a
    # slow or cut answer of the real API is: the credits are counted, the answer never arrives.
    fault_after_billing: bool = False
    # Uids of created users whose LinkedIn session has expired: their calls answer LK_BAD_COOKIE
    # (and their account shows the error) until they connect again, which removes them.
    bad_cookie_users: Sequence[str] = ()
    # Bulk mode (`run/async`, `run/schedule`): a callback the receiver refuses or never answers
    # is POSTed `callback_retries` more times, `callback_backoff_s * 2**n` apart, then FAILED.
    callback_retries: int = 3
    callback_backoff_s: float = 0.2
    # name -> probability per callback: "unreachable" (every try fails, nothing POSTed),
    # "duplicate" (POSTed twice), "out_of_order" (held back, POSTed after the next one).
    callback_faults: Mapping[str, float] = field(default_factory=dict)
    # A bulk run stops halfway, once: after this many inputs it ends `run_halt_status` ("FAILED"
    # or "BLOCKED"); `POST /v4/runs/{uid}/resume` carries on from there.
    run_halt_after: int | None = None
    run_halt_status: str = "FAILED"

    def __post_init__(self) -> None:
        _check_bulk_settings(self)
        object.__setattr__(self, "faults", dict(self.faults or {}))
        object.__setattr__(self, "fail_inputs", dict(self.fail_inputs or {}))
        if isinstance(self.bad_cookie_users, str) or not all(
            isinstance(u, str) and u for u in self.bad_cookie_users or ()
        ):
            raise ValueError("bad_cookie_users must be a list of user uids (strings)")
        object.__setattr__(self, "bad_cookie_users", tuple(self.bad_cookie_users or ()))
        if not all(isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in
                   self.short_pages or ()):  # fmt: skip
            raise ValueError("short_pages must be page numbers (integers >= 1)")
        object.__setattr__(self, "short_pages", tuple(self.short_pages or ()))
        for name, rate in self.faults.items():
            check_fault_name(name)
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
                raise ValueError(f"fault {name!r}: rate must be a number in [0, 1], got {rate!r}")
        for value, name in self.fail_inputs.items():
            if not isinstance(value, str):
                raise ValueError(f"fail_inputs keys are input values (strings), got {value!r}")
            check_fault_name(name)
        if self.latency_ms < 0 or self.hang_s < 0:
            raise ValueError("latency_ms and hang_s must be >= 0")
        if self.rps is not None and self.rps <= 0:
            raise ValueError("rps must be > 0 (or None for no limit)")
        if self.account_concurrency < 1:
            raise ValueError("account_concurrency must be >= 1")
        if self.credits is not None and self.credits < 0:
            raise ValueError("credits must be >= 0 (or None for unlimited)")
        if self.search_total is not None and self.search_total < 0:
            raise ValueError("search_total must be >= 0")
        if self.retry_after_s is not None and self.retry_after_s < 0:
            raise ValueError("retry_after_s must be >= 0")


def _check_bulk_settings(cfg: SimulatorConfig) -> None:
    """Refuse bulk-mode settings that cannot work (typos in fault names included)."""
    object.__setattr__(cfg, "callback_faults", dict(cfg.callback_faults or {}))
    for name, rate in cfg.callback_faults.items():
        if name not in CALLBACK_FAULTS:
            raise ValueError(f"unknown callback fault {name!r}: use {', '.join(CALLBACK_FAULTS)}")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"callback fault {name!r}: rate must be in [0, 1], got {rate!r}")
    if cfg.callback_retries < 0 or cfg.callback_backoff_s < 0:
        raise ValueError("callback_retries and callback_backoff_s must be >= 0")
    if cfg.run_halt_after is not None and cfg.run_halt_after < 0:
        raise ValueError("run_halt_after must be >= 0 (or None)")
    if cfg.run_halt_status not in HALT_STATUSES:
        raise ValueError(f"run_halt_status must be one of {', '.join(HALT_STATUSES)}")
