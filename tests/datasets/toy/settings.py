"""The toy dataset's settings: what its one rule writes, from the resolved config's section ``toy``."""

from __future__ import annotations

from dataclasses import dataclass

from drai.settings import pick

KEY = "toy"


@dataclass(frozen=True)
class ToySettings:
    items: int
    seed: int


def toy_settings(config: dict) -> ToySettings:
    """Rule toy_patches: how many images, drawn with which seed."""
    return pick(ToySettings, config[KEY], KEY)


def config_errors(section: dict) -> list[str]:
    """Values of the section that pass the schema one by one but not together."""
    if section["items"] % 2:
        return [f"config key {KEY}.items: must be even (one half discs, one half squares), got {section['items']}"]
    return []
