"""Identities (the published form of users): client, helpers, CLI, ops and the simulator's routes.

Everything talks HTTP to a simulator on 127.0.0.1: create an identity, list it, connect its
LinkedIn by cookie or by opening its login link (as the person would), then run LinkedIn actions
with `identity_ids`; until it is connected the simulator answers NOT_CONNECTED, and LK_BAD_COOKIE
once its session expired, exactly as for the seed's users.
"""

from __future__ import annotations

import json
import time
import uuid

import dagster as dg
import pytest
import requests
from click.testing import CliRunner, Result

from captaindata_dagster import (
    CaptainDataResource,
    build_action_asset,
)
from captaindata_dagster.api import (
    MalformedResponseError,
    NotFoundError,
    UpstreamError,
    ValidationError,
    accounts,
)
from captaindata_dagster.cli import main
from captaindata_dagster.orchestration import (
    connect_identity_linkedin_job,
    connect_identity_linkedin_op,
    create_captaindata_identity_op,
    list_captaindata_identities_op,
)
from tests.helpers import simulator_resource

PROFILE = "linkedin-extract-people"
COOKIE = "AQEDAT-identity-li-at-3b9f-DO-NOT-LEAK"  # distinctive, so a leak is easy to grep for
NO_RETRY = dg.RetryPolicy(max_retries=0)


def profile_url(i: int) -> str:
    return f"https://www.linkedin.com/in/identity-{i:03d}"


@pytest.fixture
def client(sim, make_client):
    return make_client(sim, account_form="identity_ids")


@pytest.fixture
def cookie_env(monkeypatch):
    monkeypatch.setenv(accounts.LI_AT_ENV, COOKIE)
    monkeypatch.delenv(accounts.LI_A_ENV, raising=False)


def run(client, uid: str, i: int = 1):
    return client.run_action(
        PROFILE, {"linkedin_profile_url": profile_url(i)}, integration_users=[uid]
    )


def leaked(sim) -> bool:
    return COOKIE in json.dumps([r.to_dict() for r in sim.requests])


def set_bad_cookies(sim, uids: list[str]) -> None:
    root = sim.base_url.removesuffix("/v4")
    r = requests.post(f"{root}/_simulator/config", json={"bad_cookie_users": uids}, timeout=5)
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------------- the client and simulator


def test_create_list_connect_then_run_with_identity_ids(sim, client):
    ada = client.create_identity("Ada Lovelace", "Europe/Paris")
    assert uuid.UUID(ada["uid"]).version == 4
    assert (ada["name"], ada["timezone"], ada["integrations"]) == (
        "Ada Lovelace",
        "Europe/Paris",
        [],
    )
    assert ada["workspace_uid"] and ada["created_at"].endswith("Z")
    link = ada["identity_login_links"]["linkedin"]
    assert link.startswith(sim.base_url.removesuffix("/v4") + "/")
    assert [i["uid"] for i in client.list_identities()] == [ada["uid"]]
    assert client.list_users() == []  # identities are not users
    assert client.get_identity(ada["uid"])["name"] == "Ada Lovelace"

    with pytest.raises(UpstreamError) as info:  # not connected yet: refused, nothing charged
        run(client, ada["uid"])
    assert (info.value.status_code, info.value.error_label) == (424, "NOT_CONNECTED")
    assert info.value.error_scope == "integ"
    assert info.value.params["identity_uid"] == ada["uid"]
    assert sim.credits_used == 0

    account = client.connect_identity_integration(ada["uid"], li_at=COOKIE, account_name="Ada")
    assert account["identity_uid"] == ada["uid"] and account["name"] == "Ada"
    for key in ("uid", "auth_type", "setup_source", "is_shared", "integration_permalink", "level"):
        assert key in account, key
    result = run(client, ada["uid"])
    assert result.status_code == 200 and len(result.results) == 1
    [call] = [r for r in sim.calls(PROFILE) if r.status == 200]
    assert call.body["identity_ids"] == [ada["uid"]] and "integration_users" not in call.body
    assert call.account == ada["uid"] and sim.credits_used == 1

    sent = [r for r in sim.requests if "/integrations/" in r.path]
    assert [(r.method, r.path) for r in sent] == [
        ("POST", f"/v4/identities/{ada['uid']}/integrations/linkedin")
    ]
    assert sent[0].body["auth_data"]["cookies"] == {"li_at": "***"} and not leaked(sim)


def test_expired_session_of_an_identity_and_its_repair(sim, client):
    ada = client.create_identity("Ada Lovelace")
    client.connect_identity_integration(ada["uid"], li_at=COOKIE)
    set_bad_cookies(sim, [ada["uid"]])
    with pytest.raises(UpstreamError) as info:
        run(client, ada["uid"])
    assert info.value.error_label == "LK_BAD_COOKIE" and ada["uid"] in info.value.message
    [listed] = client.list_identities()
    assert accounts.linkedin_status(listed) == "error: LK_BAD_COOKIE"
    assert accounts.connected_users(client) == []

    client.connect_identity_integration(ada["uid"], li_at="fresh-cookie", update=True)
    assert sim.config.bad_cookie_users == ()
    assert run(client, ada["uid"]).results
    assert accounts.connected_users(client) == [ada["uid"]]


def test_login_link_connects_without_a_cookie(sim, client):
    ada = client.create_identity("Ada Lovelace")
    link = accounts.login_link(ada)
    assert link and not accounts.is_connected(ada)
    with pytest.raises(UpstreamError):
        run(client, ada["uid"])

    opened = requests.get(link, timeout=5)  # the person clicks it: no API key involved
    assert opened.status_code == 200, opened.text
    assert opened.json()["identity_uid"] == ada["uid"]
    [listed] = client.list_identities()
    account = accounts.linkedin_account(listed)
    assert accounts.is_connected(listed) and account["setup_source"] == "login_link"
    assert run(client, ada["uid"]).results
    assert requests.get(link, timeout=5).status_code == 200  # opened twice: still one account
    assert len(client.get_identity(ada["uid"])["integrations"]) == 1

    root = sim.base_url.removesuffix("/v4")
    unknown = requests.get(f"{root}/_simulator/login/not-a-token", timeout=5)
    assert unknown.status_code == 404 and unknown.json()["error_scope"] == "input"
    token = link.rsplit("/", 1)[1]
    uid, integration, _ = sim.state.login_links[token]
    sim.state.login_links[token] = (uid, integration, time.time() - 1)  # 48 h later
    expired = requests.get(link, timeout=5)
    assert expired.status_code == 410
    assert expired.json()["error_label"] == "LINK_EXPIRED"
    assert expired.json()["error_scope"] == "integ"


def test_simulator_identity_routes_refuse_in_the_api_envelope(sim, client):
    root, headers = sim.base_url, {"X-API-Key": sim.api_key}
    answers = [
        requests.post(f"{root}/identities", json={"name": ""}, headers=headers, timeout=5),
        requests.post(f"{root}/identities", json={"email": "a@b.c"}, headers=headers, timeout=5),
        requests.get(f"{root}/identities/{uuid.uuid4()}", headers=headers, timeout=5),
        requests.post(
            f"{root}/identities/{uuid.uuid4()}/integrations/linkedin",
            json={"auth_data": {"cookies": {"li_at": COOKIE}}},
            headers=headers,
            timeout=5,
        ),
        requests.get(f"{root}/identities", params={"page": "x"}, headers=headers, timeout=5),
    ]
    assert [a.status_code for a in answers] == [400, 400, 404, 404, 400]
    for a in answers:
        body = a.json()
        assert set(body) == {
            "error_label", "error_scope", "error_ref", "message", "status_code", "params",
        }  # fmt: skip
        assert body["status_code"] == a.status_code
        assert body["error_scope"] in ("input", "integ", "param", "config")
    ada = client.create_identity("Ada Lovelace")
    missing = requests.post(
        f"{root}/identities/{ada['uid']}/integrations/linkedin",
        json={"auth_data": {}},
        headers=headers,
        timeout=5,
    )
    assert missing.status_code == 400 and missing.json()["params"]["field"].endswith("li_at")
    with pytest.raises(NotFoundError):
        client.get_identity(str(uuid.uuid4()))
    with pytest.raises(ValidationError) as info:  # not a uid: refused before any call
        client.connect_identity_integration("../users/x", li_at=COOKIE)
    assert info.value.field == "identity_uid"
    assert not leaked(sim)


@pytest.mark.parametrize("answer", [{"data": []}, None, "identities"])
def test_list_identities_on_a_non_list_answer_raises(sim, client, monkeypatch, answer):
    routes = sim.routes.workspace
    monkeypatch.setattr(routes, "list_identities", lambda call: routes.ok(call, answer))
    with pytest.raises(MalformedResponseError) as info:
        client.list_identities()
    assert "/identities" in info.value.message
    with pytest.raises(MalformedResponseError):
        accounts.connected_users(client)  # not an empty workspace: the answer was not a list


# ---------------------------------------------------------------------- the helpers


def test_helpers_follow_the_account_form(sim, client, make_client, monkeypatch):
    users_client = make_client(sim, account_form="integration_users")
    bob = users_client.create_user("bob@example.com", "Bob")
    users_client.connect_integration(bob["uid"], li_at=COOKIE)
    ada = accounts.create_account(client, "Ada Lovelace")
    assert "identity_login_links" in ada and "email" not in ada
    grace = accounts.create_identity(client, "Grace Hopper")
    with pytest.raises(ValidationError) as info:
        accounts.create_identity(client, "  ")
    assert info.value.field == "name"
    with pytest.raises(ValidationError) as info:  # the seed's form needs an email
        accounts.create_account(users_client, "Eve")
    assert info.value.field == "email"

    assert [i["uid"] for i in accounts.list_accounts(client)] == [ada["uid"], grace["uid"]]
    assert [u["uid"] for u in accounts.list_accounts(users_client)] == [bob["uid"]]
    assert accounts.connected_users(users_client) == [bob["uid"]]
    assert accounts.connected_users(client) == []  # bob is a user, not an identity

    monkeypatch.setenv("ADA_LI_AT", COOKIE)
    account = accounts.connect_linkedin(client, grace["uid"], li_at_env="ADA_LI_AT")
    assert account["identity_uid"] == grace["uid"] and COOKIE not in json.dumps(account)
    accounts.connect_linkedin(client, grace["uid"], li_at_env="ADA_LI_AT")  # again: a refresh
    assert accounts.connected_users(client) == [grace["uid"]]
    connects = [(r.method, r.path.split("/")[2]) for r in sim.requests if "integrations" in r.path]
    assert connects == [("POST", "users"), ("POST", "identities"), ("PUT", "identities")]

    with pytest.raises(ValidationError) as info:  # an unknown identity: no cookie sent
        accounts.connect_linkedin(client, str(uuid.uuid4()), li_at_env="ADA_LI_AT")
    assert info.value.field == "identity_uid" and "identities list" in info.value.message
    assert len([r for r in sim.requests if "integrations" in r.path]) == 3

    rows = [accounts.identity_row(i) for i in accounts.list_identities(client)]
    assert rows == [
        {"uid": ada["uid"], "name": "Ada Lovelace", "linkedin": "not connected",
         "login_link": accounts.login_link(ada)},
        {"uid": grace["uid"], "name": "Grace Hopper", "linkedin": "connected",
         "login_link": accounts.login_link(grace)},
    ]  # fmt: skip
    hint = accounts.account_hint("LK_BAD_COOKIE", [grace["uid"]], kind=accounts.IDENTITY)
    assert f"captaindata-dagster identities connect {grace['uid']}" in hint
    assert not leaked(sim)


# ---------------------------------------------------------------------- the CLI


def cli(*args: str) -> Result:
    """Run `captaindata-dagster ARGS` in this process; an unexpected exception fails the test."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_identities_create_list_connect(sim, api_env, cookie_env):
    made = cli("identities", "create", "--name", "Ada Lovelace", "--timezone", "UTC")
    assert made.exit_code == 0
    text = made.stdout
    uid = text.split()[2]
    assert text.startswith(f"created identity {uid} (Ada Lovelace)")
    [identity] = sim.state.identities.values()
    link = identity["identity_login_links"]["linkedin"]
    assert identity["uid"] == uid and link in text
    assert "valid 48 h" in text and "hand it to Ada Lovelace" in text
    assert f"identities connect {uid}" in text

    made = cli("identities", "create", "--name", "Grace Hopper", "--json")
    assert made.exit_code == 0
    grace = json.loads(made.stdout)["uid"]

    listed = cli("identities", "list")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["UID", "NAME", "LINKEDIN", "LOGIN_LINK"]
    assert lines[1].split() == [uid, "Ada", "Lovelace", "not", "connected", link]
    assert "2 identities, 0 with LinkedIn connected" in listed.stderr

    done = cli("identities", "connect", uid, "--account-name", "Ada LI")
    assert done.exit_code == 0 and f"connected for identity {uid}" in done.stdout
    listed = cli("identities", "list", "--json", "--connected")
    assert listed.exit_code == 0
    assert [(r["uid"], r["linkedin"]) for r in json.loads(listed.stdout)] == [(uid, "connected")]
    assert grace != uid
    posted = [(r.method, r.path) for r in sim.requests if "integrations" in r.path]
    assert posted == [("POST", f"/v4/identities/{uid}/integrations/linkedin")]
    assert not leaked(sim) and COOKIE not in done.output + listed.output

    refused = cli("identities", "connect", "not-a-uid")
    assert refused.exit_code == 2 and "identity_uid must be a uid" in refused.stderr
    # the seed's users still work from the CLI, whatever the client's default form
    made = cli("users", "create", "--email", "bob@example.com", "--name", "Bob")
    assert made.exit_code == 0
    bob = made.stdout.split()[2]
    assert cli("users", "connect", bob).exit_code == 0
    listed = cli("users", "list", "--json", "--connected")
    assert listed.exit_code == 0 and [r["uid"] for r in json.loads(listed.stdout)] == [bob]


def test_cli_identities_in_sandbox(monkeypatch):
    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    listed = cli("identities", "list", "--sandbox", "--json")
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["linkedin"]) for r in rows][:3] == [
        ("Ada Lovelace", "connected"),
        ("Grace Hopper", "connected"),
        ("Alan Turing", "connected"),
    ]


# ---------------------------------------------------------------------- ops and rotation


def resource_for(sim, tmp_path, **kw) -> CaptainDataResource:
    return simulator_resource(sim, tmp_path, **{"account_form": "identity_ids", **kw})


def output_metadata(result, step: str) -> dict:
    [event] = [e for e in result.all_node_events if e.is_successful_output and e.step_key == step]
    return {k: v.value for k, v in event.step_output_data.metadata.items()}


def test_ops_create_connect_and_list_identities(sim, tmp_path, cookie_env, instance):
    @dg.job
    def onboard():
        list_captaindata_identities_op(
            after=connect_identity_linkedin_op(after=create_captaindata_identity_op())
        )

    @dg.job
    def invite():
        create_captaindata_identity_op()

    defs = dg.Definitions(
        jobs=[onboard, invite, connect_identity_linkedin_job],
        resources={"captaindata": resource_for(sim, tmp_path)},
    )
    ada = {"config": {"name": "Ada Lovelace"}}
    config = {"ops": {"create_captaindata_identity": ada, "connect_identity_linkedin": ada}}
    result = defs.get_job_def("onboard").execute_in_process(run_config=config, instance=instance)
    assert result.success
    created = output_metadata(result, "create_captaindata_identity")
    uid = created["identity_uid"]
    assert created["login_link"] == sim.state.identities[uid]["identity_login_links"]["linkedin"]
    assert created["login_link_valid_hours"] == 48
    assert output_metadata(result, "connect_identity_linkedin")["identity_uid"] == uid
    listed = output_metadata(result, "list_captaindata_identities")
    assert [(r["uid"], r["linkedin"]) for r in listed["rows"]] == [(uid, "connected")]
    assert (listed["identities"], listed["connected"], listed["needs_attention"]) == (1, 1, [])
    assert "| uid | name | linkedin | login_link |" in listed["table"]

    # created by the op, connected by the person opening the link the op's logs show
    result = defs.get_job_def("invite").execute_in_process(
        run_config={"ops": {"create_captaindata_identity": {"config": {"name": "Grace"}}}},
        instance=instance,
    )
    grace = output_metadata(result, "create_captaindata_identity")
    logged = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert any(grace["login_link"] in m and "48 h" in m for m in logged)
    assert requests.get(grace["login_link"], timeout=5).status_code == 200
    result = defs.get_job_def("connect_identity_linkedin_job").execute_in_process(
        run_config={"ops": {"connect_identity_linkedin": {"config": {"identity_uid": uid}}}},
        instance=instance,
    )
    listed = output_metadata(result, "list_captaindata_identities")
    assert sorted((r["name"], r["linkedin"]) for r in listed["rows"]) == [
        ("Ada Lovelace", "connected"),
        ("Grace", "connected"),
    ]
    connects = [r.method for r in sim.requests if r.path.endswith("/integrations/linkedin")]
    assert connects == ["POST", "PUT"]  # Ada connected, then refreshed; Grace by her link
    logs = [e for r in instance.get_runs() for e in instance.all_logs(r.run_id)]
    assert COOKIE not in "".join(str(e) for e in logs) and not leaked(sim)


def test_connect_identity_op_needs_exactly_one_of_uid_and_name(sim, tmp_path, cookie_env):
    result = connect_identity_linkedin_job.execute_in_process(
        resources={"captaindata": resource_for(sim, tmp_path)},
        run_config={"ops": {"connect_identity_linkedin": {"config": {"name": "Nobody"}}}},
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    data = failure.step_failure_data.user_failure_data
    assert data.metadata["error_label"].value == "STATUS_404" and "Nobody" in data.description
    assert not [r for r in sim.requests if "integrations" in r.path]


def test_rotation_over_connected_identities(sim, tmp_path, make_client):
    client = make_client(sim, account_form="identity_ids")
    good = [client.create_identity(f"Person {i}")["uid"] for i in range(2)]
    bare = client.create_identity("Not connected")["uid"]
    client.connect_identity_integration(good[0], li_at=COOKIE)
    requests.get(client.get_identity(good[1])["identity_login_links"]["linkedin"], timeout=5)
    sim.reset()
    res = resource_for(sim, tmp_path, rotate_connected_users=True)
    asset = build_action_asset(
        PROFILE, name="profiles", inputs=[profile_url(i) for i in range(6)],
        retry_policy=NO_RETRY,
    )  # fmt: skip
    result = dg.materialize([asset], resources={"captaindata": res})
    assert result.success and len(result.output_for_node("profiles", "results")) == 6
    calls = sim.calls(PROFILE)
    assert {c.status for c in calls} == {200} and {c.account for c in calls} <= set(good)
    assert bare not in {c.account for c in calls}
    assert all(c.body["identity_ids"] for c in calls)
    assert [r.path for r in sim.requests if not r.action_id][0] == "/v4/identities"
