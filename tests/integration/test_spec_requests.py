"""Requests against the vendor's request schemas, and the simulator refusing what the spec refuses.

Every body the client sends (read back from the simulator's request log, so the bytes that went
over loopback) is validated with a real JSON Schema validator against the action's request schema
from the catalog, for all 71 live actions. The simulator must refuse, with the spec's error envelope,
the bodies the spec refuses: our simulator agreeing with our client proves little, the schema does.
"""

from __future__ import annotations

import json

import pytest
import requests

from captaindata_dagster import CaptainDataClient
from captaindata_dagster.api import ValidationError
from captaindata_dagster.api.catalog import load_catalog
from captaindata_dagster.simulator import run_simulator
from captaindata_dagster.simulator.data import sample_input
from tests.helpers import TEST_KEY
from tests.spec import error_schema, live_actions, problems

IDENTITY = "0b8e5f9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"


@pytest.fixture(scope="module")
def shared_sim():
    with run_simulator(seed=3, api_key=TEST_KEY) as s:
        yield s


def _defaults(action):
    """Every declared parameter that has a default valid under its own schema, set to it."""
    props = (action.request_schema["properties"].get("parameters") or {}).get("properties", {})
    return {
        name: schema["default"]
        for name, schema in props.items()
        if "default" in schema and not problems(schema, schema["default"])
    }


def _inputs(action):
    first, second = sample_input(action, 0), sample_input(action, 1)
    if action.takes_custom_data:
        second = {**second, "custom_data": {"crm_id": 42, "tags": ["a"]}}
    return [first, second]


@pytest.mark.parametrize("action", live_actions(), ids=lambda a: a.id)
def test_every_body_sent_is_valid_under_the_request_schema(shared_sim, action):
    client = CaptainDataClient(
        shared_sim.api_key, shared_sim.base_url, integration_users=[IDENTITY], max_retries=0
    )
    before = len(shared_sim.requests)
    for inp in _inputs(action):
        for parameters in (None, _defaults(action)):
            client.run_action(action.id, inp, parameters=parameters)
    bodies = [r.body for r in shared_sim.requests[before:] if r.action_id == action.id]
    assert len(bodies) == 4
    for body in bodies:
        assert problems(action.request_schema, body) == [], json.dumps(body)
        if action.uses_account:
            assert body["identity_ids"] == [IDENTITY]
        if not action.accepts_input:
            assert "input" not in body  # not even {"custom_data": ...}


def test_the_seed_form_is_off_spec_which_is_why_it_is_not_the_default():
    people = load_catalog().get("linkedin-extract-people")
    body = {"input": sample_input(people), "integration_users": [IDENTITY]}
    assert any("integration_users" in p for p in problems(people.request_schema, body))
    client = CaptainDataClient(TEST_KEY, "http://127.0.0.1:9", integration_users=[IDENTITY])
    _, built = client.prepare(people.id, sample_input(people))
    assert problems(people.request_schema, built) == []


def test_managed_identities_are_a_valid_body(shared_sim):
    client = CaptainDataClient(shared_sim.api_key, shared_sim.base_url, identity_mode="managed")
    people = load_catalog().get("linkedin-extract-people")
    res = client.run_action(people.id, sample_input(people, 5))
    body = shared_sim.requests[-1].body
    assert body["identity_mode"] == "managed" and problems(people.request_schema, body) == []
    assert res.credits == 1.5


def test_the_download_query_is_valid_under_its_schema(shared_sim):
    client = CaptainDataClient(
        shared_sim.api_key, shared_sim.base_url, integration_users=[IDENTITY]
    )
    act = load_catalog().get("linkedin-download-attachment")
    res = client.run_action(act.id, sample_input(act, 2))
    assert res.results[0]["content"].startswith(b"%PDF")
    query = shared_sim.requests[-1].query
    assert query["identity_id"] == IDENTITY
    assert problems(act.request_schema, query) == []


def test_a_required_parameter_is_sent_with_its_default(shared_sim):
    """tripadvisor-extract-reviews requires `language`; the spec's default is sent for it."""
    client = CaptainDataClient(shared_sim.api_key, shared_sim.base_url)
    act = load_catalog().get("tripadvisor-extract-reviews")
    client.run_action(act.id, sample_input(act))
    assert shared_sim.requests[-1].body["parameters"] == {"language": "all"}
    client.run_action(act.id, sample_input(act), parameters={"language": "french"})
    assert shared_sim.requests[-1].body["parameters"] == {"language": "french"}


def test_a_required_parameter_without_default_is_refused_locally():
    import dataclasses

    act = load_catalog().get("tripadvisor-extract-reviews")
    params = {"language": {"type": "string", "enum": ["french", "all"]}}  # no default
    strict = dataclasses.replace(act, parameters=params)
    [problem] = strict.parameter_problems({})
    assert problem.field == "language" and "required" in problem.message
    assert strict.parameter_problems({"language": "all"}) == []


@pytest.mark.parametrize(
    ("parameters", "field"),
    [({"language": None}, "language"), ({"language": 3}, "language"), ("all", "parameters")],
)
def test_bad_parameters_are_refused_locally_naming_the_field(parameters, field):
    client = CaptainDataClient(TEST_KEY, "http://127.0.0.1:9")
    act = load_catalog().get("tripadvisor-extract-reviews")
    with pytest.raises(ValidationError) as info:
        client.prepare(act.id, sample_input(act), parameters=parameters)
    assert info.value.field == field and info.value.error_label == "BAD_PARAMETERS"


def test_custom_data_for_an_action_without_input_is_refused_locally():
    client = CaptainDataClient(TEST_KEY, "http://127.0.0.1:9")
    with pytest.raises(ValidationError) as info:
        client.prepare("linkedin-me", {"custom_data": {"crm_id": 1}})
    assert info.value.field == "custom_data" and "takes no input" in info.value.message


# -- the simulator refuses what the spec refuses


def _post(sim, action_id, body, **headers):
    return requests.post(
        f"{sim.base_url}/actions/{action_id}/run/live",
        data=json.dumps(body),
        headers={"X-API-Key": sim.api_key, "Content-Type": "application/json", **headers},
        timeout=30,
    )


REVIEWS = "tripadvisor-extract-reviews"
REVIEWS_INPUT = sample_input(REVIEWS)


@pytest.mark.parametrize(
    ("action_id", "body", "label", "field"),
    [
        (REVIEWS, {"input": REVIEWS_INPUT, "parameters": None}, "BAD_PARAMETERS", "parameters"),
        (REVIEWS, {"input": REVIEWS_INPUT}, "BAD_PARAMETERS", "parameters"),
        (REVIEWS, {"input": REVIEWS_INPUT, "parameters": {}}, "BAD_PARAMETERS", "parameters.language"),
        (REVIEWS, {"input": REVIEWS_INPUT, "parameters": {"language": None}}, "BAD_PARAMETERS", "language"),
        (REVIEWS, {"input": REVIEWS_INPUT, "parameters": {"language": 7}}, "BAD_PARAMETERS", "language"),
        (REVIEWS, {"parameters": {"language": "all"}}, "BAD_INPUT", "input"),
        ("linkedin-me", {"input": {"custom_data": {"a": 1}}}, "BAD_INPUT", "input"),
        ("linkedin-extract-people", {"input": {"linkedin_profile_url": 5}}, "INVALID_INPUT", "linkedin_profile_url"),
        ("linkedin-extract-people", {"input": sample_input("linkedin-extract-people"), "extra": 1}, "BAD_INPUT", "extra"),
    ],
)  # fmt: skip
def test_the_simulator_refuses_off_spec_bodies(shared_sim, action_id, body, label, field):
    resp = _post(shared_sim, action_id, body)
    assert resp.status_code == 400
    envelope = resp.json()
    assert problems(error_schema(), envelope) == []
    assert envelope["error_label"] == label and envelope["params"]["field"] == field


@pytest.mark.parametrize("method", ["GET", "OPTIONS", "PUT", "DELETE"])
def test_a_method_the_path_does_not_serve_is_a_json_405(shared_sim, method):
    url = f"{shared_sim.base_url}/actions/linkedin-extract-people/run/live"
    resp = requests.request(method, url, headers={"X-API-Key": shared_sim.api_key}, timeout=30)
    assert resp.status_code == 405 and resp.headers["Allow"] == "POST"
    assert resp.headers["Content-Type"].startswith("application/json")
    assert problems(error_schema(), resp.json()) == []


def test_an_unknown_path_is_a_json_404(shared_sim):
    resp = requests.get(
        f"{shared_sim.base_url}/nowhere", headers={"X-API-Key": TEST_KEY}, timeout=30
    )
    assert resp.status_code == 404 and problems(error_schema(), resp.json()) == []


def test_a_strict_accept_is_honoured(shared_sim):
    """A client asking JSON of the download action gets the 406 a strict server gives."""
    url = f"{shared_sim.base_url}/actions/linkedin-download-attachment"
    act = load_catalog().get("linkedin-download-attachment")
    headers = {"X-API-Key": shared_sim.api_key, "Accept": "application/json"}
    resp = requests.get(url, params=sample_input(act), headers=headers, timeout=30)
    assert resp.status_code == 406 and problems(error_schema(), resp.json()) == []


@pytest.mark.parametrize(
    "fault",
    [
        "UNAUTHORIZED",
        "GENERIC_ERROR",
        "SERVICE_UNAVAILABLE",
        "LK_ERROR",
        "NO_CREDITS",
        "STATUS_429",
    ],
)
def test_every_error_the_simulator_answers_has_the_spec_envelope(make_sim, fault):
    people = load_catalog().get("linkedin-extract-people")
    inp = sample_input(people, 9)
    sim = make_sim(fail_inputs={inp["linkedin_profile_url"]: fault})
    resp = _post(sim, people.id, {"input": inp})
    assert resp.status_code >= 400
    assert problems(error_schema(), resp.json()) == [], resp.text


def test_credits_follow_the_catalog_cost_of_each_action(make_sim):
    """Conversations bill 0.05 per item (API.md), a profile 1, managed identities 1.5x."""
    sim = make_sim(search_total=30)
    client = CaptainDataClient(sim.api_key, sim.base_url, integration_users=[IDENTITY])
    pages = list(client.iter_pages("linkedin-extract-conversations"))
    assert [len(p.results) for p in pages] == [20, 10]
    assert [p.credits for p in pages] == [pytest.approx(1.0), pytest.approx(0.5)]
    assert sim.credits_used == pytest.approx(1.5)  # the simulator bills what the client counts
    people = load_catalog().get("linkedin-extract-people")
    assert client.run_action(people.id, sample_input(people)).credits == 1.0


@pytest.mark.parametrize("mode", ["direct", "auto", "managed"])
def test_identity_mode_goes_only_where_the_body_declares_it(mode):
    client = CaptainDataClient(
        TEST_KEY, "http://127.0.0.1:9", integration_users=[IDENTITY], identity_mode=mode
    )
    for action in live_actions():
        _, body = client.prepare(action.id, sample_input(action))
        assert problems(action.request_schema, body) == [], (action.id, body)
        assert ("identity_mode" in body) == ("identity_mode" in action.body_fields), action.id


@pytest.mark.parametrize("action", live_actions(), ids=lambda a: a.id)
def test_every_error_answer_of_every_action_has_the_spec_envelope(make_sim, action):
    """The 400, 424 and 500 every action declares, answered in the spec's error schema."""
    inp = sample_input(action, 3)
    body = {"input": inp} if action.accepts_input else {}
    if action.required_parameters:
        body["parameters"] = action.with_defaults(None)
    bad = _post(make_sim(), action.id, {**body, "not_a_field": 1})
    assert bad.status_code == 400 and problems(error_schema(), bad.json()) == [], bad.text
    for fault, status in (("LK_ERROR", 424), ("GENERIC_ERROR", 500)):
        resp = _post(make_sim(faults={fault: 1.0}), action.id, body)
        assert resp.status_code == status, resp.text
        assert problems(error_schema(), resp.json()) == [], resp.text
