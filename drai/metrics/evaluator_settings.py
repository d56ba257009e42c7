"""The evaluator's training settings, per dataset (Section III-C).

Torch-free, so that the workflow can compute a rule's settings when it parses
the Snakefile (for every job) without importing torch; :mod:`drai.metrics.evaluator`
trains the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: torchvision's ImageNet InceptionV3 weights; the file name ends in the first 8 hex digits of its SHA-256.
IMAGENET_URL = "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth"
IMAGENET_FOLDER = Path("resources/weights")


def imagenet_weights_path(url: str = IMAGENET_URL, folder: str | Path = IMAGENET_FOLDER) -> Path:
    """Where the ImageNet weights of ``url`` are kept: its own file name, under ``folder``."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    if not re.fullmatch(r".+-[0-9a-f]{8,}\.pth", name):
        raise ValueError(f"evaluate.imagenet_url: {url} does not end in a torchvision file name "
                         f"'<name>-<first hex digits of its SHA-256>.pth', so it cannot be checked")
    return Path(folder) / name


def resolve_weights(evaluate_config: dict) -> str | None:
    """The weights file ``evaluate.weights`` stands for: the downloaded ImageNet file for 'imagenet', else as given."""
    weights = evaluate_config["weights"]
    return str(imagenet_weights_path(evaluate_config["imagenet_url"])) if weights == "imagenet" else weights


@dataclass(frozen=True)
class EvaluatorSettings:
    steps: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    input_size: int = 128
    seed: int = 0
    weights: str | None = None

    @classmethod
    def from_config(cls, evaluate_config: dict, dataset: str) -> "EvaluatorSettings":
        """One dataset's evaluator settings from the resolved ``evaluate`` section (``steps`` may be per dataset)."""
        steps = evaluate_config["steps"]
        steps = steps[dataset] if isinstance(steps, dict) else steps
        fields = {k: evaluate_config[k] for k in cls.__dataclass_fields__ if k not in ("steps", "weights")}
        return cls(steps=steps, weights=resolve_weights(evaluate_config), **fields)
