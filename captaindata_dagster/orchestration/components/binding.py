"""Which resource and IO manager a component's assets read, bound on those assets alone.

A component never registers the project-wide `captaindata` or `io_manager` keys: an unrelated
asset in the same project keeps its own IO manager, and two components with different settings
load side by side. As dagster-fivetran's component does, it binds its resource and warehouse on
its own assets (`resource_defs`), under keys of its own derived from its people asset, whose name
is unique in a project: `captaindata_<people>` and `io_manager_<people>` (with a key prefix,
`captaindata_<prefix>__<people>`). `resource: null` reads the project's `captaindata` resource,
no `warehouse:` the project's `io_manager`, as another defs file declares them.

A sensor reads top-level resources only, and Dagster refuses a top-level key that an asset also
binds: the component's sensors needing its resource (the landing sensor of deferred async steps)
read it under `captaindata_<people>_sensors`, registered top-level (`sensor_resources`).

Example:
    >>> bind_resources("linkedin_people", {}, None).resource_key
    'captaindata_linkedin_people'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from captaindata_dagster.orchestration.components.resources import build_resource, build_warehouse
from captaindata_dagster.orchestration.resource import CaptainDataResource

PROJECT_RESOURCE_KEY = "captaindata"
"""The resource a component with `resource: null` reads (declared by another defs file)."""


@dataclass(frozen=True)
class ResourceBinding:
    """The keys a component's steps read, and the resources it binds under them.

    `resource_key`: the `CaptainDataResource` of every step; `io_manager_key`: both tables' IO
    manager (None: the project's `io_manager`); `resource_defs`: what is bound on each asset;
    `storage_kind`: the warehouse's kind ("duckdb"), shown on the assets.
    """

    resource_key: str = PROJECT_RESOURCE_KEY
    io_manager_key: str | None = None
    resource_defs: Mapping[str, Any] = field(default_factory=dict)
    storage_kind: str | None = None

    @property
    def sensor_resource_key(self) -> str:
        """The key the component's sensors read its resource under: its own top-level key (see
        the module docstring), or the project's `captaindata` with `resource: null`."""
        if self.resource_key in self.resource_defs:
            return f"{self.resource_key}_sensors"
        return self.resource_key

    def sensor_resources(self) -> dict[str, Any]:
        """The top-level resources the component's sensors need (none with `resource: null`).

        Example:
            >>> list(bind_resources("linkedin_people", {}, None).sensor_resources())
            ['captaindata_linkedin_people_sensors']
        """
        own = self.resource_defs.get(self.resource_key)
        return {self.sensor_resource_key: own} if own is not None else {}

    def factory_options(self) -> dict[str, Any]:
        """These as the asset factories' keywords."""
        return {
            "resource_key": self.resource_key,
            "io_manager_key": self.io_manager_key,
            "resource_defs": dict(self.resource_defs) or None,
            "storage_kind": self.storage_kind,
        }


def bind_resources(
    owner: str,
    resource: Mapping[str, Any] | CaptainDataResource | None,
    warehouse: tuple[str, str | None] | None,
) -> ResourceBinding:
    """The binding of one component: its own keys for what it declares, the project's otherwise.

    Args:
        owner: what makes the keys unique: the people asset's op name (key prefix and name).
        resource: the `resource:` settings (or a resource), or None for the project's.
        warehouse: the `warehouse:` DuckDB file and schema, or None for the project's IO manager.

    Example:
        >>> bind_resources("linkedin_people", None, ("w.duckdb", "li")).io_manager_key
        'io_manager_linkedin_people'
    """
    defs: dict[str, Any] = {}
    resource_key = PROJECT_RESOURCE_KEY
    if resource is not None:
        resource_key = f"captaindata_{owner}"
        defs[resource_key] = build_resource(resource)
    io_manager_key = None
    if warehouse is not None:
        io_manager_key = f"io_manager_{owner}"
        defs[io_manager_key] = build_warehouse(*warehouse)
    return ResourceBinding(
        resource_key=resource_key,
        io_manager_key=io_manager_key,
        resource_defs=defs,
        storage_kind="duckdb" if warehouse is not None else None,
    )
