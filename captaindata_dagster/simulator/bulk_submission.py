"""The body of `POST .../run/async` and `.../run/schedule`, checked as the API checks it.

The action's async (or schedule) request schema from the catalog says which fields the body takes
and how many `inputs` (1..100,000 for async; the spec allows 100 per schedule); each input, the
parameters and the accounts go through the live endpoint's own checks (`body_problem`,
`Action.input_problems`, `Action.parameter_problems`). The callback URL must be a loopback one:
the simulator never POSTs anywhere else. A schedule's `cron` must be one the simulator's own
matcher reads (`simulator/cron.py`: five fields or an `@daily`-style shorthand).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.simulator.action_body import body_problem
from captaindata_dagster.simulator.callback_delivery import callback_url_problem
from captaindata_dagster.simulator.cron import cron_problem

BULK_FIELDS = ("inputs", "callback")
SCHEDULE_FIELDS = ("cron", "timezone", "schedule_at")


@dataclass(frozen=True)
class Submission:
    """A body that passed: the inputs, the fields every call shares, where callbacks go and,
    for a schedule, when it runs."""

    inputs: list[dict[str, Any]]
    common: dict[str, Any]
    callback_url: str
    callback_headers: dict[str, str]
    cron: str | None = None
    timezone: str | None = None
    schedule_at: datetime | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a body is refused: the field, the message, and the error label and scope."""

    field: str
    message: str
    label: str = "BAD_INPUT"
    scope: str = "input"


def check_submission(action: Action, body: Mapping[str, Any], mode: str) -> Submission | Refusal:
    """The submission a `run/async` (`mode` "async") or `run/schedule` body asks for, or why not.

    Example:
        >>> from captaindata_dagster.api.catalog import load_catalog
        >>> action = load_catalog().get("linkedin-extract-people")
        >>> check_submission(action, {"inputs": []}, "async").field
        'callback'
    """
    schema = (action.schedule_request_schema if mode == "schedule" else
              action.async_request_schema) or {}  # fmt: skip
    props = schema.get("properties", {})
    unknown = sorted(k for k in body if k not in props)
    if unknown:
        return Refusal(unknown[0], f"{action.id} run/{mode} does not take {', '.join(unknown)}; "
                       f"accepted: {', '.join(props)}")  # fmt: skip
    for name in schema.get("required", []):
        if name not in body:
            return Refusal(name, f"{name} is required by {action.id} run/{mode}")
    inputs = _inputs(action, body.get("inputs"), props.get("inputs") or {})
    if isinstance(inputs, Refusal):
        return inputs
    common = {k: v for k, v in body.items() if k not in BULK_FIELDS + SCHEDULE_FIELDS}
    live = _without_walk_limits(action, common, props)
    if isinstance(live, Refusal):
        return live
    bad = body_problem(action, {**live, "input": inputs[0]})
    if bad is not None:
        return _live_refusal(*bad)
    problems = action.parameter_problems(live.get("parameters"))
    if problems:
        p = problems[0]
        return Refusal(p.field, "; ".join(map(str, problems)), "BAD_PARAMETERS", "param")
    callback = _callback(body.get("callback"))
    if isinstance(callback, Refusal):
        return callback
    url, headers = callback
    if mode != "schedule":
        return Submission(inputs, common, url, headers)
    return _scheduled(Submission(inputs, common, url, headers), body)


def _without_walk_limits(
    action: Action, common: dict[str, Any], props: Mapping[str, Any]
) -> dict[str, Any] | Refusal:
    """The body's common part as a live call would take it: the bulk-only parameters (a
    search's `max_results`, `max_pages`, declared by the bulk schema only) checked against their
    bounds and left out (the worker applies them: `BulkProcessor.walk_limits`)."""
    declared = props.get("parameters", {}).get("properties", {})
    given = common.get("parameters")
    if not isinstance(given, dict):
        return common
    own = action.parameters or {}
    walk = {k: v for k, v in given.items() if k in declared and k not in own}
    for name, value in walk.items():
        low, high = declared[name].get("minimum"), declared[name].get("maximum")
        if not isinstance(value, int) or isinstance(value, bool) or (
            low is not None and value < low) or (high is not None and value > high):  # fmt: skip
            return Refusal(f"parameters.{name}", f"{name} must be an integer within "
                           f"{low}..{high}", "BAD_PARAMETERS", "param")  # fmt: skip
    return {**common, "parameters": {k: v for k, v in given.items() if k not in walk}}


def _live_refusal(field_name: str, message: str) -> Refusal:
    if field_name.startswith("parameters"):
        return Refusal(field_name, message, "BAD_PARAMETERS", "param")
    return Refusal(field_name, message)


def _inputs(
    action: Action, value: Any, schema: Mapping[str, Any]
) -> list[dict[str, Any]] | Refusal:
    """The inputs, each checked like a live call's input (the first problem's field named)."""
    low, high = int(schema.get("minItems", 1)), int(schema.get("maxItems", 100_000))
    if not isinstance(value, list) or not low <= len(value) <= high:
        return Refusal("inputs", f"inputs must be a list of {low} to {high:,} input objects")
    for i, inp in enumerate(value):
        if not isinstance(inp, dict):
            return Refusal(f"inputs[{i}]", f"inputs[{i}] must be an object")
        problems = action.input_problems(inp)
        if problems:
            message = "; ".join(f"inputs[{i}]: {p}" for p in problems)
            return Refusal(f"inputs[{i}].{problems[0].field}", message, "INVALID_INPUT")
    return list(value)


def _callback(value: Any) -> tuple[str, dict[str, str]] | Refusal:
    """(url, headers) of the callback; a non-loopback URL is refused, naming `callback.url`."""
    if not isinstance(value, dict):
        return Refusal("callback", "callback must be an object {url, headers}")
    extra = sorted(k for k in value if k not in ("url", "headers"))
    if extra:
        return Refusal(f"callback.{extra[0]}", "callback takes only url and headers")
    problem = callback_url_problem(value.get("url"))
    if problem is not None:
        return Refusal("callback.url", problem)
    headers = value.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        return Refusal("callback.headers", "callback.headers must map names to strings")
    return str(value["url"]), dict(headers)


def _scheduled(sub: Submission, body: Mapping[str, Any]) -> Submission | Refusal:
    """The schedule's `cron`, `timezone` and `schedule_at` (one of cron, schedule_at needed)."""
    cron, tz, at = (body.get(k) for k in SCHEDULE_FIELDS)
    if cron is None and at is None:
        return Refusal("schedule_at", "a schedule needs cron or schedule_at")
    if cron is not None and (not isinstance(cron, str) or not 1 <= len(cron) <= 256):
        return Refusal("cron", "cron must be a cron expression (1 to 256 characters)")
    problem = cron_problem(cron) if cron is not None else None
    if problem is not None:
        return Refusal("cron", problem)
    if tz is not None and not _known_zone(tz):
        return Refusal("timezone", f"timezone must be an IANA name, got {tz!r}")
    moment = None
    if at is not None:
        try:
            moment = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
        except ValueError:
            return Refusal("schedule_at", f"schedule_at must be an ISO 8601 date-time, got {at!r}")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(tz) if tz else timezone.utc)
    return Submission(sub.inputs, sub.common, sub.callback_url, sub.callback_headers,
                      cron, tz, moment)  # fmt: skip


def _known_zone(name: Any) -> bool:
    """Whether `name` is an IANA time zone this machine knows ("Europe/Paris")."""
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
