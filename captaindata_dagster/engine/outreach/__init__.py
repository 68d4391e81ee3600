"""Outreach with side effects: connection requests and messages, each sent at most once.

`run_outreach(client, store, "linkedin-connect-profile", urls, campaign="spring-2026")` sends that
action to LinkedIn profiles. What makes it safe to run unattended:

- **Never twice.** Every send goes through an idempotency record keyed by (campaign, action,
  person) in an `OutreachStore` (`storage/outreach_records.py`), committed *before* the call and
  settled after it. A person already sent to in the campaign is skipped, in this run and every
  later one, whatever the spelling of the URL (`/in/jane-doe`, `fr.linkedin.com/in/Jane-Doe/fr`:
  one person, one key, see `api/entity_keys.py`); a URL naming no one is refused (INVALID_INPUT).
- **Unknown is not failed.** A timeout, a dropped connection, a 5xx or an ambiguous upstream label
  after the request may have reached the API settles as `unknown`; a run that died mid-call leaves
  `pending`. Both are listed in `needs_review`, never re-sent blindly: a person checks the account
  and marks each one sent or safe to retry (`mark_sent` / `mark_retry`, `OutreachStore.mark_*`, or
  `captaindata-dagster outreach`).
- **Refusals are settled.** A 4xx answer means nothing was done: an input problem (INVALID_INPUT)
  is settled `failed` and not retried; an account or upstream refusal and a 429 are `failed`
  retryable (the next run tries again). 401/402/403 stop the run.
- **A daily cap per account**, over a rolling 24 h and across runs and campaigns, counted from the
  records in the same transaction that reserves a send. Accounts rotate, one call at a time each.
- **Dry run**: nothing sent, nothing written; `skipped` says what would go out, from which account.

The parts, one concern each: `settings` (what a run may be asked), `intake` (review marks, then
the profiles sorted out against the records), `sending` (reserve, call, settle; what stops a run),
`settlement` (how a failed send is recorded), `workers` (the accounts sending), `rows` and
`results` (what a run hands back), `run` (`run_outreach`). No Dagster here: the op and asset
factories are in `captaindata_dagster.orchestration.outreach.factories`.

Example:
    >>> from captaindata_dagster.engine.outreach import OutreachResult, run_outreach
"""

from captaindata_dagster.engine.outreach.results import (
    ALREADY_SENT,
    DRY_RUN,
    OUTREACH_ERROR_COLUMNS,
    OVER_CAP_REASON,
    RATE_LIMITED,
    REVIEW_COLUMNS,
    SENT_COLUMNS,
    SKIPPED_COLUMNS,
    STOPPED,
    OutreachResult,
    OutreachStats,
)
from captaindata_dagster.engine.outreach.run import run_outreach
from captaindata_dagster.engine.outreach.settings import (
    DEFAULT_DAILY_CAP,
    DEFAULT_DAILY_CAPS,
    outreach_action,
)
from captaindata_dagster.engine.outreach.settlement import settlement

__all__ = [
    "ALREADY_SENT",
    "DEFAULT_DAILY_CAP",
    "DEFAULT_DAILY_CAPS",
    "DRY_RUN",
    "OUTREACH_ERROR_COLUMNS",
    "OVER_CAP_REASON",
    "RATE_LIMITED",
    "REVIEW_COLUMNS",
    "SENT_COLUMNS",
    "SKIPPED_COLUMNS",
    "STOPPED",
    "OutreachResult",
    "OutreachStats",
    "outreach_action",
    "run_outreach",
    "settlement",
]
