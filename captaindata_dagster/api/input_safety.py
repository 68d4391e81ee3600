"""Inputs that are never sent: what no real URL or text input holds, refused before any call.

A batch built from a CRM export meets values no person typed on purpose: a 100,000-character
URL, a NUL byte, a pasted line break, a space inside a handle, SQL-looking text. Sent, each is
billed and fails upstream; some would reach LinkedIn as something else. The catalog's patterns
check how a URL starts; these checks cover the rest of the value.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# Longest input values sent: a URL past 2,048 characters is not one a browser or LinkedIn serves;
# other text (keywords, messages) gets more room. Longer values are refused, never sent and billed.
MAX_URL_CHARS = 2_048
MAX_TEXT_CHARS = 10_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # NUL, CR, LF, tab, escape...
_NOT_IN_URL = re.compile(r"""[\s"'<>\\^`{|}]""")  # whitespace, quotes, brackets: never in a URL


def unsafe_text(name: str, value: str) -> str | None:
    """Why a text input must not be sent (too long, control characters, not a URL), else None.

    Args:
        name: the input field's name (`*_url` and `url` are URLs).
        value: the value given.

    Example:
        >>> unsafe_text("linkedin_profile_url", "https://www.linkedin.com/in/jane doe")
        "holds ' ', which a URL never holds (percent-encode it, or check the value is the URL alone)"
    """
    text = value.strip()
    is_url = name.endswith("_url") or name == "url"
    limit = MAX_URL_CHARS if is_url else MAX_TEXT_CHARS
    if len(value) > limit:  # spaces around count too: no check runs on a megabyte of them
        return f"is {len(value):,} characters long; at most {limit:,} are sent"
    bad = _CONTROL.search(text)
    if bad is not None:
        return f"holds a control character ({bad.group()!r}); remove it (a pasted line break?)"
    if is_url:
        bad = _NOT_IN_URL.search(text)
        if bad is not None:
            return (
                f"holds {bad.group()!r}, which a URL never holds (percent-encode it, or check "
                "the value is the URL alone)"
            )
        try:  # a handle or slug percent-encoding a space, a quote or a line break is no name
            path = unquote(urlsplit(text).path)
        except ValueError:
            return None
        bad = _NOT_IN_URL.search(path) or _CONTROL.search(path)
        if bad is not None:
            return f"names a path holding {bad.group()!r} once decoded, which no profile, company or page has"
    return None
