"""Reading what a stopped run had done from the error that stopped it, typed.

A run stopped by a 401/402/403 raises a `CaptainDataError` whose declared `partial_result` holds
the result of what it had done (a `BatchResult` from `run_batch`, an `OutreachResult` from
`run_outreach`). Each result record inherits `from_error` from `PartialResult`, so
`BatchResult.from_error(err)` is a `BatchResult` or None, never the other strategy's record.

Example:
    >>> BatchResult.from_error(ValueError("no run")) is None
    True
"""

from __future__ import annotations

from typing import TypeVar

_Result = TypeVar("_Result", bound="PartialResult")


class PartialResult:
    """A run's result record that a stopping error may carry (mixed into the result dataclass)."""

    @classmethod
    def from_error(cls: type[_Result], err: BaseException) -> _Result | None:
        """What a run had done when `err` stopped it; None if `err` carries no result of this kind.

        Args:
            err: an error raised by the run (any exception is accepted).

        Example:
            >>> try:
            ...     run_batch(client, "linkedin-extract-people", inputs)
            ... except CaptainDataError as err:
            ...     done = BatchResult.from_error(err)
        """
        found = getattr(err, "partial_result", None)
        return found if isinstance(found, cls) else None
