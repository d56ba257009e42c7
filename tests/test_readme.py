"""The manual stays true to the configuration: every figure README.md states about a preset's settings is
read here and checked against config.yaml (and the rule files), so that the README cannot drift from it."""

import re
from pathlib import Path

import pytest
import yaml

from drai.config import resolve

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PRESETS = ("paper", "demo", "ci")


@pytest.fixture(scope="module")
def resolved():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    return {preset: resolve({**config, "preset": preset}) for preset in PRESETS}


def settings_table() -> dict[str, dict[str, str]]:
    """The README's table of each preset's main settings: 'section.key' -> {preset: cell}."""
    header = "| key | `paper` | `demo` | `ci` |"
    rows = README.split(header, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    table = {}
    for row in rows:
        cells = [cell.strip().strip("`") for cell in row.strip().strip("|").split("|")]
        table[cells[0]] = dict(zip(PRESETS, cells[1:], strict=True))
    return table


def test_the_settings_table_is_config_yaml(resolved):
    table = settings_table()
    assert len(table) >= 15 and {"train.steps", "train.seeds", "train.batch_size", "evaluate.samples"} <= set(table)
    for key, cells in table.items():
        section, name = key.split(".")
        for preset, cell in cells.items():
            assert yaml.safe_load(cell) == resolved[preset][section][name], f"{key} in {preset}: README says {cell}"


def test_the_figures_the_prose_gives_are_config_yaml(resolved):
    paper, train_rule = resolved["paper"]["train"], (ROOT / "rules" / "train.smk").read_text()
    runs = len(paper["datasets"]) * len(paper["variants"]) * len(paper["seeds"])
    assert f"{runs} training runs of 100k steps" in README and paper["steps"] == 100_000
    assert f"({paper['runs_per_gpu']} in\n`paper`, `train.runs_per_gpu`)" in README
    runtime = re.search(r"runtime=(\d+),", train_rule)[1]
    assert f"A training job\nasks for {runtime} minutes" in README
    assert "`train.device`, `evaluate.device: cuda`" in README
    assert resolved["paper"]["train"]["device"] == resolved["paper"]["evaluate"]["device"] == "cuda"


def test_the_manual_is_short_and_its_contents_and_links_hold():
    assert len(README.splitlines()) <= 500
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line[3:].lower()).replace(" ", "-")
        for line in README.splitlines()
        if line.startswith("## ")
    }
    anchors = re.findall(r"\]\(#([^)]+)\)", README)
    assert anchors and set(anchors) <= headings, set(anchors) - headings
    for path in set(re.findall(r"\b(docs/[\w.-]+\.md)\b", README)):
        assert (ROOT / path).is_file(), path
