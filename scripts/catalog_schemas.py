"""The spec's schemas as plain JSON Schema (2020-12), for `gen_catalog.py`.

Only facts are kept: every `$ref` inlined, descriptions, titles, examples and x- extensions
dropped. OpenAPI's `nullable: true` becomes a `"null"` type, and JavaScript regex literals
(`/.../i`) become Python patterns with an inline flag, so that a real validator can read them.
"""

from __future__ import annotations

import json
import re
from typing import Any

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


def resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = spec["components"]["schemas"][name]
    return node


def json_schema(spec: dict[str, Any], node: Any) -> Any:
    """`node` as self-contained JSON Schema: refs inlined, prose dropped, `nullable` made a type."""
    node = resolve(spec, node)
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


def ok_schema(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    """An operation's 2xx answer schema (a `$ref` to a shared response followed)."""
    ok = next(code for code in sorted(op["responses"]) if code.startswith("2"))
    answer = op["responses"][ok]
    if "$ref" in answer:
        answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
    return json_schema(spec, answer["content"]["application/json"]["schema"])


def query_schema(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    """An operation's query string as one object schema (a list endpoint's, the download's)."""
    props = {q["name"]: json_schema(spec, q.get("schema", {})) for q in op.get("parameters", [])}
    required = [q["name"] for q in op.get("parameters", []) if q.get("required")]
    return {"type": "object", "properties": props, "required": required}


def error_schema(spec: dict[str, Any]) -> dict[str, Any]:
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
