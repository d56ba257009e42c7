"""The settings of one training run, and their builder from the resolved config (section ``train``).

Torch-free, so that the workflow can build a rule's settings when it parses
the Snakefile (for every job) without importing torch; :mod:`drai.train.run`
trains with them. No defaults: ``config.yaml`` and its schema are the one
source of every value (:func:`train_settings` builds them).
"""

from __future__ import annotations

from dataclasses import dataclass

from drai.settings import per_dataset, pick


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
    # Not in the paper: the trained model is the mean of the weights at the last steps (docs/models.md,
    # "Weight averaging"): at steps - average_window, then every average_every steps, to the last.
    # 0: the weights of the last step.
    average_window: int
    average_every: int
    augment: bool
    kl_reduction: str
    # Speed settings (docs/gpu.md): 1, false, eager, false train exactly as plain eager code does.
    loss_readback_every: int
    fused_adam: bool
    compile_mode: str
    cuda_graph: bool
    seed: int

    def __post_init__(self):
        if self.average_window and self.average_window >= self.steps:
            raise ValueError(
                f"train.average_window ({self.average_window}) must be below train.steps ({self.steps}): "
                "the window holds the last steps of the run"
            )
        if self.average_window % self.average_every:
            raise ValueError(
                f"train.average_window ({self.average_window}) must be a multiple of train.average_every "
                f"({self.average_every}), so that the window ends at the last step"
            )
        if self.cuda_graph and self.compile_mode != "eager":
            raise ValueError(
                f"train.cuda_graph: true captures the eager step: train.compile_mode must be eager with it, not "
                f"{self.compile_mode!r} (its reduce-overhead and max-autotune make CUDA graphs of their own)"
            )

    def averaged_steps(self) -> list[int]:
        """The steps whose weights the trained model averages; empty without a window."""
        if not self.average_window:
            return []
        return list(range(self.steps - self.average_window, self.steps + 1, self.average_every))


def train_settings(config: dict, dataset: str, seed: int) -> TrainSettings:
    """Rules train and untrained_model: one run's settings (its dataset and seed from the run's name;
    ``train.steps`` and ``train.average_window`` may be per dataset)."""
    train = config["train"]
    return pick(
        TrainSettings,
        train,
        "train",
        steps=per_dataset(train["steps"], dataset),
        average_window=per_dataset(train["average_window"], dataset),
        seed=seed,
    )
