"""The Dagster resource: no HTTP at construction or load, a working client inside a run."""

from __future__ import annotations

import sqlite3
import warnings
import zlib
from pathlib import Path

import dagster as dg
import pytest

from captaindata_dagster import CaptainDataResource
from captaindata_dagster.api import ValidationError
from captaindata_dagster.orchestration.resource import LiteralKeyWarning
from tests.helpers import TEST_KEY, load_script


def test_loading_definitions_makes_no_http_call(sim, monkeypatch):
    monkeypatch.setenv("CAPTAINDATA_API_KEY", sim.api_key)
    monkeypatch.setenv("CAPTAINDATA_BASE_URL", sim.base_url)
    mod = load_script("definitions.py", "root_definitions")
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


# ---------------------------------------------------------------- a literal key


def test_a_literal_key_warns_with_the_fix():
    with pytest.warns(LiteralKeyWarning, match=r'api_key=dg\.EnvVar\("CAPTAINDATA_API_KEY"\)'):
        CaptainDataResource(api_key=TEST_KEY)


def test_an_env_var_or_no_key_does_not_warn(sim, monkeypatch):
    monkeypatch.setenv("CD_TEST_KEY_VAR", sim.api_key)

    @dg.asset
    def uses_it(captaindata: CaptainDataResource) -> None:
        captaindata.get_client()

    with warnings.catch_warnings():
        warnings.simplefilter("error", LiteralKeyWarning)
        CaptainDataResource()
        CaptainDataResource(api_key=None)
        resource = CaptainDataResource(api_key=dg.EnvVar("CD_TEST_KEY_VAR"), base_url=sim.base_url)
        # a step rebuilds the resource with the EnvVar resolved: not a literal key either
        assert dg.materialize([uses_it], resources={"captaindata": resource}).success


def run_snapshots(instance: dg.DagsterInstance) -> list[str]:
    """The run storage's snapshots, decompressed (runs.db stores them zlib-compressed)."""
    db = Path(instance.root_directory) / "history" / "runs.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT snapshot_body FROM snapshots").fetchall()
    return [zlib.decompress(body).decode() for (body,) in rows]


def test_why_a_literal_key_lands_in_the_run_storage(sim, monkeypatch):
    """The reason for the warning: the key is in runs.db, where a plain grep does not see it."""
    monkeypatch.setenv("CD_TEST_KEY_VAR", sim.api_key)

    @dg.asset
    def uses_it(captaindata: CaptainDataResource) -> None:
        captaindata.get_client()

    with pytest.warns(LiteralKeyWarning):
        literal = CaptainDataResource(api_key=sim.api_key, base_url=sim.base_url)
    from_env = CaptainDataResource(api_key=dg.EnvVar("CD_TEST_KEY_VAR"), base_url=sim.base_url)
    found = {}
    for name, resource in (("literal", literal), ("env", from_env)):
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                [uses_it], resources={"captaindata": resource}, instance=instance
            )
            assert result.success
            runs_db = Path(instance.root_directory) / "history" / "runs.db"
            assert sim.api_key.encode() not in runs_db.read_bytes()  # compressed: grep misses it
            found[name] = any(sim.api_key in snap for snap in run_snapshots(instance))
    assert found == {"literal": True, "env": False}
