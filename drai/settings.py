"""Every stage's settings, built one way from the resolved config (:func:`drai.config.resolve`).

One builder per stage returns the stage's settings dataclass; the dataclasses
have no defaults, so ``config.yaml`` and its schema are the one source of
every value. A rule's params are its stage's settings and nothing more
(:func:`as_params`: a plain dict, since snakemake compares params by value and
reruns a job whose params changed); its adapter rebuilds the dataclass with
:func:`from_params` and hands it to the library unchanged.

Settings that change only how data is fetched or where a job computes
(:data:`TRANSPORT_KEYS`: endpoints, timeouts, retries, whether to download,
the device) are no rule's params, so changing them reruns nothing: an adapter
reads them from the workflow's config with :func:`transport`. The keys of
:data:`JOB_LIST_KEYS` decide which jobs exist, not what one job writes.

Torch-free: the workflow builds every rule's params when it parses the Snakefile.
"""

from __future__ import annotations

import types
import typing
from dataclasses import asdict, fields, is_dataclass

from drai.config import resolve
from drai.data.ham10000.patches import LesionPatchSettings, PatchSetSettings
from drai.data.ham10000.pipeline import RawSettings
from drai.data.ham10000.synthetic import SyntheticDermSettings
from drai.data.lidc.labels import LabelSettings
from drai.data.lidc.patches import PatchSettings
from drai.data.lidc.pipeline import PatchSetSettings as LidcPatchSetSettings
from drai.data.lidc.source import SeriesSettings
from drai.data.lidc.synthetic_volume import SyntheticSettings
from drai.metrics.evaluator_settings import (
    AuditSettings,
    DownstreamSettings,
    EvaluationSettings,
    EvaluatorSettings,
    resolve_weights,
)
from drai.train_settings import TrainSettings

#: Keys that change how data is fetched or where a job computes, never what it writes: no rule's params.
TRANSPORT_KEYS = {
    "lidc": ("download", "api_url", "idc_endpoint_url", "download_retries", "download_timeout_s"),
    "ham10000": ("download", "server", "doi", "download_retries", "download_timeout_s"),
    "train": ("device", "runs_per_gpu"),
    "evaluate": ("device", "imagenet_url"),
}
#: Keys that decide which jobs exist (cases, datasets, variants, seeds), not what one job writes.
JOB_LIST_KEYS = {"lidc": ("synthetic_cases",), "train": ("datasets", "variants", "seeds")}


def _pick(cls, section: dict, section_name: str, **given):
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


# LIDC-IDRI


def label_settings(config: dict) -> LabelSettings:
    """Rule lidc_nodules: which scans are labelled and how nodules are kept, split and outlined."""
    return _pick(LabelSettings, config["lidc"], "lidc")


def series_settings(config: dict) -> SeriesSettings:
    """Rule lidc_series: the source and the folder read; for synthetic data, how it is rendered."""
    lidc = config["lidc"]
    if lidc["source"] != "synthetic":
        return SeriesSettings(source=lidc["source"], root=lidc["series_dir"], synthetic=None)
    # Synthetic series get a folder of their own: series_dir is for real data only.
    synthetic = SyntheticSettings(
        matrix=lidc["synthetic_matrix"], slice_spacing_mm=lidc["synthetic_slice_spacing_mm"], seed=lidc["seed"]
    )
    return SeriesSettings(source="synthetic", root=lidc["synthetic_dir"], synthetic=synthetic)


def patch_settings(config: dict) -> PatchSettings:
    """Rule lidc_case_patches: the resampled grid, the patch window and the HU window."""
    return _pick(PatchSettings, config["lidc"], "lidc", hu_window=tuple(config["lidc"]["hu_window"]))


def lidc_patch_set_settings(config: dict) -> LidcPatchSetSettings:
    """Rule lidc_patches: the data source that patches.npz records."""
    return _pick(LidcPatchSetSettings, config["lidc"], "lidc")


# HAM10000


def raw_settings(config: dict) -> RawSettings:
    """Rule ham10000_raw: the source and what it reads (or renders, for synthetic images)."""
    ham = config["ham10000"]
    source = ham["source"]
    if source == "synthetic":
        # Synthetic images get a folder of their own: raw_dir is for real data only.
        synthetic = SyntheticDermSettings(
            train_images=ham["synthetic_train_images"],
            test_images=ham["synthetic_test_images"],
            width=ham["synthetic_width"],
            height=ham["synthetic_height"],
            seed=ham["seed"],
        )
        return RawSettings(source=source, root=ham["synthetic_dir"], medmnist_npz=None, synthetic=synthetic)
    if source == "medmnist":
        return RawSettings(source=source, root=None, medmnist_npz=ham["medmnist_npz"], synthetic=None)
    return RawSettings(source=source, root=ham["raw_dir"], medmnist_npz=None, synthetic=None)


def ham_patch_set_settings(config: dict) -> PatchSetSettings:
    """Rule ham10000_patches: modelled classes, augmentation, fallback split and the lesion patch."""
    ham = config["ham10000"]
    return _pick(
        PatchSetSettings,
        ham,
        "ham10000",
        classes=tuple(ham["classes"]),
        augment_classes=tuple(ham["augment_classes"]),
        lesion=_pick(LesionPatchSettings, ham, "ham10000"),
    )


# Training and evaluation


def dataset_steps(steps: int | dict, dataset: str) -> int:
    """A ``steps`` (or ``average_window``) key's value for ``dataset``: one number for every dataset, or one
    per dataset."""
    return steps[dataset] if isinstance(steps, dict) else steps


def train_settings(config: dict, dataset: str, seed: int) -> TrainSettings:
    """Rules train and untrained_model: one run's settings (its dataset and seed from the run's name;
    ``train.steps`` and ``train.average_window`` may be per dataset)."""
    train = config["train"]
    return _pick(
        TrainSettings,
        train,
        "train",
        steps=dataset_steps(train["steps"], dataset),
        average_window=dataset_steps(train["average_window"], dataset),
        seed=seed,
    )


def evaluator_settings(config: dict, dataset: str) -> EvaluatorSettings:
    """Rule train_evaluator: one dataset's evaluator (``evaluate.steps`` may be per dataset)."""
    evaluate = config["evaluate"]
    return _pick(
        EvaluatorSettings,
        evaluate,
        "evaluate",
        steps=dataset_steps(evaluate["steps"], dataset),
        weights=resolve_weights(evaluate),
        lidc_labels=evaluate["lidc_labels"] if dataset == "lidc" else None,
        lidc_evaluator_slices=evaluate["lidc_evaluator_slices"] if dataset == "lidc" else None,
    )


def evaluation_settings(config: dict, dataset: str) -> EvaluationSettings:
    """Rule run_metrics: the metrics of one run; its batch size is ``evaluate.batch_size_eval``."""
    evaluate = config["evaluate"]
    return _pick(
        EvaluationSettings,
        evaluate,
        "evaluate",
        batch_size=evaluate["batch_size_eval"],
        lidc_labels=evaluate["lidc_labels"] if dataset == "lidc" else None,
    )


def audit_settings(config: dict) -> AuditSettings:
    """Rule audit_run: the ground-truth probes and the memorization audit (section ``audit``)."""
    audit = config["audit"]
    return AuditSettings(
        probe=audit["ground_truth_probe"],
        folds=audit["ground_truth_folds"],
        max_items=audit["ground_truth_max_items"],
        flag_share=audit["memorization_flag_share"],
    )


def downstream_settings(config: dict, dataset: str) -> DownstreamSettings:
    """Rules downstream_real and downstream_run: the classifier and its task, the evaluator's classes."""
    return _pick(
        DownstreamSettings,
        config["downstream"],
        "downstream",
        lidc_labels=config["evaluate"]["lidc_labels"] if dataset == "lidc" else None,
    )


# Params and transport


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
    """``section``'s :data:`TRANSPORT_KEYS` from the workflow's config (a job's ``snakemake.config``).

    Resolved here: a job sees the config as given, before the preset fills it in.
    """
    resolved = resolve(config)[section]
    return {key: resolved[key] for key in TRANSPORT_KEYS[section]}


def lidc_download(config: dict) -> dict:
    """Keyword arguments of :func:`drai.data.lidc.source.prepare_series` that say how a missing series is fetched."""
    lidc = transport(config, "lidc")
    return {
        "download": lidc["download"],
        "api_url": lidc["api_url"],
        "idc_endpoint_url": lidc["idc_endpoint_url"],
        "download_options": {"retries": lidc["download_retries"], "timeout_s": lidc["download_timeout_s"]},
    }


def ham_download(config: dict) -> dict | None:
    """The ``download`` argument of :func:`drai.data.ham10000.pipeline.prepare_raw` (None: do not download)."""
    ham = transport(config, "ham10000")
    if not ham["download"]:
        return None
    return {
        "server": ham["server"],
        "doi": ham["doi"],
        "retries": ham["download_retries"],
        "timeout_s": ham["download_timeout_s"],
    }
