"""The evaluator's training settings, per dataset (Section III-C).

Torch-free, so that the workflow can compute a rule's settings when it parses
the Snakefile (for every job) without importing torch; :mod:`drai.metrics.evaluator`
trains the network.
"""

from __future__ import annotations

from dataclasses import dataclass


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
        return cls(steps=steps, **{k: evaluate_config[k] for k in cls.__dataclass_fields__ if k != "steps"})
