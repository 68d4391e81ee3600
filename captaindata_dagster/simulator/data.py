"""Deterministic synthetic data: the same seed and input always give the same people and companies.

Everything is derived from hashes of (seed, what was asked), never from a shared random stream, so a
result does not depend on the order or number of calls. Entities chain like the real data: a person
found by a search has a profile URL whose extraction gives back the same person, who works at a
company whose LinkedIn URL extracts that company, and so on.

`sample_input(action)` gives a valid input for any catalog action, for tests and demos.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from ..catalog import CUSTOM_DATA, Action, load_catalog

FIRST_NAMES = (
    "alice", "bruno", "camille", "david", "elena", "farid", "grace", "hugo", "ines", "jonas",
    "karim", "laura", "marc", "nadia", "oscar", "paula", "quentin", "rosa", "samuel", "tara",
    "ulrich", "vera", "william", "yasmine", "zoe", "adrien", "beatrice", "cedric", "diane", "emil",
    "fatima", "gael", "helene", "ivan", "julia", "kevin", "lea", "maxime", "nora", "olivier",
    "priya", "raphael", "sofia", "thomas", "amara", "lucas", "mei", "noah", "chloe", "diego",
)  # fmt: skip
LAST_NAMES = (
    "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy",
    "moreau", "simon", "laurent", "lefebvre", "michel", "garcia", "schmidt", "muller", "rossi",
    "ferrari", "silva", "santos", "kowalski", "novak", "jensen", "larsen", "nguyen", "tanaka",
    "kim", "patel", "singh", "okafor", "mensah", "cohen", "levy", "fischer", "weber", "meyer",
    "wagner", "becker", "hoffmann", "lopez", "martinez", "fernandez", "gonzalez", "brown",
    "wilson", "taylor", "walker", "clarke", "murphy",
)  # fmt: skip
JOB_TITLES = (
    "Data Engineer", "Senior Data Engineer", "Analytics Engineer", "Head of Data", "CTO",
    "VP Engineering", "Software Engineer", "Product Manager", "Head of Growth", "Sales Director",
    "Account Executive", "Marketing Manager", "Chief Executive Officer", "Data Scientist",
    "Engineering Manager", "Solutions Architect", "Customer Success Manager", "Recruiter",
    "Operations Manager", "Founder",
)  # fmt: skip
COMPANY_PREFIXES = (
    "north", "blue", "bright", "silver", "cedar", "harbor", "quantum", "atlas", "nova", "pixel",
    "granite", "summit", "vector", "lumen", "orbit", "delta", "maple", "crimson", "river", "solar",
    "iron", "falcon", "cobalt", "aurora", "pioneer", "zenith", "evergreen", "beacon", "horizon",
    "sterling", "polar", "ember", "onyx", "tidal", "meridian", "arcadia", "keystone", "prism",
    "willow", "copper",
)  # fmt: skip
COMPANY_SUFFIXES = (
    "analytics", "labs", "software", "systems", "data", "cloud", "logistics", "health",
    "robotics", "foods", "energy", "capital", "media", "security", "networks", "studio",
    "partners", "works", "ai", "commerce",
)  # fmt: skip
COMPANIES = tuple(f"{p}-{s}" for p in COMPANY_PREFIXES for s in COMPANY_SUFFIXES)  # 800 slugs
INDUSTRIES = (
    "Software Development", "IT Services and IT Consulting", "Financial Services",
    "Hospitals and Health Care", "Truck Transportation", "Food and Beverage Services",
    "Renewable Energy", "Advertising Services", "Computer and Network Security",
    "Robotics Engineering", "Retail", "Venture Capital and Private Equity",
)  # fmt: skip
CITIES = (
    ("Paris", "Île-de-France", "France", "FR", "75002"),
    ("Lyon", "Auvergne-Rhône-Alpes", "France", "FR", "69002"),
    ("Berlin", "Berlin", "Germany", "DE", "10115"),
    ("Munich", "Bavaria", "Germany", "DE", "80331"),
    ("London", "England", "United Kingdom", "GB", "EC2A 4NE"),
    ("Madrid", "Community of Madrid", "Spain", "ES", "28013"),
    ("Amsterdam", "North Holland", "Netherlands", "NL", "1012 JS"),
    ("Brussels", "Brussels Region", "Belgium", "BE", "1000"),
    ("Milan", "Lombardy", "Italy", "IT", "20121"),
    ("New York", "New York", "United States", "US", "10001"),
    ("San Francisco", "California", "United States", "US", "94105"),
    ("Toronto", "Ontario", "Canada", "CA", "M5H 2N2"),
    ("Lisbon", "Lisbon", "Portugal", "PT", "1100-148"),
    ("Stockholm", "Stockholm County", "Sweden", "SE", "111 20"),
)
SCHOOLS = (
    ("Université Paris-Saclay", "universite-paris-saclay"),
    ("Technical University of Munich", "technical-university-of-munich"),
    ("University of Amsterdam", "university-of-amsterdam"),
    ("Politecnico di Milano", "politecnico-di-milano"),
    ("Imperial College London", "imperial-college-london"),
    ("Universidad Politécnica de Madrid", "universidad-politecnica-de-madrid"),
    ("KTH Royal Institute of Technology", "kth-royal-institute-of-technology"),
    ("University of Toronto", "university-of-toronto"),
)
SKILLS = (
    "Python", "SQL", "dbt", "Dagster", "Airflow", "Spark", "Kafka", "Data Modeling", "ETL",
    "Machine Learning", "Kubernetes", "Terraform", "Go", "TypeScript", "Product Strategy",
    "Negotiation", "Leadership", "Salesforce", "Growth Marketing", "Recruiting",
)  # fmt: skip
LANGUAGES = ("English", "French", "German", "Spanish", "Italian", "Portuguese", "Dutch")
WORDS = (
    "pipeline", "platform", "growth", "customer", "insight", "scale", "launch", "team", "roadmap",
    "quality", "market", "signal", "network", "partner", "product", "data", "cloud", "report",
    "strategy", "hiring", "event", "update", "release", "community", "journey", "impact",
)  # fmt: skip
CERTIFICATIONS = (
    "AWS Certified Solutions Architect", "Google Professional Data Engineer",
    "Certified Kubernetes Administrator", "dbt Analytics Engineering Certification",
    "Professional Scrum Master I",
)  # fmt: skip
STREETS = ("Rue de Rivoli", "Main Street", "Hauptstraße", "Calle Mayor", "Via Roma", "High Street")
PLACE_CATEGORIES = ("Restaurant", "Hotel", "Café", "Bakery", "Museum", "Bar", "Bistro")

_BASE_DAY = date(2025, 6, 1)  # fixed, so dates do not depend on when the simulator runs
_COMPANY_ID_BASE = 10_000_000
_COMPANY_ID_STEP = 1009

# ---------------------------------------------------------------------------------------------
# hashing helpers


def _h(*parts: Any) -> int:
    raw = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def short_hash(*parts: Any, n: int = 10) -> str:
    """`n` hex digits that depend only on `parts` (stable across processes and runs)."""
    raw = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()[:n]


def _rng(*parts: Any) -> random.Random:
    return random.Random(_h(*parts))


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _past_datetime(r: random.Random, max_days: int = 720) -> str:
    start = datetime(_BASE_DAY.year, _BASE_DAY.month, _BASE_DAY.day, tzinfo=timezone.utc)
    return _iso(start - timedelta(days=r.randrange(max_days), seconds=r.randrange(86400)))


def _past_date(r: random.Random, max_days: int = 3650) -> str:
    return (_BASE_DAY - timedelta(days=r.randrange(max_days))).isoformat()


def _sentence(r: random.Random, n: int = 10) -> str:
    words = [r.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def input_key(value: Mapping[str, Any] | None) -> str:
    """A stable text for an input (without `custom_data`), so equal inputs give equal data."""
    data = {k: v for k, v in (value or {}).items() if k != CUSTOM_DATA}
    return json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# companies and people


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
    def employees_range(self) -> str:
        for low, high in ((1, 10), (11, 50), (51, 200), (201, 500), (501, 1000), (1001, 5000)):
            if self.employees <= high:
                return f"{low}-{high}"
        return "5001-10000"


@lru_cache(maxsize=4096)
def company(seed: int, slug: str) -> Company:
    """The company behind a LinkedIn company slug (any slug works; ours read as names)."""
    r = _rng(seed, "company", slug)
    if slug in _COMPANY_INDEX:
        cid = _COMPANY_ID_BASE + _COMPANY_INDEX[slug] * _COMPANY_ID_STEP
    else:
        cid = 20_000_000 + _h("company-id", slug) % 9_000_000
    words = [w for w in re.split(r"[-_%\s]+", slug) if w and not w.isdigit()]
    name = " ".join(w.upper() if w == "ai" else w.capitalize() for w in words) or f"Company {cid}"
    domain = "".join(words) or f"company{cid}"
    return Company(
        slug=slug,
        name=name,
        id=cid,
        domain=f"{domain}.example.com",
        industry=r.choice(INDUSTRIES),
        employees=int(10 ** r.uniform(1, 3.9)),
        founded=r.randrange(1995, 2022),
        followers=int(10 ** r.uniform(2, 5.2)),
        city=r.choice(CITIES),
    )


_COMPANY_INDEX = {slug: i for i, slug in enumerate(COMPANIES)}


def company_by_id(seed: int, cid: int | str) -> Company:
    """The company with a LinkedIn / Sales Navigator numeric id."""
    try:
        n = int(cid)
    except (TypeError, ValueError):
        n = _h(cid)
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


@lru_cache(maxsize=8192)
def person(seed: int, pid: str, handle: str | None = None) -> Person:
    """The person with this id; `handle` keeps a profile URL's own slug when it is not ours."""
    r = _rng(seed, "person", pid)
    first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
    return Person(
        pid=pid,
        first_name=first.capitalize(),
        last_name=last.capitalize(),
        handle=handle or f"{first}-{last}-{pid}",
        linkedin_id=100_000_000 + _h("person-id", pid) % 900_000_000,
        title=r.choice(JOB_TITLES),
        company=company(seed, r.choice(COMPANIES)),
        past_title=r.choice(JOB_TITLES),
        past_company=company(seed, r.choice(COMPANIES)),
        city=r.choice(CITIES),
        school=r.choice(SCHOOLS),
        skills=tuple(r.sample(SKILLS, r.randrange(3, 8))),
        languages=tuple(["English", *r.sample(LANGUAGES[1:], r.randrange(0, 3))]),
        connections=r.randrange(50, 500) if r.random() < 0.7 else 500,
        followers=int(10 ** r.uniform(1.5, 4.5)),
        open_to_work=r.random() < 0.12,
        since_year=r.randrange(2012, 2025),
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


# ---------------------------------------------------------------------------------------------
# one result


_PERSON_MARKERS = ("full_name", "first_name", "linkedin_profile_url", "author_name")
_COMPANY_INPUTS = (
    "linkedin_company_url",
    "sales_navigator_company_url",
    "linkedin_company_id",
    "sales_navigator_company_id",
)
_PROFILE_INPUTS = (
    "linkedin_profile_url",
    "sales_navigator_profile_url",
    "sales_navigator_profile_id",
)


class _Item:
    """What one result is about, worked out lazily so unrelated fields cost nothing."""

    def __init__(
        self, seed: int, action: Action, inp: Mapping[str, Any], key: str, index: int | None
    ) -> None:
        self.seed = seed
        self.action = action
        self.inp = inp
        self.key = key
        self.index = index
        self.rng = _rng(seed, action.id, key, "item" if index is None else index)
        self._ids: dict[str, str] = {}
        self._person: Person | None = None
        self._company: Company | None = None
        outs = action.output_fields
        self.person_centric = any(m in outs for m in _PERSON_MARKERS)
        self.has_original = "original_linkedin_company_url" in outs

    def ident(self, kind: str, digits: int = 19) -> str:
        """A numeric id (as text) per kind, the same for every field of this item."""
        if kind not in self._ids:
            given = self.inp.get(f"linkedin_{kind}_url")
            m = re.search(r"(\d{5,})", given) if isinstance(given, str) else None
            if m:
                self._ids[kind] = m.group(1)
                return self._ids[kind]
            low = 10 ** (digits - 1)
            self._ids[kind] = str(
                low + _h(self.seed, self.action.id, self.key, self.index, kind) % (9 * low)
            )
        return self._ids[kind]

    @property
    def person(self) -> Person:
        if self._person is None:
            url = next(
                (self.inp[f] for f in _PROFILE_INPUTS if isinstance(self.inp.get(f), str)), None
            )
            if url is not None:
                self._person = person_from_url(self.seed, url)
            elif self.index is not None:
                self._person = person(
                    self.seed, short_hash(self.seed, self.action.id, self.key, self.index)
                )
            else:
                self._person = person(self.seed, short_hash(self.seed, self.action.id, self.key))
        return self._person

    @property
    def input_company(self) -> Company | None:
        for f in _COMPANY_INPUTS:
            v = self.inp.get(f)
            if v is None or v == "":
                continue
            if f.endswith("_url"):
                return company_from_url(self.seed, str(v))
            return company_by_id(self.seed, v)
        return None

    @property
    def company(self) -> Company:
        if self._company is None:
            given = None if self.has_original else self.input_company
            if given is not None:
                self._company = given
            elif self.person_centric:
                self._company = self.person.company
            elif self.index is not None:  # company lists: distinct companies page after page
                start = _h(self.seed, self.action.id, self.key) % len(COMPANIES)
                self._company = company(
                    self.seed, COMPANIES[(start + self.index * 7919) % len(COMPANIES)]
                )
            else:
                self._company = company(
                    self.seed, COMPANIES[_h(self.seed, self.action.id, self.key) % len(COMPANIES)]
                )
        return self._company

    @property
    def original_company(self) -> Company:
        return self.input_company or company(self.seed, COMPANIES[0])


def _thread_id(it: _Item) -> str:
    raw = hashlib.blake2b(f"{it.seed}|thread|{it.person.pid}".encode(), digest_size=16).digest()
    return "2-" + base64.urlsafe_b64encode(raw).decode()


def _post_url(it: _Item, kind: str = "post") -> str:
    return f"https://www.linkedin.com/feed/update/urn:li:activity:{it.ident(kind)}/"


def _experiences(it: _Item) -> list[dict[str, Any]]:
    p = it.person
    return [
        {
            "company_name": p.company.name,
            "linkedin_company_url": p.company.url,
            "linkedin_company_id": p.company.id,
            "job_title": p.title,
            "location": p.location,
            "start_date": f"{p.since_year}-0{1 + p.linkedin_id % 9}",
            "end_date": None,
        },
        {
            "company_name": p.past_company.name,
            "linkedin_company_url": p.past_company.url,
            "linkedin_company_id": p.past_company.id,
            "job_title": p.past_title,
            "location": p.location,
            "start_date": f"{p.since_year - 3}-0{1 + p.linkedin_id % 7}",
            "end_date": f"{p.since_year}-0{1 + p.linkedin_id % 8}",
        },
    ]


def _education(it: _Item) -> list[dict[str, Any]]:
    p = it.person
    return [
        {
            "school_name": p.school[0],
            "linkedin_school_url": f"https://www.linkedin.com/school/{p.school[1]}/",
            "degree": "Master's degree",
            "field_of_study": "Computer Science",
            "start_year": p.since_year - 7,
            "end_year": p.since_year - 5,
        }
    ]


def _locations(c: Company) -> list[dict[str, Any]]:
    city, region, country, code, postal = c.city
    return [
        {
            "city": city,
            "geographic_area": region,
            "country": code,
            "postal_code": postal,
            "headquarter": True,
        }
    ]


_F = {
    # people
    "first_name": lambda it: it.person.first_name,
    "last_name": lambda it: it.person.last_name,
    "full_name": lambda it: it.person.full_name,
    "profile_full_name": lambda it: it.person.full_name,
    "author_name": lambda it: it.person.full_name,
    "reviewer_name": lambda it: it.person.full_name,
    "linkedin_profile_handle": lambda it: it.person.handle,
    "handle": lambda it: it.person.handle,
    "linkedin_profile_url": lambda it: it.person.url,
    "linkedin_url": lambda it: it.person.url,
    "linkedin_profile_id": lambda it: it.person.linkedin_id,
    "id": lambda it: it.person.linkedin_id,
    "object_urn": lambda it: f"urn:li:fsd_profile:{it.person.sales_navigator_id}",
    "sales_navigator_profile_id": lambda it: it.person.sales_navigator_id,
    "sales_navigator_profile_url": lambda it: it.person.sales_navigator_url,
    "headline": lambda it: f"{it.person.title} at {it.company.name}",
    "job_title": lambda it: it.person.title,
    "current_title": lambda it: it.person.title,
    "target_job_title": lambda it: it.person.title,
    "summary": lambda it: (
        f"{it.person.title} building data products at {it.company.name}. "
        + _sentence(it.rng, 8)
    ),
    "location": lambda it: it.person.location if it.person_centric else _company_location(it),
    "profile_country": lambda it: it.person.city[3],
    "profile_language": lambda it: "en",
    "profile_image_url": lambda it: _image(it),
    "linkedin_profile_picture": lambda it: _image(it),
    "linkedin_profile_image_url": lambda it: _image(it),
    "number_connections": lambda it: it.person.connections,
    "number_followers": lambda it: it.person.followers,
    "open_to_work": lambda it: it.person.open_to_work,
    "skills": lambda it: list(it.person.skills),
    "languages": lambda it: list(it.person.languages),
    "experiences": _experiences,
    "education": _education,
    "educations": _education,
    "school_name": lambda it: it.person.school[0],
    "linkedin_school_url": lambda it: f"https://www.linkedin.com/school/{it.person.school[1]}/",
    "volunteer_experiences": lambda it: [],
    "birth_date": lambda it: None,
    "premium_subscriber": lambda it: it.person.linkedin_id % 3 == 0,
    "twitter": lambda it: f"@{it.person.first_name.lower()}{it.person.last_name.lower()}",
    "email": lambda it: (
        f"{it.person.first_name.lower()}.{it.person.last_name.lower()}@{it.person.company.domain}"
    ),
    "linkedin_people_post_search_url": lambda it: (
        "https://www.linkedin.com/search/results/content/?fromMember=%5B%22"
        f"{it.person.sales_navigator_id}%22%5D"
    ),
    "shared_connection_search_url": lambda it: (
        "https://www.linkedin.com/search/results/people/?facetConnectionOf=%5B%22"
        f"{it.person.sales_navigator_id}%22%5D&network=%5B%22F%22%5D"
    ),
    "past_company_name": lambda it: it.person.past_company.name,
    "past_job_title": lambda it: it.person.past_title,
    "past_linkedin_company_id": lambda it: it.person.past_company.id,
    "past_sales_navigator_company_id": lambda it: it.person.past_company.id,
    "past_linkedin_company_url": lambda it: it.person.past_company.url,
    "linkedin_thread_id": _thread_id,
    "linkedin_thread_url": lambda it: (
        f"https://www.linkedin.com/messaging/thread/{_thread_id(it)}/"
    ),
    # companies
    "company_name": lambda it: it.company.name,
    "current_company": lambda it: it.company.name,
    "linkedin_company_url": lambda it: it.company.url,
    "linkedin_company_id": lambda it: it.company.id,
    "linkedin_company_handle": lambda it: it.company.slug,
    "sales_navigator_company_id": lambda it: it.company.id,
    "sales_navigator_company_url": lambda it: it.company.sales_navigator_url,
    "website": lambda it: f"https://www.{it.company.domain}",
    "domain": lambda it: it.company.domain,
    "industry": lambda it: it.company.industry,
    "industries": lambda it: [it.company.industry],
    "industries_v1": lambda it: [it.company.industry],
    "tagline": lambda it: f"{it.company.industry} for teams that ship",
    "short_description": lambda it: f"{it.company.industry} for teams that ship",
    "specialties": lambda it: it.rng.sample(SKILLS, 4),
    "type": lambda it: "Full-time" if "job" in it.action.id else "Privately Held",
    "title": lambda it: (
        it.rng.choice(CERTIFICATIONS) if "credential_id" in it.action.output_fields
        else it.person.title
    ),
    "connection_degree": lambda it: _degree(it),
    "linkedin_connection_degree": lambda it: _degree(it),
    "liker_connection_degree": lambda it: _degree(it),
    "address": lambda it: (
        f"{it.rng.randrange(1, 120)} {it.rng.choice(STREETS)}, {it.rng.choice(CITIES)[0]}"
    ),
    "job_location": lambda it: _company_location(it),
    "participants": lambda it: [
        {"full_name": it.person.full_name, "linkedin_profile_url": it.person.url}
    ],
    "phones": lambda it: [_phone(it)],
    "membership_status": lambda it: "member",
    "reaction": lambda it: "like",
    "source": lambda it: "Google" if it.action.id.startswith("googlemaps") else "LinkedIn",
    "founded_on": lambda it: it.company.founded,
    "followers_count": lambda it: it.company.followers,
    "followers": lambda it: it.company.followers,
    "number_employees": lambda it: it.company.employees,
    "total_employee_count": lambda it: it.company.employees,
    "employees_range": lambda it: it.company.employees_range,
    "linkedin_employees_url": lambda it: it.company.employees_search_url,
    "sales_navigator_employees_url": lambda it: it.company.sales_navigator_employees_url,
    "sales_navigator_employee_url": lambda it: it.company.sales_navigator_employees_url,
    "sales_navigator_profile_search_url": lambda it: it.company.sales_navigator_employees_url,
    "sales_navigator_search_url": lambda it: it.company.sales_navigator_employees_url,
    "linkedin_job_search_url": lambda it: (
        f"https://www.linkedin.com/jobs/search/?f_C={it.company.id}"
    ),
    "linkedin_company_phone": lambda it: _phone(it),
    "country": lambda it: it.company.city[3],
    "geographic_area": lambda it: it.company.city[1],
    "city": lambda it: it.company.city[0] if it.action.id.startswith("linkedin") else _city(it),
    "postal_code": lambda it: it.company.city[4],
    "headquarters": lambda it: f"{it.company.city[0]}, {it.company.city[2]}",
    "locations": lambda it: _locations(it.company),
    "number_of_locations": lambda it: 1,
    "logo_url": lambda it: f"https://media.licdn.com/dms/image/company-logo/{it.company.id}.png",
    "crunchbase_company_url": lambda it: (
        f"https://www.crunchbase.com/organization/{it.company.slug}"
    ),
    "last_funding_investors": lambda it: [
        f"{it.rng.choice(COMPANY_PREFIXES).capitalize()} Ventures"
    ],
    "last_funding_type": lambda it: it.rng.choice(("Seed", "Series A", "Series B", "Series C")),
    "last_funding_raised": lambda it: it.rng.randrange(1, 80) * 500_000,
    "last_funding_currency": lambda it: "USD",
    "linkedin_school_id": lambda it: None,
    "linkedin_page_claimed": lambda it: True,
    "affiliates": lambda it: [],
    "affiliate_status": lambda it: "affiliated",
    "original_company_name": lambda it: it.original_company.name,
    "original_linkedin_company_id": lambda it: it.original_company.id,
    "original_linkedin_company_url": lambda it: it.original_company.url,
    # content
    "linkedin_post_url": lambda it: _post_url(it),
    "linkedin_post_id": lambda it: it.ident("post"),
    "linkedin_original_post_url": lambda it: _post_url(it, "original_post"),
    "linkedin_comment_url": lambda it: (
        f"{_post_url(it)}?commentUrn=urn%3Ali%3Acomment%3A%28activity%3A{it.ident('post')}"
        f"%2C{it.ident('comment')}%29"
    ),
    "linkedin_event_url": lambda it: f"https://www.linkedin.com/events/{it.ident('event')}/",
    "linkedin_group_url": lambda it: f"https://www.linkedin.com/groups/{it.ident('group', 7)}/",
    "linkedin_group_id": lambda it: it.ident("group", 7),
    "linkedin_event_id": lambda it: it.ident("event"),
    "linkedin_comment_id": lambda it: it.ident("comment"),
    "linkedin_job_url": lambda it: f"https://www.linkedin.com/jobs/view/{it.ident('job', 10)}/",
    "linkedin_job_id": lambda it: it.ident("job", 10),
    "linkedin_job_application_url": lambda it: (
        f"https://careers.{it.company.domain}/jobs/{it.ident('job', 10)}"
    ),
    "content_text": lambda it: _sentence(it.rng, 18),
    "comment_text": lambda it: _sentence(it.rng, 9),
    "content": lambda it: _sentence(it.rng, 14),
    "message": lambda it: _sentence(it.rng, 12),
    "description": lambda it: _sentence(it.rng, 16),
    "category": lambda it: (
        it.company.industry if "linkedin" in it.action.id or "navigator" in it.action.id
        else it.rng.choice(PLACE_CATEGORIES)
    ),
}  # fmt: skip


def _degree(it: _Item) -> str:
    return it.rng.choice(("1st", "2nd", "2nd", "3rd"))


def _image(it: _Item) -> str:
    return f"https://media.licdn.com/dms/image/profile/{it.person.pid}/displayphoto.jpg"


def _phone(it: _Item) -> str:
    r = it.rng
    return "+33 1 " + " ".join(str(r.randrange(10, 99)) for _ in range(4))


def _city(it: _Item) -> str:
    return it.rng.choice(CITIES)[0]


def _company_location(it: _Item) -> str:
    return f"{it.company.city[0]}, {it.company.city[2]}"


_BOOLS = {
    "connected", "pending", "read", "sponsored", "viewed", "new", "remote", "remote_allowed",
    "followed", "job_seeker", "reply", "recently_declined",
}  # fmt: skip
_LISTS = {
    "attachments", "participants", "messages", "speakers", "photos", "amenities",
    "hidden_amenities", "categories", "departments", "hyperlinks", "awards", "monthly_headcounts",
    "twitter_handles", "fields_of_study", "connection_degrees", "functions", "schools",
    "services_available", "shared_connection_profile_urls",
}  # fmt: skip
_DICTS = {"breakdown_grade", "additional_info", "opening_hours", "open_hours", "details"}


def _url(name: str, it: _Item) -> str:
    r = it.rng
    if name.startswith("google_maps"):
        kind = name.removeprefix("google_maps_").removesuffix("_url")
        return f"https://www.google.com/maps/place/{kind}-{it.ident(kind, 12)}/"
    if it.action.id.startswith("thefork") and name == "property_url":
        return f"https://www.thefork.com/restaurant/bistro-r{it.ident('property', 6)}"
    if name.startswith("tripadvisor") or name == "property_url":
        if "hotel" in name:
            page = f"Hotel_Review-g187147-d{it.ident('property', 7)}-Reviews"
        elif "restaurant" in name:
            page = f"Restaurant_Review-g187147-d{it.ident('property', 7)}-Reviews"
        elif "reviewer" in name:
            page = f"Profile/{it.person.first_name}{it.person.pid[:4]}"
        else:
            page = f"ShowUserReviews-g187147-d{it.ident('property', 7)}-r{it.ident('review', 9)}"
        return f"https://www.tripadvisor.com/{page}.html"
    if "image" in name or "img" in name or "picture" in name or "photo" in name:
        return f"https://media.example.com/images/{name}/{it.ident(name, 12)}.jpg"
    if "reaction" in name:
        return f"{_post_url(it)}?reaction={it.ident('reaction', 12)}"
    if "linkedin" in name or "sales_navigator" in name:
        return f"https://www.linkedin.com/{name.removesuffix('_url')}/{it.ident(name, 12)}/"
    return f"https://www.example.com/{name.removesuffix('_url')}/{r.randrange(10**6, 10**7)}"


def _value(name: str, it: _Item) -> Any:
    """A plausible value for one output field, by exact name first, then by the name's shape."""
    if (
        name in it.inp
        and name != CUSTOM_DATA
        and not (it.has_original and f"original_{name}" in it.action.output_fields)
    ):
        return it.inp[name]
    fn = _F.get(name)
    if fn is not None:
        return fn(it)
    r = it.rng
    if name in _DICTS:
        return {w: r.randrange(1, 100) for w in r.sample(WORDS, 3)}
    if name in _LISTS:
        if name.endswith(("_urls", "_url")):
            return [f"{it.person.url}-{i}" for i in range(r.randrange(0, 3))]
        return [r.choice(WORDS) for _ in range(r.randrange(1, 4))]
    if name.endswith(("_url", "_link", "_img", "_picture", "_image")) or name == "url":
        return _url(name, it)
    if name.endswith("_type"):
        if "reaction" in name:
            return r.choice(("LIKE", "PRAISE", "EMPATHY", "INTEREST"))
        return r.choice(("post", "article", "repost"))
    if name.endswith("_language"):
        return r.choice(("en", "fr", "de"))
    if name.endswith("_urn"):
        return f"urn:li:{name.split('_')[-2]}:{it.ident(name)}"
    if name in _BOOLS or name.startswith(("is_", "has_", "recently_", "closed_")):
        return name == "is_sent" or r.random() < 0.2
    if name.endswith("_id") or name in ("credential_id", "invitation_secret"):
        kind = name.removesuffix("_id").split("_")[-1]
        return it.ident(kind, 12)
    if name.endswith(("_at", "_date", "_datetime", "_time", "timestamp")) or name in (
        "date",
        "tenure_start",
        "tenure_end",
    ):
        return _past_date(r, 720) if name.endswith("date") else _past_datetime(r)
    if "latitude" in name:
        return round(r.uniform(43.0, 52.0), 6)
    if "longitude" in name:
        return round(r.uniform(-1.5, 13.0), 6)
    if name in ("rating", "grade", "review_rating", "stars") or name.endswith("_grade"):
        return round(r.uniform(3.0, 5.0), 1)
    if "count" in name or name.startswith(("number_", "total_", "leads_", "new_")) or name in (
        "members", "attendees", "position", "tenure_length", "employee_median_tenure",
        "author_number_of_reviews", "ranking",
    ):  # fmt: skip
        return r.randrange(0, 500)
    if name == "phone":
        return _phone(it)
    if name.endswith("name") or name in ("title", "name", "property", "source"):
        return " ".join(w.capitalize() for w in r.sample(WORDS, 2))
    if name in ("answer", "review_comment", "review_response", "translated_content",
                "translated_answer", "event_information", "job_description", "last_message",
                "last_reply", "author_comment_reply", "comment", "review_title"):  # fmt: skip
        return _sentence(r, 10)
    return r.choice(WORDS)


def make_result(
    action: Action, seed: int, value: Mapping[str, Any] | None, index: int | None = None
) -> dict[str, Any]:
    """One result of `action` for an input: every catalog output field, plus `custom_data` echoed.

    `index` is the position in a list result (None for object actions); results for the same
    (seed, action, input, index) are always the same.
    """
    inp = action.canonical_input(value)
    it = _Item(seed, action, inp, input_key(inp), index)
    types = action.output_types
    out = {name: _as_declared(_value(name, it), types.get(name)) for name in action.output_fields}
    if isinstance(inp.get(CUSTOM_DATA), Mapping):
        out[CUSTOM_DATA] = inp[CUSTOM_DATA]
    return out


def list_total(action: Action, seed: int, value: Mapping[str, Any] | None) -> int:
    """How many results a list action has for an input: 15..400 when paginated, else 3..8."""
    key = input_key(action.canonical_input(value))
    h = _h(seed, action.id, key, "total")
    if action.pagination is None:
        return 3 + h % 6
    return 15 + h % 386


def make_page(
    action: Action, seed: int, value: Mapping[str, Any] | None, start: int, stop: int
) -> list[dict[str, Any]]:
    """Results `start` (0-based, included) to `stop` (excluded) of a list action."""
    return [make_result(action, seed, value, i) for i in range(start, stop)]


def attachment_bytes(seed: int, url: str) -> bytes:
    """The bytes of a downloaded attachment: a small deterministic PDF-looking blob."""
    body = hashlib.blake2b(f"{seed}|{url}".encode(), digest_size=64).digest() * 8
    return b"%PDF-1.4\n% captaindata simulator attachment\n" + body + b"\n%%EOF\n"


# ---------------------------------------------------------------------------------------------
# sample inputs

_LI = "https://www.linkedin.com"
_TA = "https://www.tripadvisor.com"
_SAMPLES: dict[str, str] = {
    "linkedin_profile_url": _LI + "/in/sample-person-{n}",
    "linkedin_company_url": _LI + "/company/sample-company-{n}/",
    "linkedin_company_id": "{id}",
    "linkedin_post_url": _LI + "/feed/update/urn:li:activity:71{id19}/",
    "linkedin_comment_url": _LI + "/feed/update/urn:li:activity:71{id19}/",
    "linkedin_event_url": _LI + "/events/71{id19}/",
    "linkedin_group_url": _LI + "/groups/{id}/",
    "linkedin_job_url": _LI + "/jobs/view/38{id}/",
    "linkedin_school_url": _LI + "/school/sample-school-{n}/",
    "linkedin_thread_id": "2-U2FtcGxlVGhyZWFk{n}==",
    "linkedin_thread_url": _LI + "/messaging/thread/2-U2FtcGxlVGhyZWFk{n}==/",
    "url": _LI + "/dms/prv/attachment/sample-{n}",
    "linkedin_people_search_url": _LI + "/search/results/people/?keywords=data%20engineer&sid={n}",
    "linkedin_company_search_url": _LI + "/search/results/companies/?keywords=analytics&n={n}",
    "linkedin_content_search_url": _LI + "/search/results/content/?keywords=dagster&n={n}",
    "linkedin_event_search_url": _LI + "/search/results/events/?keywords=data&n={n}",
    "linkedin_group_search_url": _LI + "/search/results/groups/?keywords=data&n={n}",
    "linkedin_school_search_url": _LI + "/search/results/schools/?keywords=engineering&n={n}",
    "linkedin_job_search_url": _LI + "/jobs/search/?keywords=data%20engineer&n={n}",
    "linkedin_recruiter_search_url": _LI + "/talent/search?searchContextId=sample-{n}",
    "sales_navigator_profile_url": _LI + "/sales/lead/ACwAAASample{n},NAME_SEARCH,smpl",
    "sales_navigator_profile_id": "ACwAAASample{n}",
    "sales_navigator_company_url": _LI + "/sales/company/{id}",
    "sales_navigator_company_id": "{id}",
    "sales_navigator_company_list_url": _LI + "/sales/lists/company/70{id}",
    "sales_navigator_profile_list_url": _LI + "/sales/lists/people/70{id}",
    "sales_navigator_company_search_url": _LI + "/sales/search/company?query=(keywords:data)&n={n}",
    "sales_navigator_profile_search_url": _LI + "/sales/search/people?query=(keywords:cto)&n={n}",
    "google_maps_place_url": "https://www.google.com/maps/place/Sample+Place+{n}/",
    "google_maps_search_url": "https://www.google.com/maps/search/restaurants+paris+{n}/",
    "tripadvisor_hotel_url": _TA + "/Hotel_Review-g187147-d{id}-Reviews-Sample.html",
    "tripadvisor_restaurant_url": _TA + "/Restaurant_Review-g187147-d{id}-Reviews-Sample.html",
    "tripadvisor_reviews_url": _TA + "/Hotel_Review-g187147-d{id}-Reviews-Sample.html",
    "tripadvisor_search_url": _TA + "/Hotels-g187147-Paris-Hotels.html?n={n}",
    "thefork_reviews_url": "https://www.thefork.com/restaurant/sample-bistro-r{id}/reviews",
}


def _as_declared(value: Any, kind: str | None) -> Any:
    """Where the spec declares an integer, say it as one: a degree "2nd" is 2 (Sales Navigator),
    a time is epoch milliseconds. Other values are already what their name makes them."""
    if kind != "integer" or not isinstance(value, str):
        return value
    if re.fullmatch(r"\d(st|nd|rd|th)", value):
        return int(value[0])
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return value


def sample_value(field_name: str, n: int = 0, type_: str = "string") -> Any:
    """A valid value for an input field by name; `n` makes distinct values (n=0, 1, 2...)."""
    n = abs(int(n))
    template = _SAMPLES.get(field_name, "sample-{n}")
    text = template.format(n=n, id=1_234_567 + n, id19=f"{n:017d}")
    if type_ in ("number", "integer"):
        return int(text) if text.isdigit() else 1_234_567 + n
    return text


def sample_input(action: Action | str, n: int = 0) -> dict[str, Any]:
    """A minimal valid input for any catalog action (`{}` for actions that take none).

    Pass `n` to get different valid inputs (another profile, another search...).
    """
    if isinstance(action, str):
        found = load_catalog().get(action)
        if found is None:
            raise KeyError(f"unknown action {action!r}")
        action = found
    if not action.accepts_input:
        return {}
    names = [f.name for f in action.input_fields.values() if f.required]
    if action.required_any and not names:
        names = list(action.required_any[0])
    if not names and action.input_fields:
        names = [next(iter(action.input_fields))]
    return {
        name: sample_value(name, n, action.input_fields[name].type)
        for name in names
        if name in action.input_fields
    }
