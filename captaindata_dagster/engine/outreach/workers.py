"""The accounts sending: the side-effect strategy run on the engine's `Runner`.

One worker per account, each sending one call at a time, takes the next profile until the queue is
empty, its cap is used, its account is rate-limited for longer than a step waits, or the run stops.
On an interrupt in the calling (main) thread, Dagster's terminate or Ctrl-C, or once the step's
parent process is gone, nothing more is sent; the sends in flight are settled (waited for up to
the client's timeouts) before the interrupt propagates: see `api/stopping.Watch`. A profile still
in the queue when the sending ends is reported skipped: rate-limited, over the cap, or stopped.
"""

from __future__ import annotations

from captaindata_dagster.engine.outreach.results import (
    OVER_CAP_REASON,
    RATE_LIMITED,
    STOPPED,
    OutreachStats,
)
from captaindata_dagster.engine.outreach.rows import OutreachRows
from captaindata_dagster.engine.outreach.sending import SendJob, SendStrategy
from captaindata_dagster.engine.runner import Runner
from captaindata_dagster.engine.work_queue import WorkQueue


def send_from_accounts(
    job: SendJob,
    rows: OutreachRows,
    stats: OutreachStats,
    profiles: list[str],
    accounts: list[str | None],
) -> BaseException | None:
    """Send `profiles` from `accounts` (None: the API picks); the rows and the call counts land
    in `rows` and `stats`. Returns what stopped the run (a 401/402/403, a failed store), if
    anything: the caller raises it once the result is made. An interrupt propagates.
    """
    # An outreach profile never comes back from a worker still sending: no waiting for returns.
    queue: WorkQueue[str] = WorkQueue(profiles)
    grace = job.client.timeout + job.client.connect_timeout  # the longest a send can take
    runner = Runner(queue, f"{job.campaign}/{job.act.id}", job.log, grace_s=grace)
    strategy = SendStrategy(job, rows, runner)
    runner.run(strategy, accounts, thread_prefix="captaindata-outreach")
    stats.calls = strategy.calls.calls
    stats.retries = strategy.calls.retries
    stats.rate_limited = strategy.calls.rate_limited
    stats.new_unsettled = strategy.new_unsettled
    for url in queue.drain():
        if strategy.bans.detail is not None:
            rows.skipped(url, RATE_LIMITED, None, strategy.bans.detail)
        elif runner.failure is None:
            rows.skipped(url, OVER_CAP_REASON, None, "every account used its daily cap")
        else:
            rows.skipped(url, STOPPED, None, "the run stopped before sending it")
    return runner.failure
