"""The Dagster resource: no HTTP at construction or load, a working client inside a run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dagster as dg
import pytest

from captaindata_dagster import CaptainDataResource, ValidationError

from .conftest import TEST_KEY

ROOT = Path(__file__).resolve().parent.parent


def test_loading_definitions_makes_no_http_call(sim, monkeypatch):
    monkeypatch.setenv("CAPTAINDATA_API_KEY", sim.api_key)
    monkeypatch.setenv("CAPTAINDATA_BASE_URL", sim.base_url)
    spec = importlib.util.spec_from_file_location("root_definitions", ROOT / "definitions.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    defs = mod.defs
    assert isinstance(defs, dg.Definitions)
    defs.get_repository_def()  # resolves every asset, job, schedule and sensor
    assert sim.requests == []


def test_resource_gives_a_shared_client_inside_a_run(sim):
    resource = CaptainDataResource(
        api_key=sim.api_key, base_url=sim.base_url, requests_per_second=5
    )
    assert TEST_KEY not in repr(resource) and TEST_KEY not in str(resource)

    @dg.asset
    def one_profile(captaindata: CaptainDataResource) -> dict:
        client = captaindata.get_client()
        assert client is captaindata.get_client()
        res = client.run_action(
            "linkedin-extract-people", {"linkedin_profile_url": "https://www.linkedin.com/in/ada"}
        )
        return res.results[0]

    result = dg.materialize([one_profile], resources={"captaindata": resource})
    assert result.success
    assert result.output_for_node("one_profile")["linkedin_profile_url"].endswith("/in/ada")
    assert sim.credits_used == 1


def test_missing_key_names_both_variables():
    with pytest.raises(ValidationError) as info:
        CaptainDataResource().get_client()
    text = str(info.value)
    assert "CAPTAINDATA_API_KEY" in text and "CAPTAINDATA_SANDBOX" in text
    assert info.value.field == "api_key"


def test_env_var_key_is_resolved_at_run_time(sim, monkeypatch):
    monkeypatch.setenv("CD_TEST_KEY_VAR", sim.api_key)
    resource = CaptainDataResource(api_key=dg.EnvVar("CD_TEST_KEY_VAR"), base_url=sim.base_url)

    @dg.asset
    def workspace(captaindata: CaptainDataResource) -> dict:
        return captaindata.get_client().get_workspace()

    result = dg.materialize([workspace], resources={"captaindata": resource})
    assert result.success and "credits_left" in result.output_for_node("workspace")
