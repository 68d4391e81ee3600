"""Accounts: users and LinkedIn integrations (functions, CLI, ops), rotation, errors naming users.

Everything runs against the simulator on loopback: the CLI in-process (click's `CliRunner`) and as a
real subprocess, the ops in a real Dagster job, rotation through `materialize`, and the error
sensors ticking against a real instance after a run where one user's session cookie is bad.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import requests
from click.testing import CliRunner, Result

from captaindata_dagster import (
    CaptainDataClient,
    CaptainDataResource,
    build_action_asset,
    build_captaindata_error_sensor,
    build_captaindata_run_failure_sensor,
)
from captaindata_dagster.api import (
    MalformedResponseError,
    UpstreamError,
    ValidationError,
    accounts,
)
from captaindata_dagster.cli import main
from captaindata_dagster.engine.batch import ERROR_COLUMNS, run_batch
from captaindata_dagster.orchestration import (
    build_outreach_op,
    connect_linkedin_job,
    connect_linkedin_op,
    create_captaindata_user_op,
    list_captaindata_users_op,
)
from captaindata_dagster.orchestration.warehouse import DuckDBWarehouseIOManager
from captaindata_dagster.storage.ledger import Ledger
from tests.helpers import simulator_resource

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "linkedin-extract-people"
COOKIE = "AQEDAT-li-at-cookie-7c1d-DO-NOT-LEAK"  # distinctive, so a leak is easy to grep for
SALES_COOKIE = "AQJ2-li-a-cookie-88e0-DO-NOT-LEAK"
NO_RETRY = dg.RetryPolicy(max_retries=0)


def profile_url(i: int) -> str:
    return f"https://www.linkedin.com/in/person-{i:03d}"


@pytest.fixture
def client(sim, make_client):
    # users are the seed's form: this file's client sends integration_users whatever the default
    return make_client(sim, account_form="integration_users")


@pytest.fixture
def cookie_env(monkeypatch):
    monkeypatch.setenv(accounts.LI_AT_ENV, COOKIE)
    monkeypatch.delenv(accounts.LI_A_ENV, raising=False)


def workspace(sim, client, connected=2, unconnected=1) -> tuple[list[str], list[str]]:
    """Users with a connected LinkedIn account, and users without one (created in the sim)."""
    good, bare = [], []
    for i in range(connected + unconnected):
        user = client.create_user(f"user{i}@example.com", f"User {i}")
        if i < connected:
            client.connect_integration(user["uid"], li_at=COOKIE)
            good.append(user["uid"])
        else:
            bare.append(user["uid"])
    return good, bare


def set_bad_cookies(sim, uids: list[str]) -> None:
    """Expire sessions the way another process would: through the simulator's HTTP config."""
    root = sim.base_url.removesuffix("/v4")
    r = requests.post(f"{root}/_simulator/config", json={"bad_cookie_users": uids}, timeout=5)
    assert r.status_code == 200, r.text


def leaked(sim) -> bool:
    return COOKIE in json.dumps([r.to_dict() for r in sim.requests])


# ---------------------------------------------------------------------- the simulator's answers


def test_simulator_refuses_unconnected_and_expired_accounts(sim, client):
    (good, other), (bare,) = workspace(sim, client)
    run = lambda uid: client.run_action(  # noqa: E731
        PROFILE, {"linkedin_profile_url": profile_url(1)}, integration_users=[uid]
    )
    assert run(good).results
    assert run("u1").results  # a uid the simulator never created: not enforced (older tests)
    with pytest.raises(UpstreamError) as info:
        run(bare)
    assert (info.value.status_code, info.value.error_label) == (424, "NOT_CONNECTED")
    assert info.value.params["user_uid"] == bare

    set_bad_cookies(sim, [good])
    with pytest.raises(UpstreamError) as info:
        run(good)
    assert info.value.error_label == "LK_BAD_COOKIE" and good in info.value.message
    assert run(other).results
    listed = {u["uid"]: u for u in client.list_users()}
    assert accounts.linkedin_status(listed[good]) == "error: LK_BAD_COOKIE"
    assert accounts.linkedin_status(listed[bare]) == "not connected"
    assert accounts.linkedin_status(listed[other]) == "connected"
    refused = [r for r in sim.calls(PROFILE) if r.status == 424]
    assert [(r.account, r.error_label, r.credits) for r in refused] == [
        (bare, "NOT_CONNECTED", 0),
        (good, "LK_BAD_COOKIE", 0),
    ]

    client.connect_integration(good, li_at="fresh-cookie", update=True)  # reconnecting fixes it
    assert sim.config.bad_cookie_users == ()
    assert run(good).results


def test_simulator_without_any_usable_account(sim, client):
    client.create_user("ada@example.com", "Ada Lovelace")  # a workspace with a user, unconnected
    with pytest.raises(UpstreamError) as info:
        client.run_action(PROFILE, {"linkedin_profile_url": profile_url(1)})
    assert info.value.error_label == "NO_VALID_ACCOUNT_CONFIGURED"
    with pytest.raises(ValueError, match="bad_cookie_users"):
        sim.configure(bad_cookie_users="not-a-list")


# ---------------------------------------------------------------------- plain functions


def test_create_and_list_users_over_pages(sim, client):
    with pytest.raises(ValidationError) as info:
        accounts.create_user(client, "not-an-email", "Ada")
    assert info.value.field == "email"
    with pytest.raises(ValidationError) as info:
        accounts.create_user(client, "ada@example.com", "  ")
    assert info.value.field == "full_name"
    assert sim.requests == []  # refused locally: no call

    made = [accounts.create_user(client, f"p{i}@example.com", f"Person {i}") for i in range(30)]
    listed = accounts.list_users(client)
    assert [u["uid"] for u in listed] == [u["uid"] for u in made]  # 25 a page: two pages read
    pages = [r.query.get("page") for r in sim.requests if r.method == "GET"]
    assert pages == ["1", "2", "3"]  # the third, empty, ends it
    assert [u["email"] for u in accounts.list_users(client, query="p29")] == ["p29@example.com"]


@pytest.mark.parametrize("answer", [{"users": []}, None])
def test_list_users_on_a_non_list_answer_raises(sim, client, monkeypatch, answer):
    routes = sim.routes.workspace
    monkeypatch.setattr(routes, "list_users", lambda call: routes.ok(call, answer))
    with pytest.raises(MalformedResponseError) as info:
        client.list_users()
    assert "GET /users" in info.value.message
    with pytest.raises(MalformedResponseError):  # not mistaken for a workspace without users
        accounts.connected_users(client)


def test_connected_users_are_those_without_error(sim, client):
    good, bare = workspace(sim, client, connected=3, unconnected=2)
    assert accounts.connected_users(client) == good
    set_bad_cookies(sim, [good[1]])
    assert accounts.connected_users(client) == [good[0], good[2]]


def test_connect_reads_cookies_from_named_variables(sim, client, monkeypatch):
    user = accounts.create_user(client, "ada@example.com", "Ada Lovelace")
    monkeypatch.delenv("MY_LI_AT", raising=False)
    with pytest.raises(ValidationError) as info:
        accounts.connect_linkedin(client, user["uid"], li_at_env="MY_LI_AT")
    assert info.value.field == "MY_LI_AT" and "set MY_LI_AT" in info.value.message
    assert not [r for r in sim.requests if "integrations" in r.path]

    monkeypatch.setenv("MY_LI_AT", COOKIE)
    monkeypatch.setenv("MY_LI_A", SALES_COOKIE)
    account = accounts.connect_linkedin(
        client, user["uid"], li_at_env="MY_LI_AT", li_a_env="MY_LI_A", account_name="Ada LI"
    )
    assert account["user_uid"] == user["uid"] and account["name"] == "Ada LI"
    assert COOKIE not in json.dumps(account)
    again = accounts.connect_linkedin(client, user["uid"], li_at_env="MY_LI_AT")
    assert again["uid"] == account["uid"]
    methods = [r.method for r in sim.requests if "integrations" in r.path]
    assert methods == ["POST", "PUT"]  # connected first, then refreshed: looked up before each
    sent = [r.body for r in sim.requests if "integrations" in r.path]
    assert sent[0]["auth_data"]["cookies"] == {"li_at": "***", "li_a": "***"}
    assert not leaked(sim) and SALES_COOKIE not in repr(sim.requests)

    with pytest.raises(ValidationError) as info:
        accounts.connect_linkedin(client, "no-such-user", li_at_env="MY_LI_AT")
    assert info.value.field == "user_uid" and "users list" in info.value.message
    assert len([r for r in sim.requests if "integrations" in r.path]) == 2  # no cookie sent


def test_account_hints_name_each_user():
    hint = accounts.account_hint("LK_BAD_COOKIE", ["u-2", "u-1", "u-2"])
    assert hint == (
        "reconnect user u-2's LinkedIn (its session cookie expired): "
        "captaindata-dagster users connect u-2; "
        "reconnect user u-1's LinkedIn (its session cookie expired): "
        "captaindata-dagster users connect u-1"
    )
    assert "users connect u-9" in accounts.account_hint("NOT_CONNECTED", ["u-9"])
    assert "users list" in accounts.account_hint("NO_VALID_ACCOUNT_CONFIGURED")
    assert accounts.account_hint("STATUS_429", ["u-1"]) is None


# ---------------------------------------------------------------------- the CLI


def cli(*args: str) -> Result:
    """Run `captaindata-dagster ARGS` in this process; an unexpected exception fails the test."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_create_list_connect(sim, api_env, cookie_env):
    made = cli("users", "create", "--email", "ada@example.com", "--name", "Ada Lovelace")
    assert made.exit_code == 0
    uid = made.stdout.split()[2]
    assert made.stdout.startswith(f"created user {uid} (ada@example.com)")
    assert f"users connect {uid}" in made.stdout
    made = cli("users", "create", "--email", "bob@example.com", "--name", "Bob", "--json")
    assert made.exit_code == 0
    bob = json.loads(made.stdout)["uid"]

    done = cli("users", "connect", uid, "--account-name", "Ada LI")
    assert done.exit_code == 0
    assert done.stdout.startswith("LinkedIn account ") and f"for user {uid}" in done.stdout
    assert COOKIE not in done.output

    listed = cli("users", "list")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["UID", "NAME", "EMAIL", "LINKEDIN"]
    assert lines[1].split() == [uid, "Ada", "Lovelace", "ada@example.com", "connected"]
    assert lines[2].split() == [bob, "Bob", "bob@example.com", "not", "connected"]
    assert "2 user(s), 1 with LinkedIn connected" in listed.stderr

    set_bad_cookies(sim, [uid])
    listed = cli("users", "list", "--json")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout) == [
        {"uid": uid, "name": "Ada Lovelace", "email": "ada@example.com",
         "linkedin": "error: LK_BAD_COOKIE"},
        {"uid": bob, "name": "Bob", "email": "bob@example.com", "linkedin": "not connected"},
    ]  # fmt: skip
    listed = cli("users", "list", "--json", "--connected")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []

    done = cli("users", "connect", uid)  # the fix the sensor names: a refresh (PUT)
    assert done.exit_code == 0 and f"connected for user {uid}" in done.stdout
    listed = cli("users", "list", "--json", "--connected")
    assert [r["uid"] for r in json.loads(listed.stdout)] == [uid]
    assert [r.method for r in sim.requests if "integrations" in r.path] == ["POST", "PUT"]
    assert not leaked(sim)


def test_cli_errors_name_the_variable(sim, api_env, monkeypatch):
    monkeypatch.delenv(accounts.LI_AT_ENV, raising=False)
    made = cli("users", "create", "--email", "ada@example.com", "--name", "Ada")
    assert made.exit_code == 0
    uid = made.stdout.split()[2]
    refused = cli("users", "connect", uid)
    assert refused.exit_code == 2 and "set CAPTAINDATA_LI_AT" in refused.stderr
    monkeypatch.setenv("OTHER_VAR", COOKIE)
    refused = cli("users", "connect", uid, "--li-at-env", "MISSING_VAR")
    assert refused.exit_code == 2 and "set MISSING_VAR" in refused.stderr
    refused = cli("users", "connect", "nobody", "--li-at-env", "OTHER_VAR")
    assert refused.exit_code == 2 and "no user nobody" in refused.stderr
    refused = cli("users", "create", "--email", "nope", "--name", "Ada")
    assert refused.exit_code == 2 and "email" in refused.stderr

    monkeypatch.setenv("CAPTAINDATA_API_KEY", "wrong-key")
    refused = cli("users", "list")
    assert refused.exit_code == 1 and "401" in refused.stderr
    monkeypatch.delenv("CAPTAINDATA_API_KEY")
    refused = cli("users", "list")
    assert refused.exit_code == 2
    assert "set CAPTAINDATA_API_KEY" in refused.stderr and "--sandbox" in refused.stderr
    assert not leaked(sim)


def test_cli_as_a_process(sim, tmp_path):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CAPTAINDATA_")
    } | {
        "CAPTAINDATA_API_KEY": sim.api_key,
        "CAPTAINDATA_BASE_URL": sim.base_url,
        "MY_COOKIE": COOKIE,
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "captaindata_dagster", *args],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    made = cli("users", "create", "--email", "ada@example.com", "--name", "Ada", "--json")
    assert made.returncode == 0, made.stderr
    uid = json.loads(made.stdout)["uid"]
    done = cli("users", "connect", uid, "--li-at-env", "MY_COOKIE", "--li-a-env", "")
    assert done.returncode == 0, done.stderr
    listed = cli("users", "list", "--json")
    assert json.loads(listed.stdout)[0]["linkedin"] == "connected"
    assert all(COOKIE not in p.stdout + p.stderr for p in (made, done, listed))
    usage = cli("users")
    assert usage.returncode == 2 and "create" in usage.stderr
    env.pop("CAPTAINDATA_API_KEY")
    sandbox = cli("users", "list", "--sandbox")  # a throwaway simulator in that process
    assert sandbox.returncode == 0, sandbox.stderr
    assert "SANDBOX" in sandbox.stderr and "3 user(s), 3 with LinkedIn connected" in sandbox.stderr
    assert sandbox.stdout.splitlines()[1].split()[1:] == [
        "Ada", "Lovelace", "ada@example.com", "connected",
    ]  # fmt: skip
    assert not leaked(sim)


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["captaindata-dagster"] == "captaindata_dagster.cli:main"
    installed = Path(sys.executable).parent / "captaindata-dagster"
    if not installed.exists():
        pytest.skip("the project is not installed in this interpreter (pip install -e .)")
    shown = subprocess.run([str(installed), "users", "--help"], capture_output=True, text=True)
    assert shown.returncode == 0 and "connect" in shown.stdout


# ---------------------------------------------------------------------- ops in a real job


def resource_for(sim, tmp_path, **kw) -> CaptainDataResource:
    # users: the seed's form (see `client`)
    return simulator_resource(sim, tmp_path, **{"account_form": "integration_users", **kw})


def output_metadata(result, step: str) -> dict:
    [event] = [e for e in result.all_node_events if e.is_successful_output and e.step_key == step]
    return {k: v.value for k, v in event.step_output_data.metadata.items()}


def test_ops_create_connect_and_list_in_a_job(sim, tmp_path, cookie_env):
    @dg.job
    def onboard():
        list_captaindata_users_op(after=connect_linkedin_op(after=create_captaindata_user_op()))

    @dg.job
    def status():
        list_captaindata_users_op()

    warehouse = tmp_path / "warehouse.duckdb"
    defs = dg.Definitions(
        jobs=[onboard, status, connect_linkedin_job],
        resources={
            "captaindata": resource_for(sim, tmp_path),
            # a warehouse IO manager, as beside assets: the ops hand it nothing to store
            "io_manager": DuckDBWarehouseIOManager(database=str(warehouse)),
        },
    )
    ada = {"email": "ada@example.com", "full_name": "Ada Lovelace", "timezone": "Europe/Paris"}
    config = {"ops": {"create_captaindata_user": {"config": ada},
                      "connect_linkedin": {"config": {"email": "ada@example.com"}}}}  # fmt: skip
    with dg.instance_for_test() as instance:
        result = defs.get_job_def("onboard").execute_in_process(
            run_config=config, instance=instance
        )
        assert result.success
        uid = output_metadata(result, "create_captaindata_user")["user_uid"]
        assert output_metadata(result, "connect_linkedin")["user_uid"] == uid
        listed = output_metadata(result, "list_captaindata_users")
        assert listed["rows"] == [
            {"uid": uid, "name": "Ada Lovelace", "email": "ada@example.com",
             "linkedin": "connected"}
        ]  # fmt: skip
        assert (listed["users"], listed["connected"], listed["needs_attention"]) == (1, 1, [])

        # a user without LinkedIn shows as needing attention; the example job connects it
        bob = CaptainDataClient(sim.api_key, sim.base_url).create_user("bob@example.com", "Bob")
        result = defs.get_job_def("status").execute_in_process(instance=instance)
        listed = output_metadata(result, "list_captaindata_users")
        assert listed["needs_attention"] == [bob["uid"]] and listed["connected"] == 1
        result = defs.get_job_def("connect_linkedin_job").execute_in_process(
            run_config={"ops": {"connect_linkedin": {"config": {"user_uid": bob["uid"]}}}},
            instance=instance,
        )
        assert result.success
        listed = output_metadata(result, "list_captaindata_users")
        assert [(r["uid"], r["linkedin"]) for r in listed["rows"]] == [
            (uid, "connected"),
            (bob["uid"], "connected"),
        ]
        assert (
            listed["needs_attention"] == []
            and "| uid | name | email | linkedin |" in (listed["table"])
        )
        logs = [e for r in instance.get_runs() for e in instance.all_logs(r.run_id)]
        assert len(logs) > 10 and COOKIE not in "".join(str(e) for e in logs)
    connects = [r.method for r in sim.requests if r.path.endswith("/integrations/linkedin")]
    assert connects == ["POST", "POST"]
    assert not leaked(sim) and not warehouse.exists()


def test_connect_op_fails_naming_the_missing_variable(sim, tmp_path, monkeypatch):
    monkeypatch.delenv(accounts.LI_AT_ENV, raising=False)
    uid = CaptainDataClient(sim.api_key, sim.base_url).create_user("a@example.com", "A")["uid"]
    defs = dg.Definitions(
        jobs=[connect_linkedin_job], resources={"captaindata": resource_for(sim, tmp_path)}
    )
    result = defs.get_job_def("connect_linkedin_job").execute_in_process(
        run_config={"ops": {"connect_linkedin": {"config": {"user_uid": uid}}}},
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    data = failure.step_failure_data.user_failure_data
    assert data.metadata["error_label"].value == "MISSING_COOKIE"
    assert "set CAPTAINDATA_LI_AT" in data.description
    assert not [r for r in sim.requests if "integrations" in r.path]


# ---------------------------------------------------------------------- rotation


def profiles_asset(n: int, **kw) -> dg.AssetsDefinition:
    return build_action_asset(
        PROFILE, name="profiles", inputs=[profile_url(i) for i in range(n)],
        retry_policy=NO_RETRY, **kw,
    )  # fmt: skip


def test_rotation_uses_connected_users_only(make_sim, tmp_path, make_client):
    sim = make_sim(latency_ms=20)  # calls take a while: every pinned worker gets its share
    good, bare = workspace(sim, make_client(sim), connected=3, unconnected=2)
    sim.reset()
    res = resource_for(sim, tmp_path, rotate_connected_users=True)
    result = dg.materialize([profiles_asset(24)], resources={"captaindata": res})
    assert result.success
    assert len(result.output_for_node("profiles", "results")) == 24
    calls = sim.calls(PROFILE)
    assert len(calls) == 24 and {c.status for c in calls} == {200}  # no 429: one call per account
    by_user = {u: sum(c.account == u for c in calls) for u in good}
    assert set(c.account for c in calls) == set(good) and min(by_user.values()) >= 1, by_user
    listed = [r for r in sim.requests if r.path.endswith("/users")]
    assert listed and all(r.method == "GET" for r in listed)  # the users were listed once
    assert len({r.query.get("page") for r in listed}) == len(listed)


def test_rotation_restricted_to_integration_users(sim, tmp_path, client):
    good, bare = workspace(sim, client, connected=3, unconnected=1)
    res = resource_for(
        sim, tmp_path, rotate_connected_users=True, integration_users=[bare[0], good[2], good[0]]
    )
    assert res.get_integration_users() == [good[2], good[0]]  # order kept, unconnected dropped
    sim.reset()
    assert dg.materialize([profiles_asset(6)], resources={"captaindata": res}).success
    assert {c.account for c in sim.calls(PROFILE)} <= {good[0], good[2]}
    plain = resource_for(sim, tmp_path, integration_users=["u1"])
    assert plain.get_integration_users() == ["u1"]  # without rotation: no call, as configured


def test_outreach_sends_from_connected_users_only(sim, tmp_path, client):
    good, bare = workspace(sim, client, connected=2, unconnected=1)
    op = build_outreach_op("linkedin-connect-profile", campaign="spring", name="connect")
    res = resource_for(
        sim, tmp_path, rotate_connected_users=True, integration_users=[bare[0], good[1]]
    )

    @dg.job(resource_defs={"captaindata": res})
    def invite():
        op()

    profiles = [f"https://www.linkedin.com/in/invitee-{i}" for i in range(6)]
    sim.reset()
    result = invite.execute_in_process(
        run_config={"ops": {"connect": {"config": {"profiles": profiles}}}}
    )
    assert result.success and len(result.output_for_node("connect", "sent")) == 6
    calls = sim.calls("linkedin-connect-profile")
    assert len(calls) == 6 and {c.account for c in calls} == {good[1]}  # bare[0] skipped


def test_rotation_in_sandbox_mode(monkeypatch):
    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    res = CaptainDataResource(
        sandbox=True, rotate_connected_users=True, account_form="integration_users"
    )
    users = res.get_integration_users()
    emails = {u["uid"]: u["email"] for u in accounts.list_users(res.get_client())}
    assert [emails[u] for u in users] == [
        "ada@example.com",
        "grace@example.com",
        "alan@example.com",
    ]
    res.get_client().close()
    # the published form rotates over the sandbox's identities (the same three people)
    res = CaptainDataResource(
        sandbox=True, rotate_connected_users=True, account_form="identity_ids"
    )
    ids = res.get_integration_users()
    names = {i["uid"]: i["name"] for i in accounts.list_identities(res.get_client())}
    assert [names[i] for i in ids] == ["Ada Lovelace", "Grace Hopper", "Alan Turing"]
    assert not set(ids) & set(users)
    res.get_client().close()


def test_rotation_without_connected_users_fails_clearly(sim, tmp_path, client, instance_for):
    workspace(sim, client, connected=0, unconnected=2)
    res = resource_for(sim, tmp_path, rotate_connected_users=True)
    with pytest.raises(ValidationError) as info:
        res.get_client()
    assert info.value.field == "rotate_connected_users"
    assert info.value.error_label == "NO_VALID_ACCOUNT_CONFIGURED"
    assert "captaindata-dagster users connect" in info.value.message

    asset = profiles_asset(3)
    result = dg.materialize(
        [asset], resources={"captaindata": res}, instance=instance_for, raise_on_error=False
    )
    assert not result.success and sim.calls(PROFILE) == []
    [failure] = [e for e in result.all_events if e.is_step_failure]
    md = failure.step_failure_data.user_failure_data.metadata
    assert md["error_label"].value == "NO_VALID_ACCOUNT_CONFIGURED"

    sensor = build_captaindata_run_failure_sensor(assets=[asset])
    run_failed = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    ctx = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=run_failed, dagster_instance=instance_for,
        dagster_run=instance_for.get_run_by_id(result.run_id),
    ).for_run_failure()  # fmt: skip
    sensor(ctx)
    [obs] = _observations(instance_for, "profiles")
    assert obs.metadata["error_label"].value == "NO_VALID_ACCOUNT_CONFIGURED"
    assert "captaindata-dagster users connect <user uid>" in obs.metadata["needs_a_person"].value


# ---------------------------------------------------------------------- errors naming the user


@pytest.fixture
def instance_for():
    with dg.instance_for_test() as inst:
        yield inst


def _observations(instance, asset: str) -> list[dg.AssetObservation]:
    records = instance.fetch_observations(dg.AssetKey(asset), limit=100).records
    return [r.asset_observation for r in records]


def test_batch_and_ledger_record_the_user(sim, client, tmp_path):
    good, (bare,) = workspace(sim, client, connected=1, unconnected=1)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    urls = [profile_url(i) for i in range(4)]
    out = run_batch(client, PROFILE, urls, integration_users=[bare], ledger=ledger)
    assert list(out.errors.columns) == list(ERROR_COLUMNS) and "user_uid" in ERROR_COLUMNS
    assert set(out.errors["error_label"]) == {"NOT_CONNECTED"}
    assert list(out.errors["user_uid"]) == [bare] * 4  # 1 call, then the rest left unsent
    assert len(sim.calls(PROFILE)) == 1 and out.stats.retired_users == [bare]
    assert [e.user_uid for e in ledger.errors(PROFILE)] == [bare]  # the one call that failed

    # the account failed, not the inputs: the ledger does not answer for them, a good account does
    again = run_batch(client, PROFILE, urls, integration_users=good, ledger=ledger)
    assert again.errors.empty and len(again.results) == 4 and again.stats.skipped_fresh == 0
    assert ledger.errors(PROFILE) == []
    ledger.save_error(PROFILE, "k", error_label="NO_RESULT")  # no account: no user
    assert ledger.get(PROFILE, "k").user_uid is None
    invalid = run_batch(client, PROFILE, ["not a url"], integration_users=good)
    assert invalid.errors["user_uid"].isna().all()  # refused locally: no account involved
    ledger.close()


def test_sensor_names_the_user_whose_cookie_is_bad(sim, client, tmp_path, instance_for):
    good, _ = workspace(sim, client, connected=2, unconnected=0)
    bad = good[1]
    set_bad_cookies(sim, [bad])
    asset = profiles_asset(12, max_error_rate=1.0)
    res = resource_for(sim, tmp_path, integration_users=[bad])  # its only account is expired
    result = dg.materialize([asset], resources={"captaindata": res}, instance=instance_for)
    assert result.success
    errors = result.output_for_node("profiles", "errors")
    assert set(errors["error_label"]) == {"LK_BAD_COOKIE"} and set(errors["user_uid"]) == {bad}
    assert len(errors) == 12 and len(sim.calls(PROFILE)) == 1  # the rest were never sent

    sensor = build_captaindata_error_sensor(assets=[asset])
    tick = sensor(dg.build_sensor_context(instance=instance_for))
    [obs] = tick.asset_events
    fix = f"captaindata-dagster users connect {bad}"
    assert obs.metadata["error_label"].value == "LK_BAD_COOKIE"
    assert obs.metadata["user_uids"].value == [bad]
    assert obs.metadata["failed_inputs_by_user"].value == {bad: len(errors)}
    assert fix in obs.metadata["needs_a_person"].value
    assert f"user {bad}" in obs.description and fix in obs.description
    assert tick.run_requests == []  # a bad cookie is not re-run: a person must reconnect
    message = tick.skip_reason.skip_message
    assert f"LK_BAD_COOKIE x{len(errors)} on profiles: needs a person: " in message
    assert f"reconnect user {bad}" in message
    assert fix in message
    assert COOKIE not in message + json.dumps(obs.metadata["needs_a_person"].value)


def test_run_failure_names_the_user(sim, client, tmp_path, instance_for):
    (bad,), _ = workspace(sim, client, connected=1, unconnected=0)
    set_bad_cookies(sim, [bad])
    # checks=False: above max_error_rate the step itself fails, naming the user (with checks on,
    # the blocking error-rate check ends it instead: tests/integration/test_blocking_checks.py)
    asset = profiles_asset(4, max_error_rate=0.5, checks=False)
    res = resource_for(sim, tmp_path, rotate_connected_users=False, integration_users=[bad])
    result = dg.materialize(
        [asset], resources={"captaindata": res}, instance=instance_for, raise_on_error=False
    )
    assert not result.success  # every input failed: over max_error_rate
    [failure] = [e for e in result.all_events if e.is_step_failure]
    md = failure.step_failure_data.user_failure_data.metadata
    assert md["error_label"].value == "LK_BAD_COOKIE" and md["user_uids"].value == [bad]

    sensor = build_captaindata_error_sensor(assets=[asset])
    tick = sensor(dg.build_sensor_context(instance=instance_for))
    [obs] = tick.asset_events
    assert obs.metadata["user_uids"].value == [bad]
    assert f"captaindata-dagster users connect {bad}" in tick.skip_reason.skip_message
