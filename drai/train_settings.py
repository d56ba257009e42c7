"""The settings of one training run.

Torch-free, so that the workflow can build a rule's settings when it parses
the Snakefile (for every job) without importing torch; :mod:`drai.train`
trains with them. No defaults: ``config.yaml`` and its schema are the one
source of every value (:func:`drai.settings.train_settings` builds them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainSettings:
    steps: int
    batch_size: int
    width: int
    z_dim: int
    c_dim: int
    lr: float
    beta1: float
    checkpoint_every: int
    augment: bool
    kl_reduction: str
    # Speed settings (README, "GPU throughput"): 1, false, eager train exactly as plain eager code does.
    loss_readback_every: int
    fused_adam: bool
    compile_mode: str
    seed: int
