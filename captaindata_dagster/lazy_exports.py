"""Names a package offers but imports only when first read.

Loading a code location must not pay for what it does not use: the Dagster layer for a notebook
that only wants the client, pandas for a location of batch assets only, the simulator's server for
a resource that never turns the sandbox on. A package lists each such name with the module that
defines it (and imports them under `TYPE_CHECKING`, so type checkers see them), then takes its
module-level `__getattr__` and `__dir__` from `lazy_exports`.

This module imports nothing from the package: every layer may use it.

Example:
    >>> __getattr__, __dir__ = lazy_exports(__name__, {"Simulator": "server"})  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, module_of: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's `__getattr__` and `__dir__` for names imported on first read.

    Args:
        package: the package's `__name__`.
        module_of: each lazy name -> the module defining it: relative to `package`
            (`"components.component"`), or absolute (`"captaindata_dagster.engine.outreach"`).

    Returns:
        `__getattr__`, which imports a listed name's module, keeps the value in the package (so
        the next read costs nothing) and raises AttributeError for any other name; and `__dir__`,
        which lists the lazy names beside those already imported.

    Example:
        >>> __getattr__, __dir__ = lazy_exports(__name__, {"run_outreach": "run"})  # doctest: +SKIP
    """

    def getattr_(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        path = module if module.startswith("captaindata_dagster.") else f"{package}.{module}"
        value = getattr(importlib.import_module(path), name)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted({*vars(sys.modules[package]), *module_of})

    return getattr_, dir_
