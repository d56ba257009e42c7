"""Workflow configuration: schema validation and preset resolution.

``config.yaml`` names a ``preset``; the preset's table supplies every budget
value and the top-level sections override it. Errors name the offending key.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from pathlib import Path

import jsonschema
import yaml

from drai.data import registry
from drai.models.variants import VARIANTS

SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.json"
#: The sections every configuration has; each registered dataset adds its own, under its key.
COMMON_SECTIONS = ("train", "evaluate", "audit", "downstream")
#: The generative networks take 64x64 images only (drai/models/networks.py).
NETWORK_IMAGE_SIZE = 64
#: Marks on a key in a section's schema (the common sections' in drai/config.schema.json, a dataset's in
#: ``drai/data/<key>/config.schema.json``): it changes how data is fetched or where a job computes (no rule's
#: params), which jobs exist, or where data is read or rendered (none may nest). The assembled schema drops them.
MARKS = ("transport", "job_list", "data_path")
#: The schema's definitions of a value that may be one per dataset ({<dataset>: N, ...}).
PER_DATASET_DEFS = ("steps", "window")


class ConfigError(ValueError):
    """An invalid configuration; the message names the key."""


def sections() -> tuple[str, ...]:
    """The configuration's sections: one per registered dataset (its key), then the common ones."""
    return (*registry.datasets(), *COMMON_SECTIONS)


def _unmarked(section: dict) -> dict:
    """A section's schema without the :data:`MARKS` on its keys."""
    properties = {
        name: {k: v for k, v in prop.items() if k not in MARKS} for name, prop in section["properties"].items()
    }
    return {**section, "properties": properties}


def _marked_sections(path: str | Path = SCHEMA_PATH) -> dict[str, dict]:
    """Every section's schema as written, marks and all: each registered dataset's, then the common ones."""
    common = json.loads(Path(path).read_text())["$defs"]
    datasets = {key: registry.dataset_schema(key) for key in registry.datasets()}
    return {**datasets, **{section: common[section] for section in COMMON_SECTIONS}}


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """The workflow's schema: the common one (``path``) with each registered dataset's section added.

    A dataset's section is its package's ``config.schema.json`` (:func:`drai.data.registry.dataset_schema`),
    under its key at the top level and in every preset; the dataset enum (``train.datasets``, the keys of a
    per-dataset value) and the variant enum are the registry's and :data:`drai.models.variants.VARIANTS`, so
    that nothing repeats them.
    """
    schema = json.loads(Path(path).read_text())
    keys = list(registry.datasets())
    defs = schema["$defs"]
    defs["dataset"] = {"enum": keys}
    defs["variant"] = {"enum": list(VARIANTS)}
    for name, section in _marked_sections(path).items():
        defs[name] = _unmarked(section)
    for key in keys:
        title = defs[key].get("title", key)
        schema["properties"][key] = {
            "$ref": f"#/$defs/{key}",
            "description": f"{title} settings that override the preset's.",
        }
        defs["preset"]["properties"][key] = {"$ref": f"#/$defs/{key}"}
    for per_dataset in PER_DATASET_DEFS:
        by_dataset = defs[per_dataset]["oneOf"][1]
        # Only a registered dataset's key; each trained dataset's is checked once the preset is filled in.
        by_dataset["propertyNames"] = {"$ref": "#/$defs/dataset"}
    return schema


def marked_keys(mark: str) -> dict[str, tuple[str, ...]]:
    """The keys of each section (every dataset's, then the common ones) that its schema marks with ``mark``
    (one of :data:`MARKS`)."""
    return {
        name: tuple(key for key, prop in section["properties"].items() if prop.get(mark))
        for name, section in _marked_sections().items()
    }


def _raise_all(errors: list[str]) -> None:
    """One ConfigError listing every error, each naming its key."""
    if len(errors) == 1:
        raise ConfigError(errors[0])
    if errors:
        raise ConfigError(f"{len(errors)} config errors:\n  " + "\n  ".join(errors))


def _schema_errors(config: dict, schema: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    messages = []
    for error in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        message = error.message
        if error.validator == "additionalProperties":
            message = f"unknown key: {message}"
        elif error.validator in ("oneOf", "anyOf"):
            # Say what each alternative wanted ("not of type 'integer'; 'ham10000' is a required property").
            message += ": " + "; ".join(dict.fromkeys(sub.message for sub in error.context))
        messages.append(f"config key {key}: {message}")
    return messages


def _non_finite_errors(value, key: str = "") -> list[str]:
    """NaN and infinities anywhere (YAML's .nan, .inf): JSON Schema's number bounds let NaN through."""
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in _non_finite_errors(v, f"{key}.{k}" if key else str(k))]
    if isinstance(value, (list, tuple)):
        return [e for i, v in enumerate(value) for e in _non_finite_errors(v, f"{key}.{i}")]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"config key {key}: must be a finite number, got {value}"]
    return []


def _validate(config: dict, schema: dict) -> None:
    _raise_all(_schema_errors(config, schema) + _non_finite_errors(config))


def stored_size_errors(section_name: str, section: dict) -> list[str]:
    """A dataset's ``stored_size`` (the patch with its margin of context) against its ``output_size``."""
    stored, output = section["stored_size"], section["output_size"]
    if stored < output or (stored - output) % 2:
        return [
            f"config key {section_name}.stored_size: must be at least {section_name}.output_size ({output}) "
            f"and differ from it by an even number, got {stored}"
        ]
    return []


def _relation_errors(resolved: dict) -> list[str]:
    """Values that pass the schema one by one but not together: each dataset's own checks (its settings
    module's ``config_errors``), the image size the networks take, and data folders that nest."""
    errors = []
    for key in registry.datasets():
        section = resolved[key]
        settings = registry.dataset_module(key, "settings")
        if settings is not None and hasattr(settings, "config_errors"):
            errors += settings.config_errors(section)
        if section.get("output_size", NETWORK_IMAGE_SIZE) != NETWORK_IMAGE_SIZE:
            errors.append(
                f"config key {key}.output_size: the networks take "
                f"{NETWORK_IMAGE_SIZE}x{NETWORK_IMAGE_SIZE} images, got {section['output_size']}"
            )
    return errors + _per_dataset_errors(resolved) + _nesting_errors(resolved)


def per_dataset_keys() -> list[tuple[str, str]]:
    """The (section, key) pairs whose value may be one per dataset: those defined by :data:`PER_DATASET_DEFS`."""
    refs = {f"#/$defs/{name}" for name in PER_DATASET_DEFS}
    common = json.loads(SCHEMA_PATH.read_text())["$defs"]
    return [
        (section, key)
        for section in COMMON_SECTIONS
        for key, prop in common[section]["properties"].items()
        if prop.get("$ref") in refs
    ]


def _per_dataset_errors(resolved: dict) -> list[str]:
    """A per-dataset value without a value for some dataset trained on."""
    errors = []
    for section, key in per_dataset_keys():
        value = resolved[section][key]
        if isinstance(value, dict):
            missing = [d for d in resolved["train"]["datasets"] if d not in value]
            if missing:
                errors.append(
                    f"config key {section}.{key}: no value for {', '.join(missing)} (train.datasets); "
                    f"give one number for every dataset or one per dataset trained"
                )
    return errors


def _nesting_errors(resolved: dict) -> list[str]:
    """Data folders (and files) inside one another, in either direction, or one folder named twice.

    Whatever the sources: rendering synthetic data replaces its whole folder,
    and a real read walks every folder below its own (a raw_dir of ``/``
    would walk the whole file system). Relative paths are taken from the
    working directory, as the workflow reads them; links are followed.
    """
    paths = {
        f"{section}.{key}": (resolved[section][key], Path(resolved[section][key]).expanduser().resolve())
        for section, keys in marked_keys("data_path").items()
        for key in keys
        if resolved[section].get(key)
    }
    errors = []
    for (outer, (outer_text, outer_path)), (inner, (inner_text, inner_path)) in itertools.combinations(
        paths.items(), 2
    ):
        if inner_path == outer_path:
            relation = f"is the same path as {outer} ({outer_text})"
        elif inner_path.is_relative_to(outer_path):
            relation = f"lies inside {outer} ({outer_text})"
        elif outer_path.is_relative_to(inner_path):
            inner, inner_text, outer, outer_text = outer, outer_text, inner, inner_text
            relation = f"lies inside {outer} ({outer_text})"
        else:
            continue
        errors.append(
            f"config key {inner}: {inner_text} {relation}; data folders must not nest: rendering synthetic "
            "data replaces its folder, and reading real data walks every folder below its own"
        )
    return errors


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
        if isinstance(parsed, bool) and (bool not in wanted or value.strip().lower() not in ("true", "false")):
            return value  # YAML 1.1 also reads yes/no/on/off as booleans: only true and false are taken
        return parsed if isinstance(parsed, wanted) else value
    if isinstance(value, dict):
        properties = {k: v for b in branches for k, v in b.get("properties", {}).items()}
        extra = next(
            (b["additionalProperties"] for b in branches if isinstance(b.get("additionalProperties"), dict)), {}
        )
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
    # Dataset packages outside drai/data/ join the registry before the schema is built from it.
    try:
        registry.add_dataset_folders(config.get("dataset_folders") or [])
        schema = schema or load_schema()
    except (ValueError, FileNotFoundError) as error:
        raise ConfigError(f"config key dataset_folders: {error}") from error
    config = coerce_command_line_values(config, schema, schema)
    _validate(config, schema)
    preset = config.get("preset", "demo")
    results_root = config.get("results_root", schema["properties"]["results_root"]["default"])
    resolved = {"preset": preset, "results_root": results_root, "results_dir": f"{results_root.rstrip('/')}/{preset}"}
    missing = []
    for section in sections():
        merged = copy.deepcopy(config["presets"][preset].get(section, {}))
        merged.update(copy.deepcopy(config.get(section, {}) or {}))
        required = set(schema["$defs"][section]["properties"])
        missing += [
            f"config key {section}.{key}: not set, neither in section {section!r} nor in presets.{preset}.{section}"
            for key in sorted(required - set(merged))
        ]
        resolved[section] = merged
    _raise_all(missing)
    _raise_all(_relation_errors(resolved))
    return resolved
