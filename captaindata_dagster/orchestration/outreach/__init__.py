"""Outreach as a Dagster op or asset: connection requests and messages, each person once.

The sending itself is the engine's (`captaindata_dagster.engine.outreach`); here:
`factories.py` (the public builders), `step.py` (its config and the step that runs it, turning a
stopping error into a `dagster.Failure`), `outputs.py` (the four frames and their metadata).

Example:
    >>> from captaindata_dagster.orchestration.outreach import build_outreach_asset
"""

from captaindata_dagster.orchestration.outreach.factories import (
    build_outreach_asset,
    build_outreach_op,
)

__all__ = ["build_outreach_asset", "build_outreach_op"]
