"""What each error label means: the one table retries, settlement, checks, sensors and hints read.

A label is the API's `error_label` (or one this package gives a failure the API never saw, such as
`TIMEOUT`). Each row says:

- `transient`: a passing condition upstream; a 424 with this label is retryable.
- `rerun`: a later re-run of the partition is likely to succeed (the error sensor requests one).
- `account`: about the LinkedIn account that made the call, not the input; another account may
  succeed, and a person must (re)connect this one.
- `ambiguous`: the upstream timed out or gave up, so an action with side effects (an invitation, a
  message) may have been carried out all the same: it is not re-sent, and is kept for review.
- `input`: about the request's inputs or parameters (a 4xx with it is an `InvalidInputError`).
- `paging`: the API's pagination went wrong (a next page naming itself or another path): the walk
  of that search ends, the pages already paid for are kept.
- `every_account`: the API found no usable account at all, not just the one named.
- `fix`: what a person does about it, when no re-run will.

A label missing from the table means nothing special: not transient, no re-run, no hint.

Example:
    >>> meaning("LK_BAD_COOKIE").account
    True
"""

from __future__ import annotations

from dataclasses import dataclass

_IDENTITY_CONNECT = (
    "captaindata-dagster identities connect <identity uid> (a /v4/users account: "
    "captaindata-dagster users connect <user uid>)"
)


_RESUME = (
    "fix the run's cause (its last_error), then resume it: `captaindata-dagster runs resume "
    "<run uid>` (or the resume_captaindata_run op); the next materialization lands what it brings"
)


@dataclass(frozen=True)
class LabelMeaning:
    """One row of the table: what a label says about retrying, the account and a person's fix."""

    transient: bool = False
    rerun: bool = False
    account: bool = False
    ambiguous: bool = False
    input: bool = False
    paging: bool = False
    every_account: bool = False
    fix: str | None = None


_PASSING = LabelMeaning(transient=True, rerun=True)
_PASSING_MAYBE_DONE = LabelMeaning(transient=True, rerun=True, ambiguous=True)
_RERUN = LabelMeaning(rerun=True)

LABELS: dict[str, LabelMeaning] = {
    # rate limits: nothing was done, the call can be made again later
    "STATUS_429": _PASSING,
    "LIMIT_REACHED": _PASSING,
    # the upstream (LinkedIn, a proxy) timed out or gave up: a side effect may have happened
    "LK_524": _PASSING_MAYBE_DONE,
    "PROXY_ERROR": _PASSING_MAYBE_DONE,
    "API_TIMEOUT_ERROR": _PASSING_MAYBE_DONE,
    "API_MAX_RETRY": _PASSING_MAYBE_DONE,
    # our side of the wire, or a 5xx: a re-run later is likely to work
    "GENERIC_ERROR": _RERUN,
    "SERVER_ERROR": _RERUN,
    "SERVICE_UNAVAILABLE": _RERUN,
    "TIMEOUT": _RERUN,
    "CONNECTION_ERROR": _RERUN,
    "TRANSPORT_ERROR": _RERUN,
    "MALFORMED_RESPONSE": _RERUN,
    # the account that made the call
    "LK_BAD_COOKIE": LabelMeaning(
        account=True,
        fix="reconnect the LinkedIn account (its session cookie expired): " + _IDENTITY_CONNECT,
    ),
    "NOT_CONNECTED": LabelMeaning(
        account=True, fix="connect a LinkedIn account for the identity: " + _IDENTITY_CONNECT
    ),
    "NO_VALID_ACCOUNT_CONFIGURED": LabelMeaning(
        account=True,
        every_account=True,
        fix="connect a LinkedIn account: `captaindata-dagster identities list` shows each "
        "identity's status, then `captaindata-dagster identities connect <identity uid>` (a "
        "/v4/users account: `captaindata-dagster users list` shows each user's status, then "
        "`captaindata-dagster users connect <user uid>`)",
    ),
    # the request itself, or the workspace
    "INVALID_INPUT": LabelMeaning(input=True, fix="fix the inputs"),
    "BAD_INPUT": LabelMeaning(input=True, fix="fix the inputs"),
    "BAD_PARAMETERS": LabelMeaning(input=True, fix="fix the action parameters"),
    # the API's paging broke: given by the client, the walk ends with what was paid kept
    "PAGINATION_LOOP": LabelMeaning(paging=True),
    "BAD_PAGINATION_URL": LabelMeaning(paging=True),
    "UNAUTHORIZED": LabelMeaning(fix="check CAPTAINDATA_API_KEY"),
    "MISSING_API_KEY": LabelMeaning(fix="set CAPTAINDATA_API_KEY (or CAPTAINDATA_SANDBOX=1)"),
    "NO_CREDITS": LabelMeaning(fix="add credits to the workspace"),
    "NO_ACCESS": LabelMeaning(fix="check the plan's access to this action"),
    "STATUS_403": LabelMeaning(fix="check the workspace's permissions"),
    # async runs (given by this package): an input a run did not bring an outcome for
    "NO_CALLBACK": _RERUN,  # the run ended, no callback for it even after replays
    "CALLBACK_FAILED": LabelMeaning(
        fix="make the callback receiver answer at its public URL (`captaindata-dagster receiver`); "
        "the next materialization replays the callbacks it missed",
    ),
    "RUN_BLOCKED": LabelMeaning(fix=_RESUME),
    "RUN_STOPPED": LabelMeaning(fix=_RESUME),
    "SUBMISSION_UNKNOWN": LabelMeaning(
        fix="the answer to the submission was lost and its run was not found: look for it with "
        "`captaindata-dagster runs list --action <action>`; if it does not exist, "
        "`captaindata-dagster runs release <submission id>` lets the next run submit again"
    ),
}

NOTHING_SPECIAL = LabelMeaning()

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses of passing conditions, whatever the label."""


def meaning(label: str | None) -> LabelMeaning:
    """The table's row for `label` (a row of all False for labels it does not list).

    Args:
        label: an `error_label`, or None.
    """
    return LABELS.get(label or "", NOTHING_SPECIAL)


def labels_where(**flags: bool) -> frozenset[str]:
    """The labels whose row has every given flag set as given, e.g. `labels_where(account=True)`.

    Args:
        **flags: `transient`, `rerun`, `account`, `ambiguous`, `input`, `paging` or
            `every_account`, each True or False.
    """
    return frozenset(
        label
        for label, row in LABELS.items()
        if all(getattr(row, flag) is value for flag, value in flags.items())
    )


TRANSIENT_LABELS = labels_where(transient=True)
"""Passing conditions upstream: they make a 424 retryable."""
RERUN_LABELS = labels_where(rerun=True)
"""A re-run of the partition later is likely to succeed."""
ACCOUNT_LABELS = labels_where(account=True)
"""About the account that made the call: another account may succeed; a person reconnects it."""
AMBIGUOUS_LABELS = labels_where(ambiguous=True)
"""A side effect may have happened all the same: not re-sent, kept for review."""
INPUT_LABELS = labels_where(input=True)
"""About the inputs or parameters: a 4xx with one of these is an `InvalidInputError`."""
PAGING_LABELS = labels_where(paging=True)
"""The API's pagination broke: the search's walk ends; the pages already paid are kept."""
PERSON_FIXES = {label: row.fix for label, row in LABELS.items() if row.fix}
"""What a person should do about a label that no re-run will fix."""


def answers_until_stale(label: str) -> bool:
    """Whether an input that failed with this label is answered with the error, not fetched
    again, until its ledger entry is older than `max_age`: neither transient nor an account's
    (the ledger keeps permanent errors so that nobody pays for the same refusal every run).

    Example:
        >>> answers_until_stale("NO_RESULT"), answers_until_stale("LK_BAD_COOKIE")
        (True, False)
    """
    return label not in TRANSIENT_LABELS and label not in ACCOUNT_LABELS
