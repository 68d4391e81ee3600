"""The vendor's schemas as a real JSON Schema validator sees them, for conformance tests.

The schemas come from the catalog (`make catalog` derives them from
../shared/captaindata-v4/openapi.json: refs inlined, `nullable` made a "null" type, JavaScript
regexes converted). Formats are checked too: `jsonschema` checks `date-time`, `uri`, ... only
with optional packages installed, so the ones the spec uses are checked here by our own rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit

import jsonschema

from captaindata_dagster.api.catalog import Action, load_catalog

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMATS.checks("date", raises=ValueError)
def _date(value: object) -> bool:
    if isinstance(value, str):
        date.fromisoformat(value)
    return True


@FORMATS.checks("time", raises=ValueError)
def _time(value: object) -> bool:
    if isinstance(value, str):
        time.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMATS.checks("uri")
@FORMATS.checks("url")
def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and (bool(parts.netloc) or parts.scheme in ("urn", "mailto"))


@FORMATS.checks("email")
def _email(value: object) -> bool:
    return (
        not isinstance(value, str) or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None
    )


@FORMATS.checks("uuid")
def _uuid(value: object) -> bool:
    pattern = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    return not isinstance(value, str) or re.fullmatch(pattern, value, re.I) is not None


def validator(schema: Mapping[str, Any]) -> jsonschema.Draft202012Validator:
    """A Draft 2020-12 validator for `schema`, checking formats."""
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=FORMATS)


def problems(schema: Mapping[str, Any], value: Any, limit: int = 5) -> list[str]:
    """Up to `limit` readable violations of `schema` by `value` (empty: valid)."""
    found = sorted(validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found][
        :limit
    ]


def error_schema() -> Mapping[str, Any]:
    """The error envelope the spec declares for every action's 400, 424 and 500 answers."""
    return load_catalog().error_schema


def live_actions() -> list[Action]:
    """The 71 `run/live` actions (the GET download action aside)."""
    return [a for a in load_catalog() if a.method == "POST"]
