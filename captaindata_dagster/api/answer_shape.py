"""Is a 2xx answer the shape its action declares? Checked before anything is kept or cached.

A 200 is not proof of data: a proxy or a changed API can answer `{"data": ..., "meta": ...}` for a
profile, or `[1, "two", null]` for a search page. Kept as results, such answers land rows with no
key, are cached as fetched for days, and a search ends "complete" with nobody in it. The checks are
structural on purpose (object vs array, items are objects naming fields the action declares): the
real API is looser than its spec on value types (ids as numbers or strings, counts as text) and
declares no field as required, so a full schema validation would refuse real data. An answer that
names the action's fields but leaves out its key field (`linkedin_profile_url` for a profile) is
about the input that was sent: `fill_key` writes the input's value there, so every row says whom
it is about.
"""

from __future__ import annotations

from typing import Any

from captaindata_dagster.api.catalog import CUSTOM_DATA, Action


def answer_problem(act: Action, data: Any) -> str | None:
    """Why `data` (a parsed 2xx body) is not an answer of `act`, or None when it is.

    Args:
        act: the catalog action that was called.
        data: the parsed JSON body (None for an empty body, which is "no result").

    Example:
        >>> from captaindata_dagster.api.catalog import load_catalog
        >>> people = load_catalog().get("linkedin-extract-people")
        >>> answer_problem(people, {"data": {}, "meta": {}})
        'names none of the fields linkedin-extract-people declares (got data, meta)'
    """
    if act.side_effects:
        # A receipt judged malformed would read as the failure of something that happened: an
        # empty one is fine, and only the JSON type of the others is checked.
        if data is None or isinstance(data, list if act.is_list else dict):
            return None
        return f"expected {'a JSON array' if act.is_list else 'one JSON object'}, got {_kind(data)}"
    if data is None:
        return "is empty: a search page is a JSON array ([] at the end), a result an object"
    if act.is_list:
        if not isinstance(data, list):
            return f"a list action answers a JSON array (one page), got {_kind(data)}"
        for i, item in enumerate(data):
            problem = _item_problem(act, item)
            if problem is not None:
                return f"item {i} {problem}"
        return None
    if not isinstance(data, dict):
        return f"expected one JSON object, got {_kind(data)}"
    return _item_problem(act, data)


def fill_key(act: Action, item: dict[str, Any], sent: Any) -> dict[str, Any]:
    """`item` with its key field set from the input `sent` when the API left it out.

    Args:
        act: the object action called.
        item: its answer (a checked object).
        sent: the body's `input` (the canonical field names).

    Example:
        >>> fill_key(people, {"full_name": "Ada"}, {"linkedin_profile_url": url})  # doctest: +SKIP
        {'full_name': 'Ada', 'linkedin_profile_url': url}
    """
    field = key_field(act)
    if field is None or item.get(field) not in (None, "") or not isinstance(sent, dict):
        return item
    value = sent.get(field)
    return item if value in (None, "") else {**item, field: value}


def key_field(act: Action) -> str | None:
    """The output field that says which entity an answer is about: the primary input field
    when the answer echoes it (`linkedin_profile_url` for a profile), else None."""
    primary = act.primary_field
    return primary if primary is not None and primary in act.output_types else None


def _item_problem(act: Action, item: Any) -> str | None:
    if not isinstance(item, dict):
        return f"is {_kind(item)}, not a JSON object"
    declared = set(act.output_types)
    names = set(item) - {CUSTOM_DATA}
    if declared and not names & declared:
        got = ", ".join(sorted(map(str, names))[:5]) or "no field"
        return f"names none of the fields {act.id} declares (got {got})"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )
