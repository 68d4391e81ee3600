"""The callback store's reads for a step landing a run while its callbacks still arrive.

A step waiting on an async run lands each callback soon after the receiver stored it, so that a
run of 100,000 inputs is not read in one piece at its end (memory) and a step killed while waiting
keeps what it landed. Callbacks are committed by the receiver's threads in an order that need not
be the order of their `received_at`, so a waiting step compares `callback_keys` (keys only, read
from the primary key's index, no payload) with the keys it already read, and reads the new ones'
payloads with `callbacks_by_key`; `run_of` names the run of a submission whose answer was lost.
"""

from __future__ import annotations

from collections.abc import Collection

from captaindata_dagster.storage.callbacks_schema import (
    SELECT_CALLBACK,
    LandedCallback,
    landed_callback,
)
from captaindata_dagster.storage.store import Store

_BY_KEYS = 500  # callback keys per query of `callbacks_by_key`


class CallbackReads(Store):
    """`run_of`, `callback_keys` and `callbacks_by_key` of the `CallbackStore`."""

    def run_of(self, submission_id: str) -> str | None:
        """The run the submission's callbacks name (the first landed), or None before any.

        Args:
            submission_id: the submission (one whose answer was lost, typically).

        Example:
            >>> store.run_of("sub-1")  # doctest: +SKIP
            '5f0c2a9e-...'
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT run_uid FROM callbacks WHERE submission_id = ? LIMIT 1", (submission_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def callback_keys(self, submission_id: str) -> set[str]:
        """The keys of every callback landed for a submission (no payloads read).

        Args:
            submission_id: the submission.

        Example:
            >>> new = store.callback_keys("sub-1") - already_read  # doctest: +SKIP
        """
        with self._read() as conn:
            rows = conn.execute(
                "SELECT callback_key FROM callbacks WHERE submission_id = ?", (submission_id,)
            ).fetchall()
        return {str(r[0]) for r in rows}

    def callbacks_by_key(self, submission_id: str, keys: Collection[str]) -> list[LandedCallback]:
        """The callbacks of a submission with these keys, in the order they arrived.

        Args:
            submission_id: the submission.
            keys: callback keys (`callback_keys`), read 500 at a time.

        Example:
            >>> store.callbacks_by_key("sub-1", new)  # doctest: +SKIP
        """
        wanted = sorted(keys)
        found: list[LandedCallback] = []
        with self._read() as conn:
            for start in range(0, len(wanted), _BY_KEYS):
                chunk = wanted[start : start + _BY_KEYS]
                marks = ", ".join("?" * len(chunk))
                rows = conn.execute(
                    f"{SELECT_CALLBACK} WHERE submission_id = ? AND callback_key IN ({marks})",
                    [submission_id, *chunk],
                ).fetchall()
                found.extend(landed_callback(r) for r in rows)
        return sorted(found, key=lambda c: (c.received_at, c.callback_key))
