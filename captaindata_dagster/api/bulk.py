"""Bulk mode's endpoints: async runs, server-side schedules, runs and their callbacks.

`BulkEndpoints` is a part of `CaptainDataClient` (which inherits it): call these on a client, e.g.
`client.run_async("linkedin-extract-people", inputs, callback_url=...)`. Every request goes through
the client's paced, retried loop (`calls`). What is retried:

- reads (`get_run`, `list_runs`, `get_callback`, `list_callbacks`, `get_schedule`,
  `list_schedules`) and setting a schedule's state (`pause_schedule`, `resume_schedule`,
  `cancel_schedule`: the same state however often it is asked) are retried like any call;
- a submission (`run_async`, `schedule_run`) is never re-sent once it may have reached the API: a
  second one could queue every input twice. When its outcome is unknown (a timeout, a dropped
  connection, a 5xx, an unreadable 2xx) it raises `SubmissionOutcomeUnknownError`: look for the
  run with `list_runs(action_name=..., execution_mode="ASYNC")` (or the schedule with
  `list_schedules`) before submitting again. A 429 or a connection never opened is retried: the
  API did nothing (when the retries run out, the plain error is raised, with `maybe_sent`
  False for a connection never opened: safe to submit again);
- `resume_run` and `replay_callback` are not re-sent either once they may have arrived (a
  second replay delivers the page again): check with `get_run` or `list_callbacks`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

from captaindata_dagster.api.bulk_body import Accounts, Timing, bulk_body
from captaindata_dagster.api.bulk_query import list_query
from captaindata_dagster.api.bulk_records import (
    AsyncSubmission,
    CallbackInfo,
    Page,
    RunInfo,
    ScheduleInfo,
    ScheduleSubmission,
)
from captaindata_dagster.api.calls import ApiCalls
from captaindata_dagster.api.catalog import Catalog
from captaindata_dagster.api.errors import (
    CaptainDataError,
    RateLimitError,
    ServerError,
    TransportError,
)
from captaindata_dagster.api.request_body import resolve_action, users_for
from captaindata_dagster.api.workspace import WorkspaceEndpoints

Item = TypeVar("Item")


class SubmissionOutcomeUnknownError(TransportError):
    """A submission may or may not have been accepted: the answer was lost or unreadable.

    It is not retried (a second submission could run every input twice). `cause` is the failure
    met; `error_label` is its label. Find out with `client.list_runs(action_name=<action>,
    execution_mode="ASYNC")` (a schedule: `client.list_schedules(action_name=<action>)`) before
    submitting again.
    """

    default_retryable = False
    cause: CaptainDataError | None = None


class BulkEndpoints(ApiCalls):
    """The `run/async`, `run/schedule`, `/runs`, `/runs/callbacks` and `/schedules` endpoints."""

    catalog: Catalog
    validate: bool
    integration_users: list[str]
    account_form: Literal["integration_users", "identity_ids"]
    identity_mode: str | None

    # ------------------------------------------------------------------ submissions

    def run_async(
        self,
        action_id: str,
        inputs: Sequence[Mapping[str, Any]],
        *,
        callback_url: str,
        callback_headers: Mapping[str, str] | None = None,
        parameters: Mapping[str, Any] | None = None,
        integration_users: Sequence[str] | None = None,
    ) -> AsyncSubmission:
        """Queue one async run of `action_id` over `inputs`; the API POSTs results to the callback.

        The API paces and rotates accounts itself and POSTs each page of results to
        `callback_url` with `callback_headers`, then a final callback with the run's status.
        Each input is checked as `run_action` checks one; nothing is sent if one is bad.

        Args:
            action_id: the catalog id, e.g. "linkedin-extract-people".
            inputs: 1..100,000 input objects (1 for an action without input); split more into
                chunks, one run each.
            callback_url: the receiver's public http(s) URL.
            callback_headers: headers the API sends with each callback (e.g. the receiver's
                per-submission secret).
            parameters: the action's options, as for a live call.
            integration_users: account uids (default: the client's).

        Raises:
            ValidationError: a bad input (`inputs[i].<field>`), too few or too many inputs,
                a bad parameter or callback; nothing was sent.
            SubmissionOutcomeUnknownError: the run may exist; see `list_runs` before resending.

        Example:
            >>> sub = client.run_async("linkedin-extract-people",  # doctest: +SKIP
            ...     [{"linkedin_profile_url": "https://www.linkedin.com/in/ada"}],
            ...     callback_url="https://hooks.example.com/captaindata")
            >>> client.get_run(sub.run_uid).status  # doctest: +SKIP
            'QUEUED'
        """
        act, body = self._bulk_body(
            action_id,
            "async",
            inputs,
            parameters,
            callback_url,
            callback_headers,
            integration_users,
            None,
        )
        path = act.path.replace("/run/live", "/run/async")
        return self._submit(act.id, path, body, AsyncSubmission.from_json)

    def schedule_run(
        self,
        action_id: str,
        inputs: Sequence[Mapping[str, Any]],
        *,
        callback_url: str,
        callback_headers: Mapping[str, str] | None = None,
        cron: str | None = None,
        timezone: str | None = None,
        schedule_at: datetime | str | None = None,
        parameters: Mapping[str, Any] | None = None,
        integration_users: Sequence[str] | None = None,
    ) -> ScheduleSubmission:
        """Create a server-side schedule: the API runs `action_id` over `inputs` at each time.

        Give `cron` (with `timezone`) to repeat, or `schedule_at` (a date-time with its zone) to
        run once. A schedule takes 1..100 inputs (the spec's limit, lower than async's). Each
        run's callbacks go to `callback_url` like an async run's.

        Args:
            action_id: the catalog id.
            inputs: 1..100 input objects (1 for an action without input).
            callback_url: the receiver's public http(s) URL.
            callback_headers: headers the API sends with each callback.
            cron: a cron expression, e.g. "0 6 * * *".
            timezone: the cron's time zone, e.g. "Europe/Paris".
            schedule_at: one run at this date-time.
            parameters: the action's options.
            integration_users: account uids (default: the client's).

        Raises:
            ValidationError: as `run_async`, or neither `cron` nor `schedule_at`.
            SubmissionOutcomeUnknownError: the schedule may exist; see `list_schedules`.

        Example:
            >>> client.schedule_run("linkedin-extract-people", inputs,  # doctest: +SKIP
            ...     callback_url=url, cron="0 6 * * *", timezone="UTC").status
            'ACTIVE'
        """
        act, body = self._bulk_body(
            action_id,
            "schedule",
            inputs,
            parameters,
            callback_url,
            callback_headers,
            integration_users,
            Timing(cron, timezone, schedule_at),
        )
        path = act.path.replace("/run/live", "/run/schedule")
        return self._submit(act.id, path, body, ScheduleSubmission.from_json)

    # ------------------------------------------------------------------ runs

    def get_run(self, run_uid: str) -> RunInfo:
        """One run by uid: its status, `last_error`, timestamps. Retried like any read."""
        uid = WorkspaceEndpoints._uuid(run_uid, "run_uid")
        return RunInfo.from_json(self._request_json("GET", f"/runs/{uid}"))

    def resume_run(self, run_uid: str) -> RunInfo:
        """Resume a run (a BLOCKED or STOPPED one); not re-sent once it may have arrived."""
        uid = WorkspaceEndpoints._uuid(run_uid, "run_uid")
        data = self._request_json("POST", f"/runs/{uid}/resume", json_body={}, idempotent=False)
        return RunInfo.from_json(data)

    def list_runs(
        self,
        *,
        status: str | Sequence[str] | None = None,
        action_name: str | Sequence[str] | None = None,
        execution_mode: str | Sequence[str] | None = None,
        uid: str | Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page[RunInfo]:
        """One page of runs (`limit` <= 100), newest last, filtered on the server.

        Example:
            >>> client.list_runs(status=["FAILED", "BLOCKED"], execution_mode="ASYNC")  # doctest: +SKIP
        """
        filters = {
            "status": status,
            "action_name": action_name,
            "execution_mode": execution_mode,
            "uid": uid,
        }
        return self._list("/runs", "runs_query", filters, RunInfo.from_json, limit, offset)

    def iter_runs(self, *, page_size: int = 100, **filters: Any) -> Iterator[RunInfo]:
        """Every run matching `filters` (those of `list_runs`), page after page."""
        return self._walk(
            lambda lim, off: self.list_runs(limit=lim, offset=off, **filters), page_size
        )

    # ------------------------------------------------------------------ callbacks

    def list_callbacks(
        self,
        *,
        run_uid: str | Sequence[str] | None = None,
        status: str | Sequence[str] | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page[CallbackInfo]:
        """One page of callback deliveries (`limit` <= 20, the spec's maximum), newest first."""
        filters = {"run_uid": run_uid, "status": status}
        return self._list(
            "/runs/callbacks", "callbacks_query", filters, CallbackInfo.from_json, limit, offset
        )

    def iter_callbacks(self, *, page_size: int = 20, **filters: Any) -> Iterator[CallbackInfo]:
        """Every callback matching `filters` (those of `list_callbacks`), page after page."""
        return self._walk(
            lambda lim, off: self.list_callbacks(limit=lim, offset=off, **filters), page_size
        )

    def get_callback(self, callback_uid: str) -> CallbackInfo:
        """One callback delivery by uid."""
        uid = WorkspaceEndpoints._uuid(callback_uid, "callback_uid")
        return CallbackInfo.from_json(self._request_json("GET", f"/runs/callbacks/{uid}"))

    def replay_callback(self, callback_uid: str) -> CallbackInfo:
        """Ask the API to deliver a callback again (a FAILED or missing one); not re-sent."""
        uid = WorkspaceEndpoints._uuid(callback_uid, "callback_uid")
        path = f"/runs/callbacks/{uid}/replay"
        return CallbackInfo.from_json(
            self._request_json("POST", path, json_body={}, idempotent=False)
        )

    # ------------------------------------------------------------------ schedules

    def list_schedules(
        self,
        *,
        status: str | Sequence[str] | None = None,
        action_name: str | Sequence[str] | None = None,
        uid: str | Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page[ScheduleInfo]:
        """One page of the workspace's schedules (`limit` <= 100)."""
        filters = {"status": status, "action_name": action_name, "uid": uid}
        return self._list(
            "/schedules", "schedules_query", filters, ScheduleInfo.from_json, limit, offset
        )

    def iter_schedules(self, *, page_size: int = 100, **filters: Any) -> Iterator[ScheduleInfo]:
        """Every schedule matching `filters` (those of `list_schedules`), page after page."""
        return self._walk(
            lambda lim, off: self.list_schedules(limit=lim, offset=off, **filters), page_size
        )

    def get_schedule(self, schedule_uid: str) -> ScheduleInfo:
        """One schedule by uid."""
        uid = WorkspaceEndpoints._uuid(schedule_uid, "schedule_uid")
        return ScheduleInfo.from_json(self._request_json("GET", f"/schedules/{uid}"))

    def pause_schedule(self, schedule_uid: str) -> ScheduleInfo:
        """Pause a schedule (no run starts until `resume_schedule`). Retried: same state."""
        return self._set_schedule(schedule_uid, "pause")

    def resume_schedule(self, schedule_uid: str) -> ScheduleInfo:
        """Resume a paused schedule. Retried: same state."""
        return self._set_schedule(schedule_uid, "resume")

    def cancel_schedule(self, schedule_uid: str) -> ScheduleInfo:
        """Cancel a schedule for good. Retried: same state."""
        return self._set_schedule(schedule_uid, "cancel")

    # ------------------------------------------------------------------ shared

    def _set_schedule(self, schedule_uid: str, verb: str) -> ScheduleInfo:
        uid = WorkspaceEndpoints._uuid(schedule_uid, "schedule_uid")
        data = self._request_json("POST", f"/schedules/{uid}/{verb}", json_body={}, idempotent=True)
        return ScheduleInfo.from_json(data)

    def _bulk_body(
        self,
        action_id: str,
        mode: str,
        inputs: Sequence[Mapping[str, Any]],
        parameters: Mapping[str, Any] | None,
        callback_url: str,
        callback_headers: Mapping[str, str] | None,
        integration_users: Sequence[str] | None,
        timing: Timing | None,
    ) -> tuple[Any, dict[str, Any]]:
        act = resolve_action(action_id, self.catalog)
        users = users_for(act, integration_users, self.integration_users)
        accounts = Accounts(users, self.account_form, self.identity_mode)
        body = bulk_body(
            act,
            mode,
            inputs,
            parameters=parameters,
            callback_url=callback_url,
            callback_headers=callback_headers,
            accounts=accounts,
            timing=timing,
            validate=self.validate,
        )
        return act, body

    def _submit(
        self, action_id: str, path: str, body: dict[str, Any], read: Callable[[Any], Item]
    ) -> Item:
        """POST a submission once and `read` its answer; any failure after the request may have
        reached the API (an error, an unreadable answer, one without its uid) becomes
        `SubmissionOutcomeUnknownError`."""
        try:
            return read(self._request_json("POST", path, json_body=body, idempotent=False))
        except (ServerError, TransportError) as err:
            if isinstance(err, RateLimitError) or not err.maybe_sent:
                raise  # the API did nothing (asked to wait, or never reached): safe to resubmit
            raise _outcome_unknown(action_id, path, err) from err

    def _list(
        self,
        path: str,
        schema_name: str,
        filters: Mapping[str, Any],
        read: Callable[[Any], Item],
        limit: int,
        offset: int,
    ) -> Page[Item]:
        query = list_query(self.catalog, schema_name, filters, limit=limit, offset=offset)
        data = self._request_json("GET", path, params=query)
        return Page.from_json(data, read, limit=limit, offset=offset, what=f"GET {path}")

    @staticmethod
    def _walk(fetch: Callable[[int, int], Page[Item]], page_size: int) -> Iterator[Item]:
        offset = 0
        while True:
            page = fetch(page_size, offset)
            yield from page.items
            if not page.has_more:
                return
            offset = page.next_offset


def _outcome_unknown(action_id: str, path: str, err: CaptainDataError) -> CaptainDataError:
    where = "list_schedules" if path.endswith("/run/schedule") else "list_runs"
    out = SubmissionOutcomeUnknownError(
        f"POST {path}: {err.message} - the submission may or may not have been accepted, so it "
        f"was not sent again. Look for it with client.{where}(action_name={action_id!r}) before "
        "submitting again (a second submission could run every input twice).",
        error_label=err.error_label,
        error_scope=err.error_scope,
        error_ref=err.error_ref,
        status_code=err.status_code,
        action_id=action_id,
        attempts=err.attempts,
    )
    out.cause = err
    return out
