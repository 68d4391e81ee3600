"""Outreach ops and assets: connection requests and messages, each sent at most once.

`build_outreach_op("linkedin-connect-profile", campaign="spring-2026", message="Hi ...")` returns an
op sending that action to LinkedIn profiles: those of an upstream frame (its `linkedin_profile_url`
column) and those listed in the run config. `build_outreach_asset(..., upstream=people)` gives the
same as four partitioned assets whose tables hold a state (`<name>_sent`: everything sent in the
campaign). Both run `run_outreach` (`captaindata_dagster.engine.outreach`, whose docstring says
what makes a send safe to run unattended: never twice, unknown is not failed, a daily cap per
account); here a 401/402/403 becomes a `dagster.Failure` carrying what the run had done.

Outputs (pandas frames; every person given lands in exactly one of them, under the first spelling
of their URL): `sent`, `skipped` (`reason`: already_sent, over_cap, dry_run), `needs_review`,
`errors` (the package's error columns plus `campaign`). A run config in the launchpad::

    ops:
      connect_spring:
        config:
          profiles: [https://www.linkedin.com/in/ada-lovelace]
          dry_run: true
          daily_cap_per_account: 15
          mark_retry: [https://www.linkedin.com/in/grace-hopper]   # a person checked: not sent

Building an op reads only the bundled catalog: no HTTP call until a step runs.
"""

# No `from __future__ import annotations`: Dagster reads the op's parameter annotations.
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Optional

import dagster as dg
import pandas as pd

from captaindata_dagster.orchestration.assets.partition_columns import (
    partition_columns,
    partition_expr,
)
from captaindata_dagster.orchestration.assets.upstream import Upstream, partitions_of, upstream_key
from captaindata_dagster.orchestration.metadata import DEFAULT_POOL, default_retry_policy
from captaindata_dagster.orchestration.metadata_set import (
    ACTION_ID_TAG,
    CAMPAIGN_TAG,
    CaptainDataMetadataSet,
)
from captaindata_dagster.orchestration.outreach.outputs import (
    OUTPUT_DESCRIPTIONS,
    as_state,
    outreach_outputs,
)
from captaindata_dagster.orchestration.outreach.step import OutreachOpConfig, OutreachStep
from captaindata_dagster.orchestration.resource import CaptainDataResource
from captaindata_dagster.orchestration.translator import BASE_KINDS


def build_outreach_op(
    action_id: str,
    *,
    campaign: str,
    name: str | None = None,
    message: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    daily_cap_per_account: int | None = None,
    dry_run: bool = False,
    input_column: str | None = None,
    store_path: str | None = None,
    pool: str | None = DEFAULT_POOL,
    retry_policy: dg.RetryPolicy | None = None,
) -> dg.OpDefinition:
    """An op sending `action_id` (connect, message, InMail...) once per profile per `campaign`.

    Profiles come from the optional input `profiles_frame` (its `input_column`, by default the
    action's profile field, e.g. `linkedin_profile_url`) and the run config's `profiles`. The
    records live in `store_path` (a file or a postgresql:// URL), else
    `$CAPTAINDATA_OUTREACH_STORE`, else beside the ledger (`outreach.sqlite` next to its file, or
    the ledger's own PostgreSQL database). A step retry is safe: what was sent is skipped.

    Args:
        action_id: a side-effect action on a profile, e.g. `linkedin-connect-profile`.
        campaign: a person is sent to once per campaign and action.
        name: the op's name (default: `<action>__<campaign>`).
        message: the note or message (required for messages and InMails).
        parameters: the action's other options.
        daily_cap_per_account: sends per account in any 24 h (default: `DEFAULT_DAILY_CAPS`).
        dry_run: send nothing, report what would be sent (a run config may override it).
        input_column: the upstream frame's column of profile URLs.
        store_path: where the idempotency records live (see above).
        pool: the Dagster pool limiting concurrent steps against the API.
        retry_policy: the step's retry policy (default: `default_retry_policy()`).

    Example:
        >>> op = build_outreach_op("linkedin-connect-profile", campaign="spring-2026",
        ...                        message="Hi!")
    """
    step = OutreachStep.build(action_id, campaign, message, parameters, daily_cap_per_account,
                              dry_run, input_column, store_path)  # fmt: skip
    act = step.act

    @dg.op(
        name=name or f"{act.id.replace('-', '_')}__{_slug(step.campaign)}",
        description=f"Send `{act.id}` once per profile for campaign {step.campaign!r}.",
        ins={
            "profiles_frame": dg.In(
                Optional[pd.DataFrame],  # noqa: UP045
                default_value=None,
                description=f"Optional frame whose {step.column!r} column lists the profiles.",
            )
        },
        out={n: dg.Out(pd.DataFrame, description=d) for n, d in OUTPUT_DESCRIPTIONS.items()},
        pool=pool,
        retry_policy=retry_policy if retry_policy is not None else default_retry_policy(),
        tags={ACTION_ID_TAG: act.id, CAMPAIGN_TAG: step.campaign},
    )
    def _outreach_op(
        context: dg.OpExecutionContext,
        config: OutreachOpConfig,
        captaindata: CaptainDataResource,
        profiles_frame,
    ) -> Iterator[dg.Output]:
        yield from outreach_outputs(step.run(context, config, captaindata, profiles_frame))

    return _outreach_op


def build_outreach_asset(
    action_id: str,
    *,
    name: str,
    upstream: Upstream,
    campaign: str,
    message: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    daily_cap_per_account: int | None = None,
    dry_run: bool = False,
    input_column: str | None = None,
    store_path: str | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    pool: str | None = DEFAULT_POOL,
    retry_policy: dg.RetryPolicy | None = None,
    group_name: str | None = "captaindata",
    key_prefix: Sequence[str] | None = None,
) -> dg.AssetsDefinition:
    """Outreach as assets downstream of a people table: `<name>_sent`, `<name>_skipped`,
    `<name>_needs_review` and `<name>_errors`, with the upstream's partitions.

    A table holds a state, not a run's delta (an IO manager replaces a partition's rows): `_sent`
    lists every profile of the partition sent in the campaign (`new` marks this run's), `_skipped`
    only those over the cap or in a dry run. Materializing again sends nothing twice, so a partition
    can be re-run safely; the run config is the op's (`dry_run`, `mark_sent`, ...).

    Args:
        action_id: a side-effect action on a profile, e.g. `linkedin-connect-profile`.
        name: the assets' name stem; upstream: the people asset (or its key).
        campaign, message, parameters, daily_cap_per_account, dry_run, input_column, store_path,
            pool, retry_policy: as for `build_outreach_op`.
        partitions_def: default: the upstream's.
        group_name, key_prefix: where the four assets sit.

    Example:
        >>> connect = build_outreach_asset("linkedin-connect-profile", name="connect_spring",
        ...                                upstream=people, campaign="spring-2026", message="Hi!")  # doctest: +SKIP
    """
    step = OutreachStep.build(action_id, campaign, message, parameters, daily_cap_per_account,
                              dry_run, input_column, store_path)  # fmt: skip
    act = step.act
    pdef = partitions_def if partitions_def is not None else partitions_of(upstream)
    prefix = list(key_prefix or [])

    @dg.multi_asset(
        name=name if not prefix else "__".join([*prefix, name]),
        outs=_asset_outs(step, name, prefix, partition_expr(pdef)),
        ins={"upstream": dg.AssetIn(key=upstream_key(upstream))},
        partitions_def=pdef,
        group_name=group_name,
        pool=pool,
        retry_policy=retry_policy if retry_policy is not None else default_retry_policy(),
        op_tags={ACTION_ID_TAG: act.id, CAMPAIGN_TAG: step.campaign},
        description=f"Send `{act.id}` once per profile of the upstream for {step.campaign!r}.",
    )
    def _outreach_asset(
        context: dg.AssetExecutionContext,
        config: OutreachOpConfig,
        captaindata: CaptainDataResource,
        upstream,
    ) -> Iterator[dg.Output]:
        result = as_state(step.run(context, config, captaindata, upstream))
        key = context.partition_key if context.has_partition_key else None
        columns = partition_columns(pdef, key)
        for frame in (result.sent, result.skipped, result.needs_review, result.errors):
            for i, (col, value) in enumerate(columns.items()):
                frame.insert(i, col, pd.Series([value] * len(frame), index=frame.index))
        yield from outreach_outputs(result, partitioned=context.has_partition_key)

    return _outreach_asset


def _asset_outs(
    step: OutreachStep, name: str, prefix: list[str], expr: str | dict[str, str] | None
) -> dict[str, dg.AssetOut]:
    """The four asset outputs `<prefix>/<name>_<output>`, tagged with the action and campaign."""
    return {
        n: dg.AssetOut(
            key=dg.AssetKey([*prefix, f"{name}_{n}"]),
            dagster_type=pd.DataFrame,
            description=d,
            metadata={
                **({"partition_expr": expr} if expr is not None else {}),
                **CaptainDataMetadataSet(action_id=step.act.id, campaign=step.campaign),
            },
            kinds=set(BASE_KINDS),
        )
        for n, d in OUTPUT_DESCRIPTIONS.items()
    }


def _slug(text: str) -> str:
    out = "".join(c if c.isascii() and c.isalnum() else "_" for c in text.lower()).strip("_")
    return out or "campaign"
