"""Asset checks for Captain Data tables: error rate by label, required columns, unique keys, and
the LinkedIn accounts a step had to set aside.

Each check is a plain function of a frame, so it is easy to test and to reuse; the asset factories
evaluate them on every materialization (the frames are in memory there, partition by partition) and
the Dagster UI shows the results on the asset's Checks tab, with the labels in their metadata.

The error-rate check carries the one threshold a user reasons about, `max_error_rate`: above it the
check fails with severity ERROR and, declared `blocking` (the factories' default), Dagster ends the
step after its outputs landed, so nothing downstream of it starts in the same run. Above
`warn_error_rate` (never above `max_error_rate`) it only warns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import dagster as dg

from captaindata_dagster.api.labels import PERSON_FIXES, answers_until_stale
from captaindata_dagster.orchestration.metadata_set import REFETCH_TAG

if TYPE_CHECKING:
    import pandas as pd

    from captaindata_dagster.engine.account_pool import RetiredAccount

# errors the ledger answers until `max_age` (not transient, not an account's): how to fetch again
REFETCH_HINT = f"once their cause is fixed, the run tag {REFETCH_TAG}=errors fetches them again"

ERROR_RATE = "captaindata_error_rate"
REQUIRED_COLUMNS = "captaindata_required_columns"
UNIQUE_KEY = "captaindata_unique_key"
ACCOUNTS = "captaindata_accounts"

DEFAULT_WARN_ERROR_RATE = 0.05
DEFAULT_MAX_ERROR_RATE = 0.20


def check_specs(
    asset_key: dg.AssetKey,
    required: Sequence[str],
    unique: str | None,
    *,
    blocking: bool = True,
    accounts: bool = False,
) -> list[dg.AssetCheckSpec]:
    """The checks one results table declares; the error-rate one `blocking` unless told otherwise.

    Args:
        asset_key: the results table.
        required: the columns the required-columns check wants filled.
        unique: the column the unique-key check reads, or None (no such check).
        blocking: the error-rate check's failure (ERROR) stops what is downstream in the run.
        accounts: the action runs on a connected LinkedIn account: declare the accounts check.

    Example:
        >>> [s.name for s in check_specs(dg.AssetKey("people"), ["_input"], None)]
        ['captaindata_error_rate', 'captaindata_required_columns']
    """
    specs = [
        dg.AssetCheckSpec(
            ERROR_RATE,
            asset=asset_key,
            description=(
                "Share of inputs that failed, by error_label: WARN above warn_error_rate, "
                "ERROR above max_error_rate"
                + (" (blocking: nothing downstream runs in the same run)." if blocking else ".")
            ),
            blocking=blocking,
        ),
        dg.AssetCheckSpec(
            REQUIRED_COLUMNS,
            asset=asset_key,
            description=f"Required columns present and non-null: {', '.join(required)}.",
        ),
    ]
    if unique:
        specs.append(
            dg.AssetCheckSpec(
                UNIQUE_KEY, asset=asset_key, description=f"`{unique}` is unique in the partition."
            )
        )
    if accounts:
        specs.append(
            dg.AssetCheckSpec(
                ACCOUNTS,
                asset=asset_key,
                description=(
                    "Every LinkedIn account the step used kept working; WARN names each one set "
                    "aside (an expired cookie...) and the command that repairs it."
                ),
            )
        )
    return specs


def accounts_check(
    retired: Sequence[RetiredAccount], *, asset_key: dg.AssetKey | None = None
) -> dg.AssetCheckResult:
    """Passes when no account was set aside; else WARN, naming each account, label and fix.

    An account that fails on one of several rotated accounts costs no row (its inputs go to the
    others), so without this check it would show only as a log line: this is where the person who
    must reconnect it looks first.

    Args:
        retired: the accounts the batch set aside (`BatchStats.retired_accounts`).
        asset_key: the results table.

    Example:
        >>> accounts_check([RetiredAccount("u1", "LK_BAD_COOKIE", "reconnect ...")]).passed
        False
    """
    lines = [  # the fix names the user
        f"{a.error_label}: {a.fix or f'user {a.user_uid} failed: see the step log'}"
        for a in retired
    ]
    return dg.AssetCheckResult(
        check_name=ACCOUNTS,
        asset_key=asset_key,
        passed=not retired,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(lines) if lines else "every account kept working",
        metadata={
            "accounts_set_aside": dg.MetadataValue.int(len(retired)),
            "accounts": dg.MetadataValue.json(
                [
                    {"user_uid": a.user_uid, "error_label": a.error_label, "fix": a.fix}
                    for a in retired
                ]
            ),
        },
    )


def error_rate_check(
    errors: pd.DataFrame,
    inputs: int,
    *,
    asset_key: dg.AssetKey | None = None,
    warn_above: float = DEFAULT_WARN_ERROR_RATE,
    fail_above: float = DEFAULT_MAX_ERROR_RATE,
) -> dg.AssetCheckResult:
    """Passes while the share of failed inputs is at most `warn_above`.

    Above it the check fails with severity WARN, above `fail_above` (the asset's
    `max_error_rate`) with ERROR, which stops the run's downstream steps when the check is
    declared blocking. A `warn_above` higher than `fail_above` is read as `fail_above`. The
    metadata gives the count and rate of each error_label, so the UI says which labels pushed it
    over, and what a person should do about each label that no re-run fixes (`api/labels.py`).

    Args:
        errors: the errors table of the batch.
        inputs: the inputs attempted (the rate's denominator).
        asset_key: the results table (None inside a single-asset step).
        warn_above: the WARN level.
        fail_above: the ERROR level: the asset's `max_error_rate`.

    Example:
        >>> error_rate_check(errors, 10, fail_above=0.2).severity
        <AssetCheckSeverity.ERROR: 'ERROR'>
    """
    warn_above = min(warn_above, fail_above)
    labels = (
        errors["error_label"].astype(str).value_counts().sort_index().to_dict()
        if not errors.empty
        else {}
    )
    total = int(sum(labels.values()))
    rate = total / inputs if inputs else 0.0
    rates = {label: round(n / inputs, 4) for label, n in labels.items()} if inputs else {}
    worst = max(labels, key=lambda k: labels[k]) if labels else ""
    severity = dg.AssetCheckSeverity.ERROR if rate > fail_above else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        check_name=ERROR_RATE,
        asset_key=asset_key,
        passed=rate <= warn_above,
        severity=severity,
        description=(
            f"{total} of {inputs} inputs failed ({rate:.1%})"
            + (f"; most often {worst}" if worst else "")
            + (f"; {REFETCH_HINT}" if any(answers_until_stale(label) for label in labels) else "")
        ),
        metadata={
            "error_rate": dg.MetadataValue.float(round(rate, 4)),
            "errors": dg.MetadataValue.int(total),
            "inputs": dg.MetadataValue.int(int(inputs)),
            "errors_by_label": dg.MetadataValue.json(labels),
            "error_rate_by_label": dg.MetadataValue.json(rates),
            "labels": dg.MetadataValue.text(", ".join(f"{k}={v}" for k, v in labels.items())),
            "what_to_do": dg.MetadataValue.json(
                {label: PERSON_FIXES[label] for label in labels if label in PERSON_FIXES}
            ),
            "warn_above": dg.MetadataValue.float(warn_above),
            "fail_above": dg.MetadataValue.float(fail_above),
        },
    )


def required_columns_check(
    table: pd.DataFrame, columns: Sequence[str], *, asset_key: dg.AssetKey | None = None
) -> dg.AssetCheckResult:
    """Every column in `columns` exists and holds no null."""
    missing = [c for c in columns if c not in table.columns]
    nulls = {c: int(table[c].isna().sum()) for c in columns if c in table.columns}
    bad = {c: n for c, n in nulls.items() if n}
    return dg.AssetCheckResult(
        check_name=REQUIRED_COLUMNS,
        asset_key=asset_key,
        passed=not missing and not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            "all required columns are filled"
            if not missing and not bad
            else f"missing: {missing or 'none'}; nulls: {bad or 'none'}"
        ),
        metadata={
            "rows": dg.MetadataValue.int(len(table)),
            "missing_columns": dg.MetadataValue.json(missing),
            "null_counts": dg.MetadataValue.json(nulls),
        },
    )


def unique_key_check(
    table: pd.DataFrame, column: str, *, asset_key: dg.AssetKey | None = None
) -> dg.AssetCheckResult:
    """`column` exists and no non-null value repeats."""
    if column not in table.columns:
        return dg.AssetCheckResult(
            check_name=UNIQUE_KEY,
            asset_key=asset_key,
            passed=False,
            description=f"column {column!r} is missing",
            metadata={"column": dg.MetadataValue.text(column)},
        )
    values = cast("pd.Series", table[column]).dropna()
    dupes = cast("pd.Series", values[values.duplicated(keep=False)])
    sample = [str(v) for v in dupes.unique()[:5]]
    return dg.AssetCheckResult(
        check_name=UNIQUE_KEY,
        asset_key=asset_key,
        passed=dupes.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{column} is unique" if dupes.empty else f"{dupes.nunique()} {column} values repeat"
        ),
        metadata={
            "column": dg.MetadataValue.text(column),
            "duplicated_values": dg.MetadataValue.int(int(dupes.nunique())),
            "sample": dg.MetadataValue.json(sample),
        },
    )
