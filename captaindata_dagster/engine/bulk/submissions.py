"""Submitting a batch's inputs as async runs, never twice: recorded in the ledger before the API call.

For each chunk of at most `chunk_size` inputs, in this order:

1. the ledger records the submission and its inputs' keys (`record_bulk_submission`, state
   `sending`): from here on a retried or relaunched step finds these inputs taken and waits for
   their run instead of submitting them again;
2. the callback store registers it with a fresh secret (only its hash is stored);
3. the API is called (`run_async`): the callback URL carries the submission's id (so the run can
   be found in `GET /runs` by it) and the headers carry the id and the secret;
4. the run's uid is recorded in both (`attach_bulk_run`, `attach_run`).

A failure in 3 that proves the API did nothing (a refused body, a 4xx, a connection never opened)
frees the inputs (`not_sent`) and is raised. An unknown outcome (a timeout after sending) leaves
the submission `sending`: `find_run` looks for its run later (by its callbacks, then by its
callback URL in `GET /runs`); it is never submitted again.

Each input carries its ledger key in `custom_data` (`INPUT_KEY_FIELD`), which the API echoes in
every callback: a page is matched to its input by it, whatever spelling the API echoes back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from captaindata_dagster.api.bulk import SubmissionOutcomeUnknownError
from captaindata_dagster.api.catalog import CUSTOM_DATA, Action
from captaindata_dagster.api.client import CaptainDataClient
from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.bulk.settings import BulkSettings
from captaindata_dagster.storage.callbacks import callback_headers, new_secret
from captaindata_dagster.storage.ledger import BulkSubmissionRecord, Ledger

INPUT_KEY_FIELD = "captaindata_input_key"  # in each input's custom_data: its ledger key
SUBMISSION_PARAM = "submission"  # the callback URL's query parameter naming the submission


@dataclass(frozen=True)
class BulkCall:
    """What a batch submits with: its client, action, options, ledger and bulk settings."""

    client: CaptainDataClient
    act: Action
    parameters: Mapping[str, Any] | None
    max_results: int | None
    integration_users: Sequence[str] | None
    ledger: Ledger
    bulk: BulkSettings
    log: Any


def callback_url_for(url: str, submission_id: str) -> str:
    """The receiver's URL with the submission's id as its `submission` query parameter.

    Example:
        >>> callback_url_for("https://hooks.example.com/callbacks", "s1")
        'https://hooks.example.com/callbacks?submission=s1'
    """
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != SUBMISSION_PARAM]
    query.append((SUBMISSION_PARAM, submission_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


def submission_in_url(url: str | None) -> str | None:
    """The submission id a callback URL names (`callback_url_for`), or None.

    Example:
        >>> submission_in_url("https://hooks.example.com/callbacks?submission=s1")
        's1'
    """
    if not url:
        return None
    return dict(parse_qsl(urlsplit(url).query)).get(SUBMISSION_PARAM)


def submitted_parameters(call: BulkCall) -> dict[str, Any] | None:
    """The action's options as submitted: a search's `max_results` is an async parameter the API
    honours (it stops the walk there; without it the spec's default, 100, applies), so the
    step's cap goes into it, as the live walk stops at it.

    Example:
        >>> submitted_parameters(call)  # a search with max_results=25  # doctest: +SKIP
        {'max_results': 25}
    """
    params = dict(call.parameters or {})
    schema = (call.act.async_request_schema or {}).get("properties", {})
    declared = schema.get("parameters", {}).get("properties", {})
    if call.act.is_list and call.max_results is not None and "max_results" in declared:
        most = declared["max_results"].get("maximum")
        params["max_results"] = min(call.max_results, most) if most else call.max_results
    return params or None


def tagged_input(item: BatchItem) -> dict[str, Any]:
    """The input as submitted: the caller's fields, its ledger key added to `custom_data`.

    Args:
        item: the batch's input.

    Example:
        >>> tagged_input(item)  # doctest: +SKIP
        {'linkedin_profile_url': '...', 'custom_data': {'captaindata_input_key': '...'}}
    """
    value = dict(item.input) if isinstance(item.input, Mapping) else {}
    value[CUSTOM_DATA] = {**dict(value.get(CUSTOM_DATA) or {}), INPUT_KEY_FIELD: item.key}
    return value


def submit_items(call: BulkCall, items: Sequence[BatchItem]) -> int:
    """Submit `items` in chunks (see the module docstring); how many inputs were sent.

    An input another open submission took meanwhile (a concurrent step) is left out: the caller
    finds that submission in the ledger and waits for it.

    Args:
        call: the batch's client, action, options, ledger and settings.
        items: the inputs to submit, none held by an open submission when planned.

    Raises:
        CaptainDataError: the API refused a chunk (nothing of it was sent; chunks before it
            were, and stay open).

    Example:
        >>> submit_items(call, plan.todo)  # doctest: +SKIP
        100000
    """
    size, sent = call.bulk.chunk_size, 0
    for start in range(0, len(items), size):
        sent += _submit_chunk(call, items[start : start + size])
    return sent


def _submit_chunk(call: BulkCall, items: Sequence[BatchItem]) -> int:
    sub_id = uuid.uuid4().hex
    secret = new_secret()
    act, ledger, store = call.act, call.ledger, call.bulk.store
    taken = set(
        ledger.record_bulk_submission(
            sub_id,
            act.id,
            [i.key for i in items],
            parameters=call.parameters,
            max_results=call.max_results,
            origin=call.bulk.origin,
        )
    )
    items = [i for i in items if i.key in taken]
    if not items:
        return 0
    try:
        store.register_submission(sub_id, secret, act.id, inputs=len(items))
    except BaseException:  # the API was not called: the inputs are free again
        ledger.mark_bulk_not_sent(sub_id)
        raise
    try:
        answer = call.client.run_async(
            act.id,
            [tagged_input(i) for i in items],
            callback_url=callback_url_for(call.bulk.callback_url, sub_id),
            callback_headers=callback_headers(sub_id, secret),
            parameters=submitted_parameters(call),
            integration_users=call.integration_users,
        )
    except SubmissionOutcomeUnknownError as err:
        call.log.warning(
            "%s: the answer to submission %s (%d inputs) was lost (%s): it is not sent again; "
            "its run is looked for while waiting",
            act.id,
            sub_id,
            len(items),
            err.error_label,
        )
        return len(items)
    except CaptainDataError:
        ledger.mark_bulk_not_sent(sub_id)
        raise
    ledger.attach_bulk_run(sub_id, answer.run_uid)
    store.attach_run(sub_id, answer.run_uid)
    call.log.info(
        "%s: submitted %d inputs as async run %s (submission %s)",
        act.id,
        len(items),
        answer.run_uid,
        sub_id,
    )
    return len(items)


def find_run(call: BulkCall, record: BulkSubmissionRecord) -> str | None:
    """The run of a submission whose answer was lost, recorded once found; None if not found.

    Its callbacks name it once one landed; else `GET /runs` (async runs of the action) lists it
    with the callback URL that names the submission.

    Args:
        call: the batch's client, action, ledger and settings.
        record: a submission `sending` without a run uid.

    Example:
        >>> find_run(call, record)  # doctest: +SKIP
        '5f0c2a9e-...'
    """
    run_uid = call.bulk.store.run_of(record.submission_id)
    if run_uid is None:
        for run in call.client.iter_runs(action_name=call.act.id, execution_mode="ASYNC"):
            if submission_in_url(run.callback_url) == record.submission_id:
                run_uid = run.uid
                break
    if run_uid is not None:
        call.ledger.attach_bulk_run(record.submission_id, run_uid)
        call.bulk.store.attach_run(record.submission_id, run_uid)
    return run_uid
