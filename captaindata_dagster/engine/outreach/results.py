"""What an outreach run hands back: four frames (each profile in exactly one) and its stats.

`sent` (this run's sends), `skipped` (`reason`: already_sent, over_cap, dry_run, and in a stopped
run's partial result stopped or rate_limited), `needs_review` (may or may not have gone out: a
person checks and marks each one) and `errors` (refused: nothing was done). A profile lands under
the first spelling of its URL. A run stopped by a 401/402/403 raises, with what it had done on the
error: `OutreachResult.from_error(err)`.

Example:
    >>> OutreachResult.from_error(ValueError("no run")) is None
    True
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from captaindata_dagster.engine.columns import ERROR_COLUMNS, errors_frame
from captaindata_dagster.engine.partial_result import PartialResult

ALREADY_SENT, OVER_CAP_REASON, DRY_RUN = "already_sent", "over_cap", "dry_run"
STOPPED = "stopped"  # a 401/402/403 stopped the run first (only in the error's partial result)
RATE_LIMITED = "rate_limited"  # a rate limit longer than a step waits ended the run (or account)

SENT_COLUMNS = (
    "campaign", "action_id", "profile_url", "account", "message", "sent_at", "attempts", "result",
)  # fmt: skip
SKIPPED_COLUMNS = (
    "campaign", "action_id", "profile_url", "reason", "account", "message", "at", "detail",
)  # fmt: skip
REVIEW_COLUMNS = (
    "campaign", "action_id", "profile_url", "state", "account", "attempted_at", "attempts",
    "error_label", "error_ref", "status_code", "run_id", "new", "what_to_do",
)  # fmt: skip
OUTREACH_ERROR_COLUMNS = (*ERROR_COLUMNS, "campaign")


@dataclass
class OutreachStats:
    """What an outreach run did; `to_dict()` is ready for metadata and logs.

    `new_unsettled` counts the sends of this run whose answer was lost (part of `needs_review`).
    `cap_used` is, per account, the sends counted toward its cap at the end of the run.
    """

    action_id: str
    campaign: str
    dry_run: bool
    daily_cap_per_account: int
    profiles: int = 0
    unique: int = 0
    sent: int = 0
    already_sent: int = 0
    over_cap: int = 0
    would_send: int = 0
    needs_review: int = 0
    new_unsettled: int = 0
    errors: int = 0
    errors_by_label: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    elapsed_s: float = 0.0
    cap_used: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The stats as plain values (JSON-ready)."""
        return asdict(self)


@dataclass
class OutreachResult(PartialResult):
    """The four frames (each profile in exactly one) and the stats."""

    sent: pd.DataFrame
    skipped: pd.DataFrame
    needs_review: pd.DataFrame
    errors: pd.DataFrame
    stats: OutreachStats


def outreach_frames(
    stats: OutreachStats,
    rows: dict[str, list[dict[str, Any]]],
    elapsed_s: float,
) -> OutreachResult:
    """The result of a run from its rows (`sent`, `skipped`, `review`, `errors`), typed columns,
    with the counts of `stats` filled from the frames."""
    errors = errors_frame(rows["errors"], OUTREACH_ERROR_COLUMNS)
    review = _frame(rows["review"], REVIEW_COLUMNS)
    review["status_code"] = review["status_code"].astype("Int64")
    review["attempted_at"] = pd.to_datetime(review["attempted_at"], utc=True)
    review["new"] = review["new"].astype(bool)
    sent = _frame(rows["sent"], SENT_COLUMNS)
    sent["sent_at"] = pd.to_datetime(sent["sent_at"], utc=True)
    skipped = _frame(rows["skipped"], SKIPPED_COLUMNS)
    skipped["at"] = pd.to_datetime(skipped["at"], utc=True)
    reasons = Counter(skipped["reason"])
    stats.sent = len(sent)
    stats.already_sent = reasons.get(ALREADY_SENT, 0)
    stats.over_cap = reasons.get(OVER_CAP_REASON, 0)
    stats.would_send = reasons.get(DRY_RUN, 0)
    stats.needs_review = len(review)
    stats.errors = len(errors)
    stats.errors_by_label = dict(Counter(errors["error_label"].astype(str)))
    stats.elapsed_s = elapsed_s
    return OutreachResult(sent, skipped, review, errors, stats)


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=list(columns))
