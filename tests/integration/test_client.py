"""The client over real HTTP against the simulator on loopback."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from captaindata_dagster import (
    CaptainDataClient,
    CaptainDataError,
)
from captaindata_dagster.api import (
    AuthenticationError,
    ConnectionFailedError,
    CreditsExhaustedError,
    InvalidInputError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    UpstreamError,
    ValidationError,
    load_catalog,
)
from captaindata_dagster.simulator.data import sample_input
from tests.helpers import TEST_KEY, FakeClock

SEARCH = "linkedin-search-people"
SEARCH_URL = "https://www.linkedin.com/search/results/people/?keywords=data%20engineer"
PROFILE = "linkedin-extract-people"


def profile_url(i: int) -> str:
    return f"https://www.linkedin.com/in/person-{i}"


def action_calls(sim, action_id):
    return [r for r in sim.requests if r.action_id == action_id]


# ---------------------------------------------------------------- pagination and page economy


def test_iter_results_follows_pages_to_the_end(make_sim, make_client):
    sim = make_sim(search_total=95)
    client = make_client(sim)
    people = list(client.iter_results(SEARCH, {"linkedin_people_search_url": SEARCH_URL}))
    assert len(people) == 95
    assert len({p["linkedin_profile_url"] for p in people}) == 95
    # 10 pages of 10, the last one short: no empty page is fetched after a short one
    assert len(action_calls(sim, SEARCH)) == 10
    assert sim.credits_used == 95


@pytest.mark.parametrize(("max_results", "pages"), [(25, 3), (20, 2), (1, 1), (10, 1)])
def test_max_results_never_fetches_an_unwanted_page(make_sim, make_client, max_results, pages):
    sim = make_sim(search_total=300)
    client = make_client(sim)
    got = list(
        client.iter_results(
            SEARCH, {"linkedin_people_search_url": SEARCH_URL}, max_results=max_results
        )
    )
    assert len(got) == max_results
    assert len(action_calls(sim, SEARCH)) == pages
    assert sim.credits_used == pages * 10  # each result returned costs one credit


def test_max_pages_and_exact_multiple_of_page_size(make_sim, make_client):
    sim = make_sim(search_total=30)
    client = make_client(sim)
    pages = list(client.iter_pages(SEARCH, {"linkedin_people_search_url": SEARCH_URL}, max_pages=2))
    assert [len(p.results) for p in pages] == [10, 10]
    assert pages[0].next_url and pages[0].next_url.endswith("page=2")
    sim.reset()
    everything = list(client.iter_pages(SEARCH, {"linkedin_people_search_url": SEARCH_URL}))
    # 30 results in full pages: the 4th page is fetched, comes back empty, and ends the walk
    assert [len(p.results) for p in everything][:3] == [10, 10, 10]
    assert sum(len(p.results) for p in everything) == 30
    assert len(action_calls(sim, SEARCH)) <= 4


def test_run_action_one_page_and_one_object(sim, make_client):
    client = make_client(sim)
    page2 = client.run_action(SEARCH, {"linkedin_people_search_url": SEARCH_URL}, page=2)
    assert page2.page == 2 and len(page2.results) == 10 and page2.status_code == 200
    assert page2.elapsed_s >= 0 and page2.credits == 10
    one = client.run_action(PROFILE, {"profile_url": profile_url(1)})  # alias accepted
    assert len(one.results) == 1 and one.next_url is None
    assert one.results[0]["linkedin_profile_url"] == profile_url(1)
    body = action_calls(sim, PROFILE)[0].body
    assert body["input"] == {"linkedin_profile_url": profile_url(1)}  # sent under its real name


# ---------------------------------------------------------------- body forms


def test_body_forms_never_mix(sim, make_client):
    seed_form = make_client(sim, integration_users=["u-1", "u-2"], account_form="integration_users")
    seed_form.run_action(PROFILE, {"linkedin_profile_url": profile_url(2)})
    later = make_client(sim, account_form="identity_ids", identity_mode="auto")
    later.run_action(PROFILE, {"linkedin_profile_url": profile_url(3)}, integration_users=["i-9"])
    first, second = (r.body for r in action_calls(sim, PROFILE))
    assert first["integration_users"] == ["u-1", "u-2"] and "identity_ids" not in first
    assert second["identity_ids"] == ["i-9"] and second["identity_mode"] == "auto"
    assert "integration_users" not in second
    # actions that need no account get no account fields, even with client defaults set
    seed_form.run_action(
        "googlemaps-extract-place", sample_input(load_catalog().get("googlemaps-extract-place"))
    )
    maps_body = action_calls(sim, "googlemaps-extract-place")[0].body
    assert "integration_users" not in maps_body and "identity_ids" not in maps_body


# ---------------------------------------------------------------- local validation


@pytest.mark.parametrize(
    ("call", "field", "text"),
    [
        (lambda c: c.run_action("linkedin-extract-peple", {}), "action_id", "linkedin-extract-people"),
        (lambda c: c.run_action(PROFILE, {}), "linkedin_profile_url", "required"),
        (lambda c: c.run_action(PROFILE, {"linkedin_profile_url": "http://x"}), "linkedin_profile_url", "does not look like"),
        (lambda c: c.run_action(PROFILE, {"linkedin_profile_url": profile_url(1), "oops": 1}), "oops", "unknown input field"),
        (lambda c: c.run_action(PROFILE, {"linkedin_profile_url": profile_url(1)}, parameters={"skillz": True}), "skillz", "skills"),
        (lambda c: list(c.iter_results(SEARCH, {"linkedin_people_search_url": "https://www.linkedin.com/in/x"})), "linkedin_people_search_url", "does not look like"),
        (lambda c: c.run_action("googlemaps-extract-place", {"google_maps_place_url": "https://www.google.com/maps/place/x"}, integration_users=["u"]), "integration_users", "remove"),
    ],
)  # fmt: skip
def test_validation_refuses_locally_and_spends_nothing(sim, make_client, call, field, text):
    client = make_client(sim)
    with pytest.raises(ValidationError) as info:
        call(client)
    assert info.value.field == field
    assert text in str(info.value)
    assert isinstance(info.value, CaptainDataError) and isinstance(info.value, ValueError)
    assert sim.requests == [] and sim.credits_used == 0


# ---------------------------------------------------------------- typed errors from real answers


ERROR_CASES = [
    # (simulator settings, expected class, status, label, answered with the JSON envelope)
    ({"fail_inputs": {profile_url(9): "INVALID_INPUT"}}, InvalidInputError, 400, "INVALID_INPUT", True),
    ({"faults": {"STATUS_403": 1.0}}, PermissionDeniedError, 403, "STATUS_403", True),
    ({"credits": 0}, CreditsExhaustedError, 402, None, True),
    ({"faults": {"LK_BAD_COOKIE": 1.0}}, UpstreamError, 424, "LK_BAD_COOKIE", True),
    ({"faults": {"STATUS_429": 1.0}}, RateLimitError, 429, "STATUS_429", True),
    ({"faults": {"500": 1.0}}, ServerError, 500, None, True),
    ({"faults": {"SERVICE_UNAVAILABLE": 1.0}}, ServerError, 503, "SERVICE_UNAVAILABLE", True),
    ({"faults": {"html_503": 1.0}}, ServerError, 503, None, False),
    ({"faults": {"html_401": 1.0}}, AuthenticationError, 401, None, False),
    ({"faults": {"html_404": 1.0}}, NotFoundError, 404, None, False),
    ({"faults": {"malformed_json": 1.0}}, MalformedResponseError, 200, None, False),
    ({"faults": {"drop": 1.0}}, ConnectionFailedError, None, None, False),
    ({"faults": {"timeout": 1.0}, "hang_s": 1.0}, RequestTimeoutError, None, None, False),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "cls", "status", "label", "envelope"), ERROR_CASES)
def test_every_error_class_from_a_real_response(
    make_sim, make_client, settings, cls, status, label, envelope
):
    sim = make_sim(**settings)
    client = make_client(sim, max_retries=0, timeout=0.3, connect_timeout=0.3)
    with pytest.raises(cls) as info:
        client.run_action(PROFILE, {"linkedin_profile_url": profile_url(9)})
    err = info.value
    assert err.status_code == status
    if label:
        assert err.error_label == label
    assert err.error_label and err.message and err.action_id == PROFILE
    if envelope:
        assert err.error_ref and err.error_ref.startswith("ERR-")
        assert err.error_scope or status >= 500  # a server failure has no scope in the spec
    else:
        assert err.error_ref is None
        assert err.error_label == cls.default_label


def test_a_malformed_base_url_is_refused_at_once():
    for bad in ("api.captaindata.com/v4", "ftp://127.0.0.1/v4", "http:///v4", ""):
        with pytest.raises(ValidationError) as info:
            CaptainDataClient(TEST_KEY, bad)
        assert info.value.field == "base_url" and TEST_KEY not in str(info.value)


def test_wrong_key_is_an_authentication_error(sim):
    client = CaptainDataClient("wrong-key", sim.base_url, max_retries=3)
    with pytest.raises(AuthenticationError) as info:
        client.run_action(PROFILE, {"linkedin_profile_url": profile_url(1)})
    assert info.value.status_code == 401 and not info.value.retryable
    assert "CAPTAINDATA_API_KEY" in str(info.value)  # the message names where the key comes from
    assert len(sim.requests) == 1  # 401 is never retried


def test_the_key_and_the_root_come_from_the_environment_when_not_given(sim, monkeypatch):
    monkeypatch.setenv("CAPTAINDATA_API_KEY", sim.api_key)
    monkeypatch.setenv("CAPTAINDATA_BASE_URL", sim.base_url)
    client = CaptainDataClient(max_retries=0)
    assert client.base_url == sim.base_url.rstrip("/")
    assert client.run_action(PROFILE, {"linkedin_profile_url": profile_url(1)}).results
    monkeypatch.delenv("CAPTAINDATA_BASE_URL")
    assert CaptainDataClient().base_url == "https://api.captaindata.com/v4"
    monkeypatch.delenv("CAPTAINDATA_API_KEY")
    with pytest.raises(ValidationError, match="CAPTAINDATA_API_KEY"):
        CaptainDataClient()


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize("label", ["INVALID_INPUT", "LK_BAD_COOKIE", "STATUS_404", "NO_ACCESS"])
def test_4xx_is_never_retried(make_sim, make_client, label):
    sim = make_sim(fail_inputs={profile_url(4): label})
    client = make_client(sim, max_retries=5)
    with pytest.raises(CaptainDataError) as info:
        client.run_action(PROFILE, {"linkedin_profile_url": profile_url(4)})
    assert info.value.error_label == label and info.value.attempts == 1
    assert len(action_calls(sim, PROFILE)) == 1


def test_transient_upstream_label_is_retried(make_sim, make_client):
    sim = make_sim(faults={"LK_524": 1.0})
    client = make_client(sim, max_retries=2)
    with pytest.raises(UpstreamError) as info:
        client.run_action(PROFILE, {"linkedin_profile_url": profile_url(5)})
    assert info.value.retryable and info.value.attempts == 3
    assert len(action_calls(sim, PROFILE)) == 3


@pytest.mark.parametrize(
    ("fault", "attempts", "at_risk"),
    [
        ("500", 3, 0.0),
        ("SERVICE_UNAVAILABLE", 3, 0.0),
        ("html_502", 3, 0.0),
        # The API may have done (and billed) the work behind a cut or timed-out answer: such an
        # attempt is re-sent once by default (max_billed_retries), and each counts as at risk.
        ("drop", 2, 2.0),
        ("timeout", 2, 2.0),
    ],
)
def test_5xx_timeouts_and_drops_are_retried_then_succeed(
    make_sim, make_client, fault, attempts, at_risk
):
    sim = make_sim(faults={fault: 1.0}, hang_s=30)  # hangs far past the client's timeout, and a
    client = make_client(sim, max_retries=2, timeout=2.0)  # healthy answer is far within it
    with pytest.raises(CaptainDataError) as info:
        client.run_action(PROFILE, {"linkedin_profile_url": profile_url(6)})
    assert info.value.retryable and info.value.attempts == attempts
    assert info.value.credits_at_risk == at_risk
    assert len(action_calls(sim, PROFILE)) == attempts
    sim.set_faults({})
    ok = client.run_action(PROFILE, {"linkedin_profile_url": profile_url(6)})
    assert ok.attempts == 1


def test_retry_recovers_when_faults_are_occasional(make_sim, make_client):
    sim = make_sim(faults={"500": 0.3, "LK_524": 0.1})
    client = make_client(sim, max_retries=8)
    for i in range(30):
        res = client.run_action(PROFILE, {"linkedin_profile_url": profile_url(100 + i)})
        assert res.results[0]["linkedin_profile_url"] == profile_url(100 + i)
    statuses = [r.status for r in action_calls(sim, PROFILE)]
    assert statuses.count(200) == 30 and len(statuses) > 30  # some failed and were retried


def test_retry_after_is_honoured(make_sim, make_client):
    sim = make_sim(faults={"STATUS_429": 1.0}, retry_after_s=1)
    clock = FakeClock()
    clock.on_sleep.append(lambda _: sim.set_faults({}))  # the limit lifts while the client waits
    client = make_client(sim, max_retries=5, sleep=clock.sleep)
    res = client.run_action(PROFILE, {"linkedin_profile_url": profile_url(7)})
    calls = action_calls(sim, PROFILE)
    assert [c.status for c in calls] == [429, 200]
    assert res.rate_limited == 1 and res.attempts == 2
    assert clock.waits == [1.0], "the retry waits the 1 s the 429 asked for, not the backoff"


@pytest.mark.parametrize("fault", ["500", "html_503", "timeout", "drop"])
def test_side_effect_action_is_never_sent_twice(make_sim, make_client, fault):
    sim = make_sim(faults={fault: 1.0}, hang_s=1.0, fault_after_effect=True)
    client = make_client(sim, max_retries=5, timeout=0.3)
    with pytest.raises(CaptainDataError) as info:
        client.run_action(
            "linkedin-connect-profile",
            {"linkedin_profile_url": profile_url(8)},
            parameters={"message": "Hello"},
        )
    assert info.value.attempts == 1
    assert len(action_calls(sim, "linkedin-connect-profile")) == 1


def test_side_effect_action_is_resent_after_a_429(make_sim, make_client):
    # A 429 is answered before anything happens: sending again is safe and expected.
    sim = make_sim(faults={"STATUS_429": 1.0}, retry_after_s=1)
    clock = FakeClock()
    clock.on_sleep.append(lambda _: sim.set_faults({}))  # the limit lifts while the client waits
    client = make_client(sim, max_retries=3, sleep=clock.sleep)
    res = client.run_action("linkedin-connect-profile", {"linkedin_profile_url": profile_url(8)})
    assert res.attempts == 2 and clock.waits == [1.0]


# ---------------------------------------------------------------- pacing and threads


def test_sixteen_threads_share_one_client_correctly(make_sim, make_client):
    sim = make_sim(rps=40, latency_ms=20)
    client = make_client(sim, requests_per_second=40, integration_users=None)
    users = [f"user-{i}" for i in range(8)]

    def work(i):
        res = client.run_action(
            PROFILE,
            {"linkedin_profile_url": profile_url(1000 + i)},
            integration_users=[users[i % 8]],
        )
        return i, res.results[0]["linkedin_profile_url"]

    with ThreadPoolExecutor(16) as pool:
        got = dict(pool.map(work, range(64)))
    assert got == {i: profile_url(1000 + i) for i in range(64)}
    calls = action_calls(sim, PROFILE)
    assert [c.status for c in calls].count(429) == 0, "pacing should keep us under the limit"
    assert len(calls) == 64 and sim.credits_used == 64


def test_one_call_at_a_time_per_account(make_sim, make_client):
    sim = make_sim(latency_ms=50)
    client = make_client(sim, max_retries=0)  # any 429 from the account rule would raise

    def work(i):
        return client.run_action(
            PROFILE, {"linkedin_profile_url": profile_url(2000 + i)}, integration_users=["solo"]
        )

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    assert len(results) == 8
    assert all(c.status == 200 for c in action_calls(sim, PROFILE))


# ---------------------------------------------------------------- account management


def test_workspace_users_and_integrations(sim, make_client):
    client = make_client(sim)
    client.run_action(PROFILE, {"linkedin_profile_url": profile_url(1)})
    ws = client.get_workspace()
    assert ws["credits_used"] == 1 and "credits_left" in ws
    user = client.create_user("ada@example.com", "Ada Lovelace", "Europe/London")
    assert user["email"] == "ada@example.com" and user["uid"]
    account = client.connect_integration(user["uid"], li_at="cookie-secret-123")
    assert account["user_uid"] == user["uid"]
    listed = client.list_users()
    assert [u["uid"] for u in listed] == [user["uid"]]
    assert listed[0]["integrations"]
    with pytest.raises(ValidationError) as info:
        client.connect_integration(user["uid"], li_at="")
    assert info.value.field == "li_at"
    with pytest.raises(NotFoundError):
        client.connect_integration("no-such-user", li_at="x")
    assert "cookie-secret-123" not in repr(sim.requests)


# ---------------------------------------------------------------- every action, right shape


def test_every_catalog_action_answers_with_its_shape(sim, make_client):
    client = make_client(sim)
    for action in load_catalog():
        res = client.run_action(action.id, sample_input(action))
        assert res.status_code in (200, 201), action.id
        if action.response == "file":
            assert isinstance(res.results[0]["content"], bytes)
            continue
        assert res.results, action.id
        for item in res.results:
            missing = set(action.output_fields) - set(item)
            assert not missing, f"{action.id} lacks {missing}"


# ---------------------------------------------------------------- the key never leaks


def test_the_key_never_leaks(make_sim, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    texts = []
    for settings in ({"faults": {"500": 1.0}}, {"faults": {"html_401": 1.0}},
                     {"faults": {"timeout": 1.0}, "hang_s": 0.6}, {"faults": {"drop": 1.0}},
                     {"faults": {"STATUS_429": 1.0}, "retry_after_s": 0}):  # fmt: skip
        sim = make_sim(**settings)
        client = make_client(sim, max_retries=1, timeout=0.2)
        texts.append(repr(client))
        try:
            client.run_action(PROFILE, {"linkedin_profile_url": profile_url(3)})
        except CaptainDataError as exc:
            texts += [str(exc), repr(exc), str(exc.to_dict())]
    blob = "\n".join(texts) + caplog.text
    assert "retrying" in caplog.text  # the logs were captured
    assert TEST_KEY not in blob
