"""What one result is about (`Item`), and the nested records it holds (`PARTS`).

An `Item` works out lazily which person and company a result describes, from the input when it
names one, else from hashes of (seed, action, input, index). `item.child(tag)` describes a nested
record (an experience, a speaker, a message): by default the same person and company, with its own
random stream and ids. `PARTS[name](item)` gives the records of a nested field as `Part`s: a context
plus the values known for it; the schema walker fills every other declared property by name.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, NamedTuple

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.simulator.entities import (
    CITIES,
    COMPANIES,
    COMPANY_PREFIXES,
    SCHOOLS,
    STREETS,
    Company,
    Person,
    account_owner,
    base_datetime,
    company,
    company_by_id,
    company_from_url,
    h,
    iso,
    person,
    person_from_url,
    rng,
    school_id,
    sentence,
    short_hash,
)
from captaindata_dagster.simulator.search_terms import SEARCH_INPUTS, matching_pid
from captaindata_dagster.simulator.word_lists import words

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


class Item:
    """What one result (or one nested record of it) is about, worked out lazily."""

    def __init__(
        self,
        seed: int,
        action: Action,
        inp: Mapping[str, Any],
        key: str,
        index: int | None,
        parent: Item | None = None,
    ) -> None:
        self.seed = seed
        self.action = action
        self.inp = inp
        self.key = key
        self.index = index
        self.parent = parent
        self._rng: random.Random | None = None
        self._ids: dict[str, str] = {}
        self._person: Person | None = None
        self._company: Company | None = None
        outs = action.output_fields
        self.person_centric = (
            parent.person_centric if parent else any(m in outs for m in _PERSON_MARKERS)
        )
        self.has_original = parent is None and "original_linkedin_company_url" in outs

    @property
    def rng(self) -> random.Random:
        """This record's own random stream (made on first use: many records never need one)."""
        if self._rng is None:
            index = "item" if self.index is None else self.index
            self._rng = rng(self.seed, self.action.id, self.key, index)
        return self._rng

    def child(self, tag: str, *, who: Person | None = None, at: Company | None = None) -> Item:
        """A nested record: the same person and company unless `who` / `at` say otherwise."""
        sub = Item(self.seed, self.action, {}, f"{self.key}|{tag}", self.index, parent=self)
        if who is not None:
            sub._person, sub._company, sub.person_centric = who, who.company, True
        if at is not None:
            sub._company = at
        return sub

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
                low + h(self.seed, self.action.id, self.key, self.index, kind) % (9 * low)
            )
        return self._ids[kind]

    @property
    def person(self) -> Person:
        if self._person is None:
            self._person = self.parent.person if self.parent else self._own_person()
        return self._person

    def _own_person(self) -> Person:
        url = next((self.inp[f] for f in _PROFILE_INPUTS if isinstance(self.inp.get(f), str)), None)
        if url is not None:
            return person_from_url(self.seed, url)
        if self.index is not None:  # a list: people who match its search, if it is one
            base = short_hash(self.seed, self.action.id, self.key, self.index)
            search = next(
                (self.inp[f] for f in SEARCH_INPUTS if isinstance(self.inp.get(f), str)), None
            )
            return person(self.seed, base if search is None else matching_pid(base, search))
        return person(self.seed, short_hash(self.seed, self.action.id, self.key))

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
            self._company = self.parent.company if self.parent else self._own_company()
        return self._company

    def _own_company(self) -> Company:
        given = None if self.has_original else self.input_company
        if given is not None:
            return given
        if self.person_centric:
            return self.person.company
        start = h(self.seed, self.action.id, self.key) % len(COMPANIES)
        if self.index is not None:  # company lists: distinct companies page after page
            return company(self.seed, COMPANIES[(start + self.index * 7919) % len(COMPANIES)])
        return company(self.seed, COMPANIES[start])

    @property
    def original_company(self) -> Company:
        if self.parent is not None:
            return self.parent.original_company
        return self.input_company or company(self.seed, COMPANIES[0])


class Part(NamedTuple):
    """One nested record: the context its fields are named from, and the values already known."""

    it: Item
    values: Mapping[str, Any]


# ---------------------------------------------------------------------------------------------
# nested records, by field name


def _other_company(it: Item, tag: str) -> Company:
    return company(it.seed, COMPANIES[h(it.seed, it.key, it.index, tag) % len(COMPANIES)])


def _other_person(it: Item, tag: str) -> Person:
    return person(it.seed, short_hash(it.seed, it.key, it.index, tag))


def _month(year: int, n: int) -> str:
    return f"{('Jan', 'Mar', 'Apr', 'Jun', 'Sep', 'Oct', 'Nov')[n % 7]} {year}"


def _experiences(it: Item) -> list[Part]:
    p = it.person
    now = (p.company, p.title, p.since_year, None)
    before = (p.past_company, p.past_title, p.since_year - 3, p.since_year)
    parts = []
    for i, (c, title, start, end) in enumerate((now, before)):
        years = (end or 2025) - start
        parts.append(
            Part(
                it.child(f"experience{i}", at=c),
                {
                    "title": title,
                    "job_title": title,
                    "company_id": str(c.id),
                    "company_description": c.tagline,
                    "date": f"{_month(start, p.linkedin_id)} - "
                    + (_month(end, p.linkedin_id + 1) if end else "Present"),
                    "job_time_period": f"{years} yrs" if years > 1 else "1 yr",
                    "start_date": f"{start}-0{1 + p.linkedin_id % 9}",
                    "end_date": f"{end}-0{1 + p.linkedin_id % 8}" if end else "",
                },
            )
        )
    return parts


def _education(it: Item) -> list[Part]:
    p = it.person
    name, slug = p.school
    degrees = words()["DEGREES"]
    values = {
        "school_name": name,
        "linkedin_school_url": f"https://www.linkedin.com/school/{slug}/",
        "linkedin_school_id": school_id(slug),
        "date": f"{p.since_year - 7} - {p.since_year - 5}",
        "degree_name": degrees[p.linkedin_id % len(degrees)],
        "field_of_study": words()["FIELDS_OF_STUDY"][p.linkedin_id % 10],
    }
    return [Part(it.child("education"), values)]


def _locations(it: Item) -> list[Part]:
    c, r = it.company, it.rng
    offices = [c.city] if c.employees < 200 else [c.city, r.choice(CITIES)]
    parts = []
    for i, (city, region, country, code, postal) in enumerate(offices):
        street = f"{r.randrange(1, 120)} {r.choice(STREETS)}"
        values = {
            "name": f"{city}, {country}",
            "count": max(1, c.employees // (i + 2)),
            "address": f"{street}, {postal} {city}",
            "street": street,
            "city": city,
            "geographic_area": region,
            "country": code,
            "postal_code": postal,
        }
        parts.append(Part(it.child(f"location{i}"), values))
    return parts


def _schools(it: Item) -> list[Part]:
    picked = it.rng.sample(SCHOOLS, 3)
    counts = sorted((it.rng.randrange(3, 90) for _ in picked), reverse=True)
    return [
        Part(
            it.child(f"school{i}"),
            {"name": name, "linkedin_school_id": school_id(slug), "count": n},
        )
        for i, ((name, slug), n) in enumerate(zip(picked, counts, strict=True))
    ]


def _speakers(it: Item) -> list[Part]:
    n = 1 + h(it.seed, it.key, "speakers") % 3
    return [
        Part(it.child(f"speaker{i}", who=_other_person(it, f"speaker{i}")), {}) for i in range(n)
    ]


def _investors(it: Item) -> list[Part]:
    prefix = COMPANY_PREFIXES[h(it.seed, it.company.slug, "investor") % len(COMPANY_PREFIXES)]
    slug = f"{prefix}-ventures"
    values = {"name": f"{prefix.capitalize()} Ventures"}
    values["crunchbase_company_url"] = f"https://www.crunchbase.com/organization/{slug}"
    return [Part(it.child("investor"), values)]


def _affiliates(it: Item) -> list[Part]:
    parent, parts = it.company, []
    for i in range(h(it.seed, parent.slug, "affiliates") % 3):
        c = _other_company(it, f"affiliate{i}")
        values = {
            "entity_urn": f"urn:li:fsd_company:{c.id}",
            "original_company_name": parent.name,
            "original_linkedin_company_id": str(parent.id),
            "original_linkedin_company_url": parent.url,
        }
        parts.append(Part(it.child(f"affiliate{i}", at=c), values))
    return parts


def _headcounts(it: Item) -> list[Part]:
    now, r, parts = it.company.employees, it.rng, []
    for back in range(12):
        y, m = divmod(2025 * 12 + 5 - back - 1, 12)
        count = max(1, round(now * (1 - back * r.uniform(0.0, 0.015))))
        values = {"date_on": {"year": y, "month": m + 1, "day": 1}, "employee_count": count}
        parts.append(Part(it.child(f"month{back}"), values))
    return parts


def _departments(it: Item) -> list[Part]:
    total, r = it.company.employees, it.rng
    names = r.sample(words()["DEPARTMENTS"], 4)
    shares = sorted((r.uniform(5, 40) for _ in names), reverse=True)
    parts = []
    for name, share in zip(names, shares, strict=True):
        values = {
            "name": name,
            "headcount_total": max(1, round(total * share / 100)),
            "headcount_percentage": round(share, 1),
            "headcount_growth_3_months": r.randrange(-3, 8),
            "headcount_growth_6_months": r.randrange(-5, 12),
            "headcount_growth_12_months": r.randrange(-8, 20),
        }
        parts.append(Part(it.child(f"department-{name}"), values))
    return parts


def _messages(it: Item) -> list[Part]:
    me, start, parts = account_owner(it.seed), base_datetime(), []
    n = 2 + h(it.seed, it.key, it.index, "messages") % 3
    for i in range(n):
        at = iso(start - timedelta(hours=3 * (n - i), minutes=it.rng.randrange(60)))
        sub = it.child(f"message{i}", who=it.person if i % 2 == 0 else me)
        values = {
            "position": i,
            "created_at": at,
            "delivered_at": at,
            "content": sentence(sub.rng, 9),
        }
        parts.append(Part(sub, values))
    return parts


def _last_message(it: Item) -> Part:
    return _messages(it)[-1]


def _attachments(it: Item) -> list[Part]:
    parts = []
    for i in range(h(it.seed, it.key, it.index, "attachments") % 3):
        sub = it.child(f"attachment{i}")
        values = {
            "type": "file",
            "assetUrn": f"urn:li:digitalmediaAsset:{sub.ident('asset', 12)}",
            "byteSize": 20_000 + h(sub.key, "size") % 900_000,
            "mediaType": "application/pdf",
            "name": sub.rng.choice(words()["ATTACHMENT_NAMES"]),
        }
        parts.append(Part(sub, values))
    return parts


def _grades(it: Item) -> Part:
    r = it.rng
    keys = ("cleanliness", "location", "rooms", "service", "sleep_quality", "value", "atmosphere")
    values = {k: r.choice((3.5, 4.0, 4.5, 5.0)) for k in (*keys, "food")}
    return Part(it.child("grades"), values)


def _open_hours(it: Item) -> Part:
    lunch = {"open_time": "12:00", "close_time": "14:30"}
    dinner = {"open_time": "19:00", "close_time": f"{22 + it.rng.randrange(2)}:30"}
    return Part(it.child("hours"), {"mon": [lunch, dinner]})


def _volunteering(it: Item) -> list[Part]:
    if it.person.linkedin_id % 3:
        return []
    c = _other_company(it, "volunteer")
    cause = it.rng.choice(words()["CAUSES"])
    values = {"role": "Mentor", "organization": f"{c.name} Foundation", "cause": cause}
    return [Part(it.child("volunteer"), values)]


PARTS: dict[str, Callable[[Item], list[Part] | Part]] = {
    "experiences": _experiences,
    "education": _education,
    "educations": _education,
    "locations": _locations,
    "schools": _schools,
    "speakers": _speakers,
    "participants": lambda it: [Part(it.child("participant"), {})],
    "last_funding_investors": _investors,
    "affiliates": _affiliates,
    "monthly_headcounts": _headcounts,
    "departments": _departments,
    "messages": _messages,
    "last_message": _last_message,
    "attachments": _attachments,
    "breakdown_grade": _grades,
    "open_hours": _open_hours,
    "volunteer_experiences": _volunteering,
}
