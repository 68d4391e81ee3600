"""Bulk mode's schemas, for `gen_catalog.py`: the runs, callbacks and schedules endpoints, and
each action's `run/async` and `run/schedule` bodies and callback.

The callback is the body the API POSTs to a callback URL, from `callbacks.onSave` of the action's
`run/async` operation (`run` required, `input`, `error`, `results_count`, `results`). The list
endpoints' query strings are kept as one object schema each.
"""

from __future__ import annotations

from typing import Any

from catalog_schemas import json_schema, ok_schema, query_schema

# bulk name -> (path, method, what is kept: "answer" (the 2xx schema) or "query" (the query string))
_BULK_ENDPOINTS = {
    "runs_page": ("/runs", "get", "answer"),
    "runs_query": ("/runs", "get", "query"),
    "run": ("/runs/{run_uid}", "get", "answer"),
    "callbacks_page": ("/runs/callbacks", "get", "answer"),
    "callbacks_query": ("/runs/callbacks", "get", "query"),
    "callback": ("/runs/callbacks/{callback_uid}", "get", "answer"),
    "schedules_page": ("/schedules", "get", "answer"),
    "schedules_query": ("/schedules", "get", "query"),
    "schedule": ("/schedules/{scheduled_run_uid}", "get", "answer"),
}
# Endpoints whose answer must be the same schema as a named one (checked, so a drift is loud).
_SAME_ANSWER = {
    ("/runs/{run_uid}/resume", "post"): "run",
    ("/runs/callbacks/{callback_uid}/replay", "post"): "callback",
    ("/schedules/{scheduled_run_uid}/{action}", "post"): "schedule",
}
_SUBMISSION_ANSWERS = {
    "async_submission": "ActionAsyncResponse",
    "schedule_submission": "ActionScheduleResponse",
}


def bulk_schemas(spec: dict[str, Any]) -> dict[str, Any]:
    """The schemas of the runs, callbacks and schedules endpoints, and the submission answers."""
    paths = spec["paths"]
    bulk: dict[str, Any] = {}
    for name, (path, method, kind) in _BULK_ENDPOINTS.items():
        op = paths[path][method]
        bulk[name] = ok_schema(spec, op) if kind == "answer" else query_schema(spec, op)
    for (path, method), same in _SAME_ANSWER.items():
        if ok_schema(spec, paths[path][method]) != bulk[same]:
            raise SystemExit(
                f"{method.upper()} {path} no longer answers a {same}: update the script"
            )
    responses = spec["components"]["responses"]
    for name, ref in _SUBMISSION_ANSWERS.items():
        bulk[name] = json_schema(spec, responses[ref]["content"]["application/json"]["schema"])
    return dict(sorted(bulk.items()))


def mode_schema(spec: dict[str, Any], paths: dict[str, Any], action_id: str, mode: str) -> Any:
    item = paths.get(f"/actions/{action_id}/run/{mode}")
    if item is None:
        return None
    return json_schema(spec, item["post"]["requestBody"]["content"]["application/json"]["schema"])


def callback_schema(spec: dict[str, Any], action_id: str) -> Any:
    """The body the API POSTs to `callback.url` for a run of `action_id` (`callbacks.onSave`)."""
    item = spec["paths"].get(f"/actions/{action_id}/run/async")
    on_save = ((item or {}).get("post", {}).get("callbacks") or {}).get("onSave")
    if not on_save:
        return None
    (callback,) = on_save.values()  # one URL expression: {$request.body#/callback/url}
    body = callback["post"]["requestBody"]["content"]["application/json"]["schema"]
    return json_schema(spec, body)
