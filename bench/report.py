"""What a scenario produces (`Result`, `Check`) and how a run is written: JSON and a Markdown table."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9),
}


@dataclass
class Check:
    """One figure of a scenario, its target (None: reported only) and whether it was met."""

    figure: str
    value: float | None
    shown: str
    target: str | None = None
    met: bool | None = None


def check(
    figure: str,
    value: float | None,
    target: tuple[str, float] | None = None,
    fmt: str = "{:.3f}",
    suffix: str = "",
) -> Check:
    """A `Check` whose `met` is computed from `target` = (operator, limit), e.g. ("<=", 1.10)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        shown, met = "n/a", (None if target is None else False)
    else:
        shown = fmt.format(value) + suffix
        met = None if target is None else bool(_OPS[target[0]](value, target[1]))
    text = None if target is None else f"{target[0]} {target[1]:g}{suffix}"
    return Check(figure, None if value is None else float(value), shown, text, met)


@dataclass
class Result:
    """A scenario's outcome: its setup, every figure measured, and the checks shown in the table."""

    id: str
    title: str
    setup: dict[str, Any]
    setup_text: str
    figures: dict[str, Any]
    checks: list[Check]
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def markdown(results: Sequence[Result]) -> str:
    """The table the README's Performance section shows: one row per check."""
    lines = [
        "| scenario | setup | figure | result | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        rows = r.checks or [Check("error", None, "n/a", None, False)]
        for i, c in enumerate(rows):
            name = r.title if i == 0 else ""
            setup = r.setup_text if i == 0 else ""
            met = {True: "yes", False: "**no**", None: "reported"}[c.met]
            result = c.shown if r.error is None else f"failed: {_cell(r.error)}"
            lines.append(
                f"| {name} | {setup} | {c.figure} | {result} | {c.target or '-'} | {met} |"
            )
    return "\n".join(lines) + "\n"


def write(path_json: Path, path_md: Path, meta: dict[str, Any], results: Sequence[Result]) -> None:
    """Write the run as JSON (every figure) and Markdown (the table, then the notes)."""
    doc = _clean({**meta, "scenarios": [r.to_dict() for r in results]})
    doc["all_targets_met"] = all(c.met is not False for r in results for c in r.checks) and all(
        r.error is None for r in results
    )
    path_json.parent.mkdir(parents=True, exist_ok=True)
    path_json.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    notes = [f"- **{r.title}**: {n}" for r in results for n in r.notes]
    text = markdown(results)
    if notes:
        text += "\n" + "\n".join(notes) + "\n"
    path_md.write_text(text, encoding="utf-8")


def _cell(text: str, limit: int = 120) -> str:
    """`text` fit for one Markdown table cell: one line, no pipes, short."""
    one = " ".join(text.replace("|", "/").split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def _clean(value: Any) -> Any:
    """JSON-ready: NaN and infinities become null, paths and tuples plain values."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
