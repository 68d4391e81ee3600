"""`make lint`: no module over 400 lines, no class over 300, no function over 60.

Modules and classes count every physical line; a function counts its lines less its docstring (a
public function's Args and Example are wanted, not a size to cut). Large data (word lists, schemas)
belongs in data files, which this does not count.

Usage: python scripts/check_sizes.py [paths...]   (default: the package)
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMITS = {"module": 400, "class": 300, "function": 60}


def oversized(path: Path) -> Iterator[str]:
    """Each part of `path` longer than its limit, as `path:line: kind name has N lines (max M)`."""
    text = path.read_text(encoding="utf-8")
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    lines = len(text.splitlines())
    if lines > LIMITS["module"]:
        yield f"{where}:1: module has {lines} lines (max {LIMITS['module']})"
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.ClassDef):
            kind = "class"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kind = "function"
        else:
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        size = (node.end_lineno or node.lineno) - start + 1
        if kind == "function":
            size -= _docstring_lines(node)
        if size > LIMITS[kind]:
            yield f"{where}:{start}: {kind} {node.name} has {size} lines (max {LIMITS[kind]})"


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return (first.end_lineno or first.lineno) - first.lineno + 1
    return 0


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [ROOT / "captaindata_dagster"]
    files = sorted(p for r in roots for p in ([r] if r.is_file() else r.rglob("*.py")))
    problems = [problem for f in files for problem in oversized(f.resolve())]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} part(s) over the size limits: split them by concern")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
