"""Stopping a run: once it is told to stop, no new API call starts and the calls in flight settle.

Dagster terminates a step (the UI's "Terminate", SIGTERM or SIGINT to the run) by raising
`DagsterExecutionInterruptedError` in the step's main thread; Ctrl-C in plain Python raises
`KeyboardInterrupt` there. The worker threads of `run_batch` and `run_outreach` hear nothing of it,
so the main thread waits for them through a `Watch`: on any exception it sets the run's `Stop`,
waits (bounded) for the calls in flight to be recorded, then re-raises.

A step of the multiprocess executor is a child process of the run; when that parent is SIGKILLed
the child is sent nothing and would go on calling. A `Stop` made in such a child notices the parent
is gone (`os.getppid()` changed) and counts as set; the `Watch` then raises `ParentGone`.

The client asks `check()` right before sending each request, and sleeps (pacing, back-off before a
retry) through `sleep()`: a thread bound to a set `Stop` (see `bound`) gets `CallStopped` instead of
a new request, even one the client meant as a retry.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

POLL_S = 0.25  # how often a sleep or a watch looks at the stop (and the parent process)
STOP_GRACE_S = 70.0  # calls in flight get this long to finish: the client's default timeouts


class CallStopped(Exception):
    """The run is stopping: the client did not send this request (nothing reached the API)."""


class ParentGone(RuntimeError):
    """The process that started this step is gone (SIGKILLed): the step stopped on its own."""


class Stop:
    """Set once the run must start no new call: interrupted, or its parent process is gone."""

    def __init__(self) -> None:
        self.event = threading.Event()
        # Only a multiprocessing child (a Dagster step subprocess) watches its parent: a script
        # left running in the background after its shell exited is not an orphaned step.
        # The parent's pid as multiprocessing recorded it when this process started (not as
        # `os.getppid()` says now): a parent that died before this `Stop` was made still counts.
        parent = multiprocessing.parent_process()
        self._ppid = parent.pid if parent is not None else None

    def set(self) -> None:
        self.event.set()

    def orphaned(self) -> bool:
        """True when this process is a child whose parent died (it was reparented)."""
        return self._ppid is not None and os.getppid() != self._ppid

    def is_set(self) -> bool:
        if not self.event.is_set() and self.orphaned():
            self.event.set()
        return self.event.is_set()


_local = threading.local()


@contextmanager
def bound(stop: Stop) -> Iterator[None]:
    """Within the block, this thread's client calls obey `stop` (see `check` and `sleep`)."""
    before = getattr(_local, "stop", None)
    _local.stop = stop
    try:
        yield
    finally:
        _local.stop = before


def check() -> None:
    """Raise `CallStopped` if this thread's run is stopping; called before each request."""
    stop = getattr(_local, "stop", None)
    if stop is not None and stop.is_set():
        raise CallStopped("the run is stopping: no new call is sent")


def sleep(seconds: float) -> None:
    """`time.sleep`, cut short when this thread's run stops (the next `check` raises then)."""
    stop = getattr(_local, "stop", None)
    if stop is None:
        time.sleep(seconds)
        return
    end = time.monotonic() + seconds
    while not stop.is_set():
        left = end - time.monotonic()
        if left <= 0:
            return
        stop.event.wait(min(left, POLL_S))


class Watch:
    """The main thread's side: wait for the workers; on an interrupt, stop them and wait a while.

    `done(seconds)` waits up to `seconds` for the workers and says whether all have ended;
    `halt()` tells the run's queue to hand out nothing more. Use as a context manager: an
    exception raised in the block (an interrupt, `ParentGone` from `wait`) sets `stop`, calls
    `halt`, waits up to `grace_s` for the calls in flight to settle, then propagates.
    """

    def __init__(
        self,
        stop: Stop,
        done: Callable[[float], bool],
        halt: Callable[[], None],
        log: Any,
        what: str,
        grace_s: float = STOP_GRACE_S,
    ) -> None:
        self.stop = stop
        self.done = done
        self.halt = halt
        self.log = log
        self.what = what
        self.grace_s = grace_s
        self.stopped = False  # True once stopped by an exception: some workers may still run

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds` for the workers; True when all ended. Raises `ParentGone`."""
        if self.done(seconds):
            return True
        if self.stop.orphaned():
            raise ParentGone(
                f"{self.what}: the process that started this step is gone (killed?); "
                "stopped: no new call was made after that"
            )
        return False

    def until_done(self) -> None:
        while not self.wait(POLL_S):
            pass

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            return
        self.stopped = True
        self.stop.set()
        self.halt()
        self.log.warning(
            "%s: stopping (%s): no new call starts; waiting up to %gs for the calls in flight",
            self.what,
            type(exc).__name__,
            self.grace_s,
        )
        deadline = time.monotonic() + self.grace_s
        while time.monotonic() < deadline:
            try:
                if self.done(min(POLL_S, max(0.0, deadline - time.monotonic()))):
                    self.log.warning("%s: stopped; every call in flight was recorded", self.what)
                    return
            except BaseException:  # a second interrupt: the grace period still holds
                continue
        self.log.warning(
            "%s: stopped; calls still in flight after %gs are left to finish on their own",
            self.what,
            self.grace_s,
        )
