"""A plausible value for one output field, by its name: `value(name, item)`.

Exact names first (`_F`), then the name's shape (`*_url`, `*_id`, `*_at`, `is_*`, counts...). The
value says what the field means (a person's name, a company's URL, a date); the schema walker
(`shapes`) then makes it the declared type and format.
"""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64encode
from typing import Any

from captaindata_dagster.api.catalog import CUSTOM_DATA
from captaindata_dagster.simulator.entities import (
    CERTIFICATIONS,
    CITIES,
    PLACE_CATEGORIES,
    STREETS,
    WORDS,
    past_date,
    past_datetime,
    school_id,
    sentence,
)
from captaindata_dagster.simulator.item import Item
from captaindata_dagster.simulator.word_lists import words


def _thread_id(it: Item) -> str:
    raw = hashlib.blake2b(f"{it.seed}|thread|{it.person.pid}".encode(), digest_size=16).digest()
    return "2-" + urlsafe_b64encode(raw).decode()


def _post_url(it: Item, kind: str = "post") -> str:
    return f"https://www.linkedin.com/feed/update/urn:li:activity:{it.ident(kind)}/"


def _degree(it: Item) -> str:
    return it.rng.choice(("1st", "2nd", "2nd", "3rd"))


def _phone(it: Item) -> str:
    return "+33 1 " + " ".join(str(it.rng.randrange(10, 99)) for _ in range(4))


def _city(it: Item) -> str:
    return it.rng.choice(CITIES)[0]


def _company_location(it: Item) -> str:
    return f"{it.company.city[0]}, {it.company.city[2]}"


def _some(it: Item, name: str, low: int, high: int) -> list[str]:
    pool = words()[name]
    return it.rng.sample(pool, it.rng.randrange(low, min(high, len(pool)) + 1))


def _images(it: Item, kind: str) -> list[str]:
    return [
        f"https://media.example.com/images/{kind}/{it.ident(f'{kind}{i}', 12)}.jpg"
        for i in range(it.rng.randrange(1, 4))
    ]


def _birth_date(it: Item) -> str:
    p = it.person
    return f"{1970 + p.linkedin_id % 30}-{1 + p.linkedin_id % 12:02d}-{1 + p.linkedin_id % 28:02d}"


def _opening_hours(it: Item) -> list[str]:
    close = 18 + it.rng.randrange(5)
    days = words()["WEEKDAYS"]
    return [f"{d}: 9 AM–{close - 12} PM" for d in days[:6]] + [f"{days[6]}: Closed"]


def _summary(it: Item) -> str:
    p, c = it.person, it.company
    return (
        f"{p.title} at {c.name} ({c.industry}), based in {p.city[0]}. "
        f"Works mostly with {', '.join(p.skills[:-1])} and {p.skills[-1]}."
    )


def _tenure(it: Item) -> str:
    months = it.rng.randrange(2, 120)
    return f"{months // 12} years {months % 12} months" if months >= 12 else f"{months} months"


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
    "summary": _summary,
    "location": lambda it: it.person.location if it.person_centric else _company_location(it),
    "profile_country": lambda it: it.person.city[3],
    "profile_language": lambda it: "en",
    "profile_image_url": lambda it: it.person.image_url,
    "linkedin_profile_picture": lambda it: it.person.image_url,
    "linkedin_profile_image_url": lambda it: it.person.image_url,
    "number_connections": lambda it: it.person.connections,
    "number_followers": lambda it: it.person.followers,
    "open_to_work": lambda it: it.person.open_to_work,
    "skills": lambda it: list(it.person.skills),
    "languages": lambda it: list(it.person.languages),
    "school_name": lambda it: it.person.school[0],
    "linkedin_school_url": lambda it: f"https://www.linkedin.com/school/{it.person.school[1]}/",
    "linkedin_school_handle": lambda it: it.person.school[1],
    "linkedin_school_id": lambda it: school_id(it.person.school[1]),
    "birth_date": _birth_date,
    "premium_subscriber": lambda it: it.person.linkedin_id % 3 == 0,
    "twitter": lambda it: f"@{it.person.first_name.lower()}{it.person.last_name.lower()}",
    "twitter_handles": lambda it: [f"@{it.person.first_name.lower()}{it.person.last_name.lower()}"],
    "email": lambda it: (
        f"{it.person.first_name.lower()}.{it.person.last_name.lower()}@{it.person.company.domain}"
    ),
    "linkedin_people_post_search_url": lambda it: it.person.posts_search_url,
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
    "reply": lambda it: "",  # declared a string: no reply yet to a message just sent
    "tenure_length": _tenure,
    # companies
    "company_name": lambda it: it.company.name,
    "current_company": lambda it: it.company.name,
    "company_id": lambda it: it.company.id,
    "company_description": lambda it: it.company.description,
    "company_logo_url": lambda it: it.company.logo_url,
    "entity_urn": lambda it: f"urn:li:fsd_company:{it.company.id}",
    "linkedin_company_url": lambda it: it.company.url,
    "linkedin_company_id": lambda it: it.company.id,
    "linkedin_company_handle": lambda it: it.company.slug,
    "sales_navigator_company_id": lambda it: it.company.id,
    "sales_navigator_company_url": lambda it: it.company.sales_navigator_url,
    "website": lambda it: f"https://www.{it.company.domain}",
    "domain": lambda it: it.company.domain,
    "source_domain": lambda it: it.company.domain,
    "industry": lambda it: it.company.industry,
    "industries": lambda it: [it.company.industry],
    "industries_v1": lambda it: [it.company.industry],
    "tagline": lambda it: it.company.tagline,
    "short_description": lambda it: it.company.tagline,
    "specialties": lambda it: list(it.company.specialties),
    "type": lambda it: "Full-time" if "job" in it.action.id else "Privately Held",
    "title": lambda it: (
        it.rng.choice(CERTIFICATIONS)
        if "credential_id" in it.action.output_fields
        else it.person.title
    ),
    "connection_degree": _degree,
    "linkedin_connection_degree": _degree,
    "liker_connection_degree": _degree,
    "connection_degrees": lambda it: ["1st", "2nd", "3rd"],
    "functions": lambda it: _some(it, "FUNCTIONS", 3, 5),
    "fields_of_study": lambda it: _some(it, "FIELDS_OF_STUDY", 3, 5),
    "address": lambda it: (
        f"{it.rng.randrange(1, 120)} {it.rng.choice(STREETS)}, {it.rng.choice(CITIES)[0]}"
    ),
    "job_location": _company_location,
    "phones": lambda it: [_phone(it)],
    "membership_status": lambda it: "member",
    "reaction": lambda it: "like",
    "source": lambda it: "Google" if it.action.id.startswith("googlemaps") else "LinkedIn",
    "founded_on": lambda it: it.company.founded,
    "followers_count": lambda it: it.company.followers,
    "followers": lambda it: it.company.followers,
    "number_employees": lambda it: it.company.employees,
    "total_employee_count": lambda it: it.company.employees,
    "employee_median_tenure": lambda it: round(it.rng.uniform(1.5, 6.5), 1),
    "employees_range": lambda it: it.company.employees_range,
    "linkedin_employees_url": lambda it: it.company.employees_search_url,
    "sales_navigator_employees_url": lambda it: it.company.sales_navigator_employees_url,
    "sales_navigator_employee_url": lambda it: it.company.sales_navigator_employees_url,
    "sales_navigator_profile_search_url": lambda it: it.company.sales_navigator_employees_url,
    "sales_navigator_search_url": lambda it: it.company.sales_navigator_employees_url,
    "linkedin_job_search_url": lambda it: (
        f"https://www.linkedin.com/jobs/search/?f_C={it.company.id}"
    ),
    "linkedin_company_phone": _phone,
    "country": lambda it: it.company.city[3],
    "geographic_area": lambda it: it.company.city[1],
    "city": lambda it: it.company.city[0] if it.action.id.startswith("linkedin") else _city(it),
    "postal_code": lambda it: it.company.city[4],
    "headquarters": lambda it: f"{it.company.city[0]}, {it.company.city[2]}",
    "number_of_locations": lambda it: 1 if it.company.employees < 200 else 2,
    "logo_url": lambda it: it.company.logo_url,
    "crunchbase_company_url": lambda it: (
        f"https://www.crunchbase.com/organization/{it.company.slug}"
    ),
    "last_funding_type": lambda it: it.rng.choice(words()["FUNDING_ROUNDS"]),
    "last_funding_raised": lambda it: it.rng.randrange(1, 80) * 500_000,
    "last_funding_currency": lambda it: "USD",
    "linkedin_page_claimed": lambda it: True,
    "affiliate_status": lambda it: "affiliated",
    "original_company_name": lambda it: it.original_company.name,
    "original_linkedin_company_id": lambda it: it.original_company.id,
    "original_linkedin_company_url": lambda it: it.original_company.url,
    # content
    "linkedin_post_url": _post_url,
    "linkedin_post_id": lambda it: it.ident("post"),
    "linkedin_original_post_url": lambda it: _post_url(it, "original_post"),
    "linkedin_original_post": lambda it: _post_url(it, "original_post"),
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
    "hyperlinks": lambda it: [f"https://www.{it.company.domain}/blog/{it.ident('link', 6)}"],
    "post_media_url": lambda it: _images(it, "post"),
    "content_text": lambda it: sentence(it.rng, 18),
    "comment_text": lambda it: sentence(it.rng, 9),
    "content": lambda it: sentence(it.rng, 14),
    "message": lambda it: sentence(it.rng, 12),
    "description": lambda it: (
        it.company.description if "compan" in it.action.id else sentence(it.rng, 16)
    ),
    "category": lambda it: (
        it.company.industry
        if "linkedin" in it.action.id or "navigator" in it.action.id
        else it.rng.choice(PLACE_CATEGORIES)
    ),
    # places
    "opening_hours": _opening_hours,
    "services_available": lambda it: _some(it, "SERVICES", 2, 4),
    "additional_info": lambda it: " · ".join(_some(it, "SERVICES", 2, 3)),
    "amenities": lambda it: _some(it, "AMENITIES", 3, 6),
    "hidden_amenities": lambda it: _some(it, "AMENITIES", 0, 3),
    "categories": lambda it: _some(it, "CUISINES", 2, 3),
    "awards": lambda it: _some(it, "AWARDS", 0, 2),
    "details": lambda it: [
        "CUISINES: " + ", ".join(_some(it, "CUISINES", 2, 3)),
        "Meals: Lunch, Dinner",
        f"PRICE RANGE: €{it.rng.randrange(15, 30)} - €{it.rng.randrange(35, 80)}",
    ],
    "photos": lambda it: _images(it, "photo"),
    "price_range": lambda it: it.rng.choice(words()["PRICE_RANGES"]),
}


_BOOLS = {
    "connected", "pending", "read", "sponsored", "viewed", "new", "remote", "remote_allowed",
    "followed", "job_seeker", "recently_declined",
}  # fmt: skip
_LISTS = {"participants", "messages", "speakers", "shared_connection_profile_urls"}
_SENTENCES = {
    "answer", "review_comment", "review_response", "translated_content", "translated_answer",
    "event_information", "job_description", "last_message", "last_reply", "author_comment_reply",
    "comment", "review_title",
}  # fmt: skip
_COUNTS = {
    "members", "attendees", "position", "employee_median_tenure", "author_number_of_reviews",
    "ranking",
}  # fmt: skip


def url_for(name: str, it: Item) -> str:
    """A full https URL for a field named like a link."""
    if name.startswith("google_maps"):
        kind = name.removeprefix("google_maps_").removesuffix("_url")
        return f"https://www.google.com/maps/place/{kind}-{it.ident(kind, 12)}/"
    if it.action.id.startswith("thefork") and name == "property_url":
        return f"https://www.thefork.com/restaurant/bistro-r{it.ident('property', 6)}"
    if name.startswith("tripadvisor") or name == "property_url":
        return f"https://www.tripadvisor.com/{_tripadvisor_page(name, it)}.html"
    if "image" in name or "img" in name or "picture" in name or "photo" in name:
        return f"https://media.example.com/images/{name}/{it.ident(name, 12)}.jpg"
    if "reaction" in name:
        return f"{_post_url(it)}?reaction={it.ident('reaction', 12)}"
    if "linkedin" in name or "sales_navigator" in name:
        return f"https://www.linkedin.com/{name.removesuffix('_url')}/{it.ident(name, 12)}/"
    return f"https://www.example.com/{name.removesuffix('_url')}/{it.rng.randrange(10**6, 10**7)}"


def _tripadvisor_page(name: str, it: Item) -> str:
    if "hotel" in name:
        return f"Hotel_Review-g187147-d{it.ident('property', 7)}-Reviews"
    if "restaurant" in name:
        return f"Restaurant_Review-g187147-d{it.ident('property', 7)}-Reviews"
    if "reviewer" in name:
        return f"Profile/{it.person.first_name}{it.person.pid[:4]}"
    return f"ShowUserReviews-g187147-d{it.ident('property', 7)}-r{it.ident('review', 9)}"


def echoed(name: str, it: Item) -> bool:
    """True when a field is answered with the input's own value (`linkedin_profile_url`...)."""
    return (
        name in it.inp
        and name != CUSTOM_DATA
        and not (it.has_original and f"original_{name}" in it.action.output_fields)
    )


def named(name: str) -> bool:
    """True when a field has a generator of its own (not just one guessed from its name's shape)."""
    return name in _F


def value(name: str, it: Item) -> Any:
    """A plausible value for one output field, by exact name first, then by the name's shape."""
    if echoed(name, it):
        return it.inp[name]
    fn = _F.get(name)
    if fn is not None:
        return fn(it)
    return _by_shape(name, it)


def _by_shape(name: str, it: Item) -> Any:
    r = it.rng
    if name in _LISTS:
        return [f"{it.person.url}-{i}" for i in range(r.randrange(0, 3))] if "url" in name else []
    if name.endswith(("_url", "_link", "_img", "_picture", "_image")) or name == "url":
        return url_for(name, it)
    if name.endswith("_type"):
        if "reaction" in name:
            return r.choice(words()["REACTIONS"][:4])
        return r.choice(("post", "article", "repost"))
    if name.endswith("_language"):
        return r.choice(("en", "fr", "de"))
    if name.endswith("_urn"):
        return f"urn:li:{name.split('_')[-2]}:{it.ident(name)}"
    if name in _BOOLS or name.startswith(("is_", "has_", "recently_", "closed_")):
        return name == "is_sent" or r.random() < 0.2
    if name.endswith("_id") or name in ("credential_id", "invitation_secret"):
        return it.ident(name.removesuffix("_id").split("_")[-1], 12)
    if name.endswith(("_at", "_date", "_datetime", "_time", "timestamp")) or name in (
        "date",
        "tenure_start",
        "tenure_end",
    ):
        return past_date(r, 720) if name.endswith("date") else past_datetime(r)
    return _number_or_text(name, it)


def _number_or_text(name: str, it: Item) -> Any:
    r = it.rng
    if "latitude" in name:
        return round(r.uniform(43.0, 52.0), 6)
    if "longitude" in name:
        return round(r.uniform(-1.5, 13.0), 6)
    if name in ("rating", "grade", "review_rating", "stars") or name.endswith("_grade"):
        return round(r.uniform(3.0, 5.0), 1)
    if (
        "count" in name
        or name.startswith(("number_", "total_", "leads_", "new_"))
        or name in _COUNTS
    ):
        return r.randrange(0, 500)
    if name == "phone":
        return _phone(it)
    if name.endswith("name") or name in ("title", "name", "property", "source"):
        return " ".join(w.capitalize() for w in r.sample(WORDS, 2))
    if name in _SENTENCES:
        return sentence(r, 10)
    return r.choice(WORDS)
