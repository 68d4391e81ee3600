"""Before sending: a person's review decisions applied, then the profiles sorted out.

`mark_sent` / `mark_retry` settle what a person checked in `needs_review` (also in a dry run: they
are decisions, not sends). Then each profile given is normalised, checked locally (a URL naming no
one is refused as INVALID_INPUT, never sent), deduplicated by person (`/in/jane-doe` and
`fr.linkedin.com/in/Jane-Doe/fr` are one key, see `entity_keys`), and looked up in the records: a
person already sent to, still to review, or refused for good is reported from the record, the
others are left to send.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.engine.outreach.results import OutreachStats
from captaindata_dagster.engine.outreach.rows import OutreachRows
from captaindata_dagster.engine.outreach.settings import profile_field, profile_problem
from captaindata_dagster.storage.outreach_records import OutreachStore, profile_key


def apply_review_marks(
    store: OutreachStore,
    act: Action,
    campaign: str,
    marks: tuple[Iterable[str], Iterable[str]],
    run_id: str | None,
    log: Any,
) -> None:
    """Record a person's review: `marks` is (went out: never send, did not: send again).

    A URL the catalog refuses stops the run before any mark is applied; a `mark_retry` the store
    refuses (a record not to review) or finds no record for is logged and passed over.
    """
    mark_sent, mark_retry = (list(m) for m in marks)
    for url in (*mark_sent, *mark_retry):
        problems = act.input_problems({profile_field(act): profile_text(url)})
        if problems:
            raise ValidationError(
                f"mark_sent / mark_retry: {problems[0]}", field=profile_field(act)
            )
    note = _note(run_id)
    for url in mark_sent:
        store.mark_sent(campaign, act.id, profile_text(url), note=note)
        log.info("%s/%s: %s marked sent by a person", campaign, act.id, url)
    for url in mark_retry:
        try:
            done = store.mark_retry(campaign, act.id, profile_text(url), note=note)
        except ValueError as exc:
            log.warning("%s/%s: mark_retry refused: %s", campaign, act.id, exc)
            continue
        if done is None:
            log.warning("%s/%s: mark_retry: no record for %s", campaign, act.id, url)
        else:
            log.info("%s/%s: %s marked safe to retry by a person", campaign, act.id, url)


def profiles_to_send(
    profiles: Iterable[Any],
    act: Action,
    store: OutreachStore,
    rows: OutreachRows,
    stats: OutreachStats,
) -> list[str]:
    """The URLs to send, one per person in the order given; the others land in `rows` now.

    Counts `stats.profiles` (as given) and `stats.unique` (people, and refused spellings).
    """
    todo: list[str] = []
    seen: set[str] = set()
    for raw in profiles:
        stats.profiles += 1
        url = profile_text(raw)
        problem = profile_problem(act, url)
        key = url if problem else profile_key(url)  # one person, one key: see entity_keys
        if key in seen:
            continue
        seen.add(key)
        if problem:
            rows.error(url, {
                "error_label": "INVALID_INPUT", "error_scope": "input", "error_ref": None,
                "message": f"{act.id}: {problem}. Nothing was sent.", "status_code": None,
                "retryable": False,
            }, from_cache=False)  # fmt: skip
            continue
        record = store.get(rows.campaign, act.id, url)
        if record is not None and not record.may_send:
            rows.from_record(url, record)
            continue
        todo.append(url)
    stats.unique = len(seen)
    return todo


def profile_text(raw: Any) -> str:
    """A profile cell as text: stripped, and "" for None, NaN or pandas' NA."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or raw is pd.NA:
        return ""
    return str(raw).strip()


def _note(run_id: str | None) -> str:
    return f"resolved through run {run_id}" if run_id else "resolved through run_outreach"
