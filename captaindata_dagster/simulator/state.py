"""What a running simulator remembers: the request log, credits, rate and account limits, users
and identities (the later name of users) with their accounts and login links.

One lock guards it all and is held only for a few dictionary or list operations, never across a
sleep or I/O, so many client threads can be served at once.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

RPS_TOLERANCE = 0.25  # a token of debt: arrival jitter of a client pacing at exactly `rps` is fine
LOGIN_LINK_TTL_S = 48 * 3600.0  # an identity's login link works 48 hours, as the API's do
REDACTED = "***"
_SECRET_KEYS = {"cookies", "li_at", "li_a", "password", "api_key", "token"}


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it (secrets redacted), for assertions in tests.

    `status` is 0 when no complete HTTP answer was sent (a "timeout" or "drop" fault).
    `performed` is True when the action took effect (results produced, credits charged).
    """

    method: str
    path: str
    action_id: str | None
    query: dict[str, str]
    body: Any
    input: dict[str, Any] | None
    status: int
    results: int
    credits: float
    account: str | None
    performed: bool
    at: float
    duration_s: float
    error_label: str | None = None
    fault: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def redact(value: Any) -> Any:
    """A copy of a JSON value with cookie, password and token values replaced by "***"."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if k in _SECRET_KEYS:
                out[k] = _redact_all(v)
            else:
                out[k] = redact(v)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _redact_all(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _redact_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_all(v) for v in value]
    return REDACTED if value is not None else None


def number(x: float) -> int | float:
    """Credits as an int when whole (10, not 10.0), else as a float (1.5)."""
    return int(x) if float(x).is_integer() else round(x, 6)


class State:
    """Mutable simulator state; every method takes the lock briefly and returns at once."""

    def __init__(self, seed: int, fault_seed: int | None = None) -> None:
        self.lock = threading.Lock()
        self.seed = seed
        self.fault_seed = seed if fault_seed is None else fault_seed  # the draws, not the data
        uids = random.Random(f"{seed}:workspace")
        self.workspace_uid = str(uuid.UUID(int=uids.getrandbits(128), version=4))
        self.users: dict[str, dict[str, Any]] = {}
        self.identities: dict[str, dict[str, Any]] = {}
        # login link token -> (identity uid, integration, expiry as time.time())
        self.login_links: dict[str, tuple[str, str, float]] = {}
        self._uid_rng = random.Random(f"{seed}:uids")
        self._link_rng = random.Random(f"{seed}:login-links")
        self.inflight: dict[str, int] = {}
        self._reset_locked()

    def _reset_locked(self) -> None:
        self.records: list[RequestRecord] = []
        self.credits_used = 0.0
        self._tokens: float | None = None
        self._t_last = 0.0
        self._fault_rng = random.Random(f"{self.fault_seed}:faults")
        self._ref_rng = random.Random(f"{self.seed}:refs")

    def reset(self) -> None:
        """Forget the log, the credits spent and the rate window (users and accounts stay)."""
        with self.lock:
            self._reset_locked()

    # log and credits

    def log(self, record: RequestRecord) -> None:
        with self.lock:
            self.records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self.lock:
            return list(self.records)

    def charge(self, cost: float) -> None:
        with self.lock:
            self.credits_used += cost

    def summary(self) -> dict[str, Any]:
        """The numbers `/_simulator/state` serves to another process."""
        with self.lock:
            records = list(self.records)
            used = self.credits_used
        statuses = Counter(str(r.status) for r in records)
        calls = Counter(r.action_id for r in records if r.action_id)
        return {
            "credits_used": number(used),
            "calls": sum(calls.values()),
            "calls_by_action": dict(calls),
            "status_counts": dict(statuses),
            "requests": len(records),
        }

    # randomness that must follow the order of calls

    def draw(self) -> float:
        with self.lock:
            return self._fault_rng.random()

    def error_ref(self) -> str:
        with self.lock:
            return f"ERR-{self._ref_rng.randrange(10000, 100000)}"

    def new_uid(self) -> str:
        with self.lock:
            return str(uuid.UUID(int=self._uid_rng.getrandbits(128), version=4))

    # users and their accounts

    def add_user(self, email: str, full_name: str, timezone: str = "UTC") -> dict[str, Any]:
        """A new workspace user (a copy of what is stored), as `POST /v4/users` answers it."""
        first, _, last = full_name.strip().partition(" ")
        user = {
            "uid": self.new_uid(),
            "created_at": now_iso(),
            "workspace_uid": self.workspace_uid,
            "first_name": first,
            "last_name": last,
            "full_name": full_name,
            "email": email,
            "timezone": timezone,
            "integrations": [],
        }
        with self.lock:
            self.users[user["uid"]] = user
            return dict(user, integrations=[])

    def add_identity(self, name: str, timezone: str, link_root: str) -> dict[str, Any]:
        """A new identity (a copy), as `POST /v4/identities` answers it, with a LinkedIn login
        link under `link_root` valid `LOGIN_LINK_TTL_S`."""
        uid = self.new_uid()
        with self.lock:
            token = f"{self._link_rng.getrandbits(128):032x}"
            self.login_links[token] = (uid, "linkedin", time.time() + LOGIN_LINK_TTL_S)
            identity = {
                "uid": uid,
                "created_at": now_iso(),
                "workspace_uid": self.workspace_uid,
                "name": name,
                "timezone": timezone,
                "integrations": [],
                "identity_login_links": {"linkedin": f"{link_root}/_simulator/login/{token}"},
            }
            self.identities[uid] = identity
            return dict(identity, integrations=[])

    def holder(self, uid: str | None) -> dict[str, Any] | None:
        """The user or identity `uid` (the stored one), or None. The caller holds the lock."""
        if not uid:
            return None
        return self.users.get(uid) or self.identities.get(uid)

    def login(self, token: str) -> tuple[str, str] | str | None:
        """(identity uid, integration) a login link is for; "expired" past its 48 h; None if
        no such link."""
        with self.lock:
            found = self.login_links.get(token)
        if found is None:
            return None
        uid, integration, expires = found
        return "expired" if time.time() > expires else (uid, integration)

    def link(
        self, user_uid: str, integration: str, name: str | None, via: str = "cookies"
    ) -> tuple[dict, bool]:
        """Connect (or refresh) a user's or an identity's account; (a copy, created?).

        `via` is how: "cookies" (the integrations endpoint) or "login_link" (a person opened it).
        """
        new_uid = self.new_uid()
        with self.lock:
            holder = self.holder(user_uid)
            if holder is None:
                raise KeyError(user_uid)
            name = name or holder.get("full_name") or holder.get("name")
            existing = next(
                (a for a in holder["integrations"] if a["integration"] == integration), None
            )
            if existing is not None:
                existing["name"] = name
                return dict(existing), False
            account = _account(new_uid, user_uid, integration, name, via, user_uid in self.users)
            holder["integrations"].append(account)
            return dict(account), True

    # limits

    def take_rate(self, rps: float) -> float | None:
        """Spend one token of the simulator-wide bucket; None if allowed, else seconds to wait.

        A token bucket of capacity `rps` refilled at `rps` per second, allowed to go
        `RPS_TOLERANCE` of a token into debt, so a client pacing at exactly `rps` never trips it.
        """
        now = time.monotonic()
        cap = max(float(rps), 1.0)
        with self.lock:
            if self._tokens is None:
                self._tokens = cap
            else:
                self._tokens = min(cap, self._tokens + (now - self._t_last) * rps)
            self._t_last = now
            if self._tokens >= 1.0 - RPS_TOLERANCE:
                self._tokens -= 1.0
                return None
            return (1.0 - RPS_TOLERANCE - self._tokens) / rps

    def acquire_account(self, account: str, limit: int) -> bool:
        """Take one in-flight slot of a connected account; False if it already has `limit`."""
        with self.lock:
            n = self.inflight.get(account, 0)
            if n >= limit:
                return False
            self.inflight[account] = n + 1
            return True

    def release_account(self, account: str) -> None:
        with self.lock:
            n = self.inflight.get(account, 0) - 1
            if n > 0:
                self.inflight[account] = n
            else:
                self.inflight.pop(account, None)


def _account(
    uid: str, owner: str, integration: str, name: str | None, via: str, of_user: bool
) -> dict[str, Any]:
    """A connected account as the API shows it: a user's (the seed's shape) or an identity's."""
    common = {"uid": uid, "name": name, "error": None, "checkpoint": None,
              "integration": integration, "created_at": now_iso()}  # fmt: skip
    if of_user:
        return {**common, "auth_type": "cookies", "user_uid": owner}
    return {
        **common,
        "auth_type": via,
        "setup_source": "login_link" if via == "login_link" else "api",
        "is_shared": False,
        "integration_permalink": integration,
        "level": "basic",
        "identity_uid": owner,
        "meta": {},
    }


def now_iso() -> str:
    """Now in the API's timestamp form: UTC, milliseconds, a Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def retry_after(seconds: float) -> str:
    """An HTTP Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
