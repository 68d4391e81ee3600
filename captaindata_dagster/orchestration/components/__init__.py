"""The YAML component: `CaptainDataActionsComponent`, for `dg` projects.

`component.py` is the component itself; `settings.py` its YAML models, `resources.py` the shared
resource and warehouse it declares, `steps.py` how it builds the assets, sensors and schedule
with the factories, `scaffold.py` what `dg scaffold defs` writes.

Example:
    >>> from captaindata_dagster.orchestration.components import CaptainDataActionsComponent
"""

from captaindata_dagster.orchestration.components.component import CaptainDataActionsComponent

__all__ = ["CaptainDataActionsComponent"]
