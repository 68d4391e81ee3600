"""The type of every column of the results and errors tables: one answer for the frames, the schema
Dagster shows and the Dagster type that checks a table.

A results table has the action's output fields, typed by the catalog (the vendor's JSON Schema
type), then the four meta columns; an errors table has `ERROR_COLUMNS`. Each column's
`ColumnType` says what the catalog calls it, what a table schema shows and which pandas dtype holds
it. The pandas dtypes are the nullable ones, so a column with a gap keeps its type (an integer
field with a missing value stays `Int64`, a DuckDB BIGINT, not a float):

| catalog type | schema     | pandas dtype          | what a cell holds                        |
|--------------|------------|-----------------------|------------------------------------------|
| string       | string     | string                | the text                                 |
| integer      | int64      | Int64                 | an integer                               |
| number       | float64    | Float64               | a float (a rating: 4.5)                  |
| boolean      | bool       | boolean               | True / False                             |
| array/object | json       | string                | JSON text, keys sorted                   |
| (meta) time  | timestamp  | datetime64[ns, UTC]   | when the result was fetched / failed     |

The catalog's output types are the vendor's JSON Schema types with one reading of the project's:
a field the spec types `number` whose name says it is a count, a year or an id (`number_connections`,
`founded_on`, `linkedin_company_id`) is `integer` there (`scripts/gen_catalog.py`, `INTEGRAL_NAME`,
prints the list), so it lands as BIGINT, not DOUBLE (365, not 365.0). The rule reads names only,
never a partition's values, so a table's types are the same in every partition.

A type the catalog may name one day and this table does not know is kept as text (`string`).
Nothing here imports pandas: the Dagster layer reads these types when a code location loads.

Example:
    >>> [c.pandas_dtype for c in results_columns(catalog.get("linkedin-extract-people"))][:2]
    ['string', 'string']
"""

from __future__ import annotations

from dataclasses import dataclass

from captaindata_dagster.api.catalog import Action
from captaindata_dagster.engine.columns import ERROR_COLUMN_KINDS

# The one kind that is not a catalog type: when a result was fetched, when an error happened.
TIMESTAMP = "timestamp"
# kind -> (the JSON type, what a table schema shows, the pandas dtype)
_KINDS: dict[str, tuple[str, str, str]] = {
    "string": ("string", "string", "string"),
    "integer": ("integer", "int64", "Int64"),
    "number": ("number", "float64", "Float64"),
    "boolean": ("boolean", "bool", "boolean"),
    "array": ("array", "json", "string"),
    "object": ("object", "json", "string"),
    TIMESTAMP: ("string", TIMESTAMP, "datetime64[ns, UTC]"),
}
# The columns the engine adds after an action's fields: the input (as given, and its key), when the
# result was fetched, and whether it came from the ledger instead of a paid call.
META_COLUMN_KINDS: dict[str, str] = {
    "_input": "string",
    "_input_key": "string",
    "_fetched_at": TIMESTAMP,
    "_from_cache": "boolean",
}
META_COLUMNS = tuple(META_COLUMN_KINDS)


@dataclass(frozen=True)
class ColumnType:
    """One column of a warehouse table and the types it has in the catalog, a schema and pandas.

    Attributes:
        name: the column's name.
        json_type: the catalog's JSON type (string, integer, number, boolean, array, object; a
            timestamp column is a "string", as JSON writes one).
        type_name: what a table schema shows: string, int64, float64, bool, json or timestamp.
        pandas_dtype: the dtype of the column in a frame: string, Int64, Float64, boolean or
            datetime64[ns, UTC] (arrays and objects are JSON text, so `string`).
    """

    name: str
    json_type: str
    type_name: str
    pandas_dtype: str


def column_type(name: str, kind: str) -> ColumnType:
    """The `ColumnType` of a column of catalog type `kind` (or `TIMESTAMP`).

    A kind this module does not know (a JSON type the vendor's spec may add) is held as text, with
    its JSON type kept, so the table still loads and a reader sees what the catalog said.

    Args:
        name: the column's name.
        kind: a catalog JSON type, or `TIMESTAMP`.

    Example:
        >>> column_type("founded_on", "integer").pandas_dtype
        'Int64'
    """
    json_type, type_name, pandas_dtype = _KINDS.get(kind, (kind, "string", "string"))
    return ColumnType(name, json_type, type_name, pandas_dtype)


def results_columns(action: Action) -> list[ColumnType]:
    """The results table's columns, typed, in the table's order: the action's output fields, then
    `META_COLUMNS` (a partitioned table has its partition columns before them).

    Args:
        action: the catalog action whose output fields make the columns.

    Example:
        >>> [(c.name, c.type_name) for c in results_columns(action)][-2:]
        [('_fetched_at', 'timestamp'), ('_from_cache', 'bool')]
    """
    fields = [column_type(name, kind) for name, kind in action.output_types.items()]
    return fields + [column_type(name, kind) for name, kind in META_COLUMN_KINDS.items()]


def errors_columns() -> list[ColumnType]:
    """The errors table's columns (`ERROR_COLUMNS`), typed, in the table's order.

    Example:
        >>> {c.name: c.pandas_dtype for c in errors_columns()}["status_code"]
        'Int64'
    """
    return [column_type(name, kind) for name, kind in ERROR_COLUMN_KINDS.items()]
