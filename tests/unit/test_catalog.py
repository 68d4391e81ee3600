"""The committed catalog is exactly what the generator makes from the vendor's spec."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from captaindata_dagster.api.catalog import CATALOG_PATH, load_catalog
from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "captaindata-v4" / "openapi.json"


def _generator():
    return load_script("scripts/gen_catalog.py", "gen_catalog")


@pytest.mark.skipif(not SPEC.exists(), reason="vendor spec not beside the checkout")
def test_committed_catalog_is_what_the_script_produces():
    gen = _generator()
    fresh = gen.render(gen.build_catalog(SPEC))
    assert CATALOG_PATH.read_text(encoding="utf-8") == fresh, "run `make catalog` and commit"


def test_catalog_has_the_72_actions_with_their_facts():
    cat = load_catalog()
    assert len(cat) == 72
    search = cat.get("linkedin-search-people")
    assert (search.response, search.pagination, search.page_size) == ("array", "page", 10)
    assert search.uses_account and not search.side_effects
    assert "linkedin_profile_url" in search.output_fields
    assert cat.get("salesnavigator-search-people").page_size == 25
    assert cat.get("linkedin-extract-conversations").pagination == "token"
    people = cat.get("linkedin-extract-people")
    assert people.response == "object" and people.pagination is None
    assert set(people.parameters) == {"sections", "experiences", "skills", "highlights"}
    assert people.input_fields["linkedin_profile_url"].aliases == (
        "url",
        "profile_url",
        "linkedin_url",
    )
    assert not cat.get("googlemaps-search-places").uses_account
    assert cat.get("linkedin-download-attachment").response == "file"
    effects = {a.id for a in cat if a.side_effects}
    assert {"linkedin-connect-profile", "linkedin-message-profile", "linkedin-inmail-profile",
            "linkedin-like-post", "linkedin-comment-post", "linkedin-follow-profile",
            "linkedin-invite-event", "linkedin-accept-invitations",
            "linkedin-withdraw-invitations", "linkedin-archive-message",
            "linkedin-mark-message-as-read", "salesnavigator-connect-profile",
            "salesnavigator-inmail-profile"} == effects  # fmt: skip
    assert sum(a.is_list for a in cat) == 40


def test_catalog_holds_facts_only():
    """A whitelist of keys per level: no description, help or title text can slip in."""
    data = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    action_keys = {"method", "path", "response", "pagination", "page_size", "input",
                   "parameters", "output_fields", "uses_account", "side_effects",
                   "required_parameters", "credits_per_result", "request_schema",
                   "response_schema", "async_request_schema",
                   "schedule_request_schema", "callback_schema"}  # fmt: skip
    for action in data["actions"].values():
        assert set(action) == action_keys
        for key in ("request_schema", "response_schema", "async_request_schema",
                    "schedule_request_schema", "callback_schema"):  # fmt: skip
            _assert_schema_only(action[key])
    for schema in data["bulk"].values():
        _assert_schema_only(schema)
        assert set(action["input"]) <= {"accepted", "fields", "required_any"}
        for f in action["input"]["fields"].values():
            assert set(f) <= {"required", "type", "pattern", "flags", "aliases"}
        for p in (action["parameters"] or {}).values():
            assert set(p) <= {"type", "default", "enum", "items"}
        types = {"string", "integer", "number", "boolean", "array", "object"}
        assert set(action["output_fields"].values()) <= types


_KEYWORDS = {"type", "properties", "patternProperties", "additionalProperties", "items",
             "required", "enum", "const", "format", "pattern", "maxLength", "minLength",
             "maximum", "minimum", "maxItems", "minItems", "oneOf", "anyOf", "allOf",
             "default"}  # fmt: skip


def _assert_schema_only(schema):
    """JSON Schema keywords only, all the way down: no prose, no `$ref`, no OpenAPI `nullable`."""
    if schema is None:
        return
    assert set(schema) <= _KEYWORDS, set(schema) - _KEYWORDS
    for key in ("properties", "patternProperties"):
        for sub in schema.get(key, {}).values():
            _assert_schema_only(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _assert_schema_only(schema[key])
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            _assert_schema_only(sub)


def test_catalog_schemas_are_plain_json_schema():
    """`nullable` became a "null" type; JavaScript regex literals became Python patterns."""
    cat = load_catalog()
    body = cat.get("linkedin-extract-people").request_schema
    assert body["additionalProperties"] is False
    assert body["properties"]["identity_ids"]["type"] == ["array", "null"]
    assert None in body["properties"]["identity_mode"]["enum"]
    assert "integration_users" not in body["properties"]
    assert cat.error_schema["properties"]["error_scope"]["enum"] == [
        "input", "integ", "param", "config", None,
    ]  # fmt: skip
    pattern = body["properties"]["input"]["properties"]["linkedin_profile_url"]["pattern"]
    assert not pattern.startswith("/") and re.search(pattern, "https://www.linkedin.com/in/ada")
    reviews = cat.get("tripadvisor-extract-reviews")
    assert reviews.required_parameters == ("language",)
    assert reviews.with_defaults(None) == {"language": "all"}
    assert cat.get("linkedin-extract-conversations").credits_per_result == 0.05
    assert cat.get("linkedin-extract-people").credits_per_result == 1.0


def test_every_pattern_compiles_and_js_lookbehind_is_translated():
    cat = load_catalog()
    for action in cat:
        for f in action.input_fields.values():
            if f.pattern:
                assert f.regex is not None
    thread = cat.get("linkedin-archive-message").input_fields["linkedin_thread_id"]
    assert thread.regex.search("2-ZmE1YzQ0NjItZTA==")


def test_input_problems_name_the_field():
    people = load_catalog().get("linkedin-extract-people")
    assert people.input_problems({"profile_url": "https://www.linkedin.com/in/ada"}) == []
    [missing] = people.input_problems({})
    assert missing.field == "linkedin_profile_url" and "required" in missing.message
    [bad] = people.input_problems({"linkedin_profile_url": "https://example.com/ada"})
    assert bad.field == "linkedin_profile_url" and "does not look like" in bad.message
    [unknown] = people.parameter_problems({"skillz": True})
    assert unknown.field == "skillz" and "skills" in unknown.message
    [typed] = people.parameter_problems({"skills": "yes"})
    assert typed.field == "skills" and "boolean" in typed.message


def test_every_live_action_has_its_bulk_bodies_and_the_download_none():
    cat = load_catalog()
    live = [a for a in cat if a.method == "POST"]
    assert len(live) == 71
    for act in live:
        for schema in (act.async_request_schema, act.schedule_request_schema):
            assert schema is not None, act.id
            assert schema["additionalProperties"] is False
            assert {"inputs", "callback"} <= set(schema["required"])
            assert schema["properties"]["callback"]["required"] == ["url"]
            extra = schema["properties"].keys() - act.body_fields - {"inputs", "callback"}
            # linkedin-me's live body has no identity_mode; its bulk bodies do
            allowed = {"cron", "timezone", "schedule_at"} | (
                {"identity_mode"} if act.id == "linkedin-me" else set()
            )
            assert extra <= allowed, act.id
            assert act.body_fields - {"input"} <= schema["properties"].keys(), act.id
    download = cat.get("linkedin-download-attachment")
    assert download.async_request_schema is None and download.schedule_request_schema is None


def test_bulk_limits_as_the_spec_gives_them():
    """Async takes 1..100,000 inputs, a schedule 1..100; actions without an input take one."""
    cat = load_catalog()
    people = cat.get("linkedin-extract-people")
    assert people.async_request_schema["properties"]["inputs"]["maxItems"] == 100_000
    assert people.async_request_schema["properties"]["inputs"]["minItems"] == 1
    scheduled = people.schedule_request_schema
    assert scheduled["properties"]["inputs"]["maxItems"] == 100
    assert [b["required"] for b in scheduled["anyOf"]] == [["cron"], ["schedule_at"]]
    me = cat.get("linkedin-me").async_request_schema["properties"]["inputs"]
    assert me["maxItems"] == 1 and set(me["items"]["properties"]) == {"custom_data"}
    assert cat.bulk_schema("runs_query")["properties"]["limit"]["maximum"] == 100
    assert cat.bulk_schema("callbacks_query")["properties"]["limit"]["maximum"] == 20
    assert cat.bulk_schema("schedules_query")["properties"]["limit"]["maximum"] == 100


def test_bulk_schemas_name_the_answers():
    cat = load_catalog()
    run = cat.bulk_schema("run")
    assert run["additionalProperties"] is False
    assert "PARTIAL_SUCCEEDED" in run["properties"]["status"]["enum"]
    assert cat.bulk_schema("runs_page") == {"type": "array", "items": run}
    assert cat.bulk_schema("callbacks_page")["items"] == cat.bulk_schema("callback")
    assert cat.bulk_schema("schedules_page")["items"] == cat.bulk_schema("schedule")
    assert set(cat.bulk_schema("async_submission")["properties"]) >= {"run_uid", "status"}
    assert "schedule_uid" in cat.bulk_schema("schedule_submission")["properties"]
    assert cat.bulk_schema("callback_payload") is None  # per action: Action.callback_schema
    assert cat.bulk_schema("no-such-thing") is None


def test_each_live_action_declares_its_callback_body():
    """`callbacks.onSave` of run/async: `run` required, the action's input, output and error."""
    cat = load_catalog()
    for act in cat:
        schema = act.callback_schema
        if act.method == "GET":
            assert schema is None, act.id
            continue
        assert schema is not None and schema["required"] == ["run"], act.id
        props = schema["properties"]
        assert set(props) == {"run", "input", "error", "results_count", "results"}, act.id
        assert props["run"]["required"] == ["run_uid", "batch_uid", "status"]
        assert "PARTIAL_SUCCEEDED" in props["run"]["properties"]["status"]["enum"]
        assert props["error"] == cat.error_schema, act.id
        sent = act.async_request_schema["properties"]["inputs"]["items"]
        assert set(props["input"]["properties"]) <= set(sent["properties"]), act.id
        item = act.response_schema.get("items", act.response_schema)
        assert props["results"] == {"type": "array", "items": item}, act.id


def test_one_json_type_check_serves_the_catalog_and_the_receiver():
    from captaindata_dagster.api.json_types import json_type_matches

    assert json_type_matches(3, "number") and json_type_matches(2.5, "number")
    assert not json_type_matches(True, "integer") and not json_type_matches(True, "number")
    assert json_type_matches(False, "boolean") and not json_type_matches(0, "boolean")
    assert json_type_matches([], "array") and not json_type_matches({}, "array")
    assert json_type_matches({}, "object") and not json_type_matches("x", "object")
    assert json_type_matches("anything", "a-type-the-spec-may-add")  # the API judges it
    act, name = next(
        (a, n) for a in load_catalog() for n, s in (a.parameters or {}).items()
        if s.get("type") == "boolean"
    )  # fmt: skip
    assert [p.field for p in act.parameter_problems({name: 1})] == [name]  # 1 is no boolean
    assert act.parameter_problems({name: True}) == []


def test_the_generator_and_its_helpers_keep_within_the_size_limits():
    sizes = load_script("scripts/check_sizes.py")
    parts = ("gen_catalog", "catalog_schemas", "catalog_bulk")
    too_big = [msg for p in parts for msg in sizes.oversized(ROOT / "scripts" / f"{p}.py")]
    assert too_big == []
