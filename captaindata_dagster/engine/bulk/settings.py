"""How a batch runs in async mode: where callbacks go, how big a submission is, how it waits.

Example:
    >>> settings = BulkSettings(callback_url="https://hooks.example.com/callbacks",
    ...                         store=CallbackStore("/srv/callbacks.sqlite"))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from captaindata_dagster.storage.callbacks import CallbackStore

MAX_INPUTS_PER_RUN = 100_000  # the spec's maxItems of `inputs` in a run/async body
DEFAULT_POLL_S = 2.0  # how often the store is read (a local read, not an API call)
DEFAULT_RUN_CHECK_S = 60.0  # how often GET /runs/{uid} is asked while no final callback came
DEFAULT_FINAL_CHECK_S = 5.0  # once a final callback came: never more often than this per run
DEFAULT_REPLAY_WAIT_S = 300.0  # how long replayed callbacks are waited for


@dataclass(frozen=True)
class BulkSettings:
    """Async mode's settings for one batch.

    Args:
        callback_url: the receiver's public URL (`captaindata-dagster receiver --public-url`):
            the API POSTs every page of results there. The submission's id is added to it as
            the `submission` query parameter, so a run found in `GET /runs` names its submission.
        store: the callback store the receiver writes to (the same database or file).
        chunk_size: inputs per async run, at most 100,000 (the API's limit).
        defer: submit and return without waiting: the inputs of runs not ended are counted in
            `stats.pending` and land in a later batch (the landing sensor's run).
        wait_for_held: with `defer`, still wait for the runs of the submissions that existed
            before this batch (the landing sensor's run: they have ended), not for new ones.
        poll_s: how often the store is read for new callbacks while waiting.
        run_check_s: how often the run's status is asked (`GET /runs/{uid}`) while its final
            callback has not come.
        final_check_s: once its final callback came, how often at most (the API's status may
            lag its callback by a moment).
        replay_wait_s: how long callbacks replayed after the run ended are waited for. While
            some still fail to reach the receiver, the inputs without an outcome are
            `CALLBACK_FAILED` rows and stay the run's (replayed again next batch); once none
            failed, an input the run brought nothing for is an error row with the run's
            `last_error` label, else `NO_CALLBACK`, retried next run.
        max_wait_s: give up waiting after this long (None: until the runs end); the inputs still
            pending are counted in `stats.pending`, their submission stays open.
        origin: what asks for the batch (`asset_key`, `partition_key`), kept with each
            submission so a sensor can materialize that partition when its run ends.
        clock: seconds, monotonic (injected by tests).
        sleep: waits that many seconds (injected by tests).
    """

    callback_url: str
    store: CallbackStore
    chunk_size: int = MAX_INPUTS_PER_RUN
    defer: bool = False
    wait_for_held: bool = False
    poll_s: float = DEFAULT_POLL_S
    run_check_s: float = DEFAULT_RUN_CHECK_S
    final_check_s: float = DEFAULT_FINAL_CHECK_S
    replay_wait_s: float = DEFAULT_REPLAY_WAIT_S
    max_wait_s: float | None = None
    origin: Mapping[str, Any] | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.chunk_size <= MAX_INPUTS_PER_RUN:
            raise ValueError(
                f"chunk_size must be 1..{MAX_INPUTS_PER_RUN:,} inputs per async run (the API's "
                f"limit), got {self.chunk_size!r}"
            )
        if not self.callback_url.startswith(("https://", "http://")):
            raise ValueError(
                "callback_url must be the receiver's public http(s) URL (its --public-url), "
                f"got {self.callback_url!r}"
            )
        for name in ("poll_s", "run_check_s", "final_check_s", "replay_wait_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 seconds, got {getattr(self, name)!r}")
