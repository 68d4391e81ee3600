"""`captaindata_dagster.testing`: the resource and the pytest plugin users' own suites opt into.

The plugin is tested as a user meets it: a small project in a temporary folder whose conftest
declares `pytest_plugins`, run by `pytester`, whose tests materialize a real asset against the
fixture's simulator and check the rows and the simulator's request log.
"""

from __future__ import annotations

import textwrap
import warnings

import dagster as dg

from captaindata_dagster import build_action_asset
from captaindata_dagster.simulator import run_simulator
from captaindata_dagster.testing import simulated_resource

pytest_plugins = ["pytester"]

ACTION = "linkedin-extract-company"
URLS = ["https://www.linkedin.com/company/acme/", "https://www.linkedin.com/company/globex/"]
OPT_IN = 'pytest_plugins = ["captaindata_dagster.testing.pytest_plugin"]\n'

# The user's tests: one asset of two companies, materialized against the fixture's simulator.
USER_TESTS = f"""
import dagster as dg
import pytest
import requests

from captaindata_dagster import CaptainDataResource, build_action_asset

URLS = {URLS!r}
companies = build_action_asset(
    {ACTION!r}, name="companies", inputs=URLS, checks=False, max_error_rate=0.5
)


def materialize(resource):
    return dg.materialize([companies], resources={{"captaindata": resource}}, raise_on_error=False)


def test_rows_and_request_log(captaindata_simulator, captaindata_resource, tmp_path):
    result = materialize(captaindata_resource)
    assert result.success
    rows = result.output_for_node("companies", "results")
    assert sorted(rows["linkedin_company_url"]) == sorted(URLS)
    assert rows["company_name"].notna().all()
    calls = captaindata_simulator.calls({ACTION!r})
    assert sorted(c.input["linkedin_company_url"] for c in calls) == sorted(URLS)
    assert all(c.status == 200 and c.performed for c in calls)
    assert captaindata_simulator.credits_used == 2
    assert captaindata_resource.ledger_path.startswith(str(tmp_path))


@pytest.mark.captaindata_simulator(seed=3, fail_inputs={{URLS[0]: "LK_BAD_COOKIE"}})
def test_marker_injects_a_failing_input(captaindata_simulator, captaindata_resource):
    assert captaindata_simulator.config.seed == 3
    result = materialize(captaindata_resource)
    assert result.success  # one input of two failing is within the asset's error rate
    rows = result.output_for_node("companies", "results")
    assert list(rows["linkedin_company_url"]) == [URLS[1]]
    calls = captaindata_simulator.calls({ACTION!r})
    seen = sorted((c.input["linkedin_company_url"], c.status, c.error_label) for c in calls)
    assert seen == [(URLS[0], 424, "LK_BAD_COOKIE"), (URLS[1], 200, None)]


def test_client_fixture(captaindata_simulator, captaindata_client):
    answer = captaindata_client.run_action({ACTION!r}, {{"linkedin_company_url": URLS[1]}})
    assert answer.results and captaindata_simulator.credits_used == 1


def test_env_fixture_serves_a_resource_built_from_the_environment(captaindata_env, tmp_path):
    result = materialize(CaptainDataResource())
    assert result.success
    assert len(captaindata_env.calls({ACTION!r})) == 2
    assert (tmp_path / "captaindata" / "ledger.sqlite").exists()


SERVED = []


def test_simulator_serves_during_its_test(captaindata_simulator):
    SERVED.append(captaindata_simulator.base_url)
    assert requests.get(f"{{SERVED[0]}}/workspaces", timeout=5).status_code == 401  # no key


def test_simulator_of_the_previous_test_was_stopped():
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{{SERVED[0]}}/workspaces", timeout=5)
"""


def test_plugin_fixtures_serve_a_real_materialization(pytester):
    pytester.makeconftest(OPT_IN)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)


def test_plugin_is_not_registered_without_opting_in(pytester):
    pytester.makepyfile(test_user="def test_needs_the_plugin(captaindata_simulator):\n    pass\n")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'captaindata_simulator' not found*"])


def test_settings_fixture_overridden_in_a_conftest(pytester):
    pytester.makeconftest(
        OPT_IN
        + textwrap.dedent(
            """
            import pytest

            @pytest.fixture
            def captaindata_simulator_settings():
                return {"seed": 11, "credits": 1}
            """
        )
    )
    pytester.makepyfile(
        test_credits=f"""
        import pytest
        from captaindata_dagster.api import CaptainDataError

        def test_out_of_credits(captaindata_simulator, captaindata_client):
            assert captaindata_simulator.config.seed == 11
            captaindata_client.run_action({ACTION!r}, {{"linkedin_company_url": {URLS[0]!r}}})
            with pytest.raises(CaptainDataError) as info:
                captaindata_client.run_action({ACTION!r}, {{"linkedin_company_url": {URLS[1]!r}}})
            assert info.value.error_label == "NO_CREDITS"
            assert [c.status for c in captaindata_simulator.calls()] == [200, 402]

        @pytest.mark.captaindata_simulator("positional")
        def test_marker_refuses_positional_settings(captaindata_simulator):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*takes keywords only*"])


def test_simulated_resource_ledgers_are_separate_unless_shared(tmp_path):
    companies = build_action_asset(ACTION, name="companies", inputs=URLS, checks=False)
    shared = tmp_path / "shared.sqlite"
    with run_simulator(seed=5) as sim:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no literal-key warning for a simulator's key
            fresh = [simulated_resource(sim), simulated_resource(sim)]
            reused = [simulated_resource(sim, ledger_path=shared) for _ in range(2)]
        for resource in fresh + reused:
            result = dg.materialize([companies], resources={"captaindata": resource})
            assert result.success
            assert len(result.output_for_node("companies", "results")) == 2
        calls = sim.calls(ACTION)
    assert len(calls) == 6  # two fresh ledgers pay twice each; the shared one pays once
    assert fresh[0].ledger_path != fresh[1].ledger_path
    assert shared.exists()


def test_simulated_resource_fields_win_over_the_simulator(tmp_path):
    with run_simulator(seed=5) as sim:
        resource = simulated_resource(
            sim, ledger_path=tmp_path / "l.sqlite", api_key="wrong", requests_per_second=5.0
        )
        assert resource.api_key == "wrong" and resource.base_url == sim.base_url
        assert resource.requests_per_second == 5.0 and resource.sandbox is False
