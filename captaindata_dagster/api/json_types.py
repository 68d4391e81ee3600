"""The one check of a parsed JSON value against a JSON Schema type name.

The catalog checks an action's parameters by it and the receiver a callback's fields, so both
read "integer" or "array" the same way. It imports nothing from the package: the simulator may
read it through the catalog.
"""

from __future__ import annotations

from typing import Any

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "array": (list, tuple),
    "object": (dict,),
}


def json_type_matches(value: Any, type_name: str) -> bool:
    """Whether a parsed JSON `value` is of the JSON Schema type `type_name` (one name, not a list).

    A bool is a "boolean" only, never an "integer" or a "number" (Python counts it as an int).
    A type name this does not know ("null" included: check `value is None` apart) matches
    anything, so the API judges it.

    Args:
        value: a value as `json.loads` gives it (a tuple counts as an array).
        type_name: "string", "integer", "number", "boolean", "array" or "object".

    Example:
        >>> json_type_matches(3, "number"), json_type_matches(True, "integer")
        (True, False)
    """
    types = _JSON_TYPES.get(type_name)
    if types is None:
        return True
    return isinstance(value, types) and (bool in types) is isinstance(value, bool)
