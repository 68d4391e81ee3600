"""Fetching again past the ledger: the `captaindata/refetch` run tag.

The ledger answers an input for as long as its answer is fresh, a permanent error included (a
search that found nothing, a profile that no longer exists): nobody pays for the same refusal every
run. Once the cause is fixed (the search URL corrected, the account reconnected), a person asks for
the inputs again by tagging the run:

- `captaindata/refetch: errors` — inputs whose last answer was an error are fetched again (their
  errors are reopened in the ledger); what succeeded is still served free;
- `captaindata/refetch: all` — nothing of the run's steps is answered from the ledger: every input
  is fetched and paid again.

The tag goes wherever Dagster takes run tags: the launchpad's "Edit tags" (shift-click
"Materialize"), a backfill's tags, `RunRequest(tags=...)` in a schedule or sensor, `dagster job
launch --tags`, `dagster job execute --tags`. It applies to every Captain Data step of the run:
the assets it selects, and the ops of a job (`build_action_op`).

Example:
    >>> refetch_mode({REFETCH_TAG: "errors"})
    'errors'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import dagster as dg

from captaindata_dagster.orchestration.metadata_set import REFETCH_TAG

if TYPE_CHECKING:
    from captaindata_dagster.api.catalog import Action
    from captaindata_dagster.orchestration.resource import CaptainDataResource
    from captaindata_dagster.storage.ledger import Ledger

RefetchMode = Literal["errors", "all"]
REFETCH_MODES: tuple[RefetchMode, ...] = ("errors", "all")
NOTHING_FRESH = timedelta(0)  # `max_age` under which no ledger entry answers


def refetch_mode(tags: Mapping[str, str]) -> RefetchMode | None:
    """The run's `captaindata/refetch` tag: "errors", "all", or None when the tag is absent.

    Args:
        tags: the run's tags.

    Raises:
        dagster.Failure: the tag holds anything else; nothing was fetched or paid.

    Example:
        >>> refetch_mode({}) is None
        True
    """
    value = tags.get(REFETCH_TAG)
    if value is None:
        return None
    mode = value.strip().lower()
    if mode not in REFETCH_MODES:
        raise dg.Failure(
            description=(
                f"run tag {REFETCH_TAG}={value!r} is not understood: use "
                f"{REFETCH_TAG}=errors (fetch again the inputs whose last answer was an error) "
                f"or {REFETCH_TAG}=all (fetch every input again, paying again); nothing was fetched"
            ),
            allow_retries=False,
        )
    return mode  # type: ignore[return-value]  # one of REFETCH_MODES


def refuse_refetch_all_when_deferred(tags: Mapping[str, str], name: str) -> None:
    """`all` on a deferred async step (`defer=True`) is refused before any call: the landing run
    the sensor starts later reads the ledger without the tag, so the old answers would land
    instead of the new runs' results, paid for and never landed.

    Raises:
        dagster.Failure: the tag says `all`.

    Example:
        >>> refuse_refetch_all_when_deferred({REFETCH_TAG: "errors"}, "linkedin_profiles")
    """
    if refetch_mode(tags) == "all":
        raise dg.Failure(
            description=(
                f"{name}: {REFETCH_TAG}=all is not supported on a deferred async step "
                f"(defer=True): use {REFETCH_TAG}=errors, or materialize it with defer=False; "
                "nothing was fetched"
            ),
            allow_retries=False,
        )


def max_age_after_refetch(
    tags: Mapping[str, str],
    captaindata: CaptainDataResource,
    action_id: str,
    inputs: Sequence[Any],
    *,
    parameters: Mapping[str, Any] | None,
    max_results: int | None,
    max_age: timedelta | None,
    log: Any,
    retry_number: int = 0,
) -> timedelta | None:
    """The `max_age` a step's batch runs with, once the run's refetch tag is applied.

    `all`: nothing is fresh (`timedelta(0)`). `errors`: the permanent errors of the inputs are
    reopened in the ledger, and `max_age` is unchanged. No tag: `max_age`. A step's retry (its
    `RetryPolicy`) ignores the tag: its first attempt fetched again already, and a retry must not
    pay for the same inputs once more.

    Args:
        tags: the run's tags.
        captaindata: the step's resource (its ledger).
        action_id: the catalog action of the step.
        inputs: the step's inputs.
        parameters: the action's parameters. max_results: a search's cap (parts of each key).
        max_age: the step's own freshness window.
        log: the step's log (`context.log`), told what the tag did.
        retry_number: the step's attempt (`context.retry_number`; 0 the first).

    Example:
        >>> max_age_after_refetch(context.run.tags, captaindata, "linkedin-extract-people",
        ...                       urls, parameters=None, max_results=None, max_age=None,
        ...                       log=context.log)
    """
    mode = refetch_mode(tags)
    if mode is not None and retry_number > 0:
        log.info(f"{action_id}: {REFETCH_TAG}={mode} applied by the step's first attempt only")
        return max_age
    if mode == "all":
        log.warning(f"{action_id}: {REFETCH_TAG}=all: every input is fetched again")
        return NOTHING_FRESH
    if mode == "errors":
        from captaindata_dagster.api.catalog import load_catalog

        action = load_catalog().get(action_id)
        if action is None:  # the batch refuses an unknown action itself, naming the close ones
            return max_age
        reopened = reopen_failed_inputs(
            captaindata.get_ledger(), action, inputs,
            parameters=parameters, max_results=max_results,
        )  # fmt: skip
        log.info(
            f"{action_id}: {REFETCH_TAG}=errors: {reopened} input(s) whose last answer was an "
            "error are fetched again"
        )
    return max_age


def reopen_failed_inputs(
    ledger: Ledger,
    action: Action,
    inputs: Iterable[Any],
    *,
    parameters: Mapping[str, Any] | None,
    max_results: int | None,
) -> int:
    """Reopen in the ledger the permanent errors of these inputs, so the batch fetches them again.

    The inputs are keyed as the batch keys them (`engine.batch.plan`): the same URL however it is
    spelled, the same parameters and results cap.

    Args:
        ledger: the ledger the batch reads.
        action: the catalog action of the step.
        inputs: the step's inputs.
        parameters: the action's parameters (part of each key).
        max_results: a search's results cap (part of each key).

    Example:
        >>> reopen_failed_inputs(ledger, action, ["https://www.linkedin.com/in/jane"],
        ...                      parameters=None, max_results=None)
        1
    """
    from captaindata_dagster.engine.batch.plan import plan_inputs

    plan = plan_inputs(
        action, inputs, parameters=parameters, max_results=max_results, validate=False
    )
    return ledger.reopen_errors(action.id, [item.key for item in plan.todo])
