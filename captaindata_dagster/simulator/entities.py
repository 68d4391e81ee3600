"""The people and companies behind the synthetic data, and the hashes everything is derived from.

Everything is derived from hashes of (seed, what was asked), never from a shared random stream, so a
value does not depend on the order or number of calls. Entities chain like the real data: a profile
URL extracts the person it names, who works at a company whose LinkedIn URL extracts that company.
The word lists live in `words.json` (`word_lists`); a person's id carries their title, city and
company's industry, so a search can find people who match it (`search_terms`).
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from captaindata_dagster.simulator.industries import (
    INDUSTRIES,
    company_prose,
    employees_at_most,
    slug_industry,
)
from captaindata_dagster.simulator.word_lists import words


def _tuple(name: str) -> tuple[Any, ...]:
    return tuple(tuple(x) if isinstance(x, list) else x for x in words()[name])


FIRST_NAMES: tuple[str, ...] = _tuple("FIRST_NAMES")
LAST_NAMES: tuple[str, ...] = _tuple("LAST_NAMES")
_TITLE_ROWS: tuple[tuple[str, str, str], ...] = _tuple("JOB_TITLES")  # title, field, other words
JOB_TITLES: tuple[str, ...] = tuple(row[0] for row in _TITLE_ROWS)
COMPANY_PREFIXES: tuple[str, ...] = _tuple("COMPANY_PREFIXES")
COMPANY_SUFFIXES: tuple[str, ...] = _tuple("COMPANY_SUFFIXES")
COMPANIES = tuple(f"{p}-{s}" for p in COMPANY_PREFIXES for s in COMPANY_SUFFIXES)  # 800 slugs
CITIES: tuple[tuple[str, str, str, str, str], ...] = _tuple("CITIES")  # city, region, country...
SCHOOLS: tuple[tuple[str, str], ...] = _tuple("SCHOOLS")  # name, LinkedIn slug
SKILLS: tuple[str, ...] = _tuple("SKILLS")
FIELD_SKILLS: dict[str, list[str]] = words()["FIELD_SKILLS"]  # a title's field -> its skills
LANGUAGES: tuple[str, ...] = _tuple("LANGUAGES")
WORDS: tuple[str, ...] = _tuple("WORDS")
CERTIFICATIONS: tuple[str, ...] = _tuple("CERTIFICATIONS")
STREETS: tuple[str, ...] = _tuple("STREETS")
PLACE_CATEGORIES: tuple[str, ...] = _tuple("PLACE_CATEGORIES")
# our companies by industry, so a person's id can name the industry of their company
_BY_INDUSTRY: dict[str, tuple[str, ...]] = {
    industry: tuple(slug for slug in COMPANIES if slug_industry(slug) == industry)
    for industry in INDUSTRIES
}

BASE_DAY = date(2025, 6, 1)  # fixed, so dates do not depend on when the simulator runs
_COMPANY_ID_BASE = 10_000_000
_COMPANY_ID_STEP = 1009

# ---------------------------------------------------------------------------------------------
# hashing helpers


def h(*parts: Any) -> int:
    """A 64-bit number that depends only on `parts`."""
    raw = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def short_hash(*parts: Any, n: int = 10) -> str:
    """`n` hex digits that depend only on `parts` (stable across processes and runs)."""
    raw = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()[:n]


def rng(*parts: Any) -> random.Random:
    return random.Random(h(*parts))


def iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def base_datetime() -> datetime:
    return datetime(BASE_DAY.year, BASE_DAY.month, BASE_DAY.day, 12, tzinfo=timezone.utc)


def past_datetime(r: random.Random, max_days: int = 720) -> str:
    start = base_datetime()
    return iso(start - timedelta(days=r.randrange(max_days), seconds=r.randrange(86400)))


def past_date(r: random.Random, max_days: int = 3650) -> str:
    return (BASE_DAY - timedelta(days=r.randrange(max_days))).isoformat()


def sentence(r: random.Random, n: int = 10) -> str:
    return " ".join(r.choice(WORDS) for _ in range(n)).capitalize() + "."


def school_id(slug: str) -> str:
    """The numeric LinkedIn id of a school page (as text)."""
    return str(10_000 + h("school-id", slug) % 990_000)


# ---------------------------------------------------------------------------------------------
# companies


@dataclass(frozen=True)
class Company:
    slug: str
    name: str
    id: int
    domain: str
    industry: str
    employees: int
    founded: int
    followers: int
    city: tuple[str, str, str, str, str]
    tagline: str
    description: str
    specialties: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"https://www.linkedin.com/company/{self.slug}/"

    @property
    def sales_navigator_url(self) -> str:
        return f"https://www.linkedin.com/sales/company/{self.id}"

    @property
    def employees_search_url(self) -> str:
        return (
            f"https://www.linkedin.com/search/results/people/?currentCompany=%5B%22{self.id}%22%5D"
        )

    @property
    def sales_navigator_employees_url(self) -> str:
        return (
            "https://www.linkedin.com/sales/search/people?query=(filters:List(("
            "type:CURRENT_COMPANY,"
            f"values:List((id:urn%3Ali%3Aorganization%3A{self.id})))))"
        )

    @property
    def logo_url(self) -> str:
        return f"https://media.licdn.com/dms/image/company-logo/{self.id}.png"

    @property
    def employees_range(self) -> str:
        for low, high in ((1, 10), (11, 50), (51, 200), (201, 500), (501, 1000), (1001, 5000)):
            if self.employees <= high:
                return f"{low}-{high}"
        return "5001-10000"


@lru_cache(maxsize=4096)
def company(seed: int, slug: str) -> Company:
    """The company behind a LinkedIn company slug (any slug works; ours read as names)."""
    r = rng(seed, "company", slug)
    if slug in _COMPANY_INDEX:
        cid = _COMPANY_ID_BASE + _COMPANY_INDEX[slug] * _COMPANY_ID_STEP
    else:
        cid = 20_000_000 + h("company-id", slug) % 9_000_000
    parts = [w for w in re.split(r"[-_%\s]+", slug) if w and not w.isdigit()]
    name = " ".join(w.upper() if w == "ai" else w.capitalize() for w in parts) or f"Company {cid}"
    domain = "".join(parts) or f"company{cid}"
    industry = slug_industry(slug)
    employees = int(10 ** r.uniform(1, math.log10(employees_at_most(industry))))
    founded, city = r.randrange(1995, 2022), r.choice(CITIES)
    prose = company_prose(r, name, industry, city[0], founded, employees)
    return Company(
        slug=slug,
        name=name,
        id=cid,
        domain=f"{domain}.example.com",
        industry=industry,
        employees=employees,
        founded=founded,
        followers=int(10 ** r.uniform(2, 5.2)),
        city=city,
        tagline=prose.tagline,
        description=prose.description,
        specialties=prose.specialties,
    )


_COMPANY_INDEX = {slug: i for i, slug in enumerate(COMPANIES)}


def company_by_id(seed: int, cid: int | str) -> Company:
    """The company with a LinkedIn / Sales Navigator numeric id."""
    try:
        n = int(cid)
    except (TypeError, ValueError):
        n = h(cid)
    off = n - _COMPANY_ID_BASE
    if off >= 0 and off % _COMPANY_ID_STEP == 0 and off // _COMPANY_ID_STEP < len(COMPANIES):
        return company(seed, COMPANIES[off // _COMPANY_ID_STEP])
    return replace(company(seed, COMPANIES[n % len(COMPANIES)]), id=n)  # keeps the id it was given


def company_from_url(seed: int, url: str) -> Company:
    """The company a LinkedIn or Sales Navigator company URL points at."""
    m = re.search(r"/sales/company/(\d+)", url)
    if m:
        return company_by_id(seed, m.group(1))
    m = re.search(r"/(?:company|school|showcase|pub)/([^/?#\s]+)", url)
    return company(seed, m.group(1).lower() if m else f"company-{short_hash(url, n=6)}")


# ---------------------------------------------------------------------------------------------
# people


@dataclass(frozen=True)
class Person:
    pid: str
    first_name: str
    last_name: str
    handle: str
    linkedin_id: int
    title: str
    company: Company
    past_title: str
    past_company: Company
    city: tuple[str, str, str, str, str]
    school: tuple[str, str]
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    connections: int
    followers: int
    open_to_work: bool
    since_year: int
    field: str  # of the title: "data", "sales"... (its skills and past title are of it too)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def url(self) -> str:
        return f"https://www.linkedin.com/in/{self.handle}"

    @property
    def sales_navigator_id(self) -> str:
        return f"ACwAAB{self.pid}"

    @property
    def sales_navigator_url(self) -> str:
        return (
            f"https://www.linkedin.com/sales/lead/{self.sales_navigator_id},NAME_SEARCH,"
            f"{self.pid[:4]}"
        )

    @property
    def location(self) -> str:
        return f"{self.city[0]}, {self.city[1]}, {self.city[2]}"

    @property
    def headline(self) -> str:
        return f"{self.title} at {self.company.name}"

    @property
    def image_url(self) -> str:
        return f"https://media.licdn.com/dms/image/profile/{self.pid}/displayphoto.jpg"

    @property
    def posts_search_url(self) -> str:
        return (
            "https://www.linkedin.com/search/results/content/?fromMember=%5B%22"
            f"{self.sales_navigator_id}%22%5D"
        )


# A person's id is 10 hex digits: 5 of hash, then their title (2), city (2) and their company's
# industry (1), so a search can find people that match it and a profile URL, which carries the id,
# extracts the same person in any process.
_PID = re.compile(r"^[0-9a-f]{10}$")


def pid_with(
    base: str, title: int | None = None, city: int | None = None, industry: int | None = None
) -> str:
    """A person id from a hash `base` (10 hex digits), with the facets given set in it."""
    t = int(base[5:7], 16) if title is None else title
    c = int(base[7:9], 16) if city is None else city
    i = int(base[9], 16) if industry is None else industry
    return f"{base[:5]}{t:02x}{c:02x}{i:x}"


def _facets(pid: str) -> tuple[int, int, int]:
    """The title, city and industry indexes a person id holds."""
    digits = pid if _PID.match(pid) else short_hash("pid", pid)
    return int(digits[5:7], 16), int(digits[7:9], 16), int(digits[9], 16)


@lru_cache(maxsize=8192)
def person(seed: int, pid: str, handle: str | None = None) -> Person:
    """The person with this id; `handle` keeps a profile URL's own slug when it is not ours."""
    r = rng(seed, "person", pid)
    first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
    t, c, i = _facets(pid)
    title, field, _ = _TITLE_ROWS[t % len(_TITLE_ROWS)]
    same_field = [row[0] for row in _TITLE_ROWS if row[1] == field]
    employers = _BY_INDUSTRY[INDUSTRIES[i % len(INDUSTRIES)]]
    skills = FIELD_SKILLS[field]
    return Person(
        pid=pid,
        first_name=first.capitalize(),
        last_name=last.capitalize(),
        handle=handle or f"{first}-{last}-{pid}",
        linkedin_id=100_000_000 + h("person-id", pid) % 900_000_000,
        title=title,
        company=company(seed, r.choice(employers)),
        past_title=r.choice(same_field),
        past_company=company(seed, r.choice(COMPANIES)),
        city=CITIES[c % len(CITIES)],
        school=r.choice(SCHOOLS),
        skills=tuple(r.sample(skills, r.randrange(3, min(8, len(skills) + 1)))),
        languages=tuple(["English", *r.sample(LANGUAGES[1:], r.randrange(0, 3))]),
        connections=r.randrange(50, 500) if r.random() < 0.7 else 500,
        followers=int(10 ** r.uniform(1.5, 4.5)),
        open_to_work=r.random() < 0.12,
        since_year=r.randrange(2012, 2025),
        field=field,
    )


_OUR_HANDLE = re.compile(r"^[a-z]+-[a-z]+-([0-9a-f]{10})$")
_OUR_SN_ID = re.compile(r"ACwAAB([0-9a-f]{10})")


def person_from_url(seed: int, url: str) -> Person:
    """The person a profile URL (LinkedIn or Sales Navigator) points at."""
    m = _OUR_SN_ID.search(url)
    if m:
        return person(seed, m.group(1))
    m = re.search(r"/(?:in|pub)/([^/?#\s]+)", url)
    if m:
        handle = m.group(1)
        ours = _OUR_HANDLE.match(handle)
        if ours:
            return person(seed, ours.group(1))
        return person(seed, short_hash("handle", handle.lower()), handle)
    return person(seed, short_hash("profile", url))


def account_owner(seed: int) -> Person:
    """The person `linkedin-me` answers with: the other side of every conversation."""
    return person(seed, short_hash(seed, "linkedin-me", "{}"))
