"""What a bulk list call asks: the query string of `GET /runs`, `/runs/callbacks`, `/schedules`.

The filters and their bounds come from the catalog's `bulk` query schemas (`runs_query`,
`callbacks_query`, `schedules_query`), so a status the spec does not list, or a `limit` over
the endpoint's maximum (100 for runs and schedules, 20 for callbacks), is refused before any call
with a `ValidationError` naming the filter. A filter may be one value or a list; a list is sent as
the key repeated (`status=FAILED&status=BLOCKED`), as OpenAPI's default form style reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from captaindata_dagster.api.catalog import Catalog
from captaindata_dagster.api.errors import ValidationError


def list_query(
    catalog: Catalog, schema_name: str, filters: Mapping[str, Any], *, limit: int, offset: int
) -> dict[str, Any]:
    """The query string of one list call: the filters given (None left out), `limit`, `offset`.

    Args:
        catalog: where the endpoint's query schema is read.
        schema_name: "runs_query", "callbacks_query" or "schedules_query".
        filters: filter name -> one value or a list of values (None: not filtered).
        limit: the page size asked for.
        offset: how many items to skip.

    Example:
        >>> list_query(load_catalog(), "runs_query", {"status": "FAILED"}, limit=100, offset=0)
        {'status': ['FAILED'], 'limit': 100, 'offset': 0}
    """
    declared = (catalog.bulk_schema(schema_name) or {}).get("properties", {})
    query: dict[str, Any] = {}
    for name, value in filters.items():
        if value is None:
            continue
        spec = declared.get(name)
        if spec is None:
            raise ValidationError(f"{name} is not a filter of this list", field=name)
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, Sequence) or not values:
            raise ValidationError(f"{name} must be a value or a non-empty list", field=name)
        allowed = (spec.get("items") or {}).get("enum") or []
        bad = [v for v in values if allowed and v not in allowed]
        if bad:
            raise ValidationError(
                f"{name}: {bad} not among {[a for a in allowed if a is not None]}", field=name
            )
        query[name] = [str(v) for v in values]
    for name, value in (("limit", limit), ("offset", offset)):
        check_integer_bound(name, value, declared.get(name, {}))
        query[name] = value
    return query


def check_integer_bound(name: str, value: Any, spec: Mapping[str, Any], **error: Any) -> None:
    """Refuse `value` unless it is an integer within the schema's `minimum`..`maximum`.

    Args:
        name: the field, as the error names it (e.g. `limit`, `parameters.max_results`).
        value: what was given.
        spec: its JSON schema (`minimum`, `maximum`).
        **error: more `ValidationError` fields (e.g. `error_label`, `action_id`).

    Example:
        >>> check_integer_bound("limit", 500, {"minimum": 1, "maximum": 100})
        Traceback (most recent call last):
        ValidationError: limit must be an integer in 1..100, got 500
    """
    low, high = spec.get("minimum"), spec.get("maximum")
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        span = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        raise ValidationError(
            f"{name} must be an integer in {span}, got {value!r}", field=name, **error
        )
