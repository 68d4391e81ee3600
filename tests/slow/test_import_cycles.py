"""Each module of the package imports on its own, in a fresh interpreter (about a minute)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import captaindata_dagster

PKG = Path(captaindata_dagster.__file__).parent


def test_each_module_imports_on_its_own():
    """No import cycle hides behind the order a package's `__init__` imports things in."""
    names = sorted(
        ".".join(p.relative_to(PKG.parent).with_suffix("").parts)
        for p in PKG.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    for name in names:  # a fresh interpreter each: a cycle shows only in a cold import
        done = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True)
        assert done.returncode == 0, f"{name}: {done.stderr[-400:]}"
