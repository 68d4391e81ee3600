"""Every simulator answer has exactly the shape the vendor's OpenAPI declares for it.

User code written against the sandbox must not break on the real API: each of the 71 `run/live`
actions is called over HTTP with the real client (several inputs, two pages of a paginated list,
an input with `custom_data`) and every answer body is checked against the action's response schema
by a real JSON Schema validator, formats included (`tests/spec.py`). A property test then checks
the generator itself over many seeds, inputs and list positions, and that it is deterministic.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from captaindata_dagster import CaptainDataClient
from captaindata_dagster.api.catalog import CUSTOM_DATA
from captaindata_dagster.simulator import data, run_simulator
from captaindata_dagster.simulator.item import Item
from captaindata_dagster.simulator.shapes import fill
from tests.helpers import TEST_KEY
from tests.spec import live_actions, problems

ACTIONS = live_actions()
ECHO = {"row": 42, "source": "spec-test", "tags": ["a", "b"], "nested": {"ok": True}}


def _as_array(schema):
    """One schema for a list of answers, so a batch is validated in one pass."""
    return {"type": "array", "items": schema}


def _assert_valid(action, answers, what):
    found = problems(_as_array(action.response_schema), answers, limit=12)
    assert not found, f"{action.id} ({what}) breaks its response schema:\n  " + "\n  ".join(found)


def _inputs(action):
    """2-3 distinct sample inputs, plus one with custom_data where the action takes it."""
    if not action.accepts_input:
        return [({}, "no input")]
    cases = [(data.sample_input(action, n), f"sample {n}") for n in (0, 1, 2)]
    if action.takes_custom_data:
        cases.append(({**data.sample_input(action, 3), CUSTOM_DATA: ECHO}, "custom_data"))
    return cases


@pytest.fixture(scope="module")
def client():
    with run_simulator(seed=11, api_key=TEST_KEY) as sim:
        c = CaptainDataClient(sim.api_key, sim.base_url, backoff_base_s=0.01, backoff_max_s=0.05)
        try:
            yield c
        finally:
            c.close()


def _answers(client, action, inp):
    """The answer bodies of one input: the object, or each page (two at most) of a list."""
    if not action.is_list:
        result = client.run_action(action.id, inp)
        assert len(result.results) == 1, result.results
        return [result.results[0]]
    if action.pagination is None:
        return [client.run_action(action.id, inp).results]
    return [page.results for page in client.iter_pages(action.id, inp, max_pages=2)]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.id)
def test_every_http_answer_matches_the_response_schema(client, action):
    for inp, what in _inputs(action):
        bodies = _answers(client, action, inp)
        assert bodies, f"{action.id} ({what}): no answer"
        if action.is_list and action.pagination is not None:
            assert len(bodies) == 2 or len(bodies[0]) < (action.page_size or 10), what
        for body in bodies:
            assert body is not None
            _assert_valid(action, [body], what)
            if CUSTOM_DATA in inp:
                for item in body if isinstance(body, list) else [body]:
                    assert item[CUSTOM_DATA] == ECHO, f"{action.id}: custom_data not echoed"


def test_every_action_answers_over_http():
    assert len(ACTIONS) == 71


def test_custom_data_is_allowed_wherever_it_is_echoed():
    """An action taking custom_data echoes it; its answer's schema must leave room for it."""
    refused = []
    for action in ACTIONS:
        if not action.takes_custom_data:
            continue
        item = data.result_schema(action)
        declared = CUSTOM_DATA in (item.get("properties") or {})
        if item.get("additionalProperties") is False and not declared:
            refused.append(action.id)
    assert refused == [], f"response schemas with no room for the custom_data echo: {refused}"


# ---------------------------------------------------------------------------------------------
# the generator itself, over many seeds, inputs and positions


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.id)
def test_generated_results_match_the_schema_over_seeds(action):
    results = []
    for seed in range(12):
        for n in range(3):
            inp = data.sample_input(action, n)
            indexes = range(seed, seed + 4) if action.is_list else [None]
            results.extend(data.make_result(action, seed, inp, i) for i in indexes)
    found = problems(_as_array(data.result_schema(action)), results, limit=12)
    assert not found, f"{action.id}:\n  " + "\n  ".join(found)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    action=st.sampled_from(ACTIONS),
    seed=st.integers(min_value=0, max_value=2**31),
    n=st.integers(min_value=0, max_value=10**6),
    index=st.integers(min_value=0, max_value=5000),
    echo=st.booleans(),
)
def test_any_seed_input_and_position_gives_a_valid_deterministic_result(
    action, seed, n, index, echo
):
    inp = data.sample_input(action, n)
    if echo and action.takes_custom_data:
        inp[CUSTOM_DATA] = {"n": n}
    position = index if action.is_list else None
    first = data.make_result(action, seed, inp, position)
    assert first == data.make_result(action, seed, dict(inp), position)  # deterministic
    answer = [first] if action.is_list else first
    found = problems(action.response_schema, answer, limit=12)
    assert not found, f"{action.id} seed={seed} n={n} index={position}:\n  " + "\n  ".join(found)
    if echo and action.takes_custom_data:
        assert first[CUSTOM_DATA] == {"n": n}


# Keywords the vendor's response schemas do not use today but may after `make catalog`.
FUTURE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["nickname", "kind"],
    "properties": {
        "nickname": {"type": ["string", "null"]},
        "birth_date": {"type": ["string", "null"], "format": "date"},
        "linkedin_profile_url": {
            "anyOf": [{"type": "string", "format": "uri"}, {"type": "integer"}]
        },
        "status": {"type": "string", "enum": ["active", "archived"]},
        "kind": {"const": "person"},
        "level": {"type": "integer", "enum": [1, 2, 3]},
        "uid": {"type": "string", "format": "uuid"},
        "meta": {"type": "object", "additionalProperties": True},
        "closed": {"type": "object", "additionalProperties": False},
        "anything": {},
        "grid": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        "owner": {
            "type": ["object", "null"],
            "properties": {
                "full_name": {"type": "string"},
                "linkedin_company_id": {"type": "integer"},
            },
        },
        "merged": {
            "allOf": [
                {"type": "object", "properties": {"full_name": {"type": "string"}}},
                {
                    "properties": {"linkedin_profile_id": {"type": "string"}},
                    "required": ["full_name"],
                },
            ]
        },
        "pick": {
            "oneOf": [
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["type"],
                    "properties": {"type": {"const": tag}, field: {"type": kind}},
                }
                for tag, field, kind in (("a", "x", "integer"), ("b", "y", "string"))
            ]
        },
        "skills": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "endorsements": {"type": "integer"}},
            },
        },
        "connected_at": {"type": "integer"},
    },
}


@pytest.mark.parametrize("seed", range(20))
def test_schema_keywords_the_spec_may_use_later_are_honoured(seed):
    action = next(a for a in ACTIONS if a.id == "linkedin-extract-people")
    inp = data.sample_input(action, seed)
    out = fill(FUTURE, Item(seed, action, inp, data.input_key(inp), None))
    found = problems(FUTURE, out, limit=12)
    assert not found, "\n  ".join(found)
    assert out["linkedin_profile_url"] == inp["linkedin_profile_url"]
    assert out["owner"]["full_name"] == data.make_result(action, seed, inp)["full_name"]
