"""One outreach step in Dagster: its run config, and the call from a step into `run_outreach`.

An op or asset is built with its settings (checked then, not at 3 am); a run's config may
override some of them (`dry_run`, `message`, the cap, the accounts) and carries a person's review
(`mark_sent`, `mark_retry`). A stopping error (401/402/403) becomes a `dagster.Failure` whose
metadata says what the run had done before it stopped.
"""

# No `from __future__ import annotations`: Dagster reads the config's field annotations.
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

import dagster as dg
import pandas as pd
from pydantic import Field

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.errors import CaptainDataError
from captaindata_dagster.engine.outreach import OutreachResult, outreach_action, run_outreach
from captaindata_dagster.engine.outreach.settings import (
    check_campaign,
    check_cap,
    outreach_parameters,
)
from captaindata_dagster.orchestration.metadata import failure_for_error
from captaindata_dagster.orchestration.outreach.outputs import review_metadata, stats_metadata
from captaindata_dagster.orchestration.resource import CaptainDataResource
from captaindata_dagster.storage.outreach_records import OutreachStore, default_store_path


class OutreachOpConfig(dg.Config):
    """Run config of an outreach op: who to send to this run, and per-run overrides."""

    profiles: list[str] = Field(
        default_factory=list,
        description="LinkedIn profile URLs, added to those of the upstream frame (if any).",
    )
    dry_run: Optional[bool] = Field(  # noqa: UP045 - Dagster's config reads Optional
        default=None, description="True: send nothing, report what would be. Unset: op default."
    )
    message: Optional[str] = Field(  # noqa: UP045
        default=None,
        description="Message (or invitation note). Unset: the op's. A profile already sent in "
        "the campaign is not sent again with a new message: use a new campaign for that.",
    )
    daily_cap_per_account: Optional[int] = Field(  # noqa: UP045
        default=None, description="Sends per account in any 24 h. Unset: the op's default."
    )
    accounts: Optional[list[str]] = Field(  # noqa: UP045
        default=None, description="User uids to send from. Unset: the resource's integration_users."
    )
    mark_sent: list[str] = Field(
        default_factory=list,
        description="Profiles a person checked in needs_review: they went out, never send them.",
    )
    mark_retry: list[str] = Field(
        default_factory=list,
        description="Profiles a person checked in needs_review: they did not go out, send them.",
    )


@dataclass(frozen=True)
class OutreachStep:
    """What an outreach op or asset was built with; a run's config may override some of it."""

    act: Action
    campaign: str
    message: str | None
    parameters: dict[str, Any]
    daily_cap_per_account: int | None
    dry_run: bool
    column: str
    store_path: str | None

    @classmethod
    def build(
        cls,
        action_id: str,
        campaign: str,
        message: str | None,
        parameters: Mapping[str, Any] | None,
        daily_cap_per_account: int | None,
        dry_run: bool,
        input_column: str | None,
        store_path: str | None,
    ) -> "OutreachStep":
        """The step's settings, checked now: a bad one fails the definitions' load."""
        act = outreach_action(action_id)
        campaign = check_campaign(campaign)
        check_cap(act, daily_cap_per_account)
        outreach_parameters(act, message, parameters)  # refused now, not at 3 am
        return cls(act, campaign, message, dict(parameters or {}), daily_cap_per_account,
                   bool(dry_run), input_column or str(act.primary_field), store_path)  # fmt: skip

    def run(
        self,
        context: Any,
        config: OutreachOpConfig,
        captaindata: CaptainDataResource,
        frame: Any,
    ) -> OutreachResult:
        """One step: the profiles of `frame` and the config, sent (or planned) and recorded."""
        dry = config.dry_run if config.dry_run is not None else self.dry_run
        profiles = [*_frame_profiles(frame, self.column), *config.profiles]
        if not profiles:
            context.log.warning(
                f"{self.act.id}/{self.campaign}: no profiles given; nothing to send."
            )
        # beside the ledger: its database when it is on PostgreSQL, its folder when a file
        path = self.store_path or default_store_path(captaindata.get_ledger().location)
        store = OutreachStore(path)
        try:
            return run_outreach(
                None if dry else captaindata.get_client(),
                store,
                self.act.id,
                profiles,
                campaign=self.campaign,
                message=config.message if config.message is not None else self.message,
                parameters=self.parameters,
                accounts=self._accounts(config, captaindata, dry),
                daily_cap_per_account=_first_set(
                    config.daily_cap_per_account, self.daily_cap_per_account
                ),
                dry_run=dry,
                mark_sent=config.mark_sent,
                mark_retry=config.mark_retry,
                run_id=context.run_id,
                log=context.log,
            )
        except CaptainDataError as err:
            raise _failure(err) from err
        finally:
            store.close()

    @staticmethod
    def _accounts(
        config: OutreachOpConfig, captaindata: CaptainDataResource, dry: bool
    ) -> list[str] | None:
        """The run config's accounts, else the resource's; None: the client's own."""
        users = config.accounts
        if users is None:  # rotating: none here, so the client's (the connected users) apply
            rotating = captaindata.rotate_connected_users and not dry
            users = [] if rotating else captaindata.integration_users
        return list(users) or None


def _failure(err: CaptainDataError) -> dg.Failure:
    """The step failure for a stopping error, with what the run had done in its metadata."""
    failure = failure_for_error(err)
    done = OutreachResult.from_error(err)
    md = dict(failure.metadata)
    if done is not None:
        md.update(stats_metadata(done.stats))
        md.update(review_metadata(done.needs_review))
    return dg.Failure(
        description=failure.description, metadata=md, allow_retries=failure.allow_retries
    )


def _first_set(value: int | None, default: int | None) -> int | None:
    return value if value is not None else default


def _frame_profiles(frame: Any, column: str) -> list[Any]:
    if frame is None:
        return []
    if not isinstance(frame, pd.DataFrame):
        raise dg.Failure(
            description=f"profiles_frame must be a pandas DataFrame, got {type(frame).__name__}",
            allow_retries=False,
        )
    if column not in frame.columns:
        raise dg.Failure(
            description=(
                f"the profiles frame has no column {column!r}; set input_column= to one of: "
                f"{', '.join(map(str, frame.columns))}"
            ),
            metadata={"input_column": column},
            allow_retries=False,
        )
    return list(frame[column])
