"""What a preview reads of a step's resource: the ledger, the rate, the accounts; never the key.

A run builds its `CaptainDataResource` as Dagster does (`dg.build_resources`), which resolves every
`EnvVar` of its config, the API key's too: a preview built so fails wherever the key is not set (a
laptop or a CI job pricing a deployment's code location). A preview calls nothing, so it takes
only `PREVIEW_FIELDS` from the resource's config and resolves their `EnvVar`s itself: the key and
the other client settings are never read, so never printed. A resource the preview cannot read
so (a `@dg.resource` function) is built as a run builds it. Either way a setting that cannot be
read is an `EstimateSettingsError` of one line naming the resource and the setting.

Example:
    >>> with ExitStack() as stack:
    ...     res = preview_resource("captaindata", profiles.resource_defs["captaindata"],
    ...                            instance, stack)
    ...     res.requests_per_second
    10.0
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any

import dagster as dg
import pydantic

from captaindata_dagster.orchestration.estimate.records import EstimateSettingsError
from captaindata_dagster.orchestration.resource import CaptainDataResource

PREVIEW_FIELDS = (
    "ledger_path",
    "ledger_url",
    "requests_per_second",
    "integration_users",
    "account_form",
    "identity_mode",
)
"""The `CaptainDataResource` fields a preview reads: where the ledger is, the plan's rate, the
accounts and how they are billed. Not `api_key`, `base_url` nor any other client setting."""


def preview_resource(
    key: str, resource_def: Any, instance: dg.DagsterInstance, stack: ExitStack
) -> CaptainDataResource:
    """The resource bound under `key`, with what a preview reads of it (see the module docstring).

    Args:
        key: the resource key (for messages).
        resource_def: what the asset has bound under it (`AssetsDefinition.resource_defs[key]`).
        instance: the instance a resource built as a run builds it is given.
        stack: closes the ledger, or the built resource, when the preview is done.

    Raises:
        EstimateSettingsError: a setting the preview reads is not set or not valid.

    Example:
        >>> preview_resource("captaindata", resource_def, instance, stack).get_ledger()
    """
    settings = _configured_settings(resource_def)
    if settings is None:
        try:
            built = stack.enter_context(dg.build_resources({key: resource_def}, instance=instance))
        except dg.DagsterInvalidConfigError as err:
            raise EstimateSettingsError(config_problem(err, resource=key)) from err
        return getattr(built, key)
    resolved = {name: _resolved(key, name, value) for name, value in settings.items()}
    try:
        res = CaptainDataResource(**resolved)
    except pydantic.ValidationError as err:
        [first, *_] = err.errors()
        where = ".".join(str(part) for part in first["loc"])
        raise EstimateSettingsError(f"resource {key!r}: {where}: {first['msg']}") from err
    stack.callback(res.get_ledger().close)
    return res


def config_problem(err: dg.DagsterInvalidConfigError, resource: str | None = None) -> str:
    """One line naming each setting Dagster could not read, and why (no stack trace, no value).

    Args:
        err: Dagster's error, raised when it builds a resource or an IO manager.
        resource: the key of the resource being built, when one is (its settings' paths are
            then its own).

    Example:
        >>> config_problem(err)
        'cannot read the setting io_manager.base_dir: You have attempted to fetch the ...'
    """
    problems = []
    for error in err.errors:
        entries = getattr(getattr(error, "stack", None), "entries", ())
        names = [
            str(n) for e in entries if (n := getattr(e, "field_name", None)) not in (None, "config")
        ]
        if resource is not None and names[:1] == [resource]:
            names = names[1:]
        reason = str(getattr(error.error_data, "message", None) or error.message).strip()
        line = reason.splitlines()[0] if reason else "invalid"
        head, _, rest = line.partition(": ")
        if rest and "." in head and " " not in head:  # "dagster._config.errors.PostProcessingError"
            line = rest
        where = ".".join(names) or "the configuration"
        problems.append(f"cannot read the setting {where}: {line.split('. ')[0].rstrip('.')}")
    said = "; ".join(problems) or "cannot read the configuration"
    return said if resource is None else f"resource {resource!r}: {said}"


def _configured_settings(resource_def: Any) -> dict[str, Any] | None:
    """The `PREVIEW_FIELDS` of a `CaptainDataResource`'s config (`EnvVar`s still unresolved);
    None for any other resource."""
    if isinstance(resource_def, CaptainDataResource):
        resource_def = resource_def.get_resource_definition()
    cls = getattr(resource_def, "configurable_resource_cls", None)
    if not (isinstance(cls, type) and issubclass(cls, CaptainDataResource)):
        return None
    field = resource_def.config_schema.as_field()
    config = field.default_value if field.default_provided else {}
    return {name: config[name] for name in PREVIEW_FIELDS if name in config}


def _resolved(key: str, name: str, value: Any) -> Any:
    """`value` with each `EnvVar` (`{"env": NAME}` in config) read from the environment."""
    if isinstance(value, list):
        return [_resolved(key, name, item) for item in value]
    if isinstance(value, dict) and set(value) == {"env"}:
        variable = value["env"]
        found = os.environ.get(variable)
        if found is None:
            raise EstimateSettingsError(
                f"resource {key!r}: {name} reads the environment variable {variable}, which is "
                "not set (the preview reads the ledger, the rate and the accounts, not the key)"
            )
        return found
    return value
