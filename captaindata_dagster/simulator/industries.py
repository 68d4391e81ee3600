"""Companies consistent with their industry: which industry a company slug names, and its prose.

A synthetic company is judged by its name first: "solar-energy" must be an energy company, and its
tagline, description and specialties must read as that industry's, in whole sentences. The
industries and their vocabulary (the slug suffixes that name them, the words a search uses for
them, what such a company offers and to whom it can) are `INDUSTRY_PROFILES` in `words.json`. Nothing
here depends on the seed: a company's industry is a fact about its name.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from captaindata_dagster.simulator.word_lists import words

PROFILES: dict[str, dict[str, Any]] = words()["INDUSTRY_PROFILES"]
INDUSTRIES: tuple[str, ...] = tuple(PROFILES)  # at most 16: a person's id holds one in a hex digit


def _stable(*parts: Any) -> int:
    raw = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def _by_word(field: str) -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for industry, profile in PROFILES.items():
        for word in profile[field]:
            table.setdefault(word, []).append(industry)
    return {word: tuple(found) for word, found in table.items()}


_BY_SUFFIX = _by_word("suffixes")
_BY_KEYWORD = _by_word("keywords")


def slug_industry(slug: str) -> str:
    """The industry a company slug names: by its last word ("-energy", "-foods"), else by any
    word a search would use for an industry ("acme-fintech"), else one chosen by the slug's hash.

    Example:
        >>> slug_industry("solar-energy")
        'Renewable Energy'
    """
    parts = [w for w in re.split(r"[-_%\s]+", slug.lower()) if w]
    for table, candidates in ((_BY_SUFFIX, parts[-1:]), (_BY_KEYWORD, parts)):
        for word in candidates:
            if word in table:
                options = table[word]
                return options[_stable("industry", slug) % len(options)]
    return INDUSTRIES[_stable("industry", slug) % len(INDUSTRIES)]


def industry_in(tokens: Iterable[str]) -> str | None:
    """The industry one of a search's words names ("saas", "fintech"...), or None.

    Example:
        >>> industry_in(["cto", "saas"])
        'Software Development'
    """
    for token in tokens:
        if token in _BY_KEYWORD:
            return _BY_KEYWORD[token][0]
    return None


def employees_at_most(industry: str) -> int:
    """The largest headcount a company of the industry has here (a VC firm is never 5,000 people).

    Example:
        >>> employees_at_most("Venture Capital and Private Equity")
        150
    """
    return int(PROFILES.get(industry, {}).get("max_employees", 8000))


@dataclass(frozen=True)
class CompanyProse:
    """What a company says about itself, in its industry's words."""

    tagline: str
    description: str
    specialties: tuple[str, ...]


def company_prose(
    r: random.Random, name: str, industry: str, city: str, founded: int, employees: int
) -> CompanyProse:
    """A tagline, a description of two sentences and specialties that agree with the industry,
    the headquarters, the founding year and the size given.

    Args:
        r: the company's own random stream (so the same company always reads the same).
        name, industry, city, founded, employees: the facts the prose must agree with.

    Example:
        >>> prose = company_prose(random.Random(1), "Solar Energy", "Renewable Energy", "Lyon",
        ...                       2015, 120)
        >>> prose.description.startswith("Solar Energy ")
        True
    """
    profile = PROFILES.get(industry) or PROFILES[INDUSTRIES[0]]
    offer, customers = r.choice(profile["offers"])  # what it offers, and to whom it may
    customers = r.choice(customers)
    size = f"a team of {employees}" if employees < 50 else f"about {_round(employees):,} people"
    description = (
        f"{name} {offer} for {customers}. Founded in {founded} and based in {city}, it employs "
        f"{size}."
    )
    specialties = profile["specialties"]
    picked = r.sample(specialties, min(len(specialties), 4))
    return CompanyProse(
        f"{offer[0].upper()}{offer[1:]} for {customers}", description, tuple(picked)
    )


def _round(n: int) -> int:
    """A headcount as a company page rounds it: to tens below 1,000, to hundreds above."""
    step = 10 if n < 1000 else 100
    return max(step, round(n / step) * step)
