"""The query of bulk mode's lists (`GET /v4/runs`, `/v4/runs/callbacks`, `/v4/schedules`), read
and applied as the spec's query schemas say.

Every filter the list's query schema declares (`status`, `action_name`, `execution_mode`, `uid`,
`user_uid`, `workspace_uid` for runs...) is matched against the field of the same name in the
items as the API shows them; a filter takes one value or several separated by commas
(`?status=FAILED,BLOCKED`). `sort` names fields of the item, comma-separated, each descending with
a leading `-` (`?sort=-created_at,status`); it defaults to the schema's default (`created_at` for
runs and schedules, `-created_at` for callbacks). Items that tie on every key keep their creation
order (reversed when the first key is descending). `limit` and `offset` are checked against the
schema's bounds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PAGING = ("limit", "offset", "sort")


@dataclass(frozen=True)
class ListQuery:
    """What one list call asks: filters (field -> accepted values), sort keys (field,
    descending?), and the page's `limit` and `offset`."""

    filters: dict[str, set[str]]
    sort: list[tuple[str, bool]]
    limit: int
    offset: int


@dataclass(frozen=True)
class QueryProblem:
    """Why a list's query is refused: the parameter and the message."""

    field: str
    message: str


def read_list_query(
    query: Mapping[str, str], schema: Mapping[str, Any], item_fields: set[str]
) -> ListQuery | QueryProblem:
    """The list query a request's query string asks for, or why it is refused.

    Args:
        query: the request's query string (one value per name).
        schema: the list's query schema from the catalog (`runs_query`, ...).
        item_fields: the fields an item has (what `sort` may name).

    Example:
        >>> schema = {"properties": {"status": {}, "limit": {"maximum": 100}, "offset": {},
        ...                          "sort": {"default": ["created_at"]}}}
        >>> read_list_query({"status": "FAILED,BLOCKED", "sort": "-id"}, schema, {"id"}).sort
        [('id', True)]
    """
    props = schema.get("properties", {})
    numbers = {}
    for key, default in (("limit", 10), ("offset", 0)):
        bounds = props.get(key, {})
        text = query.get(key, str(bounds.get("default", default)))
        low, high = bounds.get("minimum", 0), bounds.get("maximum", 10**9)
        if not text.isdigit() or not low <= int(text) <= high:
            return QueryProblem(key, f"{key} must be an integer from {low} to {high}, got {text!r}")
        numbers[key] = int(text)
    sort_spec = props.get("sort", {})
    given = query.get("sort")
    names = given.split(",") if given else list(sort_spec.get("default", []))
    if len(names) > int(sort_spec.get("maxItems", 10)):
        return QueryProblem("sort", f"sort takes at most {sort_spec.get('maxItems', 10)} fields")
    sort = []
    for name in names:
        bare = name.strip().removeprefix("-")
        if bare not in item_fields:
            return QueryProblem("sort", f"cannot sort by {bare!r}; fields: {', '.join(sorted(item_fields))}")  # fmt: skip
        sort.append((bare, name.strip().startswith("-")))
    filters = {k: set(v.split(",")) for k, v in query.items()
               if k not in PAGING and k in props and v}  # fmt: skip
    return ListQuery(filters, sort, numbers["limit"], numbers["offset"])


def list_page(items: list[dict[str, Any]], query: ListQuery) -> list[dict[str, Any]]:
    """One page of `items` (API forms, in creation order): filtered, sorted, then cut.

    Example:
        >>> items = [{"id": 1, "status": "FAILED"}, {"id": 2, "status": "SUCCEEDED"},
        ...          {"id": 3, "status": "FAILED"}]
        >>> q = ListQuery({"status": {"FAILED"}}, [("id", True)], limit=10, offset=0)
        >>> [i["id"] for i in list_page(items, q)]
        [3, 1]
    """
    kept = [
        item
        for item in items
        if all(k not in item or _text(item[k]) in v for k, v in query.filters.items())
    ]
    if query.sort and query.sort[0][1]:
        kept.reverse()  # ties keep creation order, in the first key's direction
    for name, descending in reversed(query.sort):  # stable sorts, the last key first
        kept.sort(key=lambda item, n=name: _key(item.get(n)), reverse=descending)
    return kept[query.offset : query.offset + query.limit]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _key(value: Any) -> tuple[int, Any]:
    """A sort key: missing values first, numbers by value, anything else by its text."""
    if value is None:
        return (0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    return (2, _text(value))
