"""The errors of the stores, shared by both backends: what failed, said with the URL redacted."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The store could not do what was asked; the message says why and what to do."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (server down, connection lost, bad credentials)."""
