"""Workflow configuration: schema validation and preset resolution.

``config.yaml`` names a ``preset``; the preset's table supplies every budget
value and the top-level sections override it. Errors name the offending key.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import yaml

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


_PYTHON_TYPES = {"integer": (int,), "number": (int, float), "boolean": (bool,), "null": (type(None),)}


def _alternatives(schema: dict, root: dict) -> list[dict]:
    """``schema`` and its anyOf/oneOf branches, with ``$ref`` to ``#/$defs/...`` followed."""
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    branches = [schema]
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key, []):
            branches.extend(_alternatives(branch, root))
    return branches


def coerce_command_line_values(value, schema: dict, root: dict):
    """``value`` with text turned into the number, boolean or null the schema asks for.

    Snakemake's ``--config`` parses only top-level values: in ``--config
    "train={steps: 5}"`` the 5 arrives as the text '5'. Text is YAML-parsed
    where the schema allows no string but a number, boolean or null there,
    and kept when the result is not of such a type (validation then names it).
    """
    branches = _alternatives(schema, root)
    if isinstance(value, str):
        types = {t for b in branches for t in ([b["type"]] if isinstance(b.get("type"), str) else b.get("type", []))}
        wanted = tuple(python for t in types - {"string"} for python in _PYTHON_TYPES.get(t, ()))
        if "string" in types or not wanted:
            return value
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if isinstance(parsed, str) and float in wanted:
            try:
                parsed = float(value)  # YAML 1.1 reads 1e-4 (no dot) as text
            except ValueError:
                return value
        if isinstance(parsed, bool) and bool not in wanted:
            return value
        return parsed if isinstance(parsed, wanted) else value
    if isinstance(value, dict):
        properties = {k: v for b in branches for k, v in b.get("properties", {}).items()}
        extra = next((b["additionalProperties"] for b in branches if isinstance(b.get("additionalProperties"), dict)), {})
        return {k: coerce_command_line_values(v, properties.get(k, extra), root) for k, v in value.items()}
    if isinstance(value, list):
        items = next((b["items"] for b in branches if isinstance(b.get("items"), dict)), {})
        return [coerce_command_line_values(v, items, root) for v in value]
    return value


def resolve(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config`` and return it with the preset's values filled in.

    The result has the same sections, each complete: every key the schema
    lists is present, which is checked.
    """
    schema = schema or load_schema()
    config = coerce_command_line_values(config, schema, schema)
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
    if lidc["patch_slices"] % 2 == 0:
        raise ConfigError(f"config key lidc.patch_slices: must be odd, got {lidc['patch_slices']}")
    if not lidc["hu_window"][0] < lidc["hu_window"][1]:
        raise ConfigError(f"config key lidc.hu_window: must be increasing, got {lidc['hu_window']}")
    ham = resolved["ham10000"]
    stray = sorted(set(ham["augment_classes"]) - set(ham["classes"]))
    if stray:
        raise ConfigError(f"config key ham10000.augment_classes: {stray} not among ham10000.classes")
    if ham["source"] == "medmnist" and not ham["medmnist_npz"]:
        raise ConfigError("config key ham10000.medmnist_npz: must name dermamnist_64.npz when source is medmnist")
    return resolved
