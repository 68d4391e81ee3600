"""How a Captain Data table shows in Dagster: the translator from what we know to an `AssetSpec`.

Every asset factory (and `@captaindata_assets`) describes each of its two tables (results and
errors) as a `CaptainDataAssetProps` and asks a `DagsterCaptainDataTranslator` for its `AssetSpec`:
key, group, description, kinds, owners, tags, the upstream dep, metadata (role, action, column
schema, `partition_expr`), code version, freshness policy and automation condition. A user changes
any of them by subclassing the translator and overriding `get_asset_spec`, as with
dagster-fivetran's or dagster-dlt's translators, instead of reaching for ever more factory keywords.

Sensors and downstream factories find a table by its `captaindata/role` metadata, never by its key,
so a translator may rename keys freely as long as it keeps the metadata it is given.

Example:
    >>> class TeamTranslator(DagsterCaptainDataTranslator):
    ...     def get_asset_spec(self, props: CaptainDataAssetProps) -> dg.AssetSpec:
    ...         spec = super().get_asset_spec(props)
    ...         return spec.replace_attributes(owners=["team:growth"], group_name="growth")
    >>> build_people_search_asset(searches={"paris": url}, translator=TeamTranslator())
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import dagster as dg

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.engine.column_types import ColumnType, errors_columns, results_columns
from captaindata_dagster.orchestration.assets.partition_columns import (
    partition_column_types,
    partition_expr,
)
from captaindata_dagster.orchestration.metadata_set import CaptainDataMetadataSet

BASE_KINDS = frozenset({"captaindata", "pandas"})
MIN_FRESHNESS_WINDOW = timedelta(minutes=1)  # Dagster's own floor for a freshness window
# Past the ledger's window a table is stale by the user's own setting: a WARN. A day later (a daily
# run missed) it FAILs: a search refreshed each morning with a 12-hour window is yellow in the
# afternoon, as its data is, and red only when a morning's run did not happen.
MISSED_RUN_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class CaptainDataAssetProps:
    """What the translator knows of one table of a Captain Data asset.

    `name` is the results table's name (the errors table is `<name>_errors`), `table` says which
    of the two this is. `max_age` is the ledger's freshness window (results younger than it are
    served without a call); `storage_kind` the warehouse (e.g. "duckdb"), shown as a kind.
    """

    name: str
    table: Literal["results", "errors"]
    action: Action
    parameters: Mapping[str, Any]
    max_results: int | None  # list actions: results per input (part of what the table holds)
    upstream_key: dg.AssetKey | None
    partitions_def: dg.PartitionsDefinition | None
    max_age: timedelta | None
    key_prefix: tuple[str, ...]
    group_name: str | None
    description: str | None
    storage_kind: str | None
    automation_condition: dg.AutomationCondition | None

    @property
    def table_name(self) -> str:
        """This table's name: `name` for the results, `<name>_errors` for the errors."""
        return self.name if self.table == "results" else f"{self.name}_errors"


class DagsterCaptainDataTranslator:
    """Builds the `AssetSpec` of each Captain Data table; subclass it to change what Dagster shows.

    The default spec: key `[*key_prefix, table_name]`; the factory's group and description (or
    one naming the action); kinds `captaindata`, `pandas` and the storage kind; a dep on the
    upstream table; metadata with the table's role and action (`CaptainDataMetadataSet`), its
    `dagster/column_schema` (from the catalog's output types) and the `partition_expr` database
    IO managers need; a `code_version` that changes when the action, its parameters, its results
    cap or its catalog entry do. The results table also carries the freshness window as a Dagster
    `FreshnessPolicy` (WARN past it, FAIL a day later); both tables carry the automation condition
    (the pair can be subset: a condition on the results alone would leave the errors table behind).

    Keep the metadata when you override `get_asset_spec` (use `super()` and `replace_attributes`
    or `merge_attributes`): downstream factories and the sensors find the tables by their role.

    Example:
        >>> spec = DagsterCaptainDataTranslator().get_asset_spec(props)
        >>> spec.key
        AssetKey(['linkedin_people'])
    """

    def get_asset_spec(self, props: CaptainDataAssetProps) -> dg.AssetSpec:
        """The `AssetSpec` of one table (results or errors) of a Captain Data asset.

        Args:
            props: what is known of the table: its action, parameters, upstream, partitions,
                freshness window, key prefix, group, description, storage and automation.

        Example:
            >>> DagsterCaptainDataTranslator().get_asset_spec(props).kinds
            {'captaindata', 'pandas'}
        """
        results = props.table == "results"
        max_age = props.max_age
        freshness = (
            dg.FreshnessPolicy.time_window(
                warn_window=max_age, fail_window=max_age + MISSED_RUN_GRACE
            )
            if results and max_age is not None and max_age >= MIN_FRESHNESS_WINDOW
            else None
        )
        return dg.AssetSpec(
            key=dg.AssetKey([*props.key_prefix, props.table_name]),
            deps=[props.upstream_key] if props.upstream_key is not None else [],
            description=_description(props),
            group_name=props.group_name,
            kinds=set(BASE_KINDS | ({props.storage_kind} if props.storage_kind else set())),
            metadata=_metadata(props),
            code_version=action_code_version(props.action, props.parameters, props.max_results),
            freshness_policy=freshness,
            # both tables: the pair can be subset, so the errors table is requested with its results
            automation_condition=props.automation_condition,
        )


def action_code_version(
    action: Action, parameters: Mapping[str, Any], max_results: int | None = None
) -> str:
    """A version that changes when what a table holds may: the action, its parameters, its results
    cap, its schemas.

    Hashes the action id, the parameters (as sorted JSON), `max_results` and the action's own
    catalog entry (its request and response schemas, output types and price), not the catalog
    file's checksum, which any regeneration would change for every action.

    Args:
        action: the catalog action.
        parameters: the parameters each call sends.
        max_results: list actions: the results kept per input (None: all).

    Example:
        >>> len(action_code_version(resolve_action("linkedin-extract-people"), {"skills": True}))
        16
    """
    entry = {
        "action": action.id,
        "parameters": dict(parameters),
        "max_results": max_results,
        "request_schema": action.request_schema,
        "response_schema": action.response_schema,
        "output_types": dict(action.output_types),
        "credits_per_result": action.credits_per_result,
    }
    text = json.dumps(entry, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def table_schema(props: CaptainDataAssetProps) -> dg.TableSchema:
    """The table's columns: the partition's first, then the results' (or errors') columns.

    Args:
        props: the table's props (its action, partitions and which table it is).

    Example:
        >>> [c.name for c in table_schema(props).columns][:2]
        ['partition_key', 'full_name']
    """
    columns: list[ColumnType] = (
        results_columns(props.action) if props.table == "results" else errors_columns()
    )
    part = [dg.TableColumn(n, t) for n, t in partition_column_types(props.partitions_def)]
    return dg.TableSchema(columns=[*part, *(dg.TableColumn(c.name, c.type_name) for c in columns)])


def _description(props: CaptainDataAssetProps) -> str:
    if props.table == "errors":
        return f"Inputs `{props.action.id}` failed on, with their error_label."
    return props.description or f"Results of Captain Data action `{props.action.id}`."


def _metadata(props: CaptainDataAssetProps) -> dict[str, Any]:
    expr = partition_expr(props.partitions_def)
    return {
        **CaptainDataMetadataSet(role=props.table, action_id=props.action.id),
        "dagster/column_schema": table_schema(props),
        **({"partition_expr": expr} if expr is not None else {}),
    }
