"""Deterministic synthetic data: the same seed and input always give the same people and companies.

Everything is derived from hashes of (seed, what was asked), never from a shared random stream, so a
result does not depend on the order or number of calls. Entities chain like the real data: a person
found by a search has a profile URL whose extraction gives back the same person, who works at a
company whose LinkedIn URL extracts that company, and so on.

Results have exactly the shape of the action's response schema in the vendor's OpenAPI (types,
formats, nested objects, no undeclared properties): `shapes` walks the schema and fills each field
by its name (`fields`), about the person and company of the result (`item`, `entities`).

`sample_input(action)` gives a valid input for any catalog action, for tests and demos.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from captaindata_dagster.api.catalog import CUSTOM_DATA, Action, load_catalog
from captaindata_dagster.simulator.entities import (
    CERTIFICATIONS,
    CITIES,
    COMPANIES,
    COMPANY_PREFIXES,
    COMPANY_SUFFIXES,
    FIRST_NAMES,
    JOB_TITLES,
    LANGUAGES,
    LAST_NAMES,
    PLACE_CATEGORIES,
    SCHOOLS,
    SKILLS,
    STREETS,
    WORDS,
    Company,
    Person,
    company,
    company_by_id,
    company_from_url,
    h,
    person,
    person_from_url,
    short_hash,
)
from captaindata_dagster.simulator.industries import INDUSTRIES
from captaindata_dagster.simulator.item import Item
from captaindata_dagster.simulator.shapes import fill
from captaindata_dagster.simulator.word_lists import words

__all__ = [
    "CERTIFICATIONS",
    "CITIES",
    "COMPANIES",
    "COMPANY_PREFIXES",
    "COMPANY_SUFFIXES",
    "FIRST_NAMES",
    "INDUSTRIES",
    "JOB_TITLES",
    "LANGUAGES",
    "LAST_NAMES",
    "PLACE_CATEGORIES",
    "SCHOOLS",
    "SKILLS",
    "STREETS",
    "WORDS",
    "Company",
    "Person",
    "attachment_bytes",
    "company",
    "company_by_id",
    "company_from_url",
    "input_key",
    "list_total",
    "make_page",
    "make_result",
    "person",
    "person_from_url",
    "result_schema",
    "sample_input",
    "sample_value",
    "short_hash",
]


def input_key(value: Mapping[str, Any] | None) -> str:
    """A stable text for an input (without `custom_data`), so equal inputs give equal data."""
    data = {k: v for k, v in (value or {}).items() if k != CUSTOM_DATA}
    return json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))


def result_schema(action: Action) -> Mapping[str, Any]:
    """The JSON Schema of one result: the answer's, or its items' for a list action."""
    schema = action.response_schema
    if schema is None:  # a catalog without schemas: the flat output fields
        props = {name: {"type": kind} for name, kind in action.output_types.items()}
        return {"type": "object", "properties": props}
    if schema.get("type") == "array" or "items" in schema:
        return schema.get("items") or {}
    return schema


def make_result(
    action: Action, seed: int, value: Mapping[str, Any] | None, index: int | None = None
) -> dict[str, Any]:
    """One result of `action` for an input, in the shape its response schema declares, plus
    `custom_data` echoed back when the input has one.

    `index` is the position in a list result (None for object actions); results for the same
    (seed, action, input, index) are always the same.
    """
    inp = action.canonical_input(value)
    out = fill(result_schema(action), Item(seed, action, inp, input_key(inp), index))
    if isinstance(inp.get(CUSTOM_DATA), Mapping):
        out[CUSTOM_DATA] = inp[CUSTOM_DATA]
    return out


def list_total(action: Action, seed: int, value: Mapping[str, Any] | None) -> int:
    """How many results a list action has for an input: 15..400 when paginated, else 3..8."""
    key = input_key(action.canonical_input(value))
    n = h(seed, action.id, key, "total")
    if action.pagination is None:
        return 3 + n % 6
    return 15 + n % 386


def make_page(
    action: Action, seed: int, value: Mapping[str, Any] | None, start: int, stop: int
) -> list[dict[str, Any]]:
    """Results `start` (0-based, included) to `stop` (excluded) of a list action."""
    return [make_result(action, seed, value, i) for i in range(start, stop)]


def attachment_bytes(seed: int, url: str) -> bytes:
    """The bytes of a downloaded attachment: a small deterministic PDF-looking blob."""
    body = hashlib.blake2b(f"{seed}|{url}".encode(), digest_size=64).digest() * 8
    return b"%PDF-1.4\n% captaindata simulator attachment\n" + body + b"\n%%EOF\n"


# ---------------------------------------------------------------------------------------------
# sample inputs


def sample_value(field_name: str, n: int = 0, type_: str = "string") -> Any:
    """A valid value for an input field by name; `n` makes distinct values (n=0, 1, 2...)."""
    n = abs(int(n))
    template = words()["SAMPLES"].get(field_name, "sample-{n}")
    text = template.format(n=n, id=1_234_567 + n, id19=f"{n:017d}")
    if type_ in ("number", "integer"):
        return int(text) if text.isdigit() else 1_234_567 + n
    return text


def sample_input(action: Action | str, n: int = 0) -> dict[str, Any]:
    """A minimal valid input for any catalog action (`{}` for actions that take none).

    Pass `n` to get different valid inputs (another profile, another search...).
    """
    if isinstance(action, str):
        found = load_catalog().get(action)
        if found is None:
            raise KeyError(f"unknown action {action!r}")
        action = found
    if not action.accepts_input:
        return {}
    names = [f.name for f in action.input_fields.values() if f.required]
    if action.required_any and not names:
        names = list(action.required_any[0])
    if not names and action.input_fields:
        names = [next(iter(action.input_fields))]
    return {
        name: sample_value(name, n, action.input_fields[name].type)
        for name in names
        if name in action.input_fields
    }
