"""Which `BatchStep` computes an assets definition: found again from the definition itself.

Every factory and `@captaindata_assets` register the step they declare, so
`CaptainDataResource.run(context)` (the decorator's body) runs the right batch, and the cost
preview knows an asset's action, inputs, freshness and results cap without running it. The entry
is keyed by the definition's op, which Dagster keeps when it copies a definition (a key prefix, a
resource binding, `Definitions`), and is dropped with it.

Example:
    >>> step = step_for(build_profile_extraction_asset(upstream=people))
    >>> step.action.id
    'linkedin-extract-people'
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

import dagster as dg

if TYPE_CHECKING:
    from captaindata_dagster.orchestration.assets.batch_step import BatchStep

_STEPS: WeakKeyDictionary[dg.NodeDefinition, BatchStep] = WeakKeyDictionary()


def register_step(assets_def: dg.AssetsDefinition, step: BatchStep) -> dg.AssetsDefinition:
    """Remember that `step` computes `assets_def`; return the definition, for chaining.

    Args:
        assets_def: the multi-asset a factory or the decorator declared.
        step: the step its body runs.

    Example:
        >>> return register_step(decorate(body), step)
    """
    _STEPS[assets_def.node_def] = step
    return assets_def


def step_for(assets_def: dg.AssetsDefinition) -> BatchStep | None:
    """The `BatchStep` behind a Captain Data assets definition, or None for any other asset.

    Args:
        assets_def: a definition built by a factory or `@captaindata_assets` (or a copy Dagster
            made of it), e.g. `context.assets_def` inside a step.

    Example:
        >>> step_for(people).fetch.max_results
        100
    """
    if assets_def.computation is None:  # an AssetSpec's definition: nothing computes it here
        return None
    return _STEPS.get(assets_def.node_def)
