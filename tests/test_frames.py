"""Warehouse tables keep one schema whatever a partition returned, zero rows included."""

from __future__ import annotations

import pandas as pd

from captaindata_dagster.catalog import load_catalog
from captaindata_dagster.frames import errors_table, results_table


def test_partition_columns_keep_their_type_with_zero_rows():
    # An empty first write would otherwise create a float partition column that later text
    # keys (or the IO manager's delete by partition) cannot match.
    action = load_catalog().get("linkedin-extract-people")
    part = {"search": "paris", "date": pd.Timestamp("2026-11-28")}
    for frame in (
        errors_table(pd.DataFrame(), part),
        results_table(action, pd.DataFrame(), part),
    ):
        assert len(frame) == 0
        assert frame["search"].dtype == object
        assert str(frame["date"].dtype) == "datetime64[ns]"
    full = errors_table(pd.DataFrame({"action_id": ["a"], "error_label": ["X"]}), part)
    assert full["search"].tolist() == ["paris"]
    assert full["date"].tolist() == [pd.Timestamp("2026-11-28")]
