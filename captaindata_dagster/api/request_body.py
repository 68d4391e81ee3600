"""What a call sends: the action looked up, its input and parameters checked, its body built.

Everything here runs before any HTTP call, so a bad call costs nothing: a `ValidationError` names
the field to fix. The body holds only the fields the action's request schema declares, and names
the connected accounts in one form (`identity_ids`, the published one, or `integration_users`,
the seed's), never both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from captaindata_dagster.api.catalog import (
    CUSTOM_DATA,
    Action,
    Catalog,
    billed_as_managed,
    load_catalog,
)
from captaindata_dagster.api.errors import ValidationError


def resolve_action(action_id: str, catalog: Catalog | None = None) -> Action:
    """The catalog entry for `action_id`, or a `ValidationError` suggesting close ids.

    Args:
        action_id: the catalog id, e.g. "linkedin-extract-people".
        catalog: the catalog to look in (default: the bundled one).

    Example:
        >>> resolve_action("linkedin-extract-people").is_list
        False
    """
    catalog = load_catalog() if catalog is None else catalog
    act = catalog.get(action_id)
    if act is None:
        problem = catalog.unknown_action_problem(action_id)
        raise ValidationError(
            problem.message,
            field="action_id",
            problems=[problem],
            error_label="UNKNOWN_ACTION",
            error_scope="action",
            action_id=str(action_id),
        )
    return act


def check_parameters(act: Action, parameters: Mapping[str, Any] | None) -> None:
    """Raise `ValidationError` (BAD_PARAMETERS) naming the first bad parameter, if any.

    Bad parameters fail every input alike, so batches, assets and ops refuse them up front.

    Args:
        act: the action the parameters are for.
        parameters: the action's options, as a caller gave them.

    Example:
        >>> check_parameters(resolve_action("linkedin-extract-people"), {"nope": 1})  # doctest: +SKIP
        Traceback (most recent call last):
        ValidationError: ...
    """
    problems = act.parameter_problems(parameters)
    if problems:
        raise validation_error(act, problems, "BAD_PARAMETERS", "param")


def check_input(act: Action, input: Mapping[str, Any] | None) -> None:  # noqa: A002
    """Raise `ValidationError` (INVALID_INPUT) naming the first bad input field, if any."""
    problems = act.input_problems(input)
    if problems:
        raise validation_error(act, problems, "INVALID_INPUT", "input")


def validation_error(act: Action, problems: list[Any], label: str, scope: str) -> ValidationError:
    """A `ValidationError` listing `problems`, named after the first one's field."""
    first = problems[0]
    detail = "; ".join(str(p) for p in problems)
    return ValidationError(
        f"{act.id}: {detail}. Nothing was sent; fix the {scope} and run again.",
        field=first.field,
        problems=problems,
        error_label=label,
        error_scope=scope,
        action_id=act.id,
    )


def build_body(
    act: Action,
    input: Mapping[str, Any] | None,  # noqa: A002 - the API's own word
    parameters: Mapping[str, Any] | None,
    users: Sequence[str],
    *,
    account_form: str = "identity_ids",
    identity_mode: str | None = None,
) -> dict[str, Any]:
    """The JSON body of one call of `act` (for a GET action, what its query string is made of).

    Aliases are renamed to the catalog's field names, required parameters left out get the spec's
    default, and `identity_mode` goes only where the action's body declares it. `account_form`
    is "identity_ids" (the published form) or "integration_users" (the seed's).
    """
    body: dict[str, Any] = {}
    canonical = act.canonical_input(input)
    if "input" in act.body_fields or act.method == "GET":  # GET: sent as the query string
        if not act.takes_custom_data:
            canonical.pop(CUSTOM_DATA, None)
        body["input"] = canonical
    if "parameters" in act.body_fields:
        body["parameters"] = act.with_defaults(parameters)
    if users and account_form == "integration_users":
        body["integration_users"] = list(users)  # the seed's form: not in the published spec
    elif users:
        body["identity_ids"] = list(users)
    # identity_mode only where the action's body declares it (linkedin-me does not)
    if account_form == "identity_ids" and identity_mode:
        if act.uses_account and "identity_mode" in act.body_fields:
            body["identity_mode"] = identity_mode
    return body


def users_for(act: Action, explicit: Sequence[str] | None, default: Sequence[str]) -> list[str]:
    """The account uids a call of `act` names: `explicit` when given, else `default` if needed."""
    if explicit is not None:
        if isinstance(explicit, str) or not all(isinstance(u, str) for u in explicit):
            raise ValidationError(
                "integration_users must be a list of user uids (strings)",
                field="integration_users",
                action_id=act.id,
            )
        if explicit and not act.uses_account:
            raise ValidationError(
                f"{act.id} runs without a connected account; remove integration_users",
                field="integration_users",
                action_id=act.id,
            )
        return list(explicit)
    return list(default) if act.uses_account else []


def query_of(act: Action, body: Mapping[str, Any]) -> dict[str, Any]:
    """The GET action's query string: its input fields, and the account as `identity_id`."""
    query = {k: v for k, v in (body.get("input") or {}).items() if k != CUSTOM_DATA}
    users = body.get("identity_ids") or body.get("integration_users")
    if users and "identity_id" in ((act.request_schema or {}).get("properties") or {}):
        query["identity_id"] = users[0]
    return query


def account_of(
    act: Action, body: Mapping[str, Any], params: Mapping[str, Any] | None
) -> str | None:
    """The connected account a call holds while in flight (one call at a time each), or None."""
    if not act.uses_account:
        return None
    users = body.get("integration_users") or body.get("identity_ids") or ["default"]
    return params.get("identity_id") if act.method == "GET" and params else users[0]


def bills_managed(action: Action, account_form: str, identity_mode: str | None) -> bool:
    """Whether calls of `action` are billed at the managed identities' 1.5x.

    The API bills by the body it is sent, so this reads the body the client would build (the
    rule `Action.credits_billed` applies to an answer: `catalog.billed_as_managed`).

    Args:
        action: the catalog action.
        account_form: the client's ("identity_ids" or "integration_users").
        identity_mode: the client's ("direct", "auto", "managed" or None).

    Example:
        >>> bills_managed(resolve_action("linkedin-extract-people"), "identity_ids", "managed")
        True
    """
    body = build_body(
        action, None, None, [], account_form=account_form, identity_mode=identity_mode
    )
    return billed_as_managed(body)
