"""The results frame's rows, kept as they arrive in the compact form pandas builds from.

A batch of 50,000 profiles must not hold 50,000 parsed dicts (and a copy per row) until the end:
each result is stored as a tuple of its values as it arrives, and the frame is built from those
tuples in input order, a chunk at a time. pandas is imported only when the frame is built.

Example:
    >>> rows = ResultRows()
    >>> rows.add(item, [{"name": "Jane"}], at, from_cache=False)
    >>> frame = rows.frame()
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from captaindata_dagster.engine.batch.inputs import BatchItem
from captaindata_dagster.engine.column_types import META_COLUMNS

if TYPE_CHECKING:  # pandas is imported where frames are built: loading a code location
    import pandas as pd  # that only declares assets must not pay for it


class ResultRows:
    """The results frame's rows, kept as they arrive in the compact form pandas builds from.

    Each result becomes a tuple of its values (8 bytes per cell) and its parsed dict is dropped at
    once: keeping every result dict until the end, plus the per-row copy `from_records` needed,
    cost several times the frame's own size. `frame()` gives what `DataFrame.from_records` gives
    for the same results as dicts in input order (same column order, NaN for missing fields, same
    types), converting `CHUNK` rows at a time so the rows are freed as the frame is built.
    """

    CHUNK = 2048

    def __init__(self) -> None:
        self.columns: dict[str, int] = {}  # name -> position in the stored rows
        self.shapes: dict[tuple[str, ...], tuple[list[int], bool]] = {}  # keys -> positions
        self.first: dict[tuple[str, ...], tuple[int, int]] = {}  # keys -> first row with them
        self.rows: list[tuple[Any, ...]] = []
        self.order: list[tuple[int, int]] = []  # (input index, result position) per row

    def add(self, item: BatchItem, results: Sequence[Any], at: datetime, from_cache: bool) -> None:
        """Store one input's results (not thread-safe: the caller holds a lock)."""
        meta = (item.label, item.key, at, from_cache)
        for pos, r in enumerate(results):
            fields = r if isinstance(r, Mapping) else {"value": r}
            shape = tuple(fields)
            where = (item.index, pos)
            known = self.shapes.get(shape)
            if known is None:
                known = self.shapes[shape] = self._place((*shape, *META_COLUMNS))
                self.first[shape] = where
            elif where < self.first[shape]:
                self.first[shape] = where
            cols, in_place = known
            values = [_share_keys(v) if type(v) in _NESTED else v for v in fields.values()]
            if in_place:  # the usual case: the same fields as the first result, in that order
                self.rows.append((*values, *meta))
            else:
                row: list[Any] = [math.nan] * len(self.columns)
                for col, value in zip(cols, (*values, *meta), strict=True):
                    row[col] = value
                self.rows.append(tuple(row))
            self.order.append(where)

    def _place(self, names: tuple[str, ...]) -> tuple[list[int], bool]:
        cols = [self.columns.setdefault(n, len(self.columns)) for n in names]
        return cols, cols == list(range(len(cols)))

    def frame(self) -> pd.DataFrame:
        """The results frame in input order; empties the store as it goes."""
        import pandas as pd

        if not self.rows:
            frame = pd.DataFrame({c: pd.Series(dtype=object) for c in META_COLUMNS})
        else:
            frame = self._convert()
        frame["_fetched_at"] = pd.to_datetime(frame["_fetched_at"], utc=True)
        frame["_from_cache"] = frame["_from_cache"].astype(bool)
        return frame

    def _convert(self) -> pd.DataFrame:
        import pandas as pd

        names: dict[str, None] = {}  # first appearance, scanning the rows in input order
        for shape in sorted(self.shapes, key=self.first.__getitem__):
            names.update(dict.fromkeys((*shape, *META_COLUMNS)))
        columns = list(names)
        perm = [self.columns[n] for n in columns]
        identity = perm == list(range(len(perm)))
        width = len(perm)
        rows, order = self.rows, self.order
        self.rows, self.order = [], []
        sequence = sorted(range(len(rows)), key=order.__getitem__)
        del order

        def chunk(start: int, free: bool) -> pd.DataFrame:
            batch = []
            for i in sequence[start : start + self.CHUNK]:
                row = rows[i]
                if free:
                    rows[i] = ()  # freed as its chunk is converted
                if len(row) < width:
                    row = (*row, *[math.nan] * (width - len(row)))
                batch.append(row if identity else tuple(row[j] for j in perm))
            return pd.DataFrame.from_records(batch, columns=columns)

        starts = range(0, len(sequence), self.CHUNK)
        if len(starts) == 1:
            return chunk(0, free=True)
        # A chunk infers its column types alone: where chunks disagree (ints here, ints and None
        # there) the column is inferred again over all its rows, as one `from_records` would.
        kinds = [{c: str(t) for c, t in chunk(s, free=False).dtypes.items()} for s in starts]
        mixed = [c for c in columns if len({k[c] for k in kinds}) > 1]
        whole = {}
        for name in mixed:
            col = self.columns[name]
            cells = [(rows[i][col] if col < len(rows[i]) else math.nan,) for i in sequence]
            whole[name] = pd.DataFrame.from_records(cells, columns=[name])[name]
            del cells
        chunks = [chunk(s, free=True).drop(columns=mixed) for s in starts]
        rows.clear()
        frame = pd.concat(chunks, ignore_index=True)
        del chunks
        for name in mixed:
            frame.insert(columns.index(name), name, whole.pop(name))
        return frame


_NESTED = (dict, list)


def _share_keys(value: Any) -> Any:
    """`value` with the keys of its nested objects interned.

    JSON parsing makes new key strings for every response, so 50,000 profiles would hold 50,000
    copies of "company_name" in their experiences; interned, they share one.
    """
    if type(value) is dict:
        return {(sys.intern(k) if type(k) is str else k): _share_keys(v) for k, v in value.items()}
    if type(value) is list and any(type(v) in _NESTED for v in value):
        return [_share_keys(v) for v in value]
    return value
