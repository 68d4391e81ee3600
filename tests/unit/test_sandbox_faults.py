"""Sandbox faults look like the rates the user set, across the fresh simulator of every step.

Each Dagster step runs in its own process and starts its own sandbox simulator, so what matters is
the FIRST call of many fresh starts: it must fail in about the share the rates say (with one fixed
fault seed, every start drew the same first number and every step failed, or none did). These
tests build each start's settings the way the sandbox does (`sandbox_config()`) and draw its first
call with the simulator's own state and fault picker, without serving HTTP.
"""

from __future__ import annotations

import pytest

from captaindata_dagster.simulator.fault_replies import pick_fault
from captaindata_dagster.simulator.sandbox import (
    SANDBOX_FAULT_SEED_ENV,
    SANDBOX_FAULTS_ENV,
    SANDBOX_SEED,
    sandbox_config,
)
from captaindata_dagster.simulator.state import State

RATES = "LK_BAD_COOKIE=0.05,STATUS_429=0.02"  # sum 0.07, as the README's example


def first_calls(n_calls: int = 1) -> list[str | None]:
    """A fresh sandbox start's first `n_calls` faults (None: the call succeeds)."""
    cfg = sandbox_config()
    state = State(cfg.seed, cfg.fault_seed)
    out = []
    for _ in range(n_calls):
        fault = pick_fault(cfg, {}, state.draw)
        out.append(None if fault is None else fault.name)
    return out


def test_first_calls_of_fresh_starts_fail_at_about_the_rate_set(monkeypatch):
    monkeypatch.setenv(SANDBOX_FAULTS_ENV, RATES)
    monkeypatch.delenv(SANDBOX_FAULT_SEED_ENV, raising=False)
    firsts = [first_calls()[0] for _ in range(400)]
    failed = [f for f in firsts if f is not None]
    # expected 7 % (28 of 400); the bounds are many standard deviations away: this cannot flake
    assert 0.02 <= len(failed) / len(firsts) <= 0.20
    assert set(failed) <= {"LK_BAD_COOKIE", "STATUS_429"}


def test_a_pinned_fault_seed_fails_the_same_calls_at_every_start(monkeypatch):
    monkeypatch.setenv(SANDBOX_FAULTS_ENV, "LK_BAD_COOKIE=0.3,STATUS_429=0.2")
    monkeypatch.setenv(SANDBOX_FAULT_SEED_ENV, "1234")
    one, two = first_calls(60), first_calls(60)
    assert one == two
    assert {None, "LK_BAD_COOKIE", "STATUS_429"} == set(one)  # a real mix, not all one outcome
    monkeypatch.setenv(SANDBOX_FAULT_SEED_ENV, "1235")
    assert first_calls(60) != one


def test_every_start_serves_the_same_data_whatever_its_fault_draws(monkeypatch):
    monkeypatch.delenv(SANDBOX_FAULT_SEED_ENV, raising=False)
    a, b = sandbox_config(), sandbox_config()
    assert a.seed == b.seed == SANDBOX_SEED
    assert a.fault_seed != b.fault_seed  # 63 random bits each


def test_a_fault_seed_that_is_not_an_integer_is_refused_by_name(monkeypatch):
    monkeypatch.setenv(SANDBOX_FAULT_SEED_ENV, "abc")
    with pytest.raises(ValueError, match=SANDBOX_FAULT_SEED_ENV):
        sandbox_config()


def test_a_test_simulator_still_draws_its_faults_from_its_seed():
    # no fault_seed: the draws follow `seed`, as the suite's simulators always did
    assert State(11).draw() == State(11, None).draw() == State(5, 11).draw()
    assert State(11).draw() != State(12).draw()
