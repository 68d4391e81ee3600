"""The body of an action call: built from the query of a GET action, checked against the request
schema of a POST one (which fields it takes, which it requires, how accounts are named).
"""

from __future__ import annotations

from typing import Any

from captaindata_dagster.api.catalog import Action

BODY_FIELDS = ("input", "parameters", "integration_users", "identity_ids", "identity_mode")
IDENTITY_MODES = ("direct", "auto", "managed")


def body_from_query(query: dict[str, str]) -> dict[str, Any]:
    """The body a GET action means: its `url` as the input, its `identity_id` as the account."""
    body: dict[str, Any] = {"input": {k: query[k] for k in ("url",) if k in query}}
    ident = query.get("identity_id")
    if ident:
        body["identity_ids"] = [ident]
    return body


def body_problem(action: Action, body: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) for a body the action's request schema refuses, else None.

    The seed's `integration_users` is accepted too on account actions (the spec's bodies
    declare only `identity_ids`/`identity_mode`), so both forms can be tried here.
    """
    accepted = set(action.body_fields)
    if action.uses_account:
        accepted.add("integration_users")
    unknown = sorted(k for k in body if k not in accepted)
    if unknown:
        shown = ", ".join(f for f in BODY_FIELDS if f in accepted)
        return unknown[0], (
            f"{action.id} does not take body field(s) {', '.join(unknown)}; accepted: {shown}"
        )
    for name in (action.request_schema or {}).get("required", []):
        if name not in body:
            return name, f"{name} is required by {action.id}"
    if "parameters" in body and not isinstance(body["parameters"], dict):
        return "parameters", "parameters must be an object (leave it out for the defaults)"
    given = body.get("parameters") or {}
    for name in action.required_parameters:
        if name not in given:
            return f"parameters.{name}", f"parameters.{name} is required by {action.id}"
    return _account_problem(action, body)


def _account_problem(action: Action, body: dict[str, Any]) -> tuple[str, str] | None:
    """How the body names accounts: one form only, uids as strings, only on account actions."""
    users, ids, mode = (body.get(k) for k in BODY_FIELDS[2:])
    if users is not None and (ids is not None or mode is not None):
        return "integration_users", (
            "send either integration_users or identity_ids/identity_mode, not both"
        )
    for name, value in (("integration_users", users), ("identity_ids", ids)):
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(u, str) and u for u in value):
            return name, f"{name} must be a list of user uids (strings)"
        if value and not action.uses_account:
            return name, f"{action.id} runs without an account; remove {name}"
    if mode is not None and not action.uses_account:
        return "identity_mode", f"{action.id} runs without an account; remove identity_mode"
    if mode is not None and mode not in IDENTITY_MODES:
        return "identity_mode", f"identity_mode must be one of {', '.join(IDENTITY_MODES)}"
    return None
