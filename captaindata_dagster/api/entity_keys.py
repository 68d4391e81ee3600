"""One key per person, company or lead, whatever the spelling of the URL that names it.

LinkedIn accepts many URLs for one person: `https://www.linkedin.com/in/jane-doe`,
`fr.linkedin.com/in/Jane-Doe/fr`, `.../in/jane-doe/overlay/contact-info/?trk=x`,
`.../in/jane%2Ddoe`. Paid calls and invitations are keyed on who is named, not on the text that
names them: the ledger (so a person is paid for once), the outreach store (so a person is invited
once) and a batch's dedupe all read `entity_key`. It knows the URL kinds of the catalog's inputs;
any other value has no entity key and is compared as the text it is.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# linkedin.com and its country or language subdomains (www, fr, de, uk, ...), and nothing else.
_LINKEDIN_HOST = re.compile(r"^(?:[a-z]{2,3}\.|www\.|m\.)?linkedin\.com$")

# First path segment -> (kind, how many segments name the entity, whether case matters).
# `/in/<handle>` is one person whatever follows (`/fr`, `/overlay/...`, `/details/...`);
# `/pub/<name>/<a>/<b>/<c>` is the old public form; Sales Navigator ids are case-sensitive.
_KINDS: dict[tuple[str, ...], tuple[str, int, bool]] = {
    ("in",): ("person", 1, False),
    ("pub",): ("person", 4, False),
    ("sales", "lead"): ("sales_navigator_lead", 1, True),
    ("sales", "people"): ("sales_navigator_lead", 1, True),
    ("sales", "company"): ("sales_navigator_company", 1, True),
    ("company",): ("company", 1, False),
    ("showcase",): ("company", 1, False),
    ("school",): ("school", 1, False),
}


def entity_key(value: object) -> str | None:
    """`"<kind>:<id>"` for a LinkedIn URL naming a person, lead, company or school, else None.

    Host variants (`www.`, `fr.`, none, `http://`), case (for handles and slugs), percent-encoding,
    trailing paths, queries and fragments are folded: every spelling of one person gives one key.

    Args:
        value: an input value, usually a URL; anything else gives None.

    Example:
        >>> entity_key("https://fr.linkedin.com/in/Jane%2DDoe/details/experience/?trk=x")
        'person:jane-doe'
        >>> entity_key("https://www.linkedin.com/sales/lead/ACwAAB123,NAME_SEARCH,xYz")
        'sales_navigator_lead:ACwAAB123'
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    try:
        parts = urlsplit(text if "://" in text else "https://" + text)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not _LINKEDIN_HOST.match(host):
        return None
    segments = [unquote(s) for s in parts.path.split("/") if s]
    for prefix, (kind, width, case_matters) in _KINDS.items():
        n = len(prefix)
        if [s.lower() for s in segments[:n]] != list(prefix) or len(segments) < n + 1:
            continue
        ident = "/".join(segments[n : n + width]).split(",")[0].strip()
        if not ident:
            return None
        return f"{kind}:{ident if case_matters else ident.lower()}"
    return None


def same_entity(a: object, b: object) -> bool:
    """True when `a` and `b` name the same person, lead, company or school (or are equal text)."""
    ka, kb = entity_key(a), entity_key(b)
    if ka is not None or kb is not None:
        return ka == kb
    return isinstance(a, str) and isinstance(b, str) and a.strip() == b.strip()
