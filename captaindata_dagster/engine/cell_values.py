"""One cell of a warehouse table: a value converted to its field's catalog type, never guessed.

`frames` builds each column with these converters (the rules are listed in its docstring): a
boolean from `"false"` is False, not True; a value a typed column cannot hold is `UNFIT` (stored as
NA and reported), not coerced into something else; nested arrays and objects become JSON text.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

_INT64 = (-(2**63), 2**63 - 1)
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
UNFIT = object()  # a converter's answer for a value its column cannot hold (NA, and reported)


def is_missing(v: Any) -> bool:
    """None, NaN, and pandas' NA and NaT (told by type name: pandas may not be loaded)."""
    if v is None or (isinstance(v, numbers.Real) and v != v):
        return True
    return type(v).__name__ in ("NAType", "NaTType")


def _is_bool(v: Any) -> bool:
    """Python's bool or numpy's (not a `numbers.Integral`; named `bool_` before numpy 2)."""
    t = type(v)
    return isinstance(v, bool) or (t.__module__ == "numpy" and t.__name__ in ("bool", "bool_"))


def _to_boolean(v: Any) -> Any:
    if _is_bool(v):
        return bool(v)
    if isinstance(v, str):
        word = v.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        return None if not word else UNFIT
    if isinstance(v, numbers.Real) and v in (0, 1):
        return bool(v)
    return UNFIT


def _to_integer(v: Any) -> Any:
    if _is_bool(v):
        return UNFIT
    if isinstance(v, numbers.Integral):
        n = int(v)
    elif isinstance(v, numbers.Real):
        f = float(v)
        if not f.is_integer():  # a fractional part, or ±inf
            return UNFIT
        n = int(f)
    elif isinstance(v, str):
        text = _numeric_text(v)
        if text is None or text is UNFIT:
            return text
        exact = Decimal(text)  # exact: "9007199254740993" stays itself, unlike via float
        if exact != exact.to_integral_value() or not _INT64[0] <= exact <= _INT64[1]:
            return UNFIT
        n = int(exact)
    else:
        return UNFIT
    return n if _INT64[0] <= n <= _INT64[1] else UNFIT


def _numeric_text(v: str) -> Any:
    """`v` stripped when it is a plain decimal number, None when blank, else `UNFIT`."""
    text = v.strip()
    if not text:
        return None
    return text if _NUMBER_TEXT.fullmatch(text) else UNFIT


def _to_number(v: Any) -> Any:
    if _is_bool(v):
        return UNFIT
    if isinstance(v, numbers.Real):
        try:
            f = float(v)
        except OverflowError:  # an int beyond float's range
            return UNFIT
    elif isinstance(v, str):
        text = _numeric_text(v)
        if text is None or text is UNFIT:
            return text
        f = float(text)  # "1e999" is inf: refused below
    else:
        return UNFIT
    return f if math.isfinite(f) else UNFIT


def cell_text(v: Any) -> str:
    """A `string` field's value as text: numbers and booleans spelled as JSON spells them."""
    if isinstance(v, str):
        return v
    if _is_bool(v):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        f = float(v)
        if f.is_integer() and abs(f) < 2**53:  # 42.0 was 42 before pandas made the column float
            return str(int(f))
        return json.dumps(f)
    if isinstance(v, (dict, list, tuple)):
        return _dumps(v)
    if isinstance(v, (bytes, bytearray)):
        return f"<{len(v)} bytes>"
    return str(v)


def json_text(v: Any) -> str:
    """An `array`/`object` field's value as JSON text; JSON text of one is not encoded again."""
    if isinstance(v, str) and v.lstrip()[:1] in ("[", "{"):
        try:
            parsed = json.loads(v)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            return _dumps(parsed)
    return _dumps(v)


def _dumps(v: Any) -> str:
    try:
        return json.dumps(
            v, ensure_ascii=False, sort_keys=True, allow_nan=False, default=_json_default
        )
    except (ValueError, TypeError):  # NaN or ±inf inside (JSON has none), or keys not all text
        return json.dumps(_plain(v), ensure_ascii=False, sort_keys=True, default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, (bytes, bytearray)):
        return f"<{len(o)} bytes>"
    if _is_bool(o):
        return bool(o)
    if isinstance(o, numbers.Integral):
        return int(o)
    if isinstance(o, numbers.Real):
        return float(o)
    return str(o)


def _plain(v: Any) -> Any:
    """`v` with non-finite numbers as null and keys as text, so that it dumps as JSON."""
    if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k if isinstance(k, str) else cell_text(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "boolean": _to_boolean,
    "integer": _to_integer,
    "number": _to_number,
}
