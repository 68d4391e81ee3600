"""The simulator's vocabulary: the word lists and input templates of `words.json` (read once).

Names, job titles by field, cities, the industries with the prose that describes their companies,
and the templates of sample inputs live in that data file, so the modules stay code.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

WORDS_PATH = Path(__file__).with_name("words.json")


@cache
def words() -> dict[str, Any]:
    """The word lists and input templates of `words.json` (read once).

    Example:
        >>> "Paris" in [city[0] for city in words()["CITIES"]]
        True
    """
    return json.loads(WORDS_PATH.read_text(encoding="utf-8"))
