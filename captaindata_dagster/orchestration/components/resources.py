"""The resources a component declares: its `resource:` settings and its DuckDB warehouse.

A `resource:` value written `{{ env.NAME }}` becomes `dg.EnvVar("NAME")`, so a key or a ledger URL
with a password never lands in the resource config the UI shows; a literal key is refused. Several
components (or defs files) with the same settings share one resource instance, so their
definitions merge instead of conflicting.

Example:
    >>> shared_resource({"api_key": dg.EnvVar("CAPTAINDATA_API_KEY"), "requests_per_second": 10})
"""

from __future__ import annotations

import difflib
import json
import os
import re
import threading
import typing
from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any

import dagster as dg
import pydantic

from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.orchestration.resource import API_KEY_ENV, CaptainDataResource
from captaindata_dagster.simulator.sandbox import sandbox_enabled

_ENV_REFERENCE = re.compile(
    r"""^\s*\{\{\s*env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\))\s*\}\}\s*$"""
)


def _resolve_resource(context: dg.ResolutionContext, raw: Any) -> dict[str, Any] | None:
    """Resource settings from YAML; a string field written `{{ env.NAME }}` becomes `dg.EnvVar`.

    `EnvVar` keeps the value (the key, a ledger URL with a password) out of the resource config
    that the Dagster UI shows; other values are rendered as templates as usual.
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = context.resolve_value(raw)
    if not isinstance(raw, Mapping):
        raise ValidationError(
            "resource: expected a mapping of CaptainDataResource settings, e.g. "
            "{requests_per_second: 10}",
            field="resource",
        )
    text_fields = _text_fields()
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _env_reference(value)
        if name is not None and key in text_fields:
            out[key] = dg.EnvVar(name)
        else:
            out[key] = context.at_path(key).resolve_value(value)
    return out


def _env_reference(value: Any) -> str | None:
    if not isinstance(value, str) or isinstance(value, dg.EnvVar):
        return None
    m = _ENV_REFERENCE.match(value)
    return (m.group(1) or m.group(2)) if m else None


def _resource_fields_help() -> str:
    return ", ".join(CaptainDataResource.model_fields)


ResourceSettings = Annotated[
    dict[str, Any] | None,
    dg.Resolver(
        _resolve_resource,
        inject_before_resolve=False,
        description=(
            "CaptainDataResource settings, any of: "
            + _resource_fields_help()
            + '. Write the key as "{{ env.CAPTAINDATA_API_KEY }}" (kept out of the run config) '
            "or leave it out. null: the `captaindata` resource comes from another defs file."
        ),
    ),
]


def _text_fields() -> set[str]:
    """Resource settings that hold text, so `{{ env.NAME }}` can become an `EnvVar`."""
    out = set()
    for name, info in CaptainDataResource.model_fields.items():
        ann = info.annotation
        args = set(typing.get_args(ann)) if isinstance(ann, UnionType) else {ann}
        if str in args and args <= {str, type(None)}:
            out.add(name)
    return out


_shared_lock = threading.Lock()
_shared: dict[str, Any] = {}


def _canonical(kind: str, settings: Mapping[str, Any]) -> str:
    def encode(v: Any) -> Any:
        if isinstance(v, dg.EnvVar):
            return {"env": v.env_var_name}
        return v

    return kind + json.dumps(
        {k: encode(v) for k, v in settings.items()}, sort_keys=True, default=str
    )


def shared_resource(settings: Mapping[str, Any]) -> CaptainDataResource:
    """A `CaptainDataResource` for these settings, one instance per distinct settings.

    Checked like the YAML: unknown fields are named with close matches, a literal API key is
    refused (it would be shown in the UI), `{{ env.NAME }}` values are `EnvVar`s. Several
    components with the same settings share one instance, so their definitions merge.

    Args:
        settings: `CaptainDataResource` field -> value (`dg.EnvVar` for secrets).

    Example:
        >>> shared_resource({"requests_per_second": 10}) is shared_resource({"requests_per_second": 10})
        True
    """
    kwargs = _resource_kwargs(settings)
    key = _canonical("resource", kwargs)
    with _shared_lock:
        if key not in _shared:
            try:
                _shared[key] = CaptainDataResource(**kwargs)
            except pydantic.ValidationError as err:
                first = err.errors()[0]
                loc = ".".join(str(x) for x in first["loc"]) or "resource"
                raise ValidationError(
                    f"resource.{loc}: {first['msg']}", field=f"resource.{loc}"
                ) from None
        return _shared[key]


def _resource_kwargs(settings: Mapping[str, Any]) -> dict[str, Any]:
    fields = CaptainDataResource.model_fields
    for key in settings:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValidationError(
                f"resource.{key}: CaptainDataResource has no setting {key!r}; {hint}"
                f"it takes: {_resource_fields_help()}",
                field=f"resource.{key}",
            )
    kwargs = dict(settings)
    api_key = kwargs.get("api_key")
    if api_key is not None and not isinstance(api_key, dg.EnvVar):
        raise ValidationError(
            "resource.api_key: a literal key would be stored in the resource config that the "
            'Dagster UI shows; write api_key: "{{ env.CAPTAINDATA_API_KEY }}" (or dg.EnvVar in '
            f"Python), or leave it out to read {API_KEY_ENV} when a step runs",
            field="resource.api_key",
        )
    sandbox = kwargs.get("sandbox")
    sandbox = sandbox_enabled() if sandbox is None else bool(sandbox)
    for key, value in list(kwargs.items()):
        if isinstance(value, dg.EnvVar) and os.environ.get(value.env_var_name) is None:
            # Unset here: the resource's default applies (it reads its variables when a step
            # runs). A key naming another variable stays an EnvVar, so a run without it fails
            # naming that variable; in sandbox mode no key is needed.
            if not (key == "api_key" and value.env_var_name != API_KEY_ENV and not sandbox):
                del kwargs[key]
    return kwargs


def shared_warehouse(database: str, schema: str | None) -> Any:
    """A `DuckDBWarehouseIOManager` for this file and schema, one instance per distinct pair.

    DuckDB (and its IO manager) is imported only here, when a component declares a warehouse.

    Args:
        database: the DuckDB file, created on first write.
        schema: the schema of the tables, or None.

    Example:
        >>> shared_warehouse("warehouse.duckdb", "linkedin") is shared_warehouse("warehouse.duckdb", "linkedin")
        True
    """
    from captaindata_dagster.orchestration.warehouse import DuckDBWarehouseIOManager

    key = _canonical("warehouse", {"database": database, "schema": schema})
    with _shared_lock:
        if key not in _shared:
            # connection_config given explicitly: DuckDB's client reads it from the config
            _shared[key] = DuckDBWarehouseIOManager(
                database=database, schema=schema, connection_config={}
            )
        return _shared[key]
