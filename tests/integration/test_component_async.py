"""The component's async steps, built from YAML in-process and materialized against the simulator.

`CaptainDataActionsComponent.resolve_from_yaml` resolves a `defs.yaml`'s attributes as dg does
(templates, `{{ env.NAME }}` -> `dg.EnvVar`) without a dg project (tests/slow has those). The
simulator POSTs the async runs' callbacks to a real `ReceiverServer` on loopback, whose URL the
YAML reads from `$CAPTAINDATA_RECEIVER_PUBLIC_URL`; a deferred step's partition is landed by the
component's own landing sensor, ticked with the top-level resources the sensor daemon gives it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from captaindata_dagster import CaptainDataActionsComponent
from captaindata_dagster.api import ValidationError
from captaindata_dagster.orchestration.metadata_set import BULK_LANDING_TAG
from tests.helpers import SEARCHES, materialization_metadata, wait_until

PARTITION = next(iter(SEARCHES))
SENSOR = "linkedin_people_bulk_landing_sensor"


@pytest.fixture
def async_env(make_sim, receiver, monkeypatch):
    """A simulator posting callbacks at once, its key, URL and the receiver's in the environment."""
    sim = make_sim(search_total=50, callback_backoff_s=0.0, latency_ms=20)
    monkeypatch.setenv("CAPTAINDATA_API_KEY", sim.api_key)
    monkeypatch.setenv("CAPTAINDATA_BASE_URL", sim.base_url)
    monkeypatch.setenv("CAPTAINDATA_RECEIVER_PUBLIC_URL", receiver.base_url)
    monkeypatch.delenv("CAPTAINDATA_SANDBOX", raising=False)
    return sim


def component(tmp_path: Path, **steps: Any) -> CaptainDataActionsComponent:
    """The component of a defs.yaml: one search, 4 people, the given steps, an async resource."""
    attributes = {
        "searches": {PARTITION: SEARCHES[PARTITION]},
        "people": {"max_results": 4},
        **steps,
        "resource": {
            "api_key": "{{ env.CAPTAINDATA_API_KEY }}",
            "sandbox": False,
            "ledger_path": str(tmp_path / "ledger.sqlite"),
            "receiver_url": "{{ env.CAPTAINDATA_RECEIVER_PUBLIC_URL }}",
            "callback_store": str(tmp_path / "callbacks.sqlite"),
            "bulk_poll_s": 0.01,
            "bulk_status_every_s": 0.05,
        },
    }
    return CaptainDataActionsComponent.resolve_from_yaml(yaml.safe_dump(attributes))


def materialize(defs: dg.Definitions, instance, **kwargs: Any) -> dg.ExecuteInProcessResult:
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    return dg.materialize(assets, partition_key=PARTITION, instance=instance, **kwargs)


def configured(resource_def: Any) -> Any:
    """The resource a run or a sensor tick gets from its definition (`EnvVar`s read)."""
    with dg.build_resources({"r": resource_def}) as built:
        return built.r


def test_an_async_step_from_yaml_lands_its_tables(async_env, tmp_path, instance):
    comp = component(tmp_path, mode="live", profiles={"mode": "async"})
    defs = comp.build_definitions()
    assert SENSOR not in {s.name for s in defs.sensors or []}  # nothing defers
    result = materialize(defs, instance)
    assert result.success
    found = result.output_for_node("linkedin_people", "results")
    got = result.output_for_node("linkedin_profiles", "results")
    assert set(got["linkedin_profile_url"]) == set(found["linkedin_profile_url"])
    assert len(got) == 4
    md = materialization_metadata(result, "linkedin_profiles")
    assert md["captaindata/mode"] == "async" and md["captaindata/submitted"] == 4
    assert set(md["captaindata/bulk_runs"].values()) == {"SUCCEEDED"}
    assert "captaindata/mode" not in materialization_metadata(
        result, "linkedin_people"
    )  # the component's: live


def test_the_components_mode_is_every_steps_default(async_env, tmp_path, instance):
    comp = component(tmp_path, mode="async", people={"max_results": 4, "mode": "live"}, profiles={})
    result = materialize(comp.build_definitions(), instance)
    assert result.success
    assert materialization_metadata(result, "linkedin_profiles")["captaindata/mode"] == "async"
    assert "captaindata/mode" not in materialization_metadata(result, "linkedin_people")


def test_a_deferred_step_is_landed_by_the_components_sensor(async_env, tmp_path, instance):
    sim = async_env
    comp = component(tmp_path, profiles={"mode": "async", "defer": True})
    defs = comp.build_definitions()
    sensor = next(s for s in defs.sensors or [] if s.name == SENSOR)
    assert isinstance(sensor, dg.SensorDefinition)
    assert sensor.required_resource_keys == {"captaindata_linkedin_people_sensors"}
    dg.Definitions.validate_loadable(defs)
    top_level = defs.get_repository_def().get_top_level_resources()

    first = materialize(defs, instance)
    assert first.success
    landed_keys = {
        e.materialization.asset_key.to_user_string()
        for e in first.get_asset_materialization_events()
    }
    assert "linkedin_people" in landed_keys and "linkedin_profiles" not in landed_keys
    resource = configured(top_level["captaindata_linkedin_people_sensors"])
    (record,) = resource.get_ledger().bulk_submissions(open_only=True)
    assert record.origin == {"asset_key": "linkedin_profiles", "partition_key": PARTITION}

    client = resource.get_client()
    wait_until(lambda: client.get_run(record.run_uid or "").ended, "the run never ended")
    with dg.build_sensor_context(
        instance=instance, definitions=defs, resources=top_level
    ) as context:  # as the sensor daemon does: the repository's top-level resources
        (request,) = sensor.evaluate_tick(context).run_requests or []
    assert request.partition_key == PARTITION
    assert request.tags[BULK_LANDING_TAG] == record.submission_id

    landed = materialize(defs, instance, selection=request.asset_selection, tags=request.tags)
    assert landed.success
    assert len(landed.output_for_node("linkedin_profiles", "results")) == 4
    searched = materialization_metadata(first, "linkedin_people")["captaindata/credits_spent"]
    assert sim.credits_used == searched + 4  # nothing submitted twice
    assert resource.get_ledger().bulk_submissions(open_only=True) == []


def test_the_landing_sensor_reads_the_projects_resource_with_resource_null(monkeypatch):
    monkeypatch.setenv("CAPTAINDATA_SANDBOX", "1")
    comp = CaptainDataActionsComponent.resolve_from_yaml(
        yaml.safe_dump(
            {
                "searches": dict(SEARCHES),
                "mode": "async",
                "profiles": {},
                "companies": {"defer": True},
                "resource": None,
            }
        )
    )
    defs = comp.build_definitions()
    (sensor,) = [s for s in defs.sensors or [] if s.name == SENSOR]
    assert sensor.required_resource_keys == {"captaindata"}
    assert not defs.resources  # the project's `captaindata`, declared by another defs file
    assets = [a for t in sensor.targets for a in t.assets_defs]
    targets = [k for a in assets if isinstance(a, dg.AssetsDefinition) for k in a.keys]
    assert {k.to_user_string() for k in targets} == {
        "linkedin_companies", "linkedin_companies_errors",
    }  # fmt: skip


@pytest.mark.parametrize(
    "attributes, expected",
    [
        ({"mode": "bulk"}, "mode: mode must be 'live' or 'async', got 'bulk'"),
        ({"profiles": {"mode": "bulk"}}, "profiles.mode: mode must be 'live' or 'async'"),
        ({"profiles": {"defer": True}}, "profiles.defer: defer: true is for async steps"),
        (
            {"mode": "async", "profiles": {"mode": "live", "defer": True}},
            "profiles.defer: defer: true is for async steps; add mode: async",
        ),
        (
            {
                "actions": [
                    {
                        "action_id": "linkedin-extract-company",
                        "upstream": "people",
                        "input_column": "linkedin_profile_url",
                        "defer": True,
                    }
                ]
            },
            "actions[0].defer",
        ),
    ],  # fmt: skip
    ids=["component-mode", "step-mode", "defer-live", "defer-step-live", "defer-action"],
)
def test_bad_modes_are_refused_at_load_naming_the_field(monkeypatch, attributes, expected):
    monkeypatch.setenv("CAPTAINDATA_SANDBOX", "1")
    comp = CaptainDataActionsComponent.resolve_from_yaml(
        yaml.safe_dump({"searches": dict(SEARCHES), **attributes})
    )
    with pytest.raises(ValidationError) as info:
        comp.build_definitions()
    assert expected in str(info.value)
