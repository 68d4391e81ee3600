"""The outputs of an outreach op or asset: four frames with their metadata, and asset tables.

An op yields a run's delta (`sent` by this run); an asset's table holds a state (an IO manager
replaces a partition's rows), so `as_state` folds the people sent by earlier runs into `sent`
(`new` False) and leaves `skipped` to those over the cap or in a dry run.
"""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd

from captaindata_dagster.engine.outreach import (
    ALREADY_SENT,
    SENT_COLUMNS,
    OutreachResult,
    OutreachStats,
)
from captaindata_dagster.orchestration.metadata import NEW_ERRORS_KEY, new_errors_summary

REVIEW_SAMPLE = 100  # profiles listed in the needs_review metadata

OUTPUT_DESCRIPTIONS = {
    "sent": "Sent by this run, one row per profile.",
    "skipped": "Not sent: already sent in the campaign, over the daily cap, or a dry run.",
    "needs_review": "May or may not have gone out: for a person to check and mark.",
    "errors": "Refused (nothing was done), with their error_label.",
}


def outreach_outputs(result: OutreachResult) -> Iterator[dg.Output]:
    """The four outputs of an outreach step, with their metadata.

    Args:
        result: what `run_outreach` returned.

    Example:
        >>> yield from outreach_outputs(result)  # doctest: +SKIP
    """
    yield dg.Output(
        result.sent,
        output_name="sent",
        metadata={**stats_metadata(result.stats), "dagster/row_count": _row_count(result.sent)},
    )
    reasons = Counter(result.skipped["reason"].astype(str))
    yield dg.Output(
        result.skipped,
        output_name="skipped",
        metadata={
            "dagster/row_count": _row_count(result.skipped),
            "captaindata/skipped_by_reason": dg.MetadataValue.json(dict(reasons)),
        },
    )
    yield dg.Output(
        result.needs_review,
        output_name="needs_review",
        metadata={
            "dagster/row_count": _row_count(result.needs_review),
            **review_metadata(result.needs_review),
        },
    )
    yield dg.Output(
        result.errors,
        output_name="errors",
        metadata={
            "dagster/row_count": _row_count(result.errors),
            "captaindata/errors": dg.MetadataValue.int(result.stats.errors),
            "captaindata/errors_by_label": dg.MetadataValue.json(result.stats.errors_by_label),
            NEW_ERRORS_KEY: dg.MetadataValue.json(new_errors_summary(result.errors)),
        },
    )


def as_state(result: OutreachResult) -> OutreachResult:
    """`sent` with what earlier runs sent too (`new` False), `skipped` without it: tables."""
    rows = [{**r, "new": True} for r in result.sent.to_dict(orient="records")]
    already = result.skipped["reason"] == ALREADY_SENT
    rows += [
        {**{c: r.get(c) for c in SENT_COLUMNS}, "sent_at": r["at"], "attempts": None, "new": False}
        for r in result.skipped.loc[already].to_dict(orient="records")
    ]
    sent = pd.DataFrame.from_records(rows, columns=[*SENT_COLUMNS, "new"])
    sent["sent_at"] = pd.to_datetime(sent["sent_at"], utc=True)
    sent["attempts"] = sent["attempts"].astype("Int64")
    sent["new"] = sent["new"].astype(bool)
    skipped = result.skipped.loc[~already].reset_index(drop=True)
    return OutreachResult(sent, skipped, result.needs_review, result.errors, result.stats)


def stats_metadata(s: OutreachStats) -> dict[str, Any]:
    """A run's stats as Dagster metadata (on the `sent` output, and on a failure)."""
    return {
        "captaindata/action_id": s.action_id,
        "captaindata/campaign": s.campaign,
        "captaindata/dry_run": dg.MetadataValue.bool(s.dry_run),
        "captaindata/profiles": dg.MetadataValue.int(s.unique),
        "captaindata/sent": dg.MetadataValue.int(s.sent),
        "captaindata/already_sent": dg.MetadataValue.int(s.already_sent),
        "captaindata/over_cap": dg.MetadataValue.int(s.over_cap),
        "captaindata/would_send": dg.MetadataValue.int(s.would_send),
        "captaindata/needs_review": dg.MetadataValue.int(s.needs_review),
        "captaindata/new_unsettled": dg.MetadataValue.int(s.new_unsettled),
        "captaindata/errors": dg.MetadataValue.int(s.errors),
        "captaindata/errors_by_label": dg.MetadataValue.json(dict(s.errors_by_label)),
        "captaindata/calls": dg.MetadataValue.int(s.calls),
        "captaindata/retries": dg.MetadataValue.int(s.retries),
        "captaindata/rate_limited_429": dg.MetadataValue.int(s.rate_limited),
        "captaindata/daily_cap_per_account": dg.MetadataValue.int(s.daily_cap_per_account),
        "captaindata/cap_used_by_account": dg.MetadataValue.json(dict(s.cap_used)),
    }


def review_metadata(review: pd.DataFrame) -> dict[str, Any]:
    """The needs_review count, a sample of its profiles, and how a person resolves them."""
    sample = [
        {
            "profile_url": str(r["profile_url"]),
            "state": str(r["state"]),
            **{k: _text_or_none(r[k]) for k in ("account", "attempted_at", "error_label")},
        }
        for r in review.head(REVIEW_SAMPLE).to_dict(orient="records")
    ]
    return {
        "captaindata/needs_review": dg.MetadataValue.int(len(review)),
        "captaindata/needs_review_profiles": dg.MetadataValue.json(sample),
        "captaindata/how_to_resolve": dg.MetadataValue.md(
            "These sends may or may not have gone out; they are never re-sent blindly. Check the "
            "account's sent invitations or messages, then put each URL in the run config's "
            "`mark_sent` (it went out) or `mark_retry` (it did not: this run sends it), or run "
            "`captaindata-dagster outreach mark-sent|mark-retry --campaign C "
            "--action A URL`."
        ),
    }


def _text_or_none(value: Any) -> str | None:
    return None if pd.isna(value) else str(value)


def _row_count(frame: pd.DataFrame) -> dg.MetadataValue:
    return dg.MetadataValue.int(len(frame))
