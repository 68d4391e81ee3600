"""What the Dagster UI shows of a batch: materialization metadata, step failures and retries.

Shared by the asset and op factories so both report the same figures under the same names, and so
a systemic Captain Data error always fails a step with its label, scope and ref (never the key).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, cast

import dagster as dg

from captaindata_dagster.api.accounts import account_hint
from captaindata_dagster.api.errors import SYSTEMIC_ERRORS, CaptainDataError
from captaindata_dagster.api.labels import (
    PERSON_FIXES,
    TRANSIENT_LABELS,
    TRANSIENT_STATUSES,
    answers_until_stale,
)
from captaindata_dagster.engine.batch.run import BatchResult, BatchStats
from captaindata_dagster.orchestration.checks import REFETCH_HINT
from captaindata_dagster.orchestration.metadata_set import (
    OBSERVED_KEY,
    CaptainDataMetadataSet,
    row_count_metadata,
)

if TYPE_CHECKING:
    import pandas as pd

    from captaindata_dagster.engine.account_pool import RetiredAccount

DEFAULT_POOL = "captaindata"  # the Dagster concurrency pool every Captain Data step declares


def default_retry_policy() -> dg.RetryPolicy:
    """Re-run a step after a transient failure (a 5xx storm, 429s beyond the client's retries).

    Systemic failures opt out through `Failure(allow_retries=False)`: retrying a bad key is futile.
    """
    return dg.RetryPolicy(
        max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    )


def stats_metadata(stats: BatchStats, rows: int, *, partitioned: bool = False) -> dict[str, Any]:
    """Materialization metadata for one batch: rows, credits, calls, retries, 429s, errors...

    Args:
        stats: The batch's figures.
        rows: Rows of the output this metadata goes on.
        partitioned: The step materializes one partition: its rows are written as
            `dagster/partition_row_count` (Dagster reads `dagster/row_count` as the whole table's).

    Example:
        >>> md = stats_metadata(BatchStats(action_id="linkedin-extract-people", calls=3), 3)
        >>> md["dagster/row_count"], CaptainDataMetadataSet.extract(md).calls
        (3, 3)
    """
    retired = list(stats.retired_users)  # accounts that failed (LK_BAD_COOKIE...): to reconnect
    figures = CaptainDataMetadataSet(
        action_id=stats.action_id,
        credits_spent=float(stats.credits),
        # Attempts the API may have billed without an answer we could use (timeouts, cut or
        # malformed answers): not in credits_spent, but counted against the budget.
        credits_at_risk=float(stats.credits_at_risk),
        estimated_credits=stats.estimated_credits,
        calls=stats.calls,
        retries=stats.retries,
        rate_limited_429=stats.rate_limited,
        inputs=stats.unique_inputs,
        skipped_fresh=stats.skipped_fresh,
        errors=stats.errors,
        errors_by_label=dg.MetadataValue.json(dict(stats.errors_by_label)),
        budget_exhausted=stats.budget_exhausted,
        not_started=stats.not_started + stats.incomplete,
        latency_p50_s=_rounded(stats.latency_p50_s),
        latency_p95_s=_rounded(stats.latency_p95_s),
        retired_users=dg.MetadataValue.json(retired) if retired else None,
    )
    if stats.mode != "live":
        figures = figures.model_copy(
            update={
                "mode": stats.mode,
                "submitted": stats.submitted,
                "pending": stats.pending,
                "bulk_runs": dg.MetadataValue.json(dict(stats.bulk_runs)),
            }
        )
    return {**row_count_metadata(rows, partitioned=partitioned), **figures}


def _rounded(seconds: float | None) -> float | None:
    return round(seconds, 4) if seconds is not None else None


def error_metadata(err: CaptainDataError) -> dict[str, Any]:
    """The envelope fields of an error, as step-failure metadata (the key is never in them)."""
    md: dict[str, Any] = {
        "error_label": err.error_label or "",
        "error_scope": err.error_scope or "",
        "error_ref": err.error_ref or "",
        "status_code": err.status_code if err.status_code is not None else -1,
        "error_class": type(err).__name__,
    }
    if err.action_id:
        md["action_id"] = err.action_id
    if err.user_uid:  # set by the batch engine: whose account failed
        md["user_uids"] = dg.MetadataValue.json([err.user_uid])
    done = BatchResult.from_error(err)
    if done is not None:
        md["credits_spent_before_failure"] = float(done.stats.credits)
    return md


def fix_for_error(err: CaptainDataError) -> str | None:
    """What a person does about a systemic error: the account's command when it names a user,
    else the labels table's fix; None when no person is needed (or the table has no fix).

    Example:
        >>> fix_for_error(AuthenticationError("refused", error_label="UNAUTHORIZED"))
        'check CAPTAINDATA_API_KEY'
    """
    label = err.error_label or ""
    named = account_hint(label, [err.user_uid], None) if err.user_uid else None
    return named or PERSON_FIXES.get(label)


def failure_for_error(err: CaptainDataError, *, observed: bool = False) -> dg.Failure:
    """A step failure for a systemic error: retried by the RetryPolicy only when it may help.

    Args:
        err: the error that stopped the step.
        observed: the step reported it on its asset already (`failure_observation`): the
            sensors then say it in their ticks without reporting it a second time.

    Example:
        >>> failure_for_error(err).description
        'UNAUTHORIZED (check CAPTAINDATA_API_KEY): Captain Data [401 UNAUTHORIZED] ...'
    """
    retry = bool(err.retryable) and not isinstance(err, SYSTEMIC_ERRORS)
    label = err.error_label or type(err).__name__
    fix = fix_for_error(err)
    md = error_metadata(err)
    if observed:
        md[OBSERVED_KEY] = True
    return dg.Failure(
        # the label and its fix first: the run's page shows the description's start
        description=f"{label}" + (f" ({fix})" if fix else "") + f": Captain Data {err}",
        metadata=md,
        allow_retries=retry,
    )


def failure_observation(
    err: CaptainDataError, key: dg.AssetKey, partition: str | None, run_id: str
) -> dg.AssetObservation:
    """A systemic error as an observation on the failed partition: its Events tab shows the
    label and the fix, where Dagster's own page says only that the run failed. The same
    observation the sensors make of a failure (`FailureGroup.observation`).

    Args:
        err: the error that stopped the step.
        key: the results table of the step.
        partition: the failed partition (None: not partitioned).
        run_id: the run it failed in.

    Example:
        >>> failure_observation(err, dg.AssetKey("linkedin_people"), "paris", run_id).description
        'Captain Data UNAUTHORIZED x1: check CAPTAINDATA_API_KEY'
    """
    from captaindata_dagster.orchestration.sensors.failure_groups import (
        FailureGroup,  # the sensors' package, loaded when a step fails
    )

    label = err.error_label or type(err).__name__
    group = FailureGroup(key, partition, label)
    fix = fix_for_error(err)
    group.add(
        {
            "count": 1,
            "error_scope": err.error_scope,
            "status_code": err.status_code,
            "error_refs": [err.error_ref] if err.error_ref else [],
            "user_uids": [err.user_uid] if err.user_uid else [],
            "message": str(err)[:500],
            "fixes": [fix] if fix else [],
        },
        run_id,
    )
    return group.observation(err.action_id, False, fix)


def error_rate_failure(
    action_id: str,
    errors: pd.DataFrame,
    attempted: int,
    threshold: float,
    retry_not_before: str | None = None,
) -> dg.Failure | None:
    """A failure when more than `threshold` of the attempted inputs failed, else None.

    Cached errors count: a partition whose inputs mostly fail is broken whether or not it was
    re-fetched. Transient labels (429, 5xx, upstream timeouts) let the RetryPolicy try again,
    except under a rate limit too long to wait out (`retry_not_before`): a step retry would
    only meet it again, so the error sensor re-runs the partition after that time instead.
    """
    import pandas as pd

    if attempted <= 0 or errors.empty:
        return None
    rate = len(errors) / attempted
    if rate <= threshold:
        return None
    labels = Counter(errors["error_label"].astype(str))
    top_label, _ = labels.most_common(1)[0]
    top = cast("pd.DataFrame", errors[errors["error_label"].astype(str) == top_label])
    sample = top.iloc[0]
    status = sample.get("status_code")
    status_code = int(status) if status is not None and not pd.isna(status) else -1
    transient = top_label in TRANSIENT_LABELS or status_code in TRANSIENT_STATUSES
    users = user_counts(top)
    return dg.Failure(
        description=(
            f"Captain Data {action_id}: {len(errors)} of {attempted} inputs failed "
            f"({rate:.0%} > {threshold:.0%}); most often {top_label}. The errors are kept in "
            "the ledger; "
            + (REFETCH_HINT if answers_until_stale(top_label) else "fix the cause and re-run")
            + "."
        ),
        metadata={
            "error_label": top_label,
            "error_scope": _text(sample.get("error_scope")),
            "error_ref": _text(sample.get("error_ref")),
            "status_code": status_code,
            "action_id": action_id,
            "error_rate": float(round(rate, 4)),
            "errors_by_label": dg.MetadataValue.json(dict(labels)),
            **({"user_uids": dg.MetadataValue.json(sorted(users))} if users else {}),
            **({"retry_not_before": retry_not_before} if retry_not_before else {}),
        },
        allow_retries=transient and not retry_not_before,
    )


def _text(value: Any) -> str:
    """A cell as text, "" for a missing one (None or pandas' NA, which has no truth value)."""
    import pandas as pd

    return "" if value is None or pd.isna(value) else str(value)


SAMPLES = 3


def _add_retired_accounts(summary: dict[str, dict[str, Any]], stats: BatchStats) -> None:
    """Name in the sensor's summary each account set aside, under its label: its inputs went to
    the other accounts, so it may have left no error row, yet a person must repair it."""
    by_label: dict[str, list[RetiredAccount]] = {}
    for account in stats.retired_accounts:
        if account.error_label:
            by_label.setdefault(account.error_label, []).append(account)
    for label, accounts in by_label.items():
        uids = [a.user_uid for a in accounts]
        info = summary.setdefault(label, {"count": 0, "inputs": []})
        info.setdefault("message", f"account(s) set aside: {', '.join(uids)}")
        info["count"] = max(int(info.get("count") or 0), len(accounts))
        users = info.setdefault("users", {})
        for uid in uids:
            users.setdefault(uid, 0)
        fixes = [a.fix for a in accounts if a.fix]
        if fixes:
            info["fixes"] = list(dict.fromkeys([*info.get("fixes", []), *fixes]))


def new_errors_summary(errors: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per label, the errors this run met for the first time (not served from the ledger).

    count, scope, status, a few error_refs and inputs as samples, first/last seen: what the error
    sensor surfaces without reading the warehouse or the ledger.
    """

    if errors.empty:
        return {}
    fresh = errors[~errors["from_cache"].astype(bool)] if "from_cache" in errors else errors
    summary: dict[str, dict[str, Any]] = {}
    for label, group in fresh.groupby(fresh["error_label"].astype(str), sort=True):
        summary[str(label)] = _label_summary(cast("pd.DataFrame", group))
    return summary


def _label_summary(group: pd.DataFrame) -> dict[str, Any]:
    """One label's new errors: count, scope, status, sample refs and inputs, first/last seen."""
    import pandas as pd

    def column(name: str) -> pd.Series:
        return cast("pd.Series", group[name])

    status = column("status_code").dropna()
    scope = column("error_scope").dropna()
    messages = column("message").dropna() if "message" in group.columns else group.iloc[:0]
    info: dict[str, Any] = {
        "count": int(len(group)),
        # one message as a sample: an async run's rows say which run and the command to resume it
        "message": str(messages.iloc[0])[:500] if len(messages) else None,
        "error_scope": str(scope.iloc[0]) if len(scope) else None,
        "status_code": int(status.iloc[0]) if len(status) else None,
        "error_refs": [str(r) for r in column("error_ref").dropna().unique()[:SAMPLES]],
        "inputs": [str(i) for i in column("input").head(SAMPLES)],
        "first_seen": cast("pd.Timestamp", pd.Timestamp(column("at").min())).isoformat(),
        "last_seen": cast("pd.Timestamp", pd.Timestamp(column("at").max())).isoformat(),
    }
    users = user_counts(group)
    if users:  # whose accounts failed: LK_BAD_COOKIE and the like name a person to call
        info["users"] = users
    return info


def user_counts(errors: pd.DataFrame) -> dict[str, int]:
    """Failed inputs per user uid whose account made the call (rows without one left out)."""
    if "user_uid" not in errors.columns:
        return {}
    uids = [str(u) for u in errors["user_uid"] if isinstance(u, str) and u]
    return dict(sorted(Counter(uids).items()))


def errors_output_metadata(
    stats: BatchStats, errors: pd.DataFrame, *, partitioned: bool = False
) -> dict[str, Any]:
    """Metadata of an errors-table output: its size, the labels, and this run's new errors.

    The new errors (`CaptainDataMetadataSet.new_errors`) are what the error sensor reads.

    Args:
        stats: The batch's figures.
        errors: The errors table this run outputs (one row per failed input).
        partitioned: The output is one partition: its size is `dagster/partition_row_count`.

    Example:
        >>> import pandas as pd
        >>> md = errors_output_metadata(BatchStats(action_id="x"), pd.DataFrame(), partitioned=True)
        >>> md["dagster/partition_row_count"], CaptainDataMetadataSet.extract(md).new_errors.data
        (0, {})
    """
    figures = CaptainDataMetadataSet(
        errors=stats.errors,
        errors_by_label=dg.MetadataValue.json(dict(stats.errors_by_label)),
    )
    return {
        **row_count_metadata(len(errors), partitioned=partitioned),
        **figures,
        **new_errors_metadata(stats, errors),
    }


def new_errors_metadata(stats: BatchStats, errors: pd.DataFrame) -> dict[str, Any]:
    """`captaindata/new_errors`: what the error sensor reads, per label (`new_errors_summary`),
    with the accounts set aside and a long rate limit's end.

    On the errors table's materialization; on the results table's when a run selected it alone.

    Args:
        stats: The batch's figures.
        errors: The errors table of the batch.

    Example:
        >>> CaptainDataMetadataSet.extract(new_errors_metadata(stats, errors)).new_errors
    """
    summary = new_errors_summary(errors)
    _add_retired_accounts(summary, stats)
    if stats.retry_not_before:  # a rate limit too long to wait out: re-run after it, not before
        for info in summary.values():
            if info.get("status_code") == 429:
                info["retry_not_before"] = stats.retry_not_before
    return dict(CaptainDataMetadataSet(new_errors=dg.MetadataValue.json(summary)))
