"""The YAML component: `CaptainDataActionsComponent`, for `dg` projects.

`component.py` is the component itself; `settings.py` its YAML models, `resources.py` its typed
`resource:` block and the resource and warehouse built from it, `binding.py` the keys of its own
they are bound under on its assets, `translation.py` its `translation:` and translator,
`steps.py` how it builds the assets with the factories, `scaffold.py` what `dg scaffold defs`
writes.

Example:
    >>> from captaindata_dagster.orchestration.components import CaptainDataActionsComponent
"""

from captaindata_dagster.orchestration.components.component import CaptainDataActionsComponent

__all__ = ["CaptainDataActionsComponent"]
