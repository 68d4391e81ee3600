"""What a bulk submission sends: `run/async` and `run/schedule` bodies, checked before any call.

Each input is checked exactly as `run_action` checks one (`request_body.check_input`), parameters
and connected accounts as for a live call (`request_body.check_parameters`, `build_body`); what
bulk mode adds is checked here from the action's async or schedule request schema in the catalog:
how many inputs one submission takes (1..100,000 for most actions' `run/async`, 1..100 for
`run/schedule`, one for an action without input), the `callback` (an http(s) URL and string
headers), and a schedule's `cron`, `timezone` and `schedule_at` (one of `cron` or `schedule_at`).
A `ValidationError` names the field and the fix; nothing is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from captaindata_dagster.api.bulk_query import check_integer_bound
from captaindata_dagster.api.catalog import CUSTOM_DATA, Action
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.api.request_body import build_body, check_input, check_parameters

_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True)
class Timing:
    """When a schedule runs: a `cron` (in `timezone`), or once at `schedule_at`, or both."""

    cron: str | None = None
    timezone: str | None = None
    schedule_at: datetime | str | None = None


@dataclass(frozen=True)
class Accounts:
    """How a body names its connected accounts (the client's settings, or a call's own)."""

    users: Sequence[str]
    account_form: str = "identity_ids"
    identity_mode: str | None = None


def mode_schema(act: Action, mode: str) -> Mapping[str, Any]:
    """The action's `run/async` or `run/schedule` request schema, or a `ValidationError`."""
    schema = act.async_request_schema if mode == "async" else act.schedule_request_schema
    if schema is None:
        raise ValidationError(
            f"{act.id} has no run/{mode} (it is not a run/live action); call it with run_action",
            field="action_id",
            action_id=act.id,
        )
    return schema


def input_limit(act: Action, mode: str) -> int:
    """The most inputs one `run/async` or `run/schedule` of `act` takes (the spec's maxItems).

    Example:
        >>> input_limit(resolve_action("linkedin-extract-people"), "async")  # doctest: +SKIP
        100000
    """
    return int(_inputs_schema(mode_schema(act, mode)).get("maxItems", 1))


def bulk_body(
    act: Action,
    mode: str,
    inputs: Sequence[Mapping[str, Any]],
    *,
    parameters: Mapping[str, Any] | None,
    callback_url: str,
    callback_headers: Mapping[str, str] | None,
    accounts: Accounts,
    timing: Timing | None = None,
    validate: bool = True,
) -> dict[str, Any]:
    """The JSON body of one `run/async` (`mode="async"`) or `run/schedule` of `act`.

    Raises `ValidationError` naming the field: `inputs` (none, too many: split them into
    chunks), `inputs[i].<field>` (that input, as `run_action` would say), a parameter,
    `callback.url`, `callback.headers`, `cron`, `timezone` or `schedule_at`.
    """
    schema = mode_schema(act, mode)
    items = _checked_count(act, mode, inputs, schema)
    parameters, walk = _walk_parameters(act, schema, parameters)
    if validate:
        check_parameters(act, parameters)
        for i, item in enumerate(items):
            _check_one(act, i, item)
    body = build_body(
        act,
        None,
        parameters,
        accounts.users,
        account_form=accounts.account_form,
        identity_mode=accounts.identity_mode,
    )
    body.pop("input", None)
    if walk:
        body["parameters"] = {**(body.get("parameters") or {}), **walk}
    declared = schema.get("properties", {})
    if accounts.identity_mode and accounts.account_form == "identity_ids" and act.uses_account:
        if "identity_mode" in declared:  # linkedin-me's bulk bodies declare it, its live one not
            body["identity_mode"] = accounts.identity_mode
    keeps_custom = CUSTOM_DATA in _inputs_schema(schema).get("items", {}).get("properties", {})
    body["inputs"] = [_canonical(act, item, keeps_custom) for item in items]
    body["callback"] = _callback(callback_url, callback_headers)
    if mode == "schedule":
        body.update(_timing(timing or Timing()))
    return body


def _walk_parameters(
    act: Action, schema: Mapping[str, Any], parameters: Mapping[str, Any] | None
) -> tuple[Mapping[str, Any] | None, dict[str, Any]]:
    """The action's own parameters, and the bulk-only ones its bulk schema adds (a search's
    `max_results`, `max_pages`: where the API stops the walk), each checked against its bounds.

    Raises:
        ValidationError: a bulk-only parameter that is not an integer within its bounds.
    """
    declared = schema.get("properties", {}).get("parameters", {}).get("properties", {})
    extra = {
        k: v
        for k, v in (parameters or {}).items()
        if k in declared and k not in (act.parameters or {})
    }
    for name, value in extra.items():
        check_integer_bound(
            f"parameters.{name}", value, declared[name], error_label="BAD_PARAMETERS",
            error_scope="param", action_id=act.id,
        )  # fmt: skip
    own = {k: v for k, v in (parameters or {}).items() if k not in extra}
    return (own if parameters is not None else None), extra


def _inputs_schema(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    return schema.get("properties", {}).get("inputs", {})


def _checked_count(
    act: Action, mode: str, inputs: Any, schema: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    if isinstance(inputs, (str, bytes, Mapping)) or not isinstance(inputs, Sequence):
        raise ValidationError(
            f"inputs must be a list of input objects, got {type(inputs).__name__}",
            field="inputs",
            action_id=act.id,
        )
    low = int(_inputs_schema(schema).get("minItems", 1))
    high = int(_inputs_schema(schema).get("maxItems", 1))
    if not low <= len(inputs) <= high:
        fix = (
            "pass at least one input"
            if len(inputs) < low
            else f"split them into chunks of at most {high:,} and submit one run per chunk"
        )
        raise ValidationError(
            f"{act.id}: run/{mode} takes {low:,}..{high:,} inputs, got {len(inputs):,}; {fix}. "
            "Nothing was sent.",
            field="inputs",
            action_id=act.id,
            error_label="INVALID_INPUT",
            error_scope="input",
        )
    return list(inputs)


def _check_one(act: Action, index: int, item: Any) -> None:
    """Check one input as `run_action` does; the error names `inputs[index].<field>`."""
    if not isinstance(item, Mapping):
        raise ValidationError(
            f"inputs[{index}] must be an input object, got {type(item).__name__}",
            field=f"inputs[{index}]",
            action_id=act.id,
        )
    given = dict(item)
    custom = given.pop(CUSTOM_DATA, None) if not act.accepts_input else None
    if custom is not None and not isinstance(custom, Mapping):
        raise ValidationError(
            f"inputs[{index}].custom_data must be an object", field=f"inputs[{index}].custom_data"
        )
    try:
        check_input(act, given)
    except ValidationError as exc:
        raise ValidationError(
            f"inputs[{index}]: {exc.message}",
            field=f"inputs[{index}].{exc.field}",
            problems=exc.problems,
            error_label=exc.error_label,
            error_scope=exc.error_scope,
            action_id=act.id,
        ) from None


def _canonical(act: Action, item: Mapping[str, Any], keeps_custom: bool) -> dict[str, Any]:
    out = act.canonical_input(item)
    if not keeps_custom:
        out.pop(CUSTOM_DATA, None)
    return out


def _callback(url: Any, headers: Mapping[str, str] | None) -> dict[str, Any]:
    if not isinstance(url, str) or not _URL.match(url):
        raise ValidationError(
            f"callback_url must be an http(s) URL the API can reach (the receiver's public URL), "
            f"got {url!r}",
            field="callback.url",
        )
    out: dict[str, Any] = {"url": url}
    if headers is not None:
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValidationError(
                "callback_headers must map header names to string values", field="callback.headers"
            )
        out["headers"] = dict(headers)
    return out


def _timing(timing: Timing) -> dict[str, Any]:
    """The schedule's fields; the spec wants `cron` or `schedule_at` (or both)."""
    if timing.cron is None and timing.schedule_at is None:
        raise ValidationError(
            "a schedule needs cron= (repeating) or schedule_at= (once); give one",
            field="cron",
        )
    out: dict[str, Any] = {}
    for name, value, high in (("cron", timing.cron, 256), ("timezone", timing.timezone, 64)):
        if value is None:
            continue
        if not isinstance(value, str) or not 1 <= len(value) <= high:
            raise ValidationError(f"{name} must be text of 1..{high} characters", field=name)
        out[name] = value
    if timing.schedule_at is not None:
        out["schedule_at"] = _date_time(timing.schedule_at)
    return out


def _date_time(value: datetime | str) -> str:
    """An RFC 3339 date-time with its offset (a naive datetime is ambiguous: refused)."""
    when = value
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise ValidationError(
            f"schedule_at must be a date-time with its time zone (e.g. 2026-01-01T06:00:00Z), "
            f"got {value!r}",
            field="schedule_at",
        )
    return when.isoformat().replace("+00:00", "Z")
