"""Sandbox starts: every process's simulator serves the same data, and says so in one warning.

Dagster runs each step in its own process, each with its own sandbox simulator; the steps agree
only if every start serves the same people, companies, users and identities (its fault draws
differ: tests/unit/test_sandbox_faults.py). Each start logs one WARNING that the data is synthetic,
with no loopback port in it (a new one each start would mean nothing to a user): that is at DEBUG.
"""

from __future__ import annotations

import logging

import requests

from captaindata_dagster.simulator import sandbox
from captaindata_dagster.simulator.sandbox import (
    SANDBOX_FAULT_SEED_ENV,
    SANDBOX_FAULTS_ENV,
    start_sandbox_simulator,
)

SEARCH = "https://www.linkedin.com/search/results/people/?keywords=data%20engineer%20paris"


def answers(sim) -> dict:
    headers = {"X-API-Key": sim.api_key}

    def run(action_id: str, inp: dict):
        url = f"{sim.base_url}/actions/{action_id}/run/live"
        r = requests.post(url, json={"input": inp}, headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    people = run("linkedin-search-people", {"linkedin_people_search_url": SEARCH})
    profile = run(
        "linkedin-extract-people", {"linkedin_profile_url": people[3]["linkedin_profile_url"]}
    )
    company = run(
        "linkedin-extract-company", {"linkedin_company_url": profile["linkedin_company_url"]}
    )
    listed = requests.get(f"{sim.base_url}/users", headers=headers, timeout=10).json()
    users = [(u["uid"], u["email"]) for u in listed]  # created_at is each start's clock
    return {"people": people, "profile": profile, "company": company, "users": users}


def test_two_sandbox_starts_serve_the_same_data_with_their_own_fault_draws(monkeypatch):
    monkeypatch.delenv(SANDBOX_FAULTS_ENV, raising=False)
    monkeypatch.delenv(SANDBOX_FAULT_SEED_ENV, raising=False)
    one, two = start_sandbox_simulator(), start_sandbox_simulator()
    try:
        assert one.base_url != two.base_url
        assert one.config.seed == two.config.seed
        assert one.config.fault_seed != two.config.fault_seed
        assert answers(one) == answers(two)
    finally:
        one.stop()
        two.stop()


def test_each_start_warns_once_that_the_data_is_synthetic_with_its_port_at_debug(
    monkeypatch, caplog
):
    monkeypatch.delenv(SANDBOX_FAULTS_ENV, raising=False)
    monkeypatch.setattr(sandbox, "_sim", None)  # this process's sandbox: started afresh here
    with caplog.at_level(logging.DEBUG, logger=sandbox.log.name):
        sim = sandbox.sandbox_simulator()
        assert sandbox.sandbox_simulator() is sim  # one per process: no second banner
    try:
        records = [r for r in caplog.records if r.name == sandbox.log.name]
        warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "SYNTHETIC" in warnings[0]
        assert "CAPTAINDATA_SANDBOX" in warnings[0] and "CAPTAINDATA_API_KEY" in warnings[0]
        assert "127.0.0.1" not in warnings[0] and str(sim.port) not in warnings[0]
        debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
        assert any(sim.base_url in m for m in debug)
    finally:
        sim.stop()
