"""The evaluator's training settings, per dataset, the settings of a run's metrics (Section III-C) and of
the audits beyond the paper, with their builders from the resolved config (sections ``evaluate``, ``audit``).

Torch-free, so that the workflow can compute a rule's settings when it parses
the Snakefile (for every job) without importing torch; :mod:`drai.metrics.evaluator`
trains the network, :mod:`drai.evaluation` computes the metrics. No defaults:
``config.yaml`` and its schema are the one source of every value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from drai.data.registry import get_dataset
from drai.settings import per_dataset, pick

#: torchvision's ImageNet InceptionV3 weights; the file name ends in the first 8 hex digits of its SHA-256.
IMAGENET_URL = "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth"
IMAGENET_FOLDER = Path("resources/weights")


def imagenet_weights_path(url: str = IMAGENET_URL, folder: str | Path = IMAGENET_FOLDER) -> Path:
    """Where the ImageNet weights of ``url`` are kept: its own file name, under ``folder``."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    if not re.fullmatch(r".+-[0-9a-f]{8,}\.pth", name):
        raise ValueError(
            f"evaluate.imagenet_url: {url} does not end in a torchvision file name "
            f"'<name>-<first hex digits of its SHA-256>.pth', so it cannot be checked"
        )
    return Path(folder) / name


def resolve_weights(evaluate_config: dict) -> str | None:
    """The weights file ``evaluate.weights`` stands for: the downloaded ImageNet file for 'imagenet', else as given."""
    weights = evaluate_config["weights"]
    return str(imagenet_weights_path(evaluate_config["imagenet_url"])) if weights == "imagenet" else weights


@dataclass(frozen=True)
class EvaluatorSettings:
    """One dataset's evaluator (Section III-C); built by :func:`evaluator_settings`."""

    steps: int
    batch_size: int
    lr: float
    input_size: int
    seed: int
    weights: str | None  # the weights file it starts from (None: random initialization)
    # The dataset's evaluator options, by key of its config section (Dataset.evaluator_options: what the
    # evaluator classifies and on which images; empty where the dataset has none).
    options: dict


@dataclass(frozen=True)
class EvaluationSettings:
    """The metrics of one run (Section III-C); built by :func:`evaluation_settings`."""

    samples: int
    cifc_pairs: int
    retrieval_top_n: int
    batch_size: int
    seed: int
    # The dataset's label options (Dataset.label_options: which classes CGAcc counts; empty where it has none).
    options: dict


@dataclass(frozen=True)
class AuditSettings:
    """Beyond the paper, per run: the ground-truth probes and the memorization audit (config section ``audit``);
    built by :func:`audit_settings`."""

    probe: str  # audit.ground_truth_probe: linear or tree
    folds: int  # audit.ground_truth_folds
    max_items: int  # audit.ground_truth_max_items
    flag_share: float  # audit.memorization_flag_share


#: The downstream classifiers (``downstream.classifier``): :mod:`drai.metrics.downstream` builds them.
CLASSIFIERS = ("small_cnn", "resnet18")


@dataclass(frozen=True)
class DownstreamSettings:
    """Not in the paper, per run: the classifier trained on real and generated images (config section
    ``downstream``); built by :func:`downstream_settings`."""

    classifier: str  # downstream.classifier: small_cnn or resnet18
    steps: int  # downstream.steps, the same for every training set
    batch_size: int  # downstream.batch_size
    lr: float  # downstream.lr
    # The dataset's label options (Dataset.label_options: the classes, the evaluator's; empty where it has none).
    options: dict


def dataset_options(config: dict, dataset: str, keys: tuple[str, ...]) -> dict:
    """The values of ``keys`` in the dataset's config section."""
    return {key: config[dataset][key] for key in keys}


def evaluator_settings(config: dict, dataset: str) -> EvaluatorSettings:
    """Rule train_evaluator: one dataset's evaluator (``evaluate.steps`` may be per dataset)."""
    evaluate = config["evaluate"]
    return pick(
        EvaluatorSettings,
        evaluate,
        "evaluate",
        steps=per_dataset(evaluate["steps"], dataset),
        weights=resolve_weights(evaluate),
        options=dataset_options(config, dataset, get_dataset(dataset).evaluator_options),
    )


def evaluation_settings(config: dict, dataset: str) -> EvaluationSettings:
    """Rule run_metrics: the metrics of one run; its batch size is ``evaluate.batch_size_eval``."""
    evaluate = config["evaluate"]
    return pick(
        EvaluationSettings,
        evaluate,
        "evaluate",
        batch_size=evaluate["batch_size_eval"],
        options=dataset_options(config, dataset, get_dataset(dataset).label_options),
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
    return pick(
        DownstreamSettings,
        config["downstream"],
        "downstream",
        options=dataset_options(config, dataset, get_dataset(dataset).label_options),
    )
