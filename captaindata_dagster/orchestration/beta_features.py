"""Dagster features still marked beta that this package relies on, without the warning each time.

Two of them: dagster-pandas' dataframe types, and `resource_defs=` on a multi-asset (how a
component binds its own resource and warehouse to its assets; `dg.with_resources` would bind
Dagster's default IO manager too, and so hide the project's `io_manager`). A user of ours did
not choose them and need not read the warning at every load; we pin and test the behaviour.

Example:
    >>> with quiet_beta_warnings():
    ...     decorate = dg.multi_asset(outs=outs, resource_defs={"captaindata": resource})
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg


@contextmanager
def quiet_beta_warnings() -> Iterator[None]:
    """Silence Dagster's `BetaWarning` inside the block (and nothing else).

    Example:
        >>> with quiet_beta_warnings():
        ...     frame_type = create_dagster_pandas_dataframe_type(name="people", columns=columns)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        yield
