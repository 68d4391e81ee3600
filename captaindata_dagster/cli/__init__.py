"""`captaindata-dagster`: the project's command line, in click like `dagster` and `dg`.

    captaindata-dagster identities create|list|connect   # accounts (the published API)
    captaindata-dagster users create|list|connect        # accounts (the seed's workspace users)
    captaindata-dagster outreach list|mark-sent|mark-retry   # review sends of unknown outcome
    captaindata-dagster runs list|show|resume|replay|submissions|release   # async runs, ledger
    captaindata-dagster schedules create|list|show|pause|resume|cancel    # server-side schedules
    captaindata-dagster estimate --asset people ...      # the bill of a backfill, before it runs
    captaindata-dagster simulator --port 8765            # a simulated API until Ctrl-C
    captaindata-dagster receiver --public-url URL        # bulk-run callbacks until Ctrl-C

Every group and command answers `-h/--help`; every command that prints data takes `--json`.
The key and the base URL come from the environment only (`CAPTAINDATA_API_KEY`,
`CAPTAINDATA_BASE_URL`): an argument would show in `ps` and the shell's history. So do LinkedIn
cookies (`--li-at-env` names the variable). Neither is ever printed. Exit codes: 0 done, 1 the API
refused or failed, 2 bad usage or settings. `python -m captaindata_dagster` runs the same group.

Nothing in the package imports this one: it sits above every layer.
"""

from __future__ import annotations

import click

from captaindata_dagster.cli.accounts import identities_group, users_group
from captaindata_dagster.cli.lazy_group import LazyGroup
from captaindata_dagster.cli.options import CONTEXT_SETTINGS
from captaindata_dagster.cli.outreach import outreach_group
from captaindata_dagster.cli.simulator import simulator_command

__all__ = ["main"]


@click.group(
    name="captaindata-dagster",
    cls=LazyGroup,
    context_settings=CONTEXT_SETTINGS,
    # it loads a code location's Definitions (Dagster): imported only when it runs
    lazy_commands={
        "estimate": "captaindata_dagster.cli.estimate:estimate_command",
        "receiver": "captaindata_dagster.cli.receiver:receiver_command",  # starlette, uvicorn
        "runs": "captaindata_dagster.cli.runs:runs_group",  # the ledger, the callback store
        "schedules": "captaindata_dagster.cli.schedules:schedules_group",
    },
)
@click.version_option(package_name="captaindata-dagster", message="%(prog)s %(version)s")
def main() -> None:
    """Captain Data for Dagster: accounts, outreach review, bulk runs and schedules, cost
    estimates and a simulator.

    The API key is read from CAPTAINDATA_API_KEY (and the API root from CAPTAINDATA_BASE_URL),
    never from the command line; --sandbox tries a command on the bundled simulator instead.
    """


main.add_command(identities_group)
main.add_command(users_group)
main.add_command(outreach_group)
main.add_command(simulator_command)
