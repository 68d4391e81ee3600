"""Is a callback body the shape its action's callback schema declares? Checked before it lands.

The spec declares, per action, the body the API POSTs to a bulk run's callback URL
(`Action.callback_schema`, from `callbacks.onSave` of its `run/async`): `run` (required: `run_uid`,
`batch_uid`, and a `status` among the run statuses), the `input` it answers, an `error` (the API's
error envelope), `results_count` and `results` (the action's output items).

The check reads that schema but stays structural, as `api.answer_shape` does for live answers
(whose item check it reuses): the real API is looser than its spec on value types, so a full
validation would refuse real callbacks, and a refused callback is retried by the API and then
left FAILED. What is checked is what a reader of the store relies on: the required fields, the
run's status, the JSON type of each part, no field an object closes itself to (`input`, `error`),
and results that are the action's items. `input`, `error` and `results` may be null (nothing to
say); fields the schema does not name at the top level (`custom_data`) are kept.

Every callback, of a known action or not, is first checked against `STORE_SCHEMA`: what the
store's identity of a callback (`storage.callback_identity`) relies on (`run` an object with a
non-empty `run_uid`, `batch_uid` and `status` strings, `input` and `error` objects, `results` a
list, each when present).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from captaindata_dagster.api.answer_shape import answer_problem
from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.json_types import json_type_matches

STORE_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["run"],
    "properties": {
        "run": {
            "type": "object",
            "required": ["run_uid"],
            "properties": {
                "run_uid": {"type": "string"},
                "batch_uid": {"type": ["string", "null"]},
                "status": {"type": ["string", "null"]},
            },
        },
        "input": {"type": ["object", "null"]},
        "error": {"type": ["object", "null"]},
        "results": {"type": ["array", "null"]},
    },
}


def callback_problem(act: Action | None, payload: Mapping[str, Any]) -> str | None:
    """Why `payload` is not a callback (of `act`, when known), or None when it is.

    Args:
        act: the action the callback's submission ran; None (or an action that declares no
            callback schema): the store's check (`STORE_SCHEMA`) alone.
        payload: the parsed body (a JSON object).

    Example:
        >>> from captaindata_dagster.api.catalog import load_catalog
        >>> people = load_catalog().get("linkedin-extract-people")
        >>> callback_problem(people, {"run": {"run_uid": "r", "batch_uid": "b", "status": "DONE"}})
        "`run.status` is 'DONE', not one of CREATED, INVALID, QUEUED, SCHEDULED, BLOCKED, STOPPED, RUNNING, FAILED, PARTIAL_SUCCEEDED, SUCCEEDED"
    """
    problem = _object_problem("", STORE_SCHEMA, payload, closed_only=False)
    if problem is not None or act is None or not act.callback_schema:
        return problem
    problem = _object_problem("", act.callback_schema, payload, closed_only=False)
    if problem is not None:
        return problem
    results = payload.get("results")
    if isinstance(results, list) and results:
        return _results_problem(act, results)
    return None


def _object_problem(
    where: str, schema: Mapping[str, Any], value: Any, *, closed_only: bool = True
) -> str | None:
    """The required fields, closed objects and JSON types of `value`'s declared parts."""
    name = f"`{where}`" if where else "the body"
    if not isinstance(value, dict):
        return f"{name} must be an object"
    missing = [f for f in schema.get("required", []) if _blank(value.get(f))]
    if missing:
        return f"{name} lacks {', '.join(missing)}"
    props: Mapping[str, Any] = schema.get("properties", {})
    if schema.get("additionalProperties") is False and closed_only:
        unknown = sorted(set(value) - set(props))
        if unknown:
            return f"{name} has fields its schema does not declare: {', '.join(unknown[:5])}"
    for field, sub in props.items():
        if value.get(field) is None:
            continue  # absent or null: nothing said
        problem = _part_problem(f"{where}.{field}" if where else field, sub, value[field])
        if problem is not None:
            return problem
    return None


def _part_problem(where: str, schema: Mapping[str, Any], value: Any) -> str | None:
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    if "object" in kinds and isinstance(value, dict):
        return _object_problem(where, schema, value) if where.count(".") < 1 else None
    if kinds and not any(json_type_matches(value, k) for k in kinds if k != "null"):
        return f"`{where}` must be {' or '.join(k for k in kinds if k != 'null')}"
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        allowed = ", ".join(str(e) for e in enum if e is not None)
        return f"`{where}` is {value!r}, not one of {allowed}"
    return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _results_problem(act: Action, results: list[Any]) -> str | None:
    """The results as the action's answer items (`answer_shape`): a page, or one item each."""
    if act.is_list:
        problem = answer_problem(act, results)
        return None if problem is None else f"`results`: {problem}"
    for i, item in enumerate(results):
        problem = answer_problem(act, item)
        if problem is not None:
            return f"`results` item {i} {problem}"
    return None
