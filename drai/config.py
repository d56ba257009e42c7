"""Workflow configuration: schema validation and preset resolution.

``config.yaml`` names a ``preset``; the preset's table supplies every budget
value and the top-level sections override it. Errors name the offending key.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema

SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.json"
SECTIONS = ("lidc", "ham10000", "train", "evaluate")


class ConfigError(ValueError):
    """An invalid configuration; the message names the key."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    return json.loads(Path(path).read_text())


def _validate(config: dict, schema: dict) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        message = error.message
        if error.validator == "additionalProperties":
            message = f"unknown key: {message}"
        raise ConfigError(f"config key {key}: {message}")


def resolve(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config`` and return it with the preset's values filled in.

    The result has the same sections, each complete: every key the schema
    lists is present, which is checked.
    """
    schema = schema or load_schema()
    _validate(config, schema)
    preset = config.get("preset", "demo")
    resolved = {"preset": preset}
    for section in SECTIONS:
        merged = copy.deepcopy(config["presets"][preset].get(section, {}))
        merged.update(copy.deepcopy(config.get(section, {}) or {}))
        required = set(schema["$defs"][section]["properties"])
        missing = sorted(required - set(merged))
        if missing:
            raise ConfigError(
                f"config key {section}.{missing[0]}: not set, neither in section {section!r} "
                f"nor in presets.{preset}.{section}"
            )
        resolved[section] = merged
    lidc = resolved["lidc"]
    if lidc["patch_slices"] != "all" and lidc["patch_slices"] % 2 == 0:
        raise ConfigError(f"config key lidc.patch_slices: must be odd or 'all', got {lidc['patch_slices']}")
    for section in ("lidc", "ham10000"):
        stored, output = resolved[section]["stored_size"], resolved[section]["output_size"]
        if stored < output or (stored - output) % 2:
            raise ConfigError(f"config key {section}.stored_size: must be at least {section}.output_size ({output}) "
                              f"and differ from it by an even number, got {stored}")
    if not lidc["hu_window"][0] < lidc["hu_window"][1]:
        raise ConfigError(f"config key lidc.hu_window: must be increasing, got {lidc['hu_window']}")
    ham = resolved["ham10000"]
    stray = sorted(set(ham["augment_classes"]) - set(ham["classes"]))
    if stray:
        raise ConfigError(f"config key ham10000.augment_classes: {stray} not among ham10000.classes")
    if ham["source"] == "medmnist" and not ham["medmnist_npz"]:
        raise ConfigError("config key ham10000.medmnist_npz: must name dermamnist_64.npz when source is medmnist")
    return resolved
