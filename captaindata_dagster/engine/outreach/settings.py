"""What an outreach run is asked to do, checked before anything is sent.

The action must be a side-effect action aimed at a LinkedIn profile; the campaign names what makes
a send happen only once; the daily cap defaults per action, under LinkedIn's own (unpublished,
about 100-200 invitations a week) limits; the message goes where the catalog says it may. An op or
an asset runs these checks when it is built, so a bad setting is refused at load time, not at 3 am.

Example:
    >>> outreach_action("linkedin-connect-profile").id
    'linkedin-connect-profile'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.entity_keys import entity_key
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.api.request_body import check_parameters, resolve_action

PROFILE_FIELDS = ("linkedin_profile_url", "sales_navigator_profile_url")
DEFAULT_DAILY_CAP = 20
DEFAULT_DAILY_CAPS = {
    "linkedin-connect-profile": 20,
    "salesnavigator-connect-profile": 20,
    "linkedin-message-profile": 50,
    "linkedin-inmail-profile": 25,
    "salesnavigator-inmail-profile": 25,
}
NEEDS_MESSAGE = frozenset(
    {"linkedin-message-profile", "linkedin-inmail-profile", "salesnavigator-inmail-profile"}
)


def outreach_action(action_id: str) -> Action:
    """The catalog action if it is a side-effect action aimed at a profile, else ValidationError.

    Args:
        action_id: a catalog action id, e.g. `linkedin-connect-profile`.

    Example:
        >>> outreach_action("linkedin-message-profile").side_effects
        True
    """
    act = resolve_action(action_id)
    if not (act.side_effects and act.uses_account and act.primary_field in PROFILE_FIELDS):
        raise ValidationError(
            f"{act.id} is not an outreach action (a side-effect action on a profile URL, e.g. "
            "linkedin-connect-profile or linkedin-message-profile)",
            field="action_id",
            error_label="BAD_SETTING",
            error_scope="config",
            action_id=act.id,
        )
    return act


def check_campaign(campaign: Any) -> str:
    """The campaign name, stripped; a blank one is refused (it is what keys every send)."""
    if not isinstance(campaign, str) or not campaign.strip():
        raise ValidationError(
            "campaign must be a non-empty string: it is what makes a send happen only once",
            field="campaign",
            error_label="BAD_SETTING",
            error_scope="config",
        )
    return campaign.strip()


def check_cap(act: Action, cap: Any) -> int:
    """The daily cap per account: `cap` if a whole number >= 0, the action's default if None."""
    if cap is None:
        return DEFAULT_DAILY_CAPS.get(act.id, DEFAULT_DAILY_CAP)
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
        raise ValidationError(
            f"{act.id}: daily_cap_per_account must be an integer >= 0, got {cap!r}",
            field="daily_cap_per_account",
            error_label="BAD_SETTING",
            error_scope="config",
            action_id=act.id,
        )
    return cap


def outreach_parameters(
    act: Action, message: str | None, parameters: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The action's parameters with `message` in place, checked against the catalog.

    A message (or InMail) action needs a non-empty message; an action taking none refuses one.
    """
    params = {k: v for k, v in dict(parameters or {}).items() if v is not None}
    if message is not None:
        if not isinstance(message, str):
            raise ValidationError(
                f"{act.id}: message must be a string", field="message", action_id=act.id
            )
        if act.parameters is None or "message" not in act.parameters:
            raise ValidationError(f"{act.id} takes no message", field="message", action_id=act.id)
        params["message"] = message
    if act.id in NEEDS_MESSAGE and not str(params.get("message") or "").strip():
        raise ValidationError(
            f"{act.id} needs a non-empty message",
            field="message",
            error_label="BAD_PARAMETERS",
            error_scope="param",
            action_id=act.id,
        )
    check_parameters(act, params)
    return params


def outreach_accounts(
    client: CaptainDataClient | None, accounts: Sequence[str] | None
) -> list[str | None]:
    """The user uids to send from (default: the client's `integration_users`), deduplicated;
    `[None]` when there are none (the API picks the workspace's account)."""
    users = accounts if accounts is not None else (client.integration_users if client else [])
    if isinstance(users, str) or not all(isinstance(u, str) and u.strip() for u in users):
        raise ValidationError(
            "accounts (integration_users) must be a list of user uids", field="integration_users"
        )
    uids: list[str | None] = list(dict.fromkeys(u.strip() for u in users))
    return uids or [None]


def profile_field(act: Action) -> str:
    """The input field naming the profile of an outreach action (`linkedin_profile_url`...)."""
    return str(act.primary_field)


def profile_problem(act: Action, url: str) -> str | None:
    """Why `url` may not be sent to, or None: the catalog's checks, then whom it names. A send is
    keyed by the person (`entity_key`): a URL naming no one could not be kept from going twice."""
    problems = act.input_problems({profile_field(act): url})
    if problems:
        return str(problems[0])
    if entity_key(url) is None:
        return (
            f"{act.primary_field}: {url!r} names no LinkedIn profile (no handle or id after /in/, "
            "/pub/, /sales/lead/ or /sales/people/)"
        )
    return None
