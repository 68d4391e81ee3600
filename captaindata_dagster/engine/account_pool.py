"""Which LinkedIn accounts a run calls with, and retiring one that fails with an account label.

An action that needs a LinkedIn account runs one call at a time per account (the API's rule): one
worker is pinned to each account. An account that fails with an account label (`ACCOUNT_LABELS` in
`api.labels`: an expired cookie, no connected account) makes no more calls in the run; its worker
moves to a spare account if there is one, and the input goes back to the others. An action without
an account has no pool to speak of: each worker calls with None (the API picks).

Example:
    >>> accounts = worker_accounts(client, act, ["u1", "u2"], None, todo=10)
    >>> pool = AccountPool(act, accounts, started=len(accounts))
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.api.labels import ACCOUNT_LABELS, meaning

DEFAULT_MAX_WORKERS = 16


def worker_accounts(
    client: CaptainDataClient,
    act: Action,
    integration_users: Sequence[str] | None,
    max_workers: int | None,
    todo: int,
) -> list[str | None]:
    """One entry per worker: the account (user uid) it is pinned to, or None (the API picks).

    Every usable account is listed, even beyond one per input: start `todo` of them and keep the
    others in reserve (see `AccountPool`) for workers whose account fails.

    Args:
        client: its `integration_users` are used when `integration_users` is None.
        act: the action; without an account, `max_workers` (default 16) workers, at most `todo`.
        integration_users: the user uids to call with; `max_workers` caps how many are used.
        max_workers: the most workers (accounts) to use; None: all accounts, or 16.
        todo: how many inputs are to be done.

    Example:
        >>> worker_accounts(client, act, ["u1", "u1", "u2"], None, todo=5)
        ['u1', 'u2']
    """
    if act.uses_account:
        users = client.integration_users if integration_users is None else integration_users
        if isinstance(users, str) or not all(isinstance(u, str) and u for u in users):
            raise ValidationError(
                "integration_users must be a list of user uids (strings)",
                field="integration_users",
                action_id=act.id,
            )
        uids: list[str | None] = list(dict.fromkeys(users))
        if max_workers is not None:
            uids = uids[:max_workers]
        return uids or [None]
    n = max_workers or DEFAULT_MAX_WORKERS
    return [None] * max(1, min(n, todo))


@dataclass(frozen=True)
class Retirement:
    """What retiring an account left: `left` accounts still usable, the spare account `moved`
    to (None: the worker stops), every account `retired` so far in the order they failed."""

    left: int
    moved: str | None
    retired: list[str]


@dataclass(frozen=True)
class RetiredAccount:
    """An account set aside in a batch: who, the label it failed with, what a person runs."""

    user_uid: str
    error_label: str | None
    fix: str | None


class AccountPool:
    """The accounts still usable in a run: the workers' and the spare ones; thread-safe.

    Args:
        act: the action (only an action that uses an account retires accounts).
        accounts: from `worker_accounts`.
        started: how many of them get a worker at the start; the named others are spare.
    """

    def __init__(self, act: Action, accounts: Sequence[str | None], started: int) -> None:
        self.act = act
        self.started: list[str | None] = list(accounts[:started])
        self._spare: deque[str] = deque(a for a in accounts[started:] if a)
        self._active = len(accounts)  # not failed: workers' and spare ones
        self._retired: list[str] = []
        self._why: dict[str, RetiredAccount] = {}
        self._lock = threading.Lock()

    @property
    def retired(self) -> list[str]:
        """The accounts that failed with an account label, in the order they failed."""
        with self._lock:
            return list(self._retired)

    @property
    def retired_accounts(self) -> list[RetiredAccount]:
        """The accounts that failed, each with its label and fix, in the order they failed."""
        with self._lock:
            return [self._why[uid] for uid in self._retired]

    def retires(self, label: str | None, account: str | None) -> bool:
        """Whether an error ends the worker: an account label on the account it is pinned to,
        or the API saying that no account of the workspace is usable. Without a pinned account
        the API picks one per call, so one bad answer says nothing of the next call.

        Args:
            label: the error's `error_label`.
            account: the account the failed call was made with (None: the API picked).
        """
        if not self.act.uses_account or label not in ACCOUNT_LABELS:
            return False
        return account is not None or meaning(label).every_account

    @contextmanager
    def retiring(
        self, uid: str | None, label: str | None = None, fix: str | None = None
    ) -> Iterator[Retirement]:
        """Retire one account (`uid`, None: the workspace's) and hold the pool while the block
        runs, so that what the caller does about it (give the input back, or give up on every
        input left) is decided by one retirement at a time.

        Args:
            uid: the account that failed; it is listed in `retired` (None is not).
            label: the error label it failed with.
            fix: what a person runs to repair it (`api.accounts.account_hint`).
        """
        with self._lock:
            self._active -= 1
            if uid:
                self._retired.append(uid)
                self._why[uid] = RetiredAccount(uid, label, fix)
            left = self._active
            moved = self._spare.popleft() if left > 0 and self._spare else None
            yield Retirement(left, moved, list(self._retired))
