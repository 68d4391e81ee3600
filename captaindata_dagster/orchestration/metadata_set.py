"""Every `captaindata/...` metadata entry the package writes, as one typed set.

The Dagster UI, asset checks and users' queries read these keys, so their strings never change;
what the set adds is that writers cannot misspell one and readers get typed values back:

    >>> md = CaptainDataMetadataSet(action_id="linkedin-extract-people", credits_spent=3.0)
    >>> dict(md)
    {'captaindata/action_id': 'linkedin-extract-people', 'captaindata/credits_spent': 3.0}
    >>> CaptainDataMetadataSet.extract(dict(md)).credits_spent
    3.0

Numbers, flags and strings are stored as themselves (Dagster wraps them when it records the event);
dicts and lists go through `dg.MetadataValue.json` (a `JsonMetadataValue`: read `.data`), and the
outreach review guide through `dg.MetadataValue.md`. A field left at None is not written.

Run and op *tags* are not metadata: their keys are the constants at the end of this module.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster._core.definitions.metadata.metadata_set import (
    NamespacedMetadataSet,
    TableMetadataSet,
)

NAMESPACE = "captaindata"


class CaptainDataMetadataSet(NamespacedMetadataSet):
    """The `captaindata/` entries of a Captain Data output's metadata (definition or event).

    Write: `metadata={**CaptainDataMetadataSet(calls=3, ...), "dagster/row_count": 3}`.
    Read: `CaptainDataMetadataSet.extract(materialization.metadata).credits_spent`; entries of
    other namespaces are ignored, absent ones are None.

    Args:
        action_id: The Captain Data action the step runs.
        role: On a batch asset's definition: "results" or "errors" (which table this is).
        search_url: On a search partition's materialization: the search it ran (a link).
        credits_spent: Credits the answers cost (from the ledger's answers, not estimated).
        credits_at_risk: Credits attempts may have cost unseen (timeouts, cut answers).
        estimated_credits: What the inputs left to fetch would cost at the catalog's prices,
            computed before the first call.
        calls: HTTP calls made. retries: calls retried. rate_limited_429: 429 answers met.
        inputs: Unique inputs of the batch. skipped_fresh: inputs served from the ledger.
        duplicates_dropped: Results rows dropped as duplicates of another input's.
        errors: Failed inputs. errors_by_label: `{label: count}` (JSON).
        new_errors: On an errors output: per label, the errors met for the first time in this run
            (JSON; read by the error sensor).
        budget_exhausted: The credit budget stopped the batch. not_started: inputs left undone.
        latency_p50_s, latency_p95_s: Call latency percentiles, in seconds.
        retired_users: Accounts that failed (LK_BAD_COOKIE...) and were set aside (JSON list).
        campaign, dry_run, profiles, sent, already_sent, over_cap, would_send, needs_review,
            new_unsettled, daily_cap_per_account, cap_used_by_account, skipped_by_reason,
            needs_review_profiles, how_to_resolve: An outreach step's figures (see
            `orchestration.outreach`).
    """

    action_id: str | None = None
    role: str | None = None
    search_url: str | None = None
    credits_spent: float | None = None
    credits_at_risk: float | None = None
    estimated_credits: float | None = None
    calls: int | None = None
    retries: int | None = None
    rate_limited_429: int | None = None
    inputs: int | None = None
    skipped_fresh: int | None = None
    duplicates_dropped: int | None = None
    errors: int | None = None
    errors_by_label: dg.JsonMetadataValue | None = None
    new_errors: dg.JsonMetadataValue | None = None
    budget_exhausted: bool | None = None
    not_started: int | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    retired_users: dg.JsonMetadataValue | None = None
    # Async mode (bulk runs): the mode, inputs sent in new runs, inputs waiting in runs not
    # ended, and each run's uid -> status
    mode: str | None = None
    submitted: int | None = None
    pending: int | None = None
    bulk_runs: dg.JsonMetadataValue | None = None
    # Outreach steps
    campaign: str | None = None
    dry_run: bool | None = None
    profiles: int | None = None
    sent: int | None = None
    already_sent: int | None = None
    over_cap: int | None = None
    would_send: int | None = None
    needs_review: int | None = None
    new_unsettled: int | None = None
    daily_cap_per_account: int | None = None
    cap_used_by_account: dg.JsonMetadataValue | None = None
    skipped_by_reason: dg.JsonMetadataValue | None = None
    needs_review_profiles: dg.JsonMetadataValue | None = None
    how_to_resolve: dg.MarkdownMetadataValue | None = None

    @classmethod
    def namespace(cls) -> str:
        return NAMESPACE

    @classmethod
    def _extract_value(cls, field_name: str, value: Any) -> Any:
        """As Dagster's, and a whole number recorded for a float field reads as a float."""
        if isinstance(value, dg.IntMetadataValue) and float in cls._get_accepted_types_for_field(
            field_name
        ):
            return float(value.value) if value.value is not None else None
        return super()._extract_value(field_name, value)


def json_data(value: dg.JsonMetadataValue | None) -> Any:
    """The data of a JSON entry read from the set, None when the entry is absent.

    Example:
        >>> md = CaptainDataMetadataSet(errors_by_label=dg.MetadataValue.json({"NO_RESULT": 2}))
        >>> json_data(CaptainDataMetadataSet.extract(dict(md)).errors_by_label)
        {'NO_RESULT': 2}
    """
    return value.data if value is not None else None


def row_count_metadata(rows: int, *, partitioned: bool = False) -> dict[str, Any]:
    """A table output's size: `dagster/partition_row_count` for one partition's rows, else
    `dagster/row_count` (which Dagster reads as the whole table's).

    Args:
        rows: Rows of the output.
        partitioned: The output is one partition of the table.

    Example:
        >>> row_count_metadata(3, partitioned=True)
        {'dagster/partition_row_count': 3}
    """
    if partitioned:
        return dict(TableMetadataSet(partition_row_count=rows))
    return dict(TableMetadataSet(row_count=rows))


# Tags (on ops, assets' steps and runs), not metadata: strings a run query or the UI filters on.
ACTION_ID_TAG = "captaindata/action_id"  # on each step: the action it runs
CAMPAIGN_TAG = "captaindata/campaign"  # on an outreach step and its runs
ACCOUNTS_TAG = "captaindata/accounts"  # on the account ops: "create", "connect" or "list"
SURFACED_TAG = "captaindata/surfaced"  # on a failed run one of the sensors has reported
RERUN_TAG = "captaindata/rerun_labels"  # on a re-run the error sensor requested: its labels
RERUN_OF_TAG = "captaindata/rerun_of"  # on such a re-run: the asset whose errors it is for
ESTIMATE_TAG = "captaindata/estimate"  # on a cost-preview op: it makes no paid call
BULK_LANDING_TAG = "captaindata/bulk_landing"  # on a run the landing sensor requested: its runs
BULK_TAG = "captaindata/bulk"  # on the bulk ops: "resume", "schedule", "pause", "cancel"...
REFETCH_TAG = "captaindata/refetch"  # on a run: "errors" or "all", fetch again past the ledger
OBSERVED_KEY = "observed"  # in a step failure's metadata: the step reported it on its asset
