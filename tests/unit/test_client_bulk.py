"""Bulk mode's client methods on a fake transport (no server): what each sends, what it reads.

Every canned answer is valid under the catalog's `bulk` schema for its endpoint (checked here with
`tests.spec`), and every body sent is valid under the action's `run/async` or `run/schedule`
request schema. Submissions are never re-sent once they may have reached the API; reads are
retried like any call.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from urllib3.exceptions import NewConnectionError

from captaindata_dagster.api import ServerError, TransportError, ValidationError
from captaindata_dagster.api.bulk import SubmissionOutcomeUnknownError
from captaindata_dagster.api.bulk_body import input_limit
from captaindata_dagster.api.bulk_records import AsyncSubmission, RunInfo
from captaindata_dagster.api.catalog import load_catalog
from captaindata_dagster.simulator.data import sample_input
from tests.helpers import FakeClock
from tests.spec import problems
from tests.unit.test_client_transport import (
    CONNECT,
    IDENTITY,
    PROFILE,
    SEARCH,
    FakeApi,
    action,
    error,
    make_client,
    ok,
    sent_json,
)

HOOK = "https://hooks.example.com/captaindata"
HEADERS = {"X-Captaindata-Submission": "sub-1", "X-Captaindata-Secret": "s3cret"}
RUN_UID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
CALLBACK_UID = "1c2d3e4f-5061-4b7c-9d8e-0f1a2b3c4d5e"
SCHEDULE_UID = "2d3e4f50-6172-4c8d-ae9f-1a2b3c4d5e6f"
WORKSPACE = "3e4f5061-7283-4d9e-bfa0-2b3c4d5e6f70"
CREATED = "2026-01-02T03:04:05Z"


def _valid(name: str, payload: Any) -> Any:
    schema = load_catalog().bulk_schema(name)
    assert schema is not None, name
    assert problems(schema, payload) == [], (name, problems(schema, payload))
    return payload


def run_json(uid: str = RUN_UID, status: str = "QUEUED", **extra: Any) -> dict[str, Any]:
    payload = {
        "id": 42, "uid": uid, "action_id": 7, "action_name": PROFILE, "retry_count": 0,
        "user_uid": IDENTITY, "workspace_uid": WORKSPACE, "execution_mode": "ASYNC",
        "last_error": None, "callback": {"url": HOOK}, "status": status,
        "postponed_until": None, "started_at": None, "finished_at": None, "synced_at": None,
        "created_at": CREATED, "updated_at": None, **extra,
    }  # fmt: skip
    return _valid("run", payload)


def callback_json(uid: str = CALLBACK_UID, status: str = "FAILED") -> dict[str, Any]:
    payload = {
        "uid": uid, "parent_uid": None, "retry_count": 3, "created_at": CREATED,
        "status": status, "callback_url": HOOK, "http_status": 503, "batch_uid": SCHEDULE_UID,
        "run_uid": RUN_UID, "workspace_uid": WORKSPACE,
    }  # fmt: skip
    return _valid("callback", payload)


def schedule_json(status: str = "ACTIVE") -> dict[str, Any]:
    payload = {
        "uid": SCHEDULE_UID, "action_id": 7, "action_name": PROFILE, "user_uid": IDENTITY,
        "workspace_uid": WORKSPACE, "status": status, "postponed_until": None,
        "cron": "0 6 * * *", "timezone": "Europe/Paris", "next_execution_at": CREATED,
        "last_executed_at": None, "created_at": CREATED, "updated_at": None,
    }  # fmt: skip
    return _valid("schedule", payload)


def submission_json(action_id: str = PROFILE) -> dict[str, Any]:
    payload = {
        "run_id": 42, "run_uid": RUN_UID, "workspace_uid": WORKSPACE, "user_uid": IDENTITY,
        "action_name": action_id, "status": "pending", "postponed_until": None,
        "created_at": CREATED, "synced_at": None, "updated_at": None,
    }  # fmt: skip
    return _valid("async_submission", payload)


def schedule_submission_json() -> dict[str, Any]:
    payload = {
        "schedule_uid": SCHEDULE_UID, "status": "ACTIVE", "cron": "0 6 * * *",
        "timezone": "Europe/Paris", "next_execution_at": CREATED, "created_at": CREATED,
    }  # fmt: skip
    return _valid("schedule_submission", payload)


def _query(request: requests.PreparedRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url or "").query)


def _path(request: requests.PreparedRequest) -> str:
    return urlsplit(request.url or "").path


# ---------------------------------------------------------------------------------------------
# submissions: what is sent


def test_run_async_sends_every_input_checked_and_the_callback_and_reads_the_run():
    api = FakeApi([ok(submission_json())])
    client = make_client(api, FakeClock())
    inputs = [{"profile_url": sample_input(PROFILE, n)["linkedin_profile_url"]} for n in range(3)]
    sub = client.run_async(
        PROFILE, inputs, callback_url=HOOK, callback_headers=HEADERS, parameters={"skills": True}
    )
    [request] = api.sent
    assert request.method == "POST"
    assert _path(request) == f"/v4/actions/{PROFILE}/run/async"
    body = sent_json(request)
    assert problems(action(PROFILE).async_request_schema, body) == []
    assert body["inputs"] == [sample_input(PROFILE, n) for n in range(3)]  # aliases renamed
    assert body["callback"] == {"url": HOOK, "headers": HEADERS}
    assert body["identity_ids"] == [IDENTITY]
    assert body["parameters"] == {"skills": True}
    assert sub == AsyncSubmission(RUN_UID, "pending", PROFILE, run_id=42, user_uid=IDENTITY,
                                  workspace_uid=WORKSPACE, created_at=CREATED)  # fmt: skip


def test_a_search_s_walk_limits_are_bulk_parameters_checked_against_their_bounds():
    api = FakeApi([ok(submission_json(SEARCH))])
    client = make_client(api, FakeClock())
    inputs = [sample_input(action(SEARCH), 0)]
    client.run_async(SEARCH, inputs, callback_url=HOOK, parameters={"max_results": 25})
    body = sent_json(api.sent[0])
    assert body["parameters"] == {"max_results": 25}
    assert problems(action(SEARCH).async_request_schema, body) == []
    with pytest.raises(ValidationError) as refused:
        client.run_async(SEARCH, inputs, callback_url=HOOK, parameters={"max_results": 5000})
    assert refused.value.field == "parameters.max_results" and len(api.sent) == 1
    with pytest.raises(ValidationError, match="max_results"):  # not a live call's parameter
        client.run_action(SEARCH, inputs[0], parameters={"max_results": 25})


BULK_ACTIONS = [PROFILE, SEARCH, CONNECT, "linkedin-me", "googlemaps-search-places",
                "tripadvisor-extract-reviews", "linkedin-comment-post"]  # fmt: skip


@pytest.mark.parametrize("action_id", BULK_ACTIONS)
@pytest.mark.parametrize("mode", ["async", "schedule"])
def test_bodies_are_valid_under_the_actions_bulk_schemas(action_id, mode):
    act = action(action_id)
    answer = submission_json(action_id) if mode == "async" else schedule_submission_json()
    api = FakeApi([ok(answer)])
    client = make_client(api, FakeClock(), identity_mode="auto")
    n = min(2, input_limit(act, mode))
    inputs = [{**sample_input(act, i), "custom_data": {"row": i}} for i in range(n)]
    if mode == "async":
        client.run_async(action_id, inputs, callback_url=HOOK, callback_headers=HEADERS)
        schema = act.async_request_schema
    else:
        at = "2026-03-01T06:00:00+01:00"
        client.schedule_run(action_id, inputs, callback_url=HOOK, schedule_at=at)
        schema = act.schedule_request_schema
    body = sent_json(api.sent[0])
    assert schema is not None and problems(schema, body) == []
    assert [i["custom_data"] for i in body["inputs"]] == [{"row": i} for i in range(n)]
    assert _path(api.sent[0]).endswith(f"/actions/{action_id}/run/{mode}")
    if act.uses_account:
        assert body["identity_ids"] == [IDENTITY] and body["identity_mode"] == "auto"


def test_schedule_run_sends_the_cron_and_its_zone_and_reads_the_schedule():
    api = FakeApi([ok(schedule_submission_json())])
    client = make_client(api, FakeClock())
    sub = client.schedule_run(
        PROFILE, [sample_input(PROFILE)], callback_url=HOOK, callback_headers=HEADERS,
        cron="0 6 * * *", timezone="Europe/Paris",
    )  # fmt: skip
    body = sent_json(api.sent[0])
    assert (body["cron"], body["timezone"]) == ("0 6 * * *", "Europe/Paris")
    assert "schedule_at" not in body
    assert problems(action(PROFILE).schedule_request_schema, body) == []
    assert (sub.schedule_uid, sub.status, sub.next_execution_at) == (
        SCHEDULE_UID,
        "ACTIVE",
        CREATED,
    )


@pytest.mark.parametrize(
    ("timing", "field"),
    [({}, "cron"), ({"schedule_at": "2026-03-01T06:00:00"}, "schedule_at"),
     ({"cron": ""}, "cron"), ({"cron": "* * * * *", "timezone": "x" * 65}, "timezone")],
)  # fmt: skip
def test_a_schedule_without_a_usable_time_is_refused_before_any_call(timing, field):
    api = FakeApi([])
    client = make_client(api, FakeClock())
    with pytest.raises(ValidationError) as caught:
        client.schedule_run(PROFILE, [sample_input(PROFILE)], callback_url=HOOK, **timing)
    assert caught.value.field == field and api.sent == []


# ---------------------------------------------------------------------------------------------
# submissions: the bounds, and each input checked as a live call checks it


def test_zero_inputs_or_more_than_100000_are_refused_naming_the_fix():
    api = FakeApi([ok(submission_json())])
    client = make_client(api, FakeClock())
    one = sample_input(PROFILE)
    with pytest.raises(ValidationError) as none:
        client.run_async(PROFILE, [], callback_url=HOOK)
    assert none.value.field == "inputs" and "at least one" in none.value.message
    with pytest.raises(ValidationError) as too_many:
        client.run_async(PROFILE, [one] * 100_001, callback_url=HOOK)
    assert too_many.value.field == "inputs"
    assert "chunks of at most 100,000" in too_many.value.message
    assert api.sent == []
    client.run_async(PROFILE, [one] * 100_000, callback_url=HOOK)  # the bound itself is fine
    assert len(sent_json(api.sent[0])["inputs"]) == 100_000


def test_the_spec_s_lower_limits_hold_for_schedules_and_actions_without_input():
    assert input_limit(action(PROFILE), "async") == 100_000
    assert input_limit(action(PROFILE), "schedule") == 100
    assert input_limit(action("linkedin-me"), "async") == 1
    api = FakeApi([])
    client = make_client(api, FakeClock())
    with pytest.raises(ValidationError, match="chunks of at most 100"):
        client.schedule_run(
            PROFILE, [sample_input(PROFILE)] * 101, callback_url=HOOK, cron="@daily"
        )
    with pytest.raises(ValidationError, match="1..1 inputs"):
        client.run_async("linkedin-me", [{}, {}], callback_url=HOOK)
    assert api.sent == []


def test_a_bad_input_is_named_by_its_index_and_field_and_nothing_is_sent():
    api = FakeApi([])
    client = make_client(api, FakeClock())
    inputs = [sample_input(PROFILE, n) for n in range(5)]
    inputs[3] = {"linkedin_profile_url": "https://example.com/ada"}
    with pytest.raises(ValidationError) as caught:
        client.run_async(PROFILE, inputs, callback_url=HOOK)
    assert caught.value.field == "inputs[3].linkedin_profile_url"
    assert caught.value.error_label == "INVALID_INPUT" and "does not look like" in str(caught.value)
    with pytest.raises(ValidationError) as params:
        client.run_async(PROFILE, inputs[:1], callback_url=HOOK, parameters={"skillz": True})
    assert params.value.field == "skillz"
    with pytest.raises(ValidationError) as url:
        client.run_async(PROFILE, inputs[:1], callback_url="ftp://hooks.example.com")
    assert url.value.field == "callback.url"
    with pytest.raises(ValidationError) as headers:
        client.run_async(PROFILE, inputs[:1], callback_url=HOOK, callback_headers={"X-N": 1})
    assert headers.value.field == "callback.headers"
    assert api.sent == []


def test_the_download_action_has_no_bulk_mode():
    client = make_client(FakeApi([]), FakeClock())
    with pytest.raises(ValidationError, match="no run/async"):
        client.run_async("linkedin-download-attachment", [{}], callback_url=HOOK)


# ---------------------------------------------------------------------------------------------
# retries: a submission is never sent twice; reads are retried


@pytest.mark.parametrize(
    "failure",
    [error(503, "SERVICE_UNAVAILABLE"), error(500, "GENERIC_ERROR"),
     requests.exceptions.ReadTimeout("read timed out"),
     requests.exceptions.ConnectionError("connection reset by peer")],
)  # fmt: skip
def test_an_ambiguous_submission_failure_is_not_resent_and_says_how_to_find_the_run(failure):
    api = FakeApi([failure, ok(submission_json())])
    clock = FakeClock()
    client = make_client(api, clock)
    with pytest.raises(SubmissionOutcomeUnknownError) as caught:
        client.run_async(PROFILE, [sample_input(PROFILE)], callback_url=HOOK)
    assert len(api.sent) == 1 and clock.waits == []
    assert "list_runs(action_name='linkedin-extract-people')" in str(caught.value)
    assert not caught.value.retryable and caught.value.cause is not None


def test_an_unreadable_2xx_to_a_submission_is_an_unknown_outcome_too():
    from tests.unit.test_client_transport import Canned

    api = FakeApi([Canned(200, {"Content-Type": "application/json"}, b"{not json")])
    client = make_client(api, FakeClock())
    with pytest.raises(SubmissionOutcomeUnknownError, match="list_schedules"):
        client.schedule_run(PROFILE, [sample_input(PROFILE)], callback_url=HOOK, cron="@daily")
    assert len(api.sent) == 1


def refused() -> requests.exceptions.ConnectionError:
    """A connection refused: no connection was ever opened, so nothing reached the API."""
    return requests.exceptions.ConnectionError(NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "never_sent", [refused, lambda: requests.exceptions.ConnectTimeout("connect timed out")]
)
def test_a_submission_that_never_reached_the_api_is_a_plain_transport_error(never_sent):
    api = FakeApi([never_sent() for _ in range(3)])
    clock = FakeClock()
    client = make_client(api, clock, max_retries=2)
    with pytest.raises(TransportError) as caught:
        client.run_async(PROFILE, [sample_input(PROFILE)], callback_url=HOOK)
    err = caught.value
    assert not isinstance(err, SubmissionOutcomeUnknownError)  # safe to submit again
    assert err.maybe_sent is False and err.attempts == 3 and len(api.sent) == 3


def test_a_submission_refused_then_timed_out_may_have_landed():
    api = FakeApi([refused(), requests.exceptions.ReadTimeout("read timed out")])
    client = make_client(api, FakeClock())
    with pytest.raises(SubmissionOutcomeUnknownError) as caught:
        client.run_async(PROFILE, [sample_input(PROFILE)], callback_url=HOOK)
    assert len(api.sent) == 2 and caught.value.cause is not None
    assert caught.value.cause.maybe_sent is True


def test_a_read_says_whether_its_last_try_may_have_reached_the_api():
    api = FakeApi([refused() for _ in range(2)])
    with pytest.raises(TransportError) as caught:
        make_client(api, FakeClock(), max_retries=1).get_run(RUN_UID)
    assert caught.value.maybe_sent is False and caught.value.attempts == 2
    api = FakeApi([error(503, "SERVICE_UNAVAILABLE") for _ in range(2)])
    with pytest.raises(ServerError) as answered:
        make_client(api, FakeClock(), max_retries=1).get_run(RUN_UID)
    assert answered.value.maybe_sent is True


def test_a_429_to_a_submission_is_retried_after_its_wait():
    api = FakeApi([error(429, "LIMIT_REACHED", {"Retry-After": "2"}), ok(submission_json())])
    clock = FakeClock()
    sub = make_client(api, clock).run_async(PROFILE, [sample_input(PROFILE)], callback_url=HOOK)
    assert sub.run_uid == RUN_UID and len(api.sent) == 2 and clock.waits == [2.0]
    assert sent_json(api.sent[0]) == sent_json(api.sent[1])


def test_a_get_is_retried_on_a_503():
    api = FakeApi([error(503, "SERVICE_UNAVAILABLE"), ok(run_json(status="RUNNING"))])
    clock = FakeClock()
    run = make_client(api, clock).get_run(RUN_UID)
    assert len(api.sent) == 2 and len(clock.waits) == 1
    assert [r.method for r in api.sent] == ["GET", "GET"]
    assert _path(api.sent[0]) == f"/v4/runs/{RUN_UID}"
    assert run.status == "RUNNING" and run.execution_mode == "ASYNC"


def test_resume_and_replay_are_not_resent_once_they_may_have_arrived():
    api = FakeApi([error(503, "SERVICE_UNAVAILABLE"), error(503, "SERVICE_UNAVAILABLE")])
    client = make_client(api, FakeClock())
    with pytest.raises(ServerError):
        client.resume_run(RUN_UID)
    with pytest.raises(ServerError):
        client.replay_callback(CALLBACK_UID)
    assert [(_path(r), r.method) for r in api.sent] == [
        (f"/v4/runs/{RUN_UID}/resume", "POST"),
        (f"/v4/runs/callbacks/{CALLBACK_UID}/replay", "POST"),
    ]


# ---------------------------------------------------------------------------------------------
# runs


def test_a_run_is_read_with_its_error_and_an_unknown_status_is_kept():
    error_run = run_json(status="FAILED", last_error={"label": "LK_ERROR", "message": "boom"})
    odd = dict(run_json(), status="ARCHIVED")  # a status the spec does not list (yet)
    api = FakeApi([ok(error_run), ok(odd)])
    client = make_client(api, FakeClock())
    run = client.get_run(RUN_UID)
    assert (run.last_error_label, run.last_error_message, run.ended) == ("LK_ERROR", "boom", True)
    assert (run.callback_url, run.created_at, run.id) == (HOOK, CREATED, 42)
    kept = client.get_run(RUN_UID)
    assert kept.status == "ARCHIVED" and not kept.ended
    with pytest.raises(AttributeError):
        kept.status = "SUCCEEDED"  # type: ignore[misc]  # frozen


def test_one_table_says_which_run_statuses_are_ended_and_which_resumable():
    from captaindata_dagster.api.bulk_statuses import (
        ENDED_RUN_STATUSES,
        RESUMABLE_RUN_STATUSES,
        RUN_STATUSES,
    )

    spec = load_catalog().bulk_schema("run")["properties"]["status"]["enum"]  # type: ignore[index]
    assert list(RUN_STATUSES) == [s for s in spec if s is not None]
    assert ENDED_RUN_STATUSES == {"SUCCEEDED", "PARTIAL_SUCCEEDED", "FAILED", "INVALID"}
    assert RESUMABLE_RUN_STATUSES == {"FAILED", "BLOCKED", "STOPPED"}
    read = {s: RunInfo.from_json(run_json(status=s)) for s in ("FAILED", "BLOCKED", "SUCCEEDED")}
    assert [(r.ended, r.resumable) for r in read.values()] == [
        (True, True),
        (False, True),
        (True, False),
    ]
    with pytest.raises(TypeError):
        RUN_STATUSES["ARCHIVED"] = RUN_STATUSES["FAILED"]  # type: ignore[index]  # frozen


def test_list_runs_sends_its_filters_and_reads_a_page():
    runs = [
        run_json(uid=f"0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4{i}", status="FAILED") for i in range(3)
    ]
    api = FakeApi([ok(_valid("runs_page", runs))])
    client = make_client(api, FakeClock())
    page = client.list_runs(status=["FAILED", "BLOCKED"], action_name=PROFILE,
                            execution_mode="ASYNC", limit=3, offset=6)  # fmt: skip
    [request] = api.sent
    assert request.method == "GET" and _path(request) == "/v4/runs"
    assert _query(request) == {"status": ["FAILED", "BLOCKED"], "action_name": [PROFILE],
                               "execution_mode": ["ASYNC"], "limit": ["3"], "offset": ["6"]}  # fmt: skip
    assert [r.uid for r in page.items] == [r["uid"] for r in runs]
    assert all(isinstance(r, RunInfo) for r in page.items)
    assert page.has_more and page.next_offset == 9


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"limit": 101}, "limit"), ({"limit": 0}, "limit"), ({"offset": -1}, "offset"),
     ({"status": "DONE"}, "status"), ({"execution_mode": "BULK"}, "execution_mode")],
)  # fmt: skip
def test_list_runs_refuses_what_the_spec_would_refuse(kwargs, field):
    api = FakeApi([])
    with pytest.raises(ValidationError) as caught:
        make_client(api, FakeClock()).list_runs(**kwargs)
    assert caught.value.field == field and api.sent == []


def test_iter_runs_walks_every_page_until_a_short_one():
    uids = [f"0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4{i}" for i in range(5)]
    pages = [[run_json(uid=u) for u in uids[:2]], [run_json(uid=u) for u in uids[2:4]],
             [run_json(uid=uids[4])]]  # fmt: skip
    api = FakeApi([ok(p) for p in pages])
    client = make_client(api, FakeClock())
    assert [r.uid for r in client.iter_runs(page_size=2, status="QUEUED")] == uids
    assert [_query(r)["offset"] for r in api.sent] == [["0"], ["2"], ["4"]]
    assert all(_query(r)["status"] == ["QUEUED"] for r in api.sent)


def test_resume_run_posts_to_the_run_and_reads_it():
    api = FakeApi([ok(run_json(status="QUEUED"))])
    run = make_client(api, FakeClock()).resume_run(RUN_UID)
    assert (api.sent[0].method, _path(api.sent[0])) == ("POST", f"/v4/runs/{RUN_UID}/resume")
    assert sent_json(api.sent[0]) == {} and run.status == "QUEUED"


def test_a_run_uid_that_is_not_a_uuid_is_refused():
    api = FakeApi([])
    with pytest.raises(ValidationError) as caught:
        make_client(api, FakeClock()).get_run("../workspaces")
    assert caught.value.field == "run_uid" and api.sent == []


# ---------------------------------------------------------------------------------------------
# callbacks


def test_callbacks_are_listed_by_run_and_status_read_and_replayed():
    page = _valid("callbacks_page", [callback_json()])
    replayed = dict(callback_json(uid=SCHEDULE_UID, status="PENDING"), parent_uid=CALLBACK_UID)
    api = FakeApi([ok(page), ok(callback_json()), ok(_valid("callback", replayed))])
    client = make_client(api, FakeClock())
    listed = client.list_callbacks(run_uid=RUN_UID, status="FAILED")
    assert _path(api.sent[0]) == "/v4/runs/callbacks"
    assert _query(api.sent[0]) == {"run_uid": [RUN_UID], "status": ["FAILED"],
                                   "limit": ["20"], "offset": ["0"]}  # fmt: skip
    [cb] = listed.items
    assert (cb.uid, cb.run_uid, cb.status, cb.http_status, cb.retry_count) == (
        CALLBACK_UID, RUN_UID, "FAILED", 503, 3,
    )  # fmt: skip
    assert not listed.has_more
    assert client.get_callback(CALLBACK_UID) == cb
    assert _path(api.sent[1]) == f"/v4/runs/callbacks/{CALLBACK_UID}"
    again = client.replay_callback(CALLBACK_UID)
    assert (api.sent[2].method, _path(api.sent[2])) == (
        "POST", f"/v4/runs/callbacks/{CALLBACK_UID}/replay",
    )  # fmt: skip
    assert (again.parent_uid, again.status) == (CALLBACK_UID, "PENDING")


def test_callbacks_pages_hold_at_most_20_as_the_spec_says():
    api = FakeApi([])
    with pytest.raises(ValidationError) as caught:
        make_client(api, FakeClock()).list_callbacks(limit=21)
    assert caught.value.field == "limit" and "1..20" in str(caught.value)


# ---------------------------------------------------------------------------------------------
# schedules


def test_schedules_are_listed_read_and_set():
    api = FakeApi([ok(_valid("schedules_page", [schedule_json()])), ok(schedule_json())])
    api.answers += [ok(schedule_json(s)) for s in ("PAUSED", "ACTIVE", "CANCELLED")]
    client = make_client(api, FakeClock())
    [listed] = client.list_schedules(status="ACTIVE", action_name=PROFILE).items
    assert _query(api.sent[0]) == {"status": ["ACTIVE"], "action_name": [PROFILE],
                                   "limit": ["100"], "offset": ["0"]}  # fmt: skip
    assert (listed.uid, listed.cron, listed.timezone) == (SCHEDULE_UID, "0 6 * * *", "Europe/Paris")
    assert client.get_schedule(SCHEDULE_UID) == listed
    assert client.pause_schedule(SCHEDULE_UID).status == "PAUSED"
    assert client.resume_schedule(SCHEDULE_UID).status == "ACTIVE"
    assert client.cancel_schedule(SCHEDULE_UID).status == "CANCELLED"
    assert [(r.method, _path(r)) for r in api.sent[1:]] == [
        ("GET", f"/v4/schedules/{SCHEDULE_UID}"),
        ("POST", f"/v4/schedules/{SCHEDULE_UID}/pause"),
        ("POST", f"/v4/schedules/{SCHEDULE_UID}/resume"),
        ("POST", f"/v4/schedules/{SCHEDULE_UID}/cancel"),
    ]


def test_setting_a_schedule_s_state_is_retried_on_a_503():
    api = FakeApi([error(503, "SERVICE_UNAVAILABLE"), ok(schedule_json("PAUSED"))])
    assert make_client(api, FakeClock()).pause_schedule(SCHEDULE_UID).status == "PAUSED"
    assert len(api.sent) == 2


@pytest.mark.parametrize("answer", [{"status": "pending"}, ["not", "an", "object"]])
def test_a_2xx_submission_answer_without_its_uid_is_an_unknown_outcome(answer):
    """The run may exist: a plain, retryable MalformedResponseError would invite a resubmit."""
    api = FakeApi([ok(answer), ok(answer)])
    client = make_client(api, FakeClock())
    with pytest.raises(SubmissionOutcomeUnknownError, match="list_runs") as caught:
        client.run_async(PROFILE, [sample_input(PROFILE)], callback_url=HOOK)
    assert not caught.value.retryable and caught.value.cause is not None
    with pytest.raises(SubmissionOutcomeUnknownError, match="list_schedules"):
        client.schedule_run(PROFILE, [sample_input(PROFILE)], callback_url=HOOK, cron="@daily")
    assert len(api.sent) == 2
