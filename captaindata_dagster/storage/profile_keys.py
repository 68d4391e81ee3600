"""The outreach records' key of a person: one per LinkedIn profile, whatever its URL's spelling.

Records are keyed by the `entity_key` of the profile URL. A store written before entity keys holds
records under `legacy_profile_key`; every lookup reads those too (`outreach_lookups.py`), so a
person invited before the upgrade is never invited again.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from captaindata_dagster.api.entity_keys import entity_key

_SUBDOMAIN = re.compile(r"^(?:www|[a-z]{2})\.")
# the kinds of `entity_keys.entity_key`; any other key is a `legacy_profile_key`
ENTITY_KEY = re.compile(r"^(?:person|sales_navigator_lead|sales_navigator_company|company|school):")


def profile_key(url: str) -> str:
    """One key per person whatever the URL's spelling: its `entity_key` (`person:jane-doe` for
    `/in/jane-doe`, `fr.linkedin.com/in/Jane-Doe/fr`, `/in/jane-doe/overlay/contact-info/`...).

    A URL naming no entity keeps the key records had before entity keys (`legacy_profile_key`).

    Args:
        url: a LinkedIn profile URL, in any spelling.

    Example:
        >>> profile_key("https://fr.linkedin.com/in/Jane-Doe/")
        'person:jane-doe'
    """
    return entity_key(url) or legacy_profile_key(url)


def legacy_profile_key(url: str) -> str:
    """The key records had before entity keys: host without `www.`, path without query or slash.

    `/in/` and `/pub/` slugs are lowered; other paths (Sales Navigator ids) keep their case. A
    store written then holds such keys: every lookup by entity also reads them, so a person
    invited before the upgrade is never invited again.

    Example:
        >>> legacy_profile_key("https://www.linkedin.com/in/Jane-Doe/?trk=x")
        'linkedin.com/in/jane-doe'
    """
    text = str(url).strip()
    parts = urlsplit(text) if "://" in text else urlsplit("https://" + text)
    host = _SUBDOMAIN.sub("", parts.netloc.lower())
    path = unquote(parts.path).rstrip("/")
    if re.match(r"^/(in|pub)/", path, re.IGNORECASE):
        path = path.lower()
    return f"{host}{path}" if host else text
