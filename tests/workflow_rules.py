"""What the rule files declare, read from their text: which rules ask for a GPU, which run locally."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rules_declaring(line: str, paths: list[Path]) -> set[str]:
    """The rules named in ``paths`` with a line matching the pattern ``line`` among their directives.

    Rules whose name is made in a loop (``rule:`` with ``name:``) are not found.
    """
    found = set()
    for path in paths:
        rule = None
        for text in path.read_text().splitlines():
            if match := re.match(r"\s*(?:rule|checkpoint)(?: (\w+))?:", text):
                rule = match[1]
            elif rule and re.match(line, text):
                found.add(rule)
    return found


def rule_files() -> list[Path]:
    """The Snakefile, rules/*.smk and the rule files of the dataset packages (drai/data/<key>/*.smk)."""
    return [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk")), *sorted((ROOT / "drai/data").glob("*/*.smk"))]


def gpu_rules() -> set[str]:
    """The rules whose resources ask for a GPU (a ``gpu=`` line)."""
    return rules_declaring(r"\s+gpu=", rule_files())


def local_rules() -> set[str]:
    """The rules that run on the submitting machine (``localrule: True``)."""
    return rules_declaring(r"\s+localrule: True", rule_files())
