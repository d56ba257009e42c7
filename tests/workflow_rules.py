"""What the rule files declare, read from their text: which rules ask for a GPU."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def gpu_rules() -> set[str]:
    """The rules of rules/*.smk whose resources ask for a GPU (a ``gpu=`` line)."""
    found = set()
    for path in sorted((ROOT / "rules").glob("*.smk")):
        rule = None
        for line in path.read_text().splitlines():
            if match := re.match(r"(?:rule|checkpoint) (\w+):", line):
                rule = match[1]
            elif rule and re.match(r"\s+gpu=", line):
                found.add(rule)
    return found
