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
from captaindata_dagster.orchestration.metadata import new_errors_summary
from captaindata_dagster.orchestration.metadata_set import (
    CaptainDataMetadataSet,
    row_count_metadata,
)

REVIEW_SAMPLE = 100  # profiles listed in the needs_review metadata

OUTPUT_DESCRIPTIONS = {
    "sent": "Sent by this run, one row per profile.",
    "skipped": "Not sent: already sent in the campaign, over the daily cap, or a dry run.",
    "needs_review": "May or may not have gone out: for a person to check and mark.",
    "errors": "Refused (nothing was done), with their error_label.",
}


def outreach_outputs(result: OutreachResult, *, partitioned: bool = False) -> Iterator[dg.Output]:
    """The four outputs of an outreach step, with their metadata.

    Args:
        result: what `run_outreach` returned.
        partitioned: the step materializes one partition: each output's size is written as
            `dagster/partition_row_count`, not as the whole table's `dagster/row_count`.

    Example:
        >>> yield from outreach_outputs(result)  # doctest: +SKIP
    """

    def rows(frame: pd.DataFrame) -> dict[str, Any]:
        return row_count_metadata(len(frame), partitioned=partitioned)

    yield dg.Output(
        result.sent,
        output_name="sent",
        metadata={**stats_metadata(result.stats), **rows(result.sent)},
    )
    reasons = Counter(result.skipped["reason"].astype(str))
    skipped = CaptainDataMetadataSet(skipped_by_reason=dg.MetadataValue.json(dict(reasons)))
    yield dg.Output(
        result.skipped, output_name="skipped", metadata={**rows(result.skipped), **skipped}
    )
    yield dg.Output(
        result.needs_review,
        output_name="needs_review",
        metadata={**rows(result.needs_review), **review_metadata(result.needs_review)},
    )
    errors = CaptainDataMetadataSet(
        errors=result.stats.errors,
        errors_by_label=dg.MetadataValue.json(dict(result.stats.errors_by_label)),
        new_errors=dg.MetadataValue.json(new_errors_summary(result.errors)),
    )
    yield dg.Output(result.errors, output_name="errors", metadata={**rows(result.errors), **errors})


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
    return dict(
        CaptainDataMetadataSet(
            action_id=s.action_id,
            campaign=s.campaign,
            dry_run=s.dry_run,
            profiles=s.unique,
            sent=s.sent,
            already_sent=s.already_sent,
            over_cap=s.over_cap,
            would_send=s.would_send,
            needs_review=s.needs_review,
            new_unsettled=s.new_unsettled,
            errors=s.errors,
            errors_by_label=dg.MetadataValue.json(dict(s.errors_by_label)),
            calls=s.calls,
            retries=s.retries,
            rate_limited_429=s.rate_limited,
            daily_cap_per_account=s.daily_cap_per_account,
            cap_used_by_account=dg.MetadataValue.json(dict(s.cap_used)),
        )
    )


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
    guide = (
        "These sends may or may not have gone out; they are never re-sent blindly. Check the "
        "account's sent invitations or messages, then put each URL in the run config's "
        "`mark_sent` (it went out) or `mark_retry` (it did not: this run sends it), or run "
        "`captaindata-dagster outreach mark-sent|mark-retry --campaign C --action A URL`."
    )
    return dict(
        CaptainDataMetadataSet(
            needs_review=len(review),
            needs_review_profiles=dg.MetadataValue.json(sample),
            how_to_resolve=dg.MetadataValue.md(guide),
        )
    )


def _text_or_none(value: Any) -> str | None:
    return None if pd.isna(value) else str(value)
