"""What a people search asks for: the job titles, city and industry its URL's keywords name.

A user judges the sandbox by whether "data engineers in Paris" finds data engineers in Paris. The
search URL's `keywords` (LinkedIn's `?keywords=data%20engineer`, Sales Navigator's
`(keywords:data%20engineer)`) are matched word by word against the simulator's job titles (and
the other words each title goes by: "cto" for "Chief Technology Officer"); a city named in the
keywords ("data engineer lyon"), or one of the few LinkedIn `geoUrn` ids the project's examples use
(`GEO_URNS` in `words.json`), sets the location; a word that is in no title but names an industry
("saas", "fintech") sets the industry of the people's companies. Keywords that name no known title leave the titles open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from urllib.parse import unquote_plus

from captaindata_dagster.simulator.entities import h, pid_with
from captaindata_dagster.simulator.industries import INDUSTRIES, industry_in
from captaindata_dagster.simulator.word_lists import words

SEARCH_INPUTS = (
    "linkedin_people_search_url",
    "sales_navigator_profile_search_url",
    "linkedin_recruiter_search_url",
)
_KEYWORDS = re.compile(r"keywords[=:]([^&,)]*)", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9&]+")


@dataclass(frozen=True)
class SearchTerms:
    """What a search's URL asks for, as indexes into the simulator's word lists.

    `titles` are the job titles that match the keywords best (every title when none matches);
    `city` and `industry` are None when the URL names none.
    """

    titles: tuple[int, ...]
    city: int | None
    industry: int | None


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


@cache
def _title_words() -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(_tokens(f"{t} {aliases}")) for t, _, aliases in words()["JOB_TITLES"])


def _same_word(asked: str, known: str) -> bool:
    """ "engineer" finds "engineering", "marketing" finds "marketer"; "ai" does not find "air"."""
    if asked == known:
        return True
    if min(len(asked), len(known)) < 4:
        return False
    return known.startswith(asked) or asked.startswith(known) or asked[:6] == known[:6]


def _best_titles(tokens: list[str]) -> tuple[int, ...]:
    scores = [sum(any(_same_word(t, k) for k in known) for t in tokens) for known in _title_words()]
    top = max(scores, default=0)
    return tuple(i for i, s in enumerate(scores) if s == top)  # top 0: every title


def _city(text: str, url: str) -> tuple[int | None, str]:
    """The city named in the keywords (removed from them), else the one of a known geoUrn."""
    names = [city[0].lower() for city in words()["CITIES"]]
    for i, name in enumerate(names):
        pattern = rf"\b{re.escape(name)}\b"
        if re.search(pattern, text):
            return i, re.sub(pattern, " ", text)
    for urn, name in words()["GEO_URNS"].items():
        if re.search(rf"\b{urn}\b", url):
            return names.index(name.lower()), text
    return None, text


@lru_cache(maxsize=1024)
def search_terms(url: str) -> SearchTerms:
    """What a people search URL asks for (keywords to titles, a city, an industry).

    Example:
        >>> terms = search_terms("https://www.linkedin.com/search/results/people/?keywords=cto%20saas%20berlin")
        >>> terms.city is not None and terms.industry is not None
        True
    """
    decoded = unquote_plus(url)
    found = _KEYWORDS.search(decoded)
    city, rest = _city(found.group(1).lower() if found else "", decoded)
    tokens = _tokens(rest)
    vocabulary = {word for known in _title_words() for word in known}
    # a word of a title is about the title ("data engineer"), any other may name an industry
    industry = industry_in(t for t in tokens if not any(_same_word(t, k) for k in vocabulary))
    return SearchTerms(
        titles=_best_titles(tokens),
        city=city,
        industry=None if industry is None else INDUSTRIES.index(industry),
    )


def matching_pid(base: str, url: str) -> str:
    """The id of a person a search finds: the hash `base` (10 hex digits) with a title, city and
    industry the search's URL asks for, so the person's profile, extracted from the URL that
    carries the id in any process, matches the search too.

    Example:
        >>> url = "https://www.linkedin.com/search/results/people/?keywords=data%20engineer%20paris"
        >>> len(matching_pid("0123456789", url))
        10
    """
    terms = search_terms(url)
    title = terms.titles[h(base, "title") % len(terms.titles)]
    return pid_with(base, title, terms.city, terms.industry)
