"""Warehouse tables keep one schema whatever a partition returned, zero rows included."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from captaindata_dagster.api.catalog import load_catalog
from captaindata_dagster.engine.frames import errors_table, results_table


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


# -- typed values: every kind of value a result may carry, in each catalog type ------------------

NA = None  # expected NA in the typed column
NAN, INF = float("nan"), float("inf")
CONVERSATIONS = "linkedin-extract-conversations"  # boolean, integer, string, array, object fields
COMPANY = "linkedin-extract-company"  # a number field

# (action, field, catalog type, dtype, [(value in the results, value in the table), ...])
TYPED_CASES = [
    (
        CONVERSATIONS,
        "read",
        "boolean",
        "boolean",
        [
            (True, True),
            (False, False),
            ("false", False),  # bool("false") is True: the audit's case
            ("true", True),
            (" FALSE ", False),
            ("True", True),
            ("1", True),
            ("0", False),
            ("yes", True),
            ("No", False),
            (1, True),
            (0, False),
            (1.0, True),  # pandas' float for an int 1 in a column with gaps
            ("maybe", NA),
            (2, NA),
            (-1, NA),
            (0.5, NA),
            ({"a": 1}, NA),
            ([True], NA),
            ("", NA),
            (None, NA),
            (NAN, NA),
            (pd.NA, NA),
        ],
    ),
    (
        CONVERSATIONS,
        "unread_count",
        "integer",
        "Int64",
        [
            (3, 3),
            (-7, -7),
            (0, 0),
            (4.0, 4),
            (4.5, NA),
            ("42", 42),
            (" -7 ", -7),
            ("+5", 5),
            ("4.2e1", 42),
            ("42.0", 42),
            ("42.5", NA),
            ("9007199254740993", 9007199254740993),  # beyond float precision, kept exact
            (True, NA),
            (False, NA),
            (2**63 - 1, 2**63 - 1),
            (-(2**63), -(2**63)),
            (2**63, NA),
            (10**30, NA),
            ("1e30", NA),
            ("99999999999999999999", NA),
            (1e300, NA),
            (INF, NA),
            ("inf", NA),
            ("nan", NA),
            ("1_000", NA),
            ("٤٢", NA),  # digits, but not JSON's
            ("abc", NA),
            ("", NA),
            ([1], NA),
            ({"n": 1}, NA),
            (None, NA),
            (NAN, NA),
        ],
    ),
    (
        COMPANY,
        "last_funding_raised",
        "number",
        "Float64",
        [
            (1.5, 1.5),
            (3, 3.0),
            (-0.25, -0.25),
            ("2.5", 2.5),
            (" -1e3 ", -1000.0),
            (".5", 0.5),
            (2**63, float(2**63)),
            (True, NA),
            (False, NA),
            (INF, NA),
            (-INF, NA),
            ("inf", NA),
            ("-Infinity", NA),
            ("NaN", NA),
            (10**400, NA),
            ("1e999", NA),
            ("1,5", NA),
            ("abc", NA),
            ("", NA),
            ([1.5], NA),
            (None, NA),
            (NAN, NA),
        ],
    ),
    (
        CONVERSATIONS,
        "linkedin_thread_id",
        "string",
        "string",
        [
            ("abc", "abc"),
            ("", ""),
            (" padded ", " padded "),
            ('{"a":1}', '{"a":1}'),  # a string stays the string it is
            (True, "true"),
            (False, "false"),
            (42, "42"),
            (-3, "-3"),
            (2**70, str(2**70)),
            (1.5, "1.5"),
            (42.0, "42"),  # an int pandas made a float (a column with gaps)
            (1e20, "1e+20"),
            ({"b": 1, "a": [1, 2]}, '{"a": [1, 2], "b": 1}'),
            ([1, "x", None], '[1, "x", null]'),
            (b"abc", "<3 bytes>"),
            (None, NA),
            (NAN, NA),
        ],
    ),
    (
        CONVERSATIONS,
        "participants",
        "array",
        "string",
        [
            ([{"b": 1, "a": 2}], '[{"a": 2, "b": 1}]'),
            ('[{"b":1,"a":2}]', '[{"a": 2, "b": 1}]'),  # JSON text already: not encoded again
            (" [1, 2] ", "[1, 2]"),
            ([], "[]"),
            ((1, 2), "[1, 2]"),
            ([1.0, NAN, INF], "[1.0, null, null]"),  # JSON has no NaN
            ([b"ab"], '["<2 bytes>"]'),
            ("hello", '"hello"'),  # not JSON text: a JSON string
            ("[not json", '"[not json"'),
            ("42", '"42"'),  # a string, even when it reads as a number
            ("", '""'),
            (True, "true"),
            (3, "3"),
            (None, NA),
            (NAN, NA),
        ],
    ),
    (
        CONVERSATIONS,
        "last_message",
        "object",
        "string",
        [
            ({"z": 1, "a": {"y": 2, "b": 3}}, '{"a": {"b": 3, "y": 2}, "z": 1}'),
            ('{"z": 1, "a": 2}', '{"a": 2, "z": 1}'),  # JSON text already: not encoded again
            ({"text": "café"}, '{"text": "café"}'),
            ({}, "{}"),
            ({"raw": b"xy"}, '{"raw": "<2 bytes>"}'),
            ({"n": NAN}, '{"n": null}'),
            (
                {2: "b", "a": 1, True: None},
                '{"2": "b", "a": 1, "true": null}',
            ),  # keys of mixed types
            ('{"broken": ', '"{\\"broken\\": "'),
            (None, NA),
        ],
    ),
]


def _results(field: str, values: list) -> pd.DataFrame:
    """A batch's results frame with `values` in `field`, kept as the objects they are."""
    n = len(values)
    return pd.DataFrame(
        {
            field: pd.Series(values, dtype=object),
            "_input": [f"in-{i}" for i in range(n)],
            "_input_key": [f"key-{i}" for i in range(n)],
            "_fetched_at": [pd.Timestamp("2026-11-28T10:00:00Z")] * n,
            "_from_cache": [False] * n,
        }
    )


def _cells(column: pd.Series) -> list:
    """The column's values with their Python types, NA as None (so True never equals 1)."""
    return [(type(v), v) if v is not pd.NA else (None, None) for v in column.tolist()]


@pytest.mark.parametrize(
    ("action_id", "field", "kind", "dtype", "cases"),
    TYPED_CASES,
    ids=[case[2] for case in TYPED_CASES],
)
def test_values_land_in_their_catalog_type(action_id, field, kind, dtype, cases):
    action = load_catalog().get(action_id)
    assert action.output_types[field] == kind
    values = [value for value, _ in cases]
    table = results_table(action, _results(field, values), {"partition_key": "p"})
    assert str(table[field].dtype) == dtype
    expected = [(type(e), e) if e is not None else (None, None) for _, e in cases]
    got = _cells(table[field])
    wrong = {repr(v): (g, e) for v, g, e in zip(values, got, expected, strict=True) if g != e}
    assert wrong == {}  # value -> (got, expected)
    assert len(table) == len(values)  # an unfit value never costs its row


def test_the_string_false_is_false():
    action = load_catalog().get(CONVERSATIONS)
    table = results_table(action, _results("read", ["false", "False", " false "]), {})
    assert table["read"].tolist() == [False, False, False]


def test_missing_fields_from_records_keep_their_values():
    # A field some results lack is NaN in `from_records`, which turns ints into floats and bools
    # into objects beside NaN: the table still has the ints, bools and text the API sent.
    action = load_catalog().get(CONVERSATIONS)
    rows = [
        {"read": False, "unread_count": 2, "linkedin_thread_id": 123},
        {"linkedin_thread_id": None},
    ]
    meta = {"_input": "x", "_input_key": "k", "_fetched_at": pd.Timestamp.now(tz="UTC")}
    results = pd.DataFrame.from_records([{**r, **meta, "_from_cache": True} for r in rows])
    assert results["unread_count"].dtype == float  # what the table must undo
    table = results_table(action, results, {})
    assert _cells(table["read"]) == [(bool, False), (None, None)]
    assert _cells(table["unread_count"]) == [(int, 2), (None, None)]
    assert _cells(table["linkedin_thread_id"]) == [(str, "123"), (None, None)]
    assert _cells(table["_from_cache"]) == [(bool, True), (bool, True)]


def test_unfit_values_are_reported_once_per_column(caplog):
    action = load_catalog().get(CONVERSATIONS)
    results = _results("read", [True, "maybe", 2, None, {"a": 1}, "x", "false"])
    results["unread_count"] = pd.Series([1, 2, 3, 4, 5, 6, None], dtype=object)  # all fit
    with caplog.at_level(logging.WARNING):
        table = results_table(action, results, {})
    reports = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert reports == [
        f"{CONVERSATIONS}.read: 4 value(s) that a column of type boolean cannot hold were stored as NA: "
        "'maybe', 2, {'a': 1}, ..."
    ]
    assert table["read"].isna().tolist() == [False, True, True, True, True, True, False]


def test_errors_table_types_its_columns_the_same_way(caplog):
    errors = pd.DataFrame(
        {
            "action_id": ["a", "a", "a"],
            "error_label": ["X", "Y", "Z"],
            "status_code": pd.Series(["429", True, 500.0], dtype=object),
            "retryable": pd.Series(["false", "true", None], dtype=object),
        }
    )
    with caplog.at_level(logging.WARNING):
        table = errors_table(errors, {})
    assert str(table["status_code"].dtype) == "Int64"
    assert _cells(table["status_code"]) == [(int, 429), (None, None), (int, 500)]
    assert _cells(table["retryable"]) == [(bool, False), (bool, True), (None, None)]
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["errors.status_code"]


def test_dedupe_people_folds_spellings_of_one_person():
    import pandas as pd

    from captaindata_dagster.engine.frames import dedupe_people

    table = pd.DataFrame(
        {
            "linkedin_profile_url": [
                "https://www.linkedin.com/in/jane-doe",
                "https://fr.linkedin.com/in/Jane-Doe/?trk=x",
                None,
                "https://www.linkedin.com/in/john-doe",
            ],
            "full_name": ["Jane", "Jane again", "nobody", "John"],
        }
    )
    kept, dropped = dedupe_people(table)
    assert list(kept["full_name"]) == ["Jane", "John"] and dropped == 2


def test_unfit_values_are_reported_on_the_log_given():
    """A step passes its `context.log`, so the warning shows in the run's logs."""
    action = load_catalog().get(CONVERSATIONS)
    seen: list[str] = []

    class Log:
        def warning(self, msg, *args):
            seen.append(msg % args)

    results_table(action, _results("read", ["maybe", "false"]), {}, log=Log())
    assert seen == [
        f"{CONVERSATIONS}.read: 1 value(s) that a column of type boolean cannot hold were stored as NA: "
        "'maybe'"
    ]


# -- every column in the dtype its ColumnType declares -----------------------------------------


def _dtypes(table: pd.DataFrame, columns) -> dict[str, str]:
    return {c.name: str(table[c.name].dtype) for c in columns}


def test_an_empty_partition_has_every_column_in_its_dtype():
    from captaindata_dagster.engine.column_types import errors_columns, results_columns

    action = load_catalog().get("linkedin-extract-company")
    results = results_table(action, pd.DataFrame(), {"partition_key": "p"})
    declared = results_columns(action)
    assert _dtypes(results, declared) == {c.name: c.pandas_dtype for c in declared}
    assert list(results.columns) == [
        "partition_key",
        *action.output_fields,
        "_input",
        "_input_key",
        "_fetched_at",
        "_from_cache",
    ]
    errors = errors_table(pd.DataFrame(), {})
    assert _dtypes(errors, errors_columns()) == {c.name: c.pandas_dtype for c in errors_columns()}


def test_an_integer_field_with_a_gap_stays_int64():
    # from_records makes the column float64 (365.0) where one result lacks the field
    action = load_catalog().get("linkedin-extract-company")
    rows = [{"followers_count": 365, "_input": "a"}, {"_input": "b"}]
    table = results_table(action, pd.DataFrame.from_records(rows), {})
    assert str(table["followers_count"].dtype) == "Int64"
    assert _cells(table["followers_count"]) == [(int, 365), (None, None)]


def test_an_integer_the_api_sent_as_text_or_nonsense_costs_neither_the_step_nor_the_row(caplog):
    action = load_catalog().get("linkedin-extract-company")
    results = _results("followers_count", [12, "12", "n/a", None])
    with caplog.at_level(logging.WARNING):
        table = results_table(action, results, {})
    assert str(table["followers_count"].dtype) == "Int64"
    assert _cells(table["followers_count"]) == [(int, 12), (int, 12), (None, None), (None, None)]
    assert len(table) == 4
    assert [r.getMessage() for r in caplog.records] == [
        "linkedin-extract-company.followers_count: 1 value(s) that a column of type integer "
        "cannot hold were stored as NA: 'n/a'"
    ]


def test_times_become_utc_timestamps_and_an_unreadable_one_is_na(caplog):
    errors = pd.DataFrame(
        {
            "action_id": ["a"] * 4,
            "error_label": ["X"] * 4,
            "at": pd.Series(
                ["2026-11-28T10:00:00+02:00", pd.Timestamp("2026-11-28T09:00:00Z"), "soon", None],
                dtype=object,
            ),
        }
    )
    with caplog.at_level(logging.WARNING):
        table = errors_table(errors, {})
    assert str(table["at"].dtype) == "datetime64[ns, UTC]"
    assert table["at"].tolist()[:2] == [pd.Timestamp("2026-11-28T08:00:00Z")] + [
        pd.Timestamp("2026-11-28T09:00:00Z")
    ]
    assert table["at"].isna().tolist() == [False, False, True, True]
    assert [r.getMessage() for r in caplog.records] == [
        "errors.at: 1 value(s) that a column of type timestamp cannot hold were stored as NA: 'soon'"
    ]


def test_errors_table_dtypes_with_rows():
    errors = pd.DataFrame(
        {
            "action_id": ["a"],
            "input": [{"url": "x"}],
            "error_label": ["X"],
            "status_code": [404.0],
            "retryable": [False],
            "at": [pd.Timestamp("2026-11-28T10:00:00Z")],
            "from_cache": [True],
        }
    )
    table = errors_table(errors, {})
    assert {c: str(t) for c, t in table.dtypes.items()} == {
        "action_id": "string",
        "input": "string",
        "error_label": "string",
        "error_scope": "string",
        "error_ref": "string",
        "message": "string",
        "status_code": "Int64",
        "retryable": "boolean",
        "at": "datetime64[ns, UTC]",
        "from_cache": "boolean",
        "user_uid": "string",
    }
    assert table.loc[0, "input"] == '{"url": "x"}' and table.loc[0, "status_code"] == 404
