"""Sensors that surface Captain Data failures with their labels, and re-run what may now succeed.

`factories.py` holds the two public builders; `cursor.py` the error sensor's typed cursor,
`failure_sources.py` where failures are read from (errors tables, failed runs),
`failure_groups.py` how they are grouped per asset, partition and label (with what a person should
do, from `api/labels.py`), `error_tick.py` one tick of the error sensor; `bulk_landing.py` the
sensor that materializes a deferred async partition once its runs have ended.

Example:
    >>> from captaindata_dagster.orchestration.sensors import build_captaindata_error_sensor
"""

from captaindata_dagster.orchestration.sensors.bulk_landing import build_bulk_landing_sensor
from captaindata_dagster.orchestration.sensors.factories import (
    build_captaindata_error_sensor,
    build_captaindata_run_failure_sensor,
)

__all__ = [
    "build_bulk_landing_sensor",
    "build_captaindata_error_sensor",
    "build_captaindata_run_failure_sensor",
]
