"""The component's `resource:` block: typed from `CaptainDataResource`'s fields, built at load.

`ResourceSettings` is the YAML model of the block: one optional field per `CaptainDataResource`
field, with its type and description, so `dg`'s JSON schema lists them and editors complete them
(a field added to the resource appears here with no list to keep in sync). A value written
`{{ env.NAME }}` becomes `dg.EnvVar("NAME")` for a text field, so a key or a ledger URL with a
password never lands in the resource config the UI shows; a literal key is refused; an unknown
field is named with its close match.

Example:
    >>> build_resource({"api_key": dg.EnvVar("CAPTAINDATA_API_KEY"), "requests_per_second": 10})
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any

import dagster as dg
import pydantic

from captaindata_dagster.api.client import API_KEY_ENV
from captaindata_dagster.api.errors import ValidationError
from captaindata_dagster.orchestration.resource import CaptainDataResource
from captaindata_dagster.simulator.sandbox import sandbox_enabled

_ENV_REFERENCE = re.compile(
    r"""^\s*\{\{\s*env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\))\s*\}\}\s*$"""
)
_KEY_HINT = 'write "{{ env.CAPTAINDATA_API_KEY }}" (kept out of the run config)'


class _ResourceSettingsBase(dg.Model):
    """Names an unknown field with its close match before pydantic's generic "extra" error."""

    @pydantic.model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            check_resource_fields(data)
        return data


def _settings_field(name: str, info: Any) -> tuple[Any, Any]:
    """One field of the YAML model: the resource's type (or a `{{ }}` template), optional."""
    description = info.description or ""
    if name == "api_key":
        description += f" In YAML {_KEY_HINT}; a literal key is refused."
    elif (default := info.get_default(call_default_factory=True)) not in (None, [], {}):
        description += f" Default: {default!r}."
    return (info.annotation | str | None, pydantic.Field(default=None, description=description))


_SETTINGS_FIELDS: dict[str, Any] = {
    name: _settings_field(name, info) for name, info in CaptainDataResource.model_fields.items()
}
ResourceSettingsModel: type[pydantic.BaseModel] = pydantic.create_model(
    "CaptainDataResourceSettings",
    __base__=_ResourceSettingsBase,
    __doc__="The `CaptainDataResource` settings of a component (each field optional).",
    **_SETTINGS_FIELDS,
)
"""The `resource:` block's YAML model: every `CaptainDataResource` field, typed and described."""


def _resolve_resource(context: dg.ResolutionContext, model: Any) -> dict[str, Any] | None:
    """The block's settings; a text field written `{{ env.NAME }}` becomes `dg.EnvVar`.

    `EnvVar` keeps the value (the key, a ledger URL with a password) out of the resource config
    that the Dagster UI shows; other values are rendered as templates as usual.
    """
    if model is None:
        return None
    raw: Any = context.resolve_value(model) if isinstance(model, str) else model
    if isinstance(raw, pydantic.BaseModel):
        raw = raw.model_dump(exclude_unset=True)
    if not isinstance(raw, Mapping):
        raise ValidationError(
            "resource: expected a mapping of CaptainDataResource settings, e.g. "
            "{requests_per_second: 10}",
            field="resource",
        )
    check_resource_fields(raw)
    text_fields = _text_fields()
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _env_reference(value)
        if name is not None and key in text_fields:
            out[key] = dg.EnvVar(name)
        else:
            out[key] = context.at_path(key).resolve_value(value)
    return out


ResourceSettings = Annotated[
    # InstanceOf: Dagster never inspects the resource's own fields as a YAML model (a constrained
    # field such as `bulk_poll_s: float = Field(ge=0)` is no model-compliant type to it).
    dict[str, Any] | pydantic.InstanceOf[CaptainDataResource] | None,
    pydantic.Field(union_mode="left_to_right"),  # a dict stays one: never a resource half-checked
    dg.Resolver(
        _resolve_resource,
        model_field_type=ResourceSettingsModel | None,
        description=(
            f"CaptainDataResource settings (each field typed and described). For the key, {_KEY_HINT}, "
            f"or leave it out to read {API_KEY_ENV} when a step runs. null: the `captaindata` "
            "resource of another defs file."
        ),
    ),
]
"""The component's `resource:` field: YAML typed by `ResourceSettingsModel`, Python a dict or a
`CaptainDataResource`."""


def check_resource_fields(settings: Mapping[str, Any]) -> None:
    """Refuse a setting `CaptainDataResource` does not have, naming its close match.

    Args:
        settings: field name -> value, as written.

    Example:
        >>> check_resource_fields({"requests_per_secnd": 10})
        Traceback (most recent call last):
        ValidationError: resource.requests_per_secnd: ... did you mean 'requests_per_second'? ...
    """
    fields = list(CaptainDataResource.model_fields)
    for key in settings:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValidationError(
                f"resource.{key}: CaptainDataResource has no setting {key!r}; {hint}"
                f"it takes: {', '.join(fields)}",
                field=f"resource.{key}",
            )


def build_resource(settings: Mapping[str, Any] | CaptainDataResource) -> CaptainDataResource:
    """The `CaptainDataResource` a component's `resource:` settings describe.

    Checked like the YAML: unknown fields are named with close matches, a literal API key is
    refused (it would be shown in the UI), `{{ env.NAME }}` values are `EnvVar`s. A resource
    given as such (Python) is used as it is.

    Args:
        settings: `CaptainDataResource` field -> value (`dg.EnvVar` for secrets), or a resource.

    Example:
        >>> build_resource({"requests_per_second": 10}).requests_per_second
        10.0
    """
    if isinstance(settings, CaptainDataResource):
        return settings
    kwargs = _resource_kwargs(settings)
    try:
        return CaptainDataResource(**kwargs)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "resource"
        raise ValidationError(f"resource.{loc}: {first['msg']}", field=f"resource.{loc}") from None


def build_warehouse(database: str, schema: str | None) -> Any:
    """The `DuckDBWarehouseIOManager` of a component's `warehouse:` block.

    Args:
        database: the DuckDB file, created on first write.
        schema: the schema of the tables, or None.

    Example:
        >>> build_warehouse("warehouse.duckdb", "linkedin").database
        'warehouse.duckdb'
    """
    from captaindata_dagster.orchestration.warehouse import DuckDBWarehouseIOManager

    # connection_config given explicitly: DuckDB's client reads it from the config
    return DuckDBWarehouseIOManager(database=database, schema=schema, connection_config={})


def _resource_kwargs(settings: Mapping[str, Any]) -> dict[str, Any]:
    check_resource_fields(settings)
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


def _env_reference(value: Any) -> str | None:
    if not isinstance(value, str) or isinstance(value, dg.EnvVar):
        return None
    m = _ENV_REFERENCE.match(value)
    return (m.group(1) or m.group(2)) if m else None


def _text_fields() -> set[str]:
    """Resource settings that hold text, so `{{ env.NAME }}` can become an `EnvVar`."""
    out = set()
    for name, info in CaptainDataResource.model_fields.items():
        ann = info.annotation
        args = set(typing.get_args(ann)) if isinstance(ann, UnionType) else {ann}
        if str in args and args <= {str, type(None)}:
            out.add(name)
    return out
