"""Derive the project's compact action catalog from Captain Data's OpenAPI description.

Usage: python scripts/gen_catalog.py [--spec PATH] [--out PATH] [--check]

Only facts are kept (ids, field names, patterns, types, defaults, page sizes, output field names,
and each live action's request and response JSON Schemas); no description, title or example text
is copied. The output is deterministic so the committed file can be compared with a fresh run
(`--check` exits 1 when they differ). Its helpers sit beside it: `catalog_schemas.py` turns the
spec's schemas into plain JSON Schema; `catalog_bulk.py` gathers bulk mode's (each action's
`run/async` and `run/schedule` bodies and callback, and the top-level `bulk` object: the runs,
callbacks and schedules endpoints).

One reading is the project's, not the spec's: the spec types counts, years and ids `number`
(`number_connections`, `founded_on`), which a warehouse would store as DOUBLE (365.0, 2003.0). An
output field typed `number` whose name says it is integral (`INTEGRAL_NAME`: a count, a year, an
id) is typed `integer` in `output_fields` (the warehouse columns), by name only, never by values,
so a table's types do not drift between partitions; the request and response schemas keep the
spec's `number`. The generator prints these fields so a reviewer sees each one.
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
HERE = str(Path(__file__).resolve().parent)  # its helpers beside it, however it is loaded
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from catalog_bulk import bulk_schemas, callback_schema, mode_schema  # noqa: E402
from catalog_schemas import (  # noqa: E402
    error_schema,
    js_regex_to_python,
    json_schema,
    query_schema,
    resolve,
)

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


# An output field the spec types `number` but whose name says it holds a whole number: a count
# (`number_*`, `*_count`), a year (`founded_on`, `*_year`) or an identifier (`id`, `*_id`). Rates,
# grades, amounts and tenures (`rating`, `last_funding_raised`, `employee_median_tenure`) stay
# numbers. A value with a fractional part in such a column is NA and logged (engine/frames.py).
INTEGRAL_NAME = re.compile(r"^number_|_count$|^founded_on$|(^|_)year$|(^|_)id$")


def integral_numbers(catalog: dict[str, Any]) -> list[str]:
    """`action.field` of each output field typed `integer` where the response schema (the spec's
    type, kept) says `number`: what `INTEGRAL_NAME` changed, for a reviewer to read."""
    found = []
    for action_id, action in catalog["actions"].items():
        schema = action["response_schema"] or {}
        props = (schema.get("items") or schema).get("properties", {})
        for name, kind in action["output_fields"].items():
            declared = props.get(name, {}).get("type")
            if kind == "integer" and "number" in (declared or ()):
                found.append(f"{action_id}.{name}")
    return found


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
    schema = resolve(spec, schema)
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
    schema = resolve(spec, schema)
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
    """Output field name -> JSON type (string, integer, number, boolean, array, object): the
    warehouse column's, so a `number` named like a count, a year or an id is `integer`."""
    schema = resolve(spec, schema or {})
    if schema.get("type") == "array":
        schema = resolve(spec, schema.get("items", {}))
    fields = {}
    for name, prop in schema.get("properties", {}).items():
        prop = resolve(spec, prop)
        kind = prop.get("type") or ("object" if "properties" in prop else "string")
        kind = kind if isinstance(kind, str) else next(k for k in kind if k != "null")
        fields[name] = "integer" if kind == "number" and INTEGRAL_NAME.search(name) else kind
    return fields


def _live_action(
    spec: dict[str, Any], action_id: str, path: str, op: dict[str, Any]
) -> dict[str, Any]:
    body = op["requestBody"]["content"]["application/json"]["schema"]
    props = body.get("properties", {})
    query = {q["name"]: q for q in op.get("parameters", [])}
    ok = next(code for code in sorted(op["responses"]) if code.startswith("2"))
    schema = op["responses"][ok]["content"]["application/json"]["schema"]
    is_array = resolve(spec, schema).get("type") == "array"
    if "token" in query:
        pagination = "token"
    elif "page" in query:
        pagination = "page"
    else:
        pagination = None
    page_size = query.get("page_size", {}).get("schema", {}).get("default")
    verb = action_id.split("-")[1]
    param_schema = resolve(spec, props.get("parameters") or {})
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
    params = op.get("parameters", [])
    fields = {
        q["name"]: _field(q.get("schema", {}), q["name"], bool(q.get("required")))
        for q in params
        if q["name"] != "identity_id"
    }
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
        "uses_account": any(q["name"] == "identity_id" for q in params),
        "side_effects": False,
        "credits_per_result": CREDITS_PER_RESULT.get(action_id, 1),
        "request_schema": query_schema(spec, op),  # the query string, as one object
        "response_schema": None,  # application/octet-stream: a file, not JSON
        "async_request_schema": None,  # a download has no bulk mode
        "schedule_request_schema": None,
        "callback_schema": None,
    }


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
                schema = mode_schema(spec, spec["paths"], action_id, mode)
                actions[action_id][f"{mode}_request_schema"] = schema
            actions[action_id]["callback_schema"] = callback_schema(spec, action_id)
        elif len(parts) == 2 and "get" in item:
            actions[action_id] = _get_action(spec, action_id, path, item["get"])
    return {
        "source": {
            "title": spec["info"].get("title"),
            "version": spec["info"].get("version"),
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "base_url": spec["servers"][0]["url"],
        "error_schema": error_schema(spec),
        "actions": dict(sorted(actions.items())),
        "bulk": bulk_schemas(spec),
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
    catalog = json.loads(text)
    print(f"wrote {args.out} ({len(catalog['actions'])} actions)")
    retyped = integral_numbers(catalog)
    print(f"{len(retyped)} output fields the spec types number, stored as integers (by name):")
    for field in retyped:
        print(f"  {field}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
