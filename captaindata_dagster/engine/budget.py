"""The credit budget of a run: reserve a call's most before it starts, settle what it cost.

Credits at risk (attempts the API may have billed without an answer we could use: a timeout after
sending, a cut or malformed answer) count as spent. A call in flight may still re-send once after
such an attempt (the client's `max_billed_retries`), so the budget can be passed by that re-send's
cost per call in flight, at most, and only when the API bills answers it never delivers.

Example:
    >>> budget = CreditBudget(10.0, log, "linkedin-extract-people")
    >>> if budget.reserve(1.0):
    ...     budget.settle(1.0, spent=1.0)
"""

from __future__ import annotations

import threading
from typing import Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.request_body import bills_managed

_SLACK = 1e-9  # float sums of credits must not refuse the call that exactly fills the budget


class CreditBudget:
    """Credits reserved, spent and at risk, against an optional limit; thread-safe.

    Args:
        limit: the most credits the run may spend; None: no limit (everything is still counted).
        log: a logger (`logging.Logger` or Dagster's) told once when the limit is reached.
        what: what the run is, for that message (an action id).
    """

    def __init__(self, limit: float | None, log: Any, what: str) -> None:
        self.limit = limit
        self.log = log
        self.what = what
        self._lock = threading.Lock()
        self.spent = 0.0
        self.at_risk = 0.0
        self.reserved = 0.0
        self.exhausted = False  # a call was refused: the next one could pass the limit

    def reserve(self, cost: float) -> bool:
        """Claim `cost` credits before a call; False: the call could pass the limit, start none.

        Args:
            cost: the most the call can cost (see `most_per_result`).
        """
        with self._lock:
            used = self.spent + self.at_risk + self.reserved
            if self.limit is not None and used + cost > self.limit + _SLACK:
                if not self.exhausted:
                    self.log.info(
                        "%s: budget of %g credits reached (%g spent, %g in flight); "
                        "no new call starts",
                        self.what,
                        self.limit,
                        self.spent,
                        self.reserved,
                    )
                self.exhausted = True
                return False
            self.reserved += cost
            return True

    def settle(self, reserved: float, spent: float, at_risk: float = 0.0) -> None:
        """Release a reservation made with `reserve(reserved)`; record what the call cost.

        Args:
            reserved: what `reserve` was given for this call.
            spent: the credits the call was billed.
            at_risk: the credits its attempts may have cost unseen.
        """
        with self._lock:
            self.reserved -= reserved
            self.spent += spent
            self.at_risk += at_risk


def most_per_result(client: CaptainDataClient, act: Action) -> float:
    """The most one result of `act` can cost: its credits, 1.5x on managed identities.

    Args:
        client: the client the run calls through (its account form and identity mode).
        act: the action.

    Example:
        >>> most_per_result(client, client.action("linkedin-extract-people"))
        1.0
    """
    managed = bills_managed(act, client.account_form, client.identity_mode)
    return act.credits_for(1, managed=managed)
