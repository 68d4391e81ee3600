"""The ledger's key of one call: which calls are the same call, whatever the input's spelling.

Two calls with one key are one ledger entry: the second is served from the ledger instead of being
paid for again. A LinkedIn person, lead, company or school is keyed by who it names (its canonical
URL), so every spelling of one profile URL is one entry.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from captaindata_dagster.api.catalog import CUSTOM_DATA, Action
from captaindata_dagster.api.entity_keys import entity_key


def input_key(
    action: Action,
    input: Mapping[str, Any] | None,  # noqa: A002 - the API's own word
    parameters: Mapping[str, Any] | None = None,
    max_results: int | None = None,
    *,
    by_entity: bool = True,
) -> str:
    """The ledger key of one call: sha256 of its canonical JSON.

    Aliases are renamed to catalog field names, strings stripped, `None` values and `custom_data`
    left out (it is echoed back, it does not change what the API fetches), keys sorted. For list
    actions `max_results` is part of the key: a search capped at 50 is not the one capped at 200.

    A field naming a LinkedIn person, lead, company or school (`entity_keys.entity_key`) is keyed
    by who it names, written as that entity's canonical URL (`https://www.linkedin.com/in/<id>`):
    every spelling of one person is one entry, and an input already given in canonical form keeps
    the key it had before entity keys. For a list action the URL may also hold the query
    (`/school/x/people/?educationStartYear=2010`, `/company/x/people/?keywords=cto`): there only
    a URL naming the entity alone (no query but tracking, no path after it) is folded, so two
    different lists are never one entry. `by_entity=False` keys the text as given (a batch keys
    an input it refuses that way, so a refused spelling never hides a valid one).
    """
    data = action.canonical_input(input) if isinstance(input, Mapping) else input
    if isinstance(data, dict):
        data = {
            k: _entity_or_text(v, action.is_list) if by_entity else v
            for k, v in data.items()
            if k != CUSTOM_DATA
        }
    payload = {
        "action": action.id,
        "input": _normalise(data),
        "parameters": _normalise(dict(parameters or {})),
        "max_results": max_results if action.is_list else None,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# entity kind -> the path of its canonical URL (a `/pub/` person's id holds its four segments)
_CANONICAL_PATHS = {
    "person": "in",
    "sales_navigator_lead": "sales/lead",
    "sales_navigator_company": "sales/company",
    "company": "company",
    "school": "school",
}


_TRACKING = re.compile(r"^(trk|trackingId|originalSubdomain|lipi|utm_\w+)$")


def _entity_or_text(value: Any, is_list: bool) -> Any:
    """The entity's canonical URL for `value`, or `value` itself (see `input_key`)."""
    url = canonical_url(value)
    if url is None or not is_list:
        return url or value
    parts = urlsplit(value.strip() if "://" in value else "https://" + value.strip())
    query = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if any(not _TRACKING.match(k) for k in query):
        return value
    segments = [s for s in parts.path.split("/") if s]
    named = [s for s in urlsplit(url).path.split("/") if s]
    return url if len(segments) <= len(named) else value


def canonical_url(value: Any) -> str | None:
    """The one URL the ledger keys an entity by, e.g. `https://www.linkedin.com/in/jane-doe` for
    every spelling of Jane's profile URL; None for a value naming no entity (kept as given)."""
    key = entity_key(value)
    if key is None:
        return None
    kind, _, ident = key.partition(":")
    path = _CANONICAL_PATHS.get(kind)
    if path is None:
        return None
    if kind == "person" and "/" in ident:
        path = "pub"
    return f"https://www.linkedin.com/{path}/{ident}"


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value
