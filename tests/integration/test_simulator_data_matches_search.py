"""The simulator's data reads as what was asked: people who match their search, consistent companies.

A newcomer judges the pipeline by the sandbox demo: "data-engineers-paris" must find data
engineers in Paris, the profile of a person found must agree with the search's row, and a company
must be of the industry its name says, described in a sentence of that industry. Plain HTTP to a
simulator on loopback.
"""

from __future__ import annotations

import re

import pytest
import requests

from captaindata_dagster.api.catalog import load_catalog
from captaindata_dagster.simulator import run_simulator
from captaindata_dagster.simulator.sandbox import SANDBOX_SEED
from tests.helpers import TEST_KEY

CATALOG = load_catalog()
PEOPLE = "https://www.linkedin.com/search/results/people/"
# the demo's searches (definitions.py), then others by keywords only
DEMO = {
    "data-engineers-paris": (
        f"{PEOPLE}?keywords=data%20engineer&geoUrn=%5B%22105015875%22%5D",
        r"(.* )?Data Engineer(ing)?( .*)?",
        "Paris",
    ),
    "cto-saas-berlin": (
        f"{PEOPLE}?keywords=cto%20saas&geoUrn=%5B%22106967730%22%5D",
        r"(.* )?(CTO|Chief Technology Officer)",
        "Berlin",
    ),
    "growth-marketers-london": (
        f"{PEOPLE}?keywords=growth%20marketing&geoUrn=%5B%22102257491%22%5D",
        r"(.* )?Growth Market(er|ing)( .*)?",
        "London",
    ),
}
OUR_SUFFIX_INDUSTRY = {
    "Energy": "Renewable Energy",
    "Foods": "Food and Beverage Services",
    "Health": "Hospitals and Health Care",
    "Security": "Computer and Network Security",
    "Robotics": "Robotics Engineering",
}


def run(sim, action_id: str, inp: dict) -> requests.Response:
    action = CATALOG.get(action_id)
    assert action is not None
    body: dict = {"input": inp}
    if action.required_parameters:
        body["parameters"] = action.with_defaults(None)
    r = requests.post(
        f"{sim.base_url}/actions/{action_id}/run/live",
        json=body,
        headers={"X-API-Key": TEST_KEY},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r


@pytest.fixture(scope="module")
def sandbox_data():
    with run_simulator(seed=SANDBOX_SEED, api_key=TEST_KEY) as s:
        yield s


@pytest.mark.parametrize("search", sorted(DEMO))
def test_the_demo_searches_find_people_who_match_them(sandbox_data, search):
    url, title, city = DEMO[search]
    rows = run(sandbox_data, "linkedin-search-people", {"linkedin_people_search_url": url}).json()
    assert len(rows) >= 10
    for row in rows:
        assert re.fullmatch(title, row["job_title"]), row["job_title"]
        assert row["headline"] == f"{row['job_title']} at {row['company_name']}"
        assert row["location"].startswith(f"{city}, "), row["location"]
    assert len({r["linkedin_profile_url"] for r in rows}) == len(rows)


def test_saas_in_the_keywords_means_software_companies(sandbox_data):
    url = DEMO["cto-saas-berlin"][0]
    rows = run(sandbox_data, "linkedin-search-people", {"linkedin_people_search_url": url}).json()
    for row in rows[:5]:
        company = run(
            sandbox_data,
            "linkedin-extract-company",
            {"linkedin_company_url": _company_url(sandbox_data, row)},
        ).json()
        assert company["industry"] == "Software Development"


def _company_url(sim, row: dict) -> str:
    profile = run(
        sim, "linkedin-extract-people", {"linkedin_profile_url": row["linkedin_profile_url"]}
    ).json()
    return profile["linkedin_company_url"]


def test_a_city_named_in_the_keywords_is_the_location_and_not_a_title_word(sandbox_data):
    url = f"{PEOPLE}?keywords=product%20manager%20lyon"
    rows = run(sandbox_data, "linkedin-search-people", {"linkedin_people_search_url": url}).json()
    assert {r["location"] for r in rows} == {"Lyon, Auvergne-Rhône-Alpes, France"}
    assert all(re.fullmatch(r"(\w+ )*Product (\w+ )*Manager", r["job_title"]) for r in rows)


def test_a_sales_navigator_search_reads_its_keywords_too(sandbox_data):
    url = "https://www.linkedin.com/sales/search/people?query=(keywords:head%20of%20sales%20madrid)"
    rows = run(
        sandbox_data, "salesnavigator-search-people", {"sales_navigator_profile_search_url": url}
    ).json()
    assert rows and all(r["job_title"] == "Head of Sales" for r in rows)
    assert all(r["location"].startswith("Madrid, ") for r in rows)


@pytest.mark.parametrize("search", sorted(DEMO))
def test_each_profile_agrees_with_its_search_row(sandbox_data, search):
    url = DEMO[search][0]
    rows = run(sandbox_data, "linkedin-search-people", {"linkedin_people_search_url": url}).json()
    for row in rows:
        profile = run(
            sandbox_data,
            "linkedin-extract-people",
            {"linkedin_profile_url": row["linkedin_profile_url"]},
        ).json()
        for field in ("full_name", "headline", "location", "company_name", "job_title"):
            assert profile[field] == row[field], field
        assert profile["experiences"][0]["company_name"] == row["company_name"]
        assert row["job_title"] in profile["summary"]


def test_companies_are_consistent_with_their_industry(sandbox_data):
    seen = set()
    for n in range(60):
        url = f"{PEOPLE}?keywords=engineer&page={n}"
        for row in run(
            sandbox_data, "linkedin-search-people", {"linkedin_people_search_url": url}
        ).json()[:2]:
            seen.add(_company_url(sandbox_data, row))
    checked = 0
    for company_url in sorted(seen):
        c = run(
            sandbox_data, "linkedin-extract-company", {"linkedin_company_url": company_url}
        ).json()
        suffix = c["company_name"].split()[-1]
        if suffix in OUR_SUFFIX_INDUSTRY:
            assert c["industry"] == OUR_SUFFIX_INDUSTRY[suffix], c["company_name"]
            checked += 1
        # a description is prose: it names the company, ends its sentences, states its size
        assert c["description"].startswith(f"{c['company_name']} ")
        assert re.fullmatch(r"[^.]+\. Founded in \d{4} and based in [^,]+, it employs [^.]+\.",
                            c["description"]), c["description"]  # fmt: skip
        assert str(c["founded_on"]) in c["description"]
        assert c["headquarters"].split(",")[0] in c["description"]
        assert c["tagline"] and c["industries"] == [c["industry"]]
        low, high = (int(n) for n in c["employees_range"].split("-"))
        assert low <= c["number_employees"] <= high
    assert checked >= 3


def test_the_same_seed_and_search_always_give_the_same_people(sandbox_data):
    url = DEMO["data-engineers-paris"][0]
    with run_simulator(seed=SANDBOX_SEED, api_key=TEST_KEY) as other:
        one = run(sandbox_data, "linkedin-search-people", {"linkedin_people_search_url": url})
        two = run(other, "linkedin-search-people", {"linkedin_people_search_url": url})
    assert one.json() == two.json()
