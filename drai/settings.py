"""Every stage's settings, built one way from the resolved config (:func:`drai.config.resolve`).

One builder per stage returns the stage's settings dataclass; the dataclasses
have no defaults, so ``config.yaml`` and its schema are the one source of
every value. A rule's params are its stage's settings and nothing more
(:func:`as_params`: a plain dict, since snakemake compares params by value and
reruns a job whose params changed); its adapter rebuilds the dataclass with
:func:`from_params` and hands it to the library unchanged.

Settings that change only how data is fetched or where a job computes
(:func:`transport_keys`: endpoints, timeouts, retries, whether to download,
the device) are no rule's params, so changing them reruns nothing: an adapter
reads them from the workflow's config with :func:`transport`. The keys of
:func:`job_list_keys` decide which jobs exist, not what one job writes.

Torch-free: the workflow builds every rule's params when it parses the Snakefile.
"""

from __future__ import annotations

import types
import typing
from dataclasses import asdict, fields, is_dataclass

from drai.config import marked_keys, resolve


def transport_keys() -> dict[str, tuple[str, ...]]:
    """Every section's keys that change how data is fetched or where a job computes, never what it writes: no
    rule's params. Its schema marks each one ("transport": true)."""
    return marked_keys("transport")


def job_list_keys() -> dict[str, tuple[str, ...]]:
    """Every section's keys that decide which jobs exist (datasets, variants, seeds, cases), not what one job
    writes. Its schema marks each one ("job_list": true)."""
    return marked_keys("job_list")


def pick(cls, section: dict, section_name: str, **given):
    """``cls`` from ``given`` and, for its other fields, the config keys of the same name.

    Generic over the fields: a new field needs only its key in config.yaml and the schema.
    """
    values = {}
    for field in fields(cls):
        if field.name in given:
            values[field.name] = given[field.name]
        elif field.name in section:
            values[field.name] = section[field.name]
        else:
            raise KeyError(f"{cls.__name__}.{field.name}: no config key {section_name}.{field.name}")
    return cls(**values)


def per_dataset(value: int | dict, dataset: str) -> int:
    """A key's value for ``dataset`` where the key (``steps``, ``average_window``) may be one number for every
    dataset or one per dataset."""
    return value[dataset] if isinstance(value, dict) else value


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def as_params(settings) -> dict:
    """A rule's params: ``settings`` as a plain dict (nested settings as dicts, tuples as lists)."""
    return _plain(asdict(settings))


def _typed(hint, value):
    """``value`` of a params dict as the field type ``hint`` wants it (a dataclass, a tuple)."""
    if value is None:
        return None
    if isinstance(hint, type) and is_dataclass(hint):
        return from_params(hint, value)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            if isinstance(option, type) and is_dataclass(option) and isinstance(value, dict):
                return from_params(option, value)
        return value
    if origin is tuple:
        return tuple(value)
    return value


def from_params(cls, params: dict):
    """The settings ``cls`` that :func:`as_params` made ``params`` of: one call in each adapter."""
    hints = typing.get_type_hints(cls)
    return cls(**{field.name: _typed(hints[field.name], params[field.name]) for field in fields(cls)})


def transport(config: dict, section: str) -> dict:
    """``section``'s transport keys (:func:`transport_keys`) from the workflow's config (a job's ``snakemake.config``).

    Resolved here: a job sees the config as given, before the preset fills it in.
    """
    resolved = resolve(config)[section]
    return {key: resolved[key] for key in transport_keys()[section]}
