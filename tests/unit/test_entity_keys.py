"""One key per person, lead, company or school, whatever the URL's spelling."""

from __future__ import annotations

import pytest

from captaindata_dagster.api.entity_keys import entity_key, same_entity

JANE = [
    "https://www.linkedin.com/in/jane-doe",
    "https://www.linkedin.com/in/jane-doe/",
    "https://www.linkedin.com/in/jane-doe/fr",
    "https://www.linkedin.com/in/jane-doe/overlay/contact-info/",
    "https://www.linkedin.com/in/jane-doe/details/experience/?trk=x",
    "https://fr.linkedin.com/in/Jane-Doe/?trk=1",
    "http://linkedin.com/in/JANE-DOE#about",
    "www.linkedin.com/in/jane%2Ddoe",
    "  https://m.linkedin.com/in/jane-doe  ",
]


@pytest.mark.parametrize("url", JANE)
def test_every_spelling_of_one_person_is_one_key(url):
    assert entity_key(url) == "person:jane-doe"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://www.linkedin.com/sales/lead/ACwAAB123,NAME_SEARCH,xYz", "sales_navigator_lead:ACwAAB123"),
        ("https://www.linkedin.com/sales/people/ACwAAB123,NAME_SEARCH", "sales_navigator_lead:ACwAAB123"),
        ("https://www.linkedin.com/sales/lead/acwaab123,NAME_SEARCH", "sales_navigator_lead:acwaab123"),
        ("https://www.linkedin.com/company/Acme-Data/about/?viewAsMember=true", "company:acme-data"),
        ("https://de.linkedin.com/company/acme-data", "company:acme-data"),
        ("https://www.linkedin.com/sales/company/1234567/people", "sales_navigator_company:1234567"),
        ("https://www.linkedin.com/school/ecole-x/", "school:ecole-x"),
        ("https://www.linkedin.com/pub/jane-doe/1a/2b/3c", "person:jane-doe/1a/2b/3c"),
    ],
)  # fmt: skip
def test_leads_companies_and_schools(url, key):
    assert entity_key(url) == key


@pytest.mark.parametrize(
    "value",
    [
        "https://www.linkedin.com/search/results/people/?keywords=cto",
        "https://www.linkedin.com/in/",
        "https://evil-linkedin.com/in/jane-doe",
        "https://linkedin.com.evil.example/in/jane-doe",
        "https://www.google.com/maps/place/x",
        "not a url",
        "",
        None,
        42,
    ],
)
def test_what_names_no_entity_has_no_key(value):
    assert entity_key(value) is None


def test_same_entity():
    assert same_entity(JANE[0], JANE[5])
    assert not same_entity(JANE[0], "https://www.linkedin.com/in/john-doe")
    assert same_entity(" abc ", "abc") and not same_entity("abc", "abd")
