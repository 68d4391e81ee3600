"""Answers in exactly the shape the spec declares: walk a response schema and fill it by name.

`fill(schema, item)` walks one result's JSON Schema (the catalog's `response_schema`: refs inlined,
`nullable` as a "null" type). Every declared property gets a value: one already known for a nested
record (`item.PARTS`), else the name-based one (`fields.value`), which `conform` then makes the
declared type, format and enum: an id declared a string is the text of the number, a date declared
`date-time` is RFC 3339, a handle declared `uri` is a full URL, a list of names declared a list of
objects is a list of `{"name": ...}`. Properties a schema does not declare are never added, and
`null` only comes back where the schema allows it. `oneOf`/`anyOf` take one branch deterministically,
the one a record's discriminator (an `enum` property like an attachment's `type`) names if any.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

from captaindata_dagster.simulator.entities import (
    WORDS,
    h,
    iso,
    past_date,
    past_datetime,
    short_hash,
)
from captaindata_dagster.simulator.fields import named, url_for, value
from captaindata_dagster.simulator.item import PARTS, Item, Part

Schema = Mapping[str, Any]

_SCALARS = ("string", "integer", "number", "boolean")
_FITS = {t: (t,) for t in _SCALARS} | {"number": ("integer", "number")}
_LABELS = ("name", "content", "title", "connection_degree", "school_name", "company_name")
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_ID = re.compile(r"(^|_)ids?$|[a-z]Ids?$")
_NAIVE = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d)(:\d\d)?(\.\d+)?")


def fill(schema: Schema, it: Item) -> dict[str, Any]:
    """One result: every property `schema` declares, valued for `it`."""
    out = conform(Part(it, {}), schema, "", it)
    return out if isinstance(out, dict) else {}


def conform(raw: Any, schema: Schema, name: str, it: Item) -> Any:
    """`raw` (a value meant for field `name`) made valid for `schema`."""
    if len(schema) == 1 and _natural(raw) in _FITS.get(str(schema.get("type")), ()):
        return raw  # the common case: a plain string, number or boolean already
    schema = _branch(schema, raw, name, it)
    types = types_of(schema)
    if raw is None and "null" in types:
        return None
    kind = _kind(types, raw)
    if kind == "object":
        out: Any = _object(raw, schema, name, it)
    elif kind == "array":
        out = _array(raw, schema, name, it)
    elif kind == "string":
        out = _string(raw, schema, name, it)
    elif kind in ("integer", "number"):
        out = _number(raw, name, integer=kind == "integer")
    elif kind == "boolean":
        out = _boolean(raw, it)
    elif kind == "null":
        out = None
    else:  # no type declared: anything goes, as plain JSON
        out = _plain(raw)
    enum = schema.get("enum") or ([schema["const"]] if "const" in schema else None)
    if enum and out not in enum:
        out = enum[h(name, it.key, it.index) % len(enum)]
    return out


def types_of(schema: Schema) -> list[str]:
    """The JSON types a schema allows (inferred from its keywords when `type` is absent)."""
    t = schema.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return list(t)
    if "properties" in schema or "additionalProperties" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    values = schema.get("enum") or ([schema["const"]] if "const" in schema else [])
    return sorted({_natural(v) for v in values})


def _natural(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "array"
    return "object"  # a Mapping or a Part


def _kind(types: list[str], raw: Any) -> str:
    """The one type to answer with: `raw`'s own when allowed, else the first non-null one."""
    allowed = [t for t in types if t != "null"]
    if not allowed:
        return "null" if types else "any"
    natural = _natural(raw)
    if natural in allowed:
        return natural
    if natural == "integer" and "number" in allowed:
        return "number"
    return allowed[0]


# ---------------------------------------------------------------------------------------------
# oneOf / anyOf / allOf


def _branch(schema: Schema, raw: Any, name: str, it: Item) -> Schema:
    for key in ("allOf", "oneOf", "anyOf"):
        subs = schema.get(key)
        if not subs:
            continue
        base = {k: v for k, v in schema.items() if k != key}
        if key == "allOf":
            for sub in subs:
                base = _merge(base, _branch(sub, raw, name, it))
            return _branch(base, raw, name, it)
        return _branch(_merge(base, _pick(subs, raw, name, it)), raw, name, it)
    return schema


def _merge(a: Schema, b: Schema) -> dict[str, Any]:
    out = {**a, **b}
    if "properties" in a and "properties" in b:
        out["properties"] = {**a["properties"], **b["properties"]}
    if "required" in a and "required" in b:
        out["required"] = list(dict.fromkeys([*a["required"], *b["required"]]))
    return out


def _discriminator(schema: Schema) -> tuple[str, list[Any]] | None:
    """The property whose `enum` / `const` tells this branch from the others, if any."""
    for prop, sub in (schema.get("properties") or {}).items():
        if "enum" in sub:
            return prop, list(sub["enum"])
        if "const" in sub:
            return prop, [sub["const"]]
    return None


def _pick(branches: list[Schema], raw: Any, name: str, it: Item) -> Schema:
    """One branch, deterministically: the one the record names, else a discriminated one."""
    known = raw.values if isinstance(raw, Part) else raw
    tagged = [(b, _discriminator(b)) for b in branches]
    if isinstance(known, Mapping):
        for b, d in tagged:
            if d is not None and known.get(d[0]) in d[1]:
                return b
    pool = [b for b, d in tagged if d is not None]
    pool = pool or [b for b in branches if _natural(raw) in types_of(b)] or list(branches)
    return pool[h(name, it.key, it.index) % len(pool)]


# ---------------------------------------------------------------------------------------------
# objects and arrays


def _field(name: str, schema: Schema, it: Item, known: Mapping[str, Any]) -> Any:
    if name in known:
        raw = known[name]
    elif schema.get("type") not in _SCALARS and _structured(schema) and not named(name):
        # a nested record: its own generator, else one record named field by field
        raw = PARTS[name](it) if name in PARTS else Part(it.child(name), {})
    else:
        raw = value(name, it)
    return conform(raw, schema, name, it)


def _structured(schema: Schema) -> bool:
    """True for an object, or an array of objects (in any branch): a nested record to build."""
    subs = [*schema.get("allOf", ()), *schema.get("oneOf", ()), *schema.get("anyOf", ())]
    if any(_structured({**schema, **sub, "allOf": (), "oneOf": (), "anyOf": ()}) for sub in subs):
        return True
    types = types_of(schema)
    if "object" in types:
        return True
    items = schema.get("items")
    return "array" in types and isinstance(items, Mapping) and _structured(items)


def _label(props: Mapping[str, Schema]) -> str:
    """The property a bare value (a skill, a school...) is the value of, in an object."""
    for name in _LABELS:
        if name in props:
            return name
    for name, sub in props.items():
        if "string" in types_of(sub) and "format" not in sub:
            return name
    return next(iter(props))


def _object(raw: Any, schema: Schema, name: str, it: Item) -> dict[str, Any]:
    props: Mapping[str, Schema] = schema.get("properties") or {}
    if isinstance(raw, Part):
        ctx, known = raw.it, raw.values
    else:
        ctx, known = it.child(name), raw
    if not isinstance(known, Mapping):
        known = {_label(props): known} if props and known is not None else {}
    if not props:  # a free-form object: what is known, as plain JSON
        if schema.get("additionalProperties", True) is False:
            return {}
        return {str(k): _plain(v) for k, v in known.items()}
    return {p: _field(p, sub, ctx, known) for p, sub in props.items()}


def _array(raw: Any, schema: Schema, name: str, it: Item) -> list[Any]:
    items: Schema = schema.get("items") or {}
    objects = "object" in types_of(_branch(items, None, name, it))
    if raw is None:
        raw = []
    elif isinstance(raw, (Mapping, Part)) and not objects:
        known = raw.values if isinstance(raw, Part) else raw
        raw = [f"{k}: {_text(v)}" for k, v in known.items()]
    elif isinstance(raw, Part) or not isinstance(raw, (list, tuple)):
        raw = [raw]  # one value (or one nested record) where the schema wants a list
    if objects:
        raw = [
            x if isinstance(x, Part) else Part(it.child(f"{name}/{i}"), x)
            for i, x in enumerate(raw)
        ]
    return [conform(x, items, name, it) for x in raw]


def _plain(raw: Any) -> Any:
    if isinstance(raw, Part):
        return _plain(raw.values)
    if isinstance(raw, Mapping):
        return {str(k): _plain(v) for k, v in raw.items()}
    if isinstance(raw, (list, tuple)):
        return [_plain(x) for x in raw]
    return raw


# ---------------------------------------------------------------------------------------------
# scalars


def _text(raw: Any) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, float)):
        return str(raw)
    if isinstance(raw, Part):
        return _text(raw.values)
    if isinstance(raw, Mapping):
        return ", ".join(f"{k}: {_text(v)}" for k, v in raw.items())
    if isinstance(raw, (list, tuple)):
        return ", ".join(_text(x) or "" for x in raw)
    return str(raw)


def _string(raw: Any, schema: Schema, name: str, it: Item) -> str:
    text = _text(raw)
    fmt = schema.get("format")
    if fmt == "date-time":
        return _date_time(raw, text, name, it)
    if fmt == "date":
        return _date(raw, text, it)
    if fmt == "time":
        return _time(text, it)
    if fmt in ("uri", "url", "uri-reference", "iri"):
        return _uri(text, name, it)
    if fmt == "email":
        return _email(text, it)
    if fmt == "uuid":
        return _uuid(text, name, it)
    if text is None:
        text = _text(value(name, it))
    return text if text is not None else it.rng.choice(WORDS)


def _epoch(raw: Any) -> datetime | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    seconds = raw / 1000 if abs(raw) > 10**11 else raw
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _date_time(raw: Any, text: str | None, name: str, it: Item) -> str:
    at = _epoch(raw)
    if at is not None:
        return iso(at)
    text = text or ""
    if _RFC3339.fullmatch(text):
        return text
    m = _NAIVE.match(text)
    if m:
        return f"{m.group(1)}T{m.group(2)}{m.group(3) or ':00'}Z"
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        s = h(name, text) % 86400
        return f"{text}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z"
    return past_datetime(it.rng)


def _date(raw: Any, text: str | None, it: Item) -> str:
    at = _epoch(raw)
    if at is not None:
        return at.date().isoformat()
    text = text or ""
    if re.fullmatch(r"\d{4}-\d\d", text):
        text += "-01"
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return past_date(it.rng, 720)


def _time(text: str | None, it: Item) -> str:
    m = re.search(r"(\d\d:\d\d(:\d\d)?)", text or "")
    if m:
        return m.group(1)
    return f"{it.rng.randrange(8, 22):02d}:{it.rng.choice(('00', '30'))}"


def _uri(text: str | None, name: str, it: Item) -> str:
    text = (text or "").strip()
    if re.match(r"[a-z][a-z0-9+.-]*://[^/\s]", text, re.I) or text.startswith(("urn:", "mailto:")):
        return text
    if re.fullmatch(r"@\w{1,50}", text):
        return f"https://twitter.com/{text[1:]}"
    if re.fullmatch(r"[\w-]+(\.[\w-]+)+(/\S*)?", text):
        return f"https://{text}"
    return url_for(name, it)


def _email(text: str | None, it: Item) -> str:
    if text and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        return text
    p = it.person
    return f"{p.first_name.lower()}.{p.last_name.lower()}@{p.company.domain}"


def _uuid(text: str | None, name: str, it: Item) -> str:
    pattern = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    if text and re.fullmatch(pattern, text, re.I):
        return text
    x = short_hash(name, text, it.key, it.index, n=32)
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _to_number(raw: Any) -> int | float | None:
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, (int, float)):
        return raw
    if not isinstance(raw, str):
        return None
    text = raw.strip().replace(",", "")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    m = re.fullmatch(r"(\d+)(st|nd|rd|th)\+?", text)  # a connection degree: "2nd" is 2
    if m:
        return int(m.group(1))
    try:
        return float(text)
    except ValueError:
        pass
    try:  # a time: epoch milliseconds
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp() * 1000)


def _number(raw: Any, name: str, *, integer: bool) -> int | float:
    n = _to_number(raw)
    if n is None or n != n or n in (float("inf"), float("-inf")):  # text that is no number:
        n = h(name, _text(raw)) % (10**9 if _ID.search(name) else 1000)  # an id, or a count
    return int(round(n)) if integer else n


def _boolean(raw: Any, it: Item) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "yes", "1", "false", "no", "0", ""):
        return raw.strip().lower() in ("true", "yes", "1")
    if isinstance(raw, (int, float)):
        return bool(raw)
    return it.rng.random() < 0.2
