"""A preview shown to a person: a text table for the shell, metadata for the Dagster UI.

Both show the same figures (`records.COLUMNS`) per partition and their totals. In the UI, the
figures of each partition are an `AssetObservation` of the asset (beside its materializations,
whose `captaindata/credits_spent` is the real spend and `captaindata/estimated_credits` the
step's own estimate), and the whole table is the estimate op's output metadata.

Example:
    >>> print(text_table(preview))
    linkedin_profiles (linkedin-extract-people)
    partition  inputs_from  inputs  fresh  to_fetch  credits  ...
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from captaindata_dagster.orchestration.estimate.records import (
    COLUMNS,
    AssetEstimate,
    PartitionEstimate,
)
from captaindata_dagster.orchestration.metadata_set import CaptainDataMetadataSet

# The UI's metadata keys of a preview, beside the `captaindata/...` ones of `CaptainDataMetadataSet`
# (which a materialization shares): users read them in the asset's events, never rename one.
PARTITION_KEYS = {name: f"estimate/{name}" for name in (*COLUMNS[1:], "notes")}
"""A partition's observation: each figure of `COLUMNS` (and the notes) -> its key."""
TOTAL_KEYS = {name: f"total/{name}" for name in ("partitions", *COLUMNS[2:])}
"""The estimate op's output: each total of `AssetEstimate.totals()` -> its key."""
SUMMARY_KEYS = {"asset": "asset", "action_id": "action_id", "table": "estimate"}
"""The estimate op's output: the asset, its action and the Markdown table -> their keys."""


def text_table(preview: AssetEstimate) -> str:
    """The figures per partition and their totals, aligned for a terminal; notes below.

    Args:
        preview: an asset's estimate.

    Example:
        >>> text_table(preview).splitlines()[0]
        'linkedin_profiles (linkedin-extract-people)'
    """
    rows = [[_cell(r["partition"])] + [_cell(r[c]) for c in COLUMNS[1:]] for r in preview.rows()]
    totals = preview.totals()
    rows.append(["TOTAL", ""] + [_cell(totals[c]) for c in COLUMNS[2:]])
    table = [list(COLUMNS), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = [f"{preview.asset_key.to_user_string()} ({preview.action_id})"]
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    notes = sorted({n for p in preview.partitions for n in _notes(p)})
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines)


def markdown_table(preview: AssetEstimate) -> str:
    """The same table in Markdown, for the UI.

    Args:
        preview: an asset's estimate.

    Example:
        >>> markdown_table(preview).splitlines()[0]
        '| partition | inputs_from | inputs | ...'
    """
    totals = preview.totals()
    rows = [[_cell(r[c]) for c in COLUMNS] for r in preview.rows()]
    rows.append(["**total**", ""] + [_cell(totals[c]) for c in COLUMNS[2:]])
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    notes = sorted({n for p in preview.partitions for n in _notes(p)})
    return "\n".join(lines + [""] + [f"- {n}" for n in notes])


def partition_observation(preview: AssetEstimate, part: PartitionEstimate) -> dg.AssetObservation:
    """One partition's figures as an observation of the asset, shown beside its runs.

    Args:
        preview: the asset's estimate.
        part: one of its partitions.

    Example:
        >>> context.log_event(partition_observation(preview, preview.partitions[0]))
    """
    est = part.estimate
    metadata: dict[str, Any] = dict(
        CaptainDataMetadataSet(
            action_id=preview.action_id,
            estimated_credits=None if est is None else est.billed_credits,
            inputs=None if est is None else est.unique_inputs,
            skipped_fresh=None if est is None else est.fresh,
        )
    )
    row = part.row()
    metadata.update({PARTITION_KEYS[c]: row[c] for c in COLUMNS[1:] if row[c] is not None})
    if part.notes or (est is not None and est.notes):
        notes = dg.MetadataValue.md("\n".join(f"- {n}" for n in _notes(part)))
        metadata[PARTITION_KEYS["notes"]] = notes
    return dg.AssetObservation(
        asset_key=preview.asset_key, partition=part.partition_key, metadata=metadata
    )


def summary_metadata(preview: AssetEstimate) -> dict[str, Any]:
    """The estimate op's output metadata: the table and the totals.

    Args:
        preview: the asset's estimate.

    Example:
        >>> yield dg.Output(preview.to_dict(), metadata=summary_metadata(preview))
    """
    totals = {TOTAL_KEYS[k]: v for k, v in preview.totals().items() if v is not None}
    return {
        SUMMARY_KEYS["asset"]: preview.asset_key.to_user_string(),
        SUMMARY_KEYS["action_id"]: preview.action_id,
        SUMMARY_KEYS["table"]: dg.MetadataValue.md(markdown_table(preview)),
        **totals,
    }


def _notes(part: PartitionEstimate) -> list[str]:
    return list(dict.fromkeys([*part.notes, *(part.estimate.notes if part.estimate else ())]))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:g}"
    return str(value)
