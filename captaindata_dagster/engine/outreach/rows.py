"""The rows an outreach run collects, one table per outcome, safe to add to from any worker.

Every profile given lands in exactly one table: `sent`, `skipped`, `review` (needs_review) or
`errors`. A profile the records already settled (an earlier run, another process) is told from its
record: already sent, still to review, or refused for good.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from captaindata_dagster.engine.cell_values import json_text
from captaindata_dagster.engine.outreach.results import (
    ALREADY_SENT,
    OutreachResult,
    OutreachStats,
    outreach_frames,
)
from captaindata_dagster.storage.encoding import utcnow
from captaindata_dagster.storage.outreach_records import PENDING, SENT, UNKNOWN, SendRecord


class OutreachRows:
    """The four tables of one run (campaign, action, message), behind one lock."""

    def __init__(self, campaign: str, action_id: str, message: str | None) -> None:
        self.campaign = campaign
        self.action_id = action_id
        self.message = message
        self._lock = threading.Lock()
        self._rows: dict[str, list[dict[str, Any]]] = {
            "sent": [], "skipped": [], "review": [], "errors": [],
        }  # fmt: skip

    def _add(self, table: str, row: dict[str, Any]) -> None:
        with self._lock:
            self._rows[table].append(row)

    def _base(self, url: str) -> dict[str, Any]:
        return {"campaign": self.campaign, "action_id": self.action_id, "profile_url": url}

    def sent(self, url: str, account: str | None, attempt: int, result: Any) -> None:
        """A send the API answered with a success (`result`: its answer, None if unreadable)."""
        self._add("sent", {**self._base(url), "account": account, "message": self.message,
                           "sent_at": utcnow(), "attempts": attempt,
                           "result": None if result is None else json_text(result)})  # fmt: skip

    def skipped(
        self, url: str, reason: str, account: str | None, detail: str, at: datetime | None = None
    ) -> None:
        """A profile not sent by this run, and why (`reason`, see `results`)."""
        self._add("skipped", {**self._base(url), "reason": reason, "account": account,
                              "message": self.message, "at": at or utcnow(), "detail": detail})  # fmt: skip

    def review(self, url: str, record: SendRecord, new: bool) -> None:
        """A send that may or may not have gone out (`new`: this run's)."""
        self._add("review", {
            **self._base(url),
            "state": record.state,
            "account": record.account,
            "attempted_at": record.attempted_at,
            "attempts": record.attempts,
            "error_label": record.error_label or ("UNSETTLED" if record.state == PENDING else None),
            "error_ref": record.error_ref,
            "status_code": record.status_code,
            "run_id": record.run_id,
            "new": new,
            "what_to_do": what_to_do(self.campaign, self.action_id, url, record.account),
        })  # fmt: skip

    def error(
        self, url: str, fields: Mapping[str, Any], from_cache: bool, account: str | None = None
    ) -> None:
        """One errors-table row; `account`: the user whose account made the call (None: none)."""
        self._add("errors", {"action_id": self.action_id, "input": url, **fields, "at": utcnow(),
                             "from_cache": from_cache, "user_uid": account,
                             "campaign": self.campaign})  # fmt: skip

    def from_record(self, url: str, record: SendRecord) -> None:
        """A profile the records say not to send now: already sent, to review, or refused."""
        if record.state == SENT:
            by = f" (marked by {record.resolved_by})" if record.resolved_by else ""
            self.skipped(
                url, ALREADY_SENT, record.account, f"sent in this campaign{by}",
                at=record.settled_at or record.attempted_at,
            )  # fmt: skip
        elif record.state in (PENDING, UNKNOWN):
            self.review(url, record, new=False)
        else:  # failed for good: the same refusal, from the records
            self.error(url, record.envelope(), from_cache=True, account=record.account)

    def result(self, stats: OutreachStats, elapsed_s: float) -> OutreachResult:
        """The frames of the rows collected so far, with `stats` counted from them."""
        with self._lock:
            rows = {table: list(found) for table, found in self._rows.items()}
        return outreach_frames(stats, rows, elapsed_s)


def what_to_do(campaign: str, action_id: str, url: str, account: str | None) -> str:
    """What a person does about a send that may or may not have gone out."""
    who = f"account {account}" if account else "the account"
    return (
        f"Check {who} on LinkedIn for {url}; then set mark_sent (it went out) or mark_retry (it "
        f"did not) in the run config, or run `captaindata-dagster outreach "
        f"mark-sent|mark-retry --campaign {campaign} --action {action_id} {url}`"
    )
