"""What the API said when a call failed, as both stores keep it (ledger entries, outreach records).

A ledger `Entry` and an outreach `SendRecord` both derive from `ErrorFields`: the same six fields,
read and written the same way. Only the message's column differs, for tables written before this
record existed: `message` in the ledger's `entries`, `error_message` in the outreach `sends`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class ErrorFields:
    """The error of the last attempt: its label (see `api.labels`), scope and reference, the
    vendor's message, the HTTP status and whether a later attempt may succeed. All None when the
    last attempt did not fail."""

    error_label: str | None = None
    error_scope: str | None = None
    error_ref: str | None = None
    error_message: str | None = None
    status_code: int | None = None
    retryable: bool | None = None

    def envelope(self) -> dict[str, Any]:
        """These fields as an error row shows them (the keys of `CaptainDataError.envelope`).

        Example:
            >>> ErrorFields(error_label="NO_RESULT", retryable=False).envelope()["message"] is None
            True
        """
        return {
            "error_label": self.error_label,
            "error_scope": self.error_scope,
            "error_ref": self.error_ref,
            "message": self.error_message,
            "status_code": self.status_code,
            "retryable": bool(self.retryable),
        }

    def error_columns(self, message_column: str) -> dict[str, Any]:
        """These fields as column -> value, for `sql.upsert` / `sql.update`.

        Args:
            message_column: the message's column in the table written.

        Example:
            >>> ErrorFields(error_label="NO_RESULT", retryable=False).error_columns("message")
            {'error_label': 'NO_RESULT', 'error_scope': None, 'error_ref': None, 'message': None, 'status_code': None, 'retryable': 0}
        """
        return {
            "error_label": self.error_label,
            "error_scope": self.error_scope,
            "error_ref": self.error_ref,
            message_column: self.error_message,
            "status_code": self.status_code,
            "retryable": None if self.retryable is None else int(bool(self.retryable)),
        }


def error_fields_of_envelope(
    error: Mapping[str, Any] | None, retryable: bool | None = None
) -> dict[str, Any]:
    """The `ErrorFields` of an error envelope (`error_label`, `error_scope`, `error_ref`,
    `message`, `status_code`), as keyword arguments for a record: the reverse of `envelope()`.

    Args:
        error: the envelope (`CaptainDataError.envelope()`); None: no error, every field None.
        retryable: whether a later attempt may succeed (None: not known).

    Example:
        >>> ErrorFields(**error_fields_of_envelope({"error_label": "NO_RESULT"}, False)).retryable
        False
    """
    err = error or {}
    return {
        "error_label": err.get("error_label"),
        "error_scope": err.get("error_scope"),
        "error_ref": err.get("error_ref"),
        "error_message": err.get("message"),
        "status_code": err.get("status_code"),
        "retryable": retryable,
    }


def error_fields_of_row(row: Mapping[str, Any], message_column: str) -> dict[str, Any]:
    """The `ErrorFields` of a stored row (column -> value), as keyword arguments for a record."""
    stored = row["retryable"]
    return {
        "error_label": row["error_label"],
        "error_scope": row["error_scope"],
        "error_ref": row["error_ref"],
        "error_message": row[message_column],
        "status_code": row["status_code"],
        "retryable": None if stored is None else bool(stored),
    }


NO_ERROR = ErrorFields()
