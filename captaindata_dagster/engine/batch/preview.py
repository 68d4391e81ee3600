"""A batch's preview: what `run_batch` would fetch, cost and take, without running it.

The inputs are sorted out by the run's own first steps (`plan`: dedupe, local validation, the
ledger's freshness rule), then priced and timed by `engine.estimate`. The ledger and the catalog
are read; the API never is, so the preview costs nothing and needs no key.

Example:
    >>> est = estimate_batch(resolve_action("linkedin-extract-people"), urls, ledger=ledger,
    ...                      max_age=timedelta(days=30), requests_per_second=10, accounts=2)
    >>> (est.fresh, est.to_fetch, est.credits)
    (12, 38, 38.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.api.client import DEFAULT_PACING_MARGIN, paced_rate
from captaindata_dagster.api.request_body import check_parameters
from captaindata_dagster.engine.batch.plan import check_max_results, plan_inputs
from captaindata_dagster.engine.estimate import DEFAULT_SECONDS_PER_CALL, Estimate, estimate_plan
from captaindata_dagster.storage.ledger import Ledger


def estimate_batch(
    action: Action,
    inputs: Iterable[Any],
    *,
    ledger: Ledger | None = None,
    max_age: timedelta | None = None,
    max_results: int | None = None,
    parameters: Mapping[str, Any] | None = None,
    managed: bool = False,
    requests_per_second: float | None = None,
    accounts: int = 1,
    seconds_per_call: float = DEFAULT_SECONDS_PER_CALL,
    pacing_margin: float = DEFAULT_PACING_MARGIN,
    budget: float | None = None,
) -> Estimate:
    """What `run_batch(action, inputs, ...)` would fetch, cost and take, without any call.

    Reads the ledger (as a run would, before its first call) and the catalog; never the API,
    so it needs no API key.

    Args:
        action: the catalog action (`resolve_action("linkedin-extract-people")`).
        inputs: the inputs a run would be given (dicts, strings, None, or a DataFrame).
        ledger: the run's ledger (None: nothing is fresh).
        max_age: the run's freshness window (None: entries never expire).
        max_results: the run's cap on each search's results.
        parameters: the action's parameters (checked against the catalog, part of the keys).
        managed: the calls go through managed identities (`identity_mode="managed"`): 1.5x.
        requests_per_second: the plan's limit (None: unpaced).
        accounts: the LinkedIn accounts the run rotates over (actions that use one).
        seconds_per_call: the assumed time of one call.
        pacing_margin: how far under the plan's limit the client paces (the client's 5 %).
        budget: the run's budget in credits (None: none): the figures are capped as the run is.

    Example:
        >>> est = estimate_batch(resolve_action("linkedin-extract-people"),
        ...                      ["https://www.linkedin.com/in/jane"], accounts=1)
        >>> (est.to_fetch, est.credits)
        (1, 1.0)
    """
    check_parameters(action, parameters)
    check_max_results(max_results)
    plan = plan_inputs(
        action, inputs, parameters=parameters, max_results=max_results, ledger=ledger,
        max_age=max_age,
    )  # fmt: skip
    return estimate_plan(
        action, plan.counts(), max_results=max_results, managed=managed,
        paced_rate=paced_rate(requests_per_second, pacing_margin),
        accounts=accounts, seconds_per_call=seconds_per_call, budget=budget,
    )  # fmt: skip
