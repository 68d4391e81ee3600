"""Derive the project's compact action catalog from Captain Data's OpenAPI description.

Usage: python scripts/gen_catalog.py [--spec PATH] [--out PATH] [--check]

Only facts are kept (ids, field names, patterns, types, defaults, page sizes, output field names, and
each live action's request and response JSON Schemas with every `$ref` inlined); no description, title
or example text is copied. The schemas are normalised to plain JSON Schema (2020-12) so that a real
validator can read them: OpenAPI's `nullable: true` becomes a `"null"` type, and JavaScript regex
literals (`/.../i`) become Python patterns with an inline flag. The output is deterministic so the committed file can be compared
with a fresh run (`--check` exits 1 when they differ).

Bulk mode: each live action also carries its `run/async` and `run/schedule` request schemas and
its `callback_schema` (the body the API POSTs to a callback URL, from `callbacks.onSave` of its
`run/async` operation: `run` required, `input`, `error`, `results_count`, `results`); the top-level
`bulk` object holds the schemas of the runs, callbacks and schedules endpoints (their answers, and
their query strings as one object each).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT.parent / "shared" / "captaindata-v4" / "openapi.json"
DEFAULT_OUT = ROOT / "captaindata_dagster" / "api" / "catalog.json"

# The verb after the platform prefix decides whether an action changes something on the
# platform (an invitation sent, a message posted...). Such actions are never re-sent blindly.
SIDE_EFFECT_VERBS = {
    "connect",
    "message",
    "inmail",
    "like",
    "comment",
    "follow",
    "invite",
    "accept",
    "withdraw",
    "archive",
    "mark",
}

# Credits per result where it is not one (API.md, "Credits": list actions that bill a fraction per
# item). The spec carries no cost; these are the figures public material gives.
CREDITS_PER_RESULT = {"linkedin-extract-conversations": 0.05}

# JSON Schema keywords kept from the spec; descriptions, titles, examples and x- extensions are not.
_SCHEMA_KEYWORDS = {
    "type", "properties", "patternProperties", "additionalProperties", "items", "required", "enum",
    "const", "format", "pattern", "maxLength", "minLength", "maximum", "minimum", "maxItems",
    "minItems", "oneOf", "anyOf", "allOf", "default",
}  # fmt: skip

_LOOKBEHIND_ALT = re.compile(r"\(\?<=([^()]*\|[^()]*)\)")


def js_regex_to_python(pattern: str) -> tuple[str, str]:
    """Turn a `/body/flags` JavaScript literal into a Python regex and its kept flags ("i" or "")."""
    flags = ""
    body = pattern
    m = re.fullmatch(r"/(.*)/([a-z]*)", pattern, flags=re.S)
    if m:
        body, js_flags = m.group(1), m.group(2)
        flags = "i" if "i" in js_flags else ""

    # Python needs fixed-width look-behinds: split `(?<=a|b)` into `(?:(?<=a)|(?<=b))`.
    def split(mo: re.Match[str]) -> str:
        parts = []
        for alt in mo.group(1).split("|"):
            parts.append("^" if alt == "^" else f"(?<={alt})")
        return "(?:" + "|".join(parts) + ")"

    body = _LOOKBEHIND_ALT.sub(split, body)
    re.compile(body, re.I if flags else 0)  # fail loudly if a pattern cannot be used
    return body, flags


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = spec["components"]["schemas"][name]
    return node


def json_schema(spec: dict[str, Any], node: Any) -> Any:
    """`node` as self-contained JSON Schema: refs inlined, prose dropped, `nullable` made a type."""
    node = _resolve(spec, node)
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _SCHEMA_KEYWORDS:
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: json_schema(spec, sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = json_schema(spec, value)
        elif key in ("oneOf", "anyOf", "allOf"):
            out[key] = [json_schema(spec, sub) for sub in value]
        elif key == "pattern":
            body, flags = js_regex_to_python(value)
            out[key] = f"(?i){body}" if flags else body
        else:
            out[key] = value
    _hoist_branch_properties(out)
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            out["type"] = [*kind, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def _hoist_branch_properties(schema: dict[str, Any]) -> None:
    """Declare on the object itself the properties its `anyOf`/`oneOf` branches name.

    A slip of the spec, corrected here: three inputs (`linkedin-comment-post`,
    `linkedin-extract-company-employees-insights`, `salesnavigator-search-company-employees`)
    list their fields only inside `anyOf` branches while the object says
    `additionalProperties: false`, which under JSON Schema refuses every field but
    `custom_data` - no input could ever be valid. The branches keep their `required` lists, so
    "one of these fields" still holds.
    """
    if schema.get("additionalProperties") is not False:
        return
    props = schema.setdefault("properties", {})
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key, []):
            for name, sub in branch.get("properties", {}).items():
                props.setdefault(name, sub)


def _field(prop: dict[str, Any], name: str, required: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"required": required, "type": prop.get("type", "string")}
    if "pattern" in prop:
        out["pattern"], out["flags"] = js_regex_to_python(prop["pattern"])
    aliases = [a for a in dict.fromkeys(prop.get("x-variations", [])) if a != name]
    if aliases:
        out["aliases"] = aliases
    return out


def _input(spec: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    if schema is None:
        return {"accepted": False, "fields": {}}
    schema = _resolve(spec, schema)
    required = set(schema.get("required", []))
    fields: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if name == "custom_data":
            continue
        fields[name] = _field(prop, name, name in required)
    out: dict[str, Any] = {"accepted": True, "fields": fields}
    if "anyOf" in schema:
        groups = []
        for branch in schema["anyOf"]:
            for name, prop in branch.get("properties", {}).items():
                fields[name] = _field(prop, name, False)
            groups.append(sorted(branch.get("required", [])))
        out["required_any"] = groups
    return out


_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}


def _param_type(prop: dict[str, Any]) -> str | list[str]:
    """The declared type, or both types when the spec's default contradicts it.

    The spec has a few such slips (a connection `message` typed integer with a string default,
    a `comment` typed string with an integer default); a user must be able to send either.
    """
    declared = prop.get("type", "string")
    default = prop.get("default")
    actual = _JSON_TYPES.get(type(default)) if default is not None else None
    if actual and actual != declared and not (actual == "integer" and declared == "number"):
        return sorted({declared, actual})
    return declared


def _parameters(spec: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    schema = _resolve(spec, schema)
    params: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        p: dict[str, Any] = {"type": _param_type(prop)}
        if "default" in prop:
            p["default"] = prop["default"]
        if "enum" in prop:
            p["enum"] = prop["enum"]
        items = prop.get("items")
        if isinstance(items, dict):
            p["items"] = {k: items[k] for k in ("type", "enum") if k in items}
        params[name] = p
    return params


def _output_fields(spec: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, str]:
    """Output field name -> JSON type (string, integer, number, boolean, array, object)."""
    schema = _resolve(spec, schema or {})
    if schema.get("type") == "array":
        schema = _resolve(spec, schema.get("items", {}))
    fields = {}
    for name, prop in schema.get("properties", {}).items():
        prop = _resolve(spec, prop)
        kind = prop.get("type") or ("object" if "properties" in prop else "string")
        fields[name] = kind if isinstance(kind, str) else next(k for k in kind if k != "null")
    return fields


def _live_action(
    spec: dict[str, Any], action_id: str, path: str, op: dict[str, Any]
) -> dict[str, Any]:
    body = op["requestBody"]["content"]["application/json"]["schema"]
    props = body.get("properties", {})
    query = {q["name"]: q for q in op.get("parameters", [])}
    ok = next(code for code in sorted(op["responses"]) if code.startswith("2"))
    schema = op["responses"][ok]["content"]["application/json"]["schema"]
    is_array = _resolve(spec, schema).get("type") == "array"
    if "token" in query:
        pagination = "token"
    elif "page" in query:
        pagination = "page"
    else:
        pagination = None
    page_size = query.get("page_size", {}).get("schema", {}).get("default")
    verb = action_id.split("-")[1]
    param_schema = _resolve(spec, props.get("parameters") or {})
    return {
        "method": "POST",
        "path": path,
        "response": "array" if is_array else "object",
        "pagination": pagination,
        "page_size": page_size,
        "input": _input(spec, props.get("input")),
        "parameters": _parameters(spec, props.get("parameters")),
        "required_parameters": sorted(param_schema.get("required", [])),
        "output_fields": _output_fields(spec, schema),
        "uses_account": "identity_ids" in props,
        "side_effects": verb in SIDE_EFFECT_VERBS,
        "credits_per_result": CREDITS_PER_RESULT.get(action_id, 1),
        "request_schema": json_schema(spec, body),
        "response_schema": json_schema(spec, schema),
    }


def _get_action(
    spec: dict[str, Any], action_id: str, path: str, op: dict[str, Any]
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    uses_account = False
    query_schema: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for q in op.get("parameters", []):
        query_schema["properties"][q["name"]] = json_schema(spec, q.get("schema", {}))
        if q.get("required"):
            query_schema["required"].append(q["name"])
        if q["name"] == "identity_id":
            uses_account = True
            continue
        fields[q["name"]] = _field(q.get("schema", {}), q["name"], bool(q.get("required")))
    return {
        "method": "GET",
        "path": path,
        "response": "file",
        "pagination": None,
        "page_size": None,
        "input": {"accepted": True, "fields": fields},
        "parameters": None,
        "required_parameters": [],
        "output_fields": {},
        "uses_account": uses_account,
        "side_effects": False,
        "credits_per_result": CREDITS_PER_RESULT.get(action_id, 1),
        "request_schema": query_schema,  # the query string's parameters, as one object
        "response_schema": None,  # application/octet-stream: a file, not JSON
        "async_request_schema": None,  # a download has no bulk mode
        "schedule_request_schema": None,
        "callback_schema": None,
    }


def _error_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """The error envelope every live action declares for 400, 424 and 500 (one schema, checked)."""
    refs = {
        answer["$ref"].rsplit("/", 1)[-1]
        for path, item in spec["paths"].items()
        if path.endswith("/run/live")
        for code, answer in item["post"]["responses"].items()
        if not code.startswith("2")
    }
    responses = spec["components"]["responses"]
    schemas = {
        json.dumps(
            json_schema(spec, responses[name]["content"]["application/json"]["schema"]),
            sort_keys=True,
        )
        for name in refs
    }
    if len(schemas) != 1:
        raise SystemExit("the spec's error responses no longer share one schema: update the script")
    return json.loads(schemas.pop())


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


def _ok_schema(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    ok = next(code for code in sorted(op["responses"]) if code.startswith("2"))
    answer = op["responses"][ok]
    if "$ref" in answer:
        answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
    return json_schema(spec, answer["content"]["application/json"]["schema"])


def _query_schema(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    """A list endpoint's query string as one object schema (what `_get_action` does for GETs)."""
    props = {q["name"]: json_schema(spec, q.get("schema", {})) for q in op.get("parameters", [])}
    required = [q["name"] for q in op.get("parameters", []) if q.get("required")]
    return {"type": "object", "properties": props, "required": required}


def _bulk_schemas(spec: dict[str, Any]) -> dict[str, Any]:
    """The schemas of the runs, callbacks and schedules endpoints, and the submission answers."""
    paths = spec["paths"]
    bulk: dict[str, Any] = {}
    for name, (path, method, kind) in _BULK_ENDPOINTS.items():
        op = paths[path][method]
        bulk[name] = _ok_schema(spec, op) if kind == "answer" else _query_schema(spec, op)
    for (path, method), same in _SAME_ANSWER.items():
        if _ok_schema(spec, paths[path][method]) != bulk[same]:
            raise SystemExit(
                f"{method.upper()} {path} no longer answers a {same}: update the script"
            )
    responses = spec["components"]["responses"]
    for name, ref in _SUBMISSION_ANSWERS.items():
        bulk[name] = json_schema(spec, responses[ref]["content"]["application/json"]["schema"])
    return dict(sorted(bulk.items()))


def _mode_schema(spec: dict[str, Any], paths: dict[str, Any], action_id: str, mode: str) -> Any:
    item = paths.get(f"/actions/{action_id}/run/{mode}")
    if item is None:
        return None
    return json_schema(spec, item["post"]["requestBody"]["content"]["application/json"]["schema"])


def _callback_schema(spec: dict[str, Any], action_id: str) -> Any:
    """The body the API POSTs to `callback.url` for a run of `action_id` (`callbacks.onSave`)."""
    item = spec["paths"].get(f"/actions/{action_id}/run/async")
    on_save = ((item or {}).get("post", {}).get("callbacks") or {}).get("onSave")
    if not on_save:
        return None
    (callback,) = on_save.values()  # one URL expression: {$request.body#/callback/url}
    body = callback["post"]["requestBody"]["content"]["application/json"]["schema"]
    return json_schema(spec, body)


def build_catalog(spec_path: Path) -> dict[str, Any]:
    raw = spec_path.read_bytes()
    spec = json.loads(raw)
    actions: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        parts = path.strip("/").split("/")
        if parts[0] != "actions":
            continue
        action_id = parts[1]
        if path.endswith("/run/live"):
            actions[action_id] = _live_action(spec, action_id, path, item["post"])
            for mode in ("async", "schedule"):
                schema = _mode_schema(spec, spec["paths"], action_id, mode)
                actions[action_id][f"{mode}_request_schema"] = schema
            actions[action_id]["callback_schema"] = _callback_schema(spec, action_id)
        elif len(parts) == 2 and "get" in item:
            actions[action_id] = _get_action(spec, action_id, path, item["get"])
    return {
        "source": {
            "title": spec["info"].get("title"),
            "version": spec["info"].get("version"),
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "base_url": spec["servers"][0]["url"],
        "error_schema": _error_schema(spec),
        "actions": dict(sorted(actions.items())),
        "bulk": _bulk_schemas(spec),
    }


def render(catalog: dict[str, Any]) -> str:
    return json.dumps(catalog, indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing")
    args = ap.parse_args(argv)
    text = render(build_catalog(args.spec))
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print(
            "catalog is up to date" if same else f"{args.out} differs from what {args.spec} gives"
        )
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    n = len(json.loads(text)["actions"])
    print(f"wrote {args.out} ({n} actions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
