"""The identity of one callback: is it a page of results or the run's final status, and its key.

From the payload API.md describes (`{run: {run_uid, batch_uid, status}, input, custom_data,
error, results: [...]}`, posted once per page of results, then a final one):

- the run's final status is a callback whose run status is an ended one
  (`api.bulk_records.ENDED_RUN_STATUSES`), with no `input` and no results. "No input" alone is
  not enough: the API may omit `input` on the pages of an action that takes none, and such a
  page taken for the final status would be lost as a duplicate of it. A final callback may carry
  the run's error (a FAILED run's reason), so an error does not make it a page. Its key is the
  sha256 of (run_uid, "final", batch_uid, status, error): a run resumed after FAILED runs a new
  batch, so FAILED -> (resume) -> FAILED lands twice, while the same final redelivered lands once.
- any other callback is one page of results (or an input's error): its key is the sha256 of
  (run_uid, batch_uid, the input as canonical JSON, and the page's `results` and `error` as
  canonical JSON). The page's content is part of it because the payload carries no page number:
  two pages of one input are two callbacks, while the same page redelivered, replayed
  (`POST /runs/callbacks/{uid}/replay`) or arriving out of order is the same bytes, so one row.

`custom_data` is left out of every key: it is what we sent, echoed back, the same on every page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from captaindata_dagster.api.bulk_records import ENDED_RUN_STATUSES

PAGE = "page"  # one page of one input's results (or its error)
FINAL = "final"  # the run's final status, posted once the run ended


@dataclass(frozen=True)
class CallbackIdentity:
    """What a callback is (`PAGE` or `FINAL`), its key in the store, and its input's sha256."""

    kind: str
    key: str
    input_sha256: str | None


def canonical_sha256(value: Any) -> str:
    """The sha256 of `value` as canonical JSON (keys sorted, no spaces).

    Example:
        >>> canonical_sha256({"b": 1, "a": 2}) == canonical_sha256({"a": 2, "b": 1})
        True
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_final_callback(payload: Mapping[str, Any]) -> bool:
    """True when the callback is the run's final status (see the module's docstring).

    Example:
        >>> is_final_callback({"run": {"run_uid": "r", "status": "SUCCEEDED"}, "results": []})
        True
        >>> is_final_callback({"run": {"run_uid": "r", "status": "SUCCEEDED"}, "results": [{}]})
        False
    """
    return (
        payload["run"].get("status") in ENDED_RUN_STATUSES
        and payload.get("input") is None
        and not payload.get("results")
    )


def callback_identity(payload: Mapping[str, Any]) -> CallbackIdentity:
    """The `CallbackIdentity` of a callback payload: see the module's docstring.

    Args:
        payload: a callback body already checked to hold `run.run_uid`.

    Example:
        >>> callback_identity({"run": {"run_uid": "r", "status": "SUCCEEDED"}}).kind
        'final'
    """
    run = payload["run"]
    run_uid, batch_uid, status = str(run["run_uid"]), run.get("batch_uid"), run.get("status")
    error = payload.get("error")
    if is_final_callback(payload):
        return CallbackIdentity(
            FINAL, canonical_sha256([run_uid, FINAL, batch_uid, status, error]), None
        )
    input_sha = None if payload.get("input") is None else canonical_sha256(payload["input"])
    key = canonical_sha256([run_uid, batch_uid, input_sha, payload.get("results"), error])
    return CallbackIdentity(PAGE, key, input_sha)
