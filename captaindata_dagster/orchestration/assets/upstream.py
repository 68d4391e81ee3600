"""The upstream of an enrichment: which table holds its inputs, its partitions, its input column.

A factory's `upstream=` may be an asset built by this package (two tables: the results one is
carries `captaindata/role: results`), any other asset, an `AssetSpec`, or a key. The asset and
outreach factories read it the same way.

Example:
    >>> upstream_key(build_people_search_asset(searches={"paris": url}))
    AssetKey(['linkedin_people'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias, cast

import dagster as dg

from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.orchestration.metadata_set import CaptainDataMetadataSet

if TYPE_CHECKING:  # frames are pandas, read by the steps, not at load
    import pandas as pd

Upstream: TypeAlias = dg.AssetsDefinition | dg.AssetSpec | dg.AssetKey | str


def upstream_key(upstream: Upstream) -> dg.AssetKey:
    """The results table of an upstream: ours carry its role (whatever their key); a plain asset
    has one key.

    Args:
        upstream: an assets definition, an `AssetSpec`, an `AssetKey` or its string.

    Example:
        >>> upstream_key("linkedin_people")
        AssetKey(['linkedin_people'])
    """
    if isinstance(upstream, dg.AssetsDefinition):
        specs = list(upstream.specs)
        tagged = [
            s.key for s in specs if CaptainDataMetadataSet.extract(s.metadata).role == "results"
        ]
        if tagged:
            return tagged[0]
        if len(specs) == 1:
            return specs[0].key
        raise ValidationError(
            "upstream produces several assets; pass the AssetKey of the one holding the inputs",
            field="upstream",
        )
    if isinstance(upstream, dg.AssetSpec):
        return upstream.key
    return dg.AssetKey.from_coercible(upstream)


def partitions_of(upstream: Upstream) -> dg.PartitionsDefinition | None:
    """The upstream's partitions when it declares them (a key alone does not).

    Args:
        upstream: an assets definition, an `AssetSpec`, an `AssetKey` or its string.

    Example:
        >>> partitions_of(people).get_partition_keys()
        ['paris', 'berlin']
    """
    if isinstance(upstream, (dg.AssetsDefinition, dg.AssetSpec)):
        return upstream.partitions_def
    return None


def column_values(name: str, df: pd.DataFrame | None, column: str | None) -> list[Any]:
    """The non-blank values of `column` in the upstream partition, as stripped strings.

    A column the table lacks fails the step (not retried), naming the columns it has.

    Args:
        name: the asset reading them, for the message.
        df: the upstream partition, or None (nothing to read).
        column: the input column.

    Example:
        >>> column_values("linkedin_profiles", people_df, "linkedin_profile_url")
        ['https://www.linkedin.com/in/ada-lovelace']
    """
    if df is None:
        return []
    if column is None or column not in df.columns:
        raise dg.Failure(
            description=(
                f"{name}: the upstream table has no column {column!r}; set input_column= to one "
                f"of: {', '.join(map(str, df.columns))}"
            ),
            metadata={"input_column": str(column)},
            allow_retries=False,
        )
    values = cast("pd.Series", df[column]).dropna().astype(str).str.strip()
    return [v for v in values if v]
