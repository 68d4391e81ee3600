"""What bulk mode's endpoints answer, as frozen records: runs, callbacks, schedules, submissions.

Each record is read from the JSON the spec declares (the catalog's `bulk` schemas) and keeps that
JSON in `raw`. Statuses stay strings: a status the spec does not list (the API may add one) is kept
as sent, never refused; `bulk_statuses` lists the ones the spec names and says which run
statuses are ended or resumable. Timestamps are kept as the API sends them (RFC 3339 text; the
spec gives some of the run's without a format). The spec gives a run no counts of inputs or results: they come from
the callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from captaindata_dagster.api.bulk_statuses import ENDED_RUN_STATUSES, RESUMABLE_RUN_STATUSES
from captaindata_dagster.api.errors import MalformedResponseError


def _object(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise MalformedResponseError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def _uid(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedResponseError(f"{what}: the answer has no {key}")
    return value


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class RunInfo:
    """One run (`GET /runs/{uid}`), live or async.

    `last_error_label` and `last_error_message` are the run's `last_error` (None when it has
    none); `callback_url` is where its callbacks go. `ended` says whether it will not change again
    without a `resume_run`, `resumable` whether `resume_run` may start it again (FAILED is both;
    BLOCKED and STOPPED only resumable): our reading, in `bulk_statuses.RUN_STATUSES`.
    """

    uid: str
    status: str | None
    action_name: str | None
    execution_mode: str | None  # "LIVE", "ASYNC" (or another the API adds)
    id: int | None = None
    action_id: int | None = None
    retry_count: int = 0
    user_uid: str | None = None
    workspace_uid: str | None = None
    last_error_label: str | None = None
    last_error_message: str | None = None
    callback_url: str | None = None
    postponed_until: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    synced_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ended(self) -> bool:
        return self.status in ENDED_RUN_STATUSES

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE_RUN_STATUSES

    @classmethod
    def from_json(cls, data: Any) -> RunInfo:
        """Read a run answer; `MalformedResponseError` when it is not an object with a `uid`."""
        data = _object(data, "run")
        error = data.get("last_error") if isinstance(data.get("last_error"), Mapping) else {}
        callback = data.get("callback") if isinstance(data.get("callback"), Mapping) else {}
        return cls(
            uid=_uid(data, "uid", "run"),
            status=_text(data, "status"),
            action_name=_text(data, "action_name"),
            execution_mode=_text(data, "execution_mode"),
            id=_int(data, "id"),
            action_id=_int(data, "action_id"),
            retry_count=_int(data, "retry_count") or 0,
            user_uid=_text(data, "user_uid"),
            workspace_uid=_text(data, "workspace_uid"),
            last_error_label=_text(error, "label"),
            last_error_message=_text(error, "message"),
            callback_url=_text(callback, "url"),
            **{k: _text(data, k) for k in _RUN_TIMES},
            raw=dict(data),
        )


_RUN_TIMES = (
    "postponed_until", "started_at", "finished_at", "synced_at", "created_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True)
class CallbackInfo:
    """One callback delivery the API made (or will make) for a run (`GET /runs/callbacks/{uid}`).

    `batch_uid` names the page of results it carried; `parent_uid` is the delivery it replays;
    `http_status` is what the receiver answered.
    """

    uid: str
    run_uid: str | None
    status: str | None  # "PENDING", "RUNNING", "FAILED", "SUCCESS"
    batch_uid: str | None = None
    parent_uid: str | None = None
    retry_count: int = 0
    callback_url: str | None = None
    http_status: int | None = None
    workspace_uid: str | None = None
    created_at: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> CallbackInfo:
        data = _object(data, "callback")
        return cls(
            uid=_uid(data, "uid", "callback"),
            run_uid=_text(data, "run_uid"),
            status=_text(data, "status"),
            batch_uid=_text(data, "batch_uid"),
            parent_uid=_text(data, "parent_uid"),
            retry_count=_int(data, "retry_count") or 0,
            callback_url=_text(data, "callback_url"),
            http_status=_int(data, "http_status"),
            workspace_uid=_text(data, "workspace_uid"),
            created_at=_text(data, "created_at"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class ScheduleInfo:
    """One server-side schedule (`GET /schedules/{uid}`): the API starts a run at each time."""

    uid: str
    status: str | None  # "ACTIVE", "CANCELLED", "PAUSED", "COMPLETED"
    action_name: str | None
    cron: str | None = None
    timezone: str | None = None
    next_execution_at: str | None = None
    last_executed_at: str | None = None
    postponed_until: str | None = None
    action_id: int | None = None
    user_uid: str | None = None
    workspace_uid: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> ScheduleInfo:
        data = _object(data, "schedule")
        texts = ("cron", "timezone", "next_execution_at", "last_executed_at", "postponed_until")
        return cls(
            uid=_uid(data, "uid", "schedule"),
            status=_text(data, "status"),
            action_name=_text(data, "action_name"),
            action_id=_int(data, "action_id"),
            user_uid=_text(data, "user_uid"),
            workspace_uid=_text(data, "workspace_uid"),
            created_at=_text(data, "created_at"),
            updated_at=_text(data, "updated_at"),
            **{k: _text(data, k) for k in texts},
            raw=dict(data),
        )


@dataclass(frozen=True)
class AsyncSubmission:
    """The answer to `POST .../run/async`: the run the API queued.

    Its `status` is the submission's own lower-case one ("pending", "running", "completed",
    "failed"), not a run status: follow the run with `get_run(run_uid)`.
    """

    run_uid: str
    status: str | None
    action_name: str | None
    run_id: int | None = None
    user_uid: str | None = None
    workspace_uid: str | None = None
    postponed_until: str | None = None
    created_at: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> AsyncSubmission:
        data = _object(data, "run/async")
        return cls(
            run_uid=_uid(data, "run_uid", "run/async"),
            status=_text(data, "status"),
            action_name=_text(data, "action_name"),
            run_id=_int(data, "run_id"),
            user_uid=_text(data, "user_uid"),
            workspace_uid=_text(data, "workspace_uid"),
            postponed_until=_text(data, "postponed_until"),
            created_at=_text(data, "created_at"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class ScheduleSubmission:
    """The answer to `POST .../run/schedule`: the schedule the API created."""

    schedule_uid: str
    status: str | None
    cron: str | None = None
    timezone: str | None = None
    next_execution_at: str | None = None
    created_at: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> ScheduleSubmission:
        data = _object(data, "run/schedule")
        texts = ("cron", "timezone", "next_execution_at", "created_at")
        return cls(
            schedule_uid=_uid(data, "schedule_uid", "run/schedule"),
            status=_text(data, "status"),
            **{k: _text(data, k) for k in texts},
            raw=dict(data),
        )


Item = TypeVar("Item")


@dataclass(frozen=True)
class Page(Generic[Item]):
    """One page of a list endpoint (`GET /runs`, `/runs/callbacks`, `/schedules`).

    The answers are bare arrays paged by `limit` and `offset` (no total, no next link): a page
    shorter than `limit` is the last (`has_more` False).
    """

    items: tuple[Item, ...]
    limit: int
    offset: int

    @property
    def has_more(self) -> bool:
        return len(self.items) >= self.limit > 0

    @property
    def next_offset(self) -> int:
        return self.offset + len(self.items)

    @classmethod
    def from_json(
        cls, data: Any, read: Callable[[Any], Item], *, limit: int, offset: int, what: str
    ) -> Page[Item]:
        if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
            raise MalformedResponseError(f"{what}: expected a JSON array")
        return cls(tuple(read(x) for x in data), limit, offset)
