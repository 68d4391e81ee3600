"""The one table of bulk mode's statuses: which run statuses are ended, which can be resumed.

The client (`RunInfo.ended`, `RunInfo.resumable`) and the simulator (which runs it advances, which
it lets `POST /runs/{uid}/resume`) both read it, so they cannot disagree. It imports nothing from
the package: the simulator may read it (pyproject's "The simulator reads only the catalog"
contract allows this module beside the catalog).

Where each fact comes from: the spec (and API.md, "Batch modes") lists the ten run statuses, the
callback and the schedule statuses. The spec does not say which run statuses are final; our
reading: SUCCEEDED, PARTIAL_SUCCEEDED, FAILED and INVALID are ended (the run will not change again
on its own); FAILED, BLOCKED and STOPPED are resumable (`POST /runs/{uid}/resume` starts them
again), so a BLOCKED or STOPPED run is neither running nor ended: it waits for a resume.
A status the spec does not list (the API may add one) is neither ended nor resumable.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple


class RunStatus(NamedTuple):
    """What a run status means: `ended` (it will not change without a resume), `resumable`."""

    ended: bool
    resumable: bool


RUN_STATUSES: Mapping[str, RunStatus] = MappingProxyType(
    {
        "CREATED": RunStatus(ended=False, resumable=False),
        "INVALID": RunStatus(ended=True, resumable=False),  # refused: nothing to resume
        "QUEUED": RunStatus(ended=False, resumable=False),
        "SCHEDULED": RunStatus(ended=False, resumable=False),
        "BLOCKED": RunStatus(ended=False, resumable=True),  # waits for a resume
        "STOPPED": RunStatus(ended=False, resumable=True),  # waits for a resume
        "RUNNING": RunStatus(ended=False, resumable=False),
        "FAILED": RunStatus(ended=True, resumable=True),  # ended, unless resumed
        "PARTIAL_SUCCEEDED": RunStatus(ended=True, resumable=False),
        "SUCCEEDED": RunStatus(ended=True, resumable=False),
    }
)  # in the spec's order
ENDED_RUN_STATUSES = frozenset(s for s, meaning in RUN_STATUSES.items() if meaning.ended)
RESUMABLE_RUN_STATUSES = frozenset(s for s, meaning in RUN_STATUSES.items() if meaning.resumable)
HALTED_RUN_STATUSES = RESUMABLE_RUN_STATUSES - ENDED_RUN_STATUSES  # BLOCKED, STOPPED: a resume
SUBMISSION_UNKNOWN = "SUBMISSION_UNKNOWN"  # ours: a submission whose answer was lost, run not found
CALLBACK_STATUSES = ("PENDING", "RUNNING", "FAILED", "SUCCESS")
SCHEDULE_STATUSES = ("ACTIVE", "CANCELLED", "PAUSED", "COMPLETED")
