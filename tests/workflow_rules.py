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


def local_rules() -> set[str]:
    """The rules named in the Snakefile and rules/*.smk that run on the submitting machine (``localrule: True``).

    Rules whose name is made in a loop (``rule:`` with ``name:``) are not found here.
    """
    found = set()
    for path in [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]:
        rule = None
        for line in path.read_text().splitlines():
            if match := re.match(r"\s*(?:rule|checkpoint)(?: (\w+))?:", line):
                rule = match[1]
            elif rule and re.match(r"\s+localrule: True", line):
                found.add(rule)
    return found
