"""One training step: the batch drawn, cropped and flipped (Section III-G), both sides updated.

Shared by the eager loop (:func:`drai.train.run.train`) and the step captured as a CUDA graph
(:class:`drai.train.graphed.GraphedStep`), so that both train alike.
"""

from __future__ import annotations

import numpy as np
import torch

from drai.data.crops import MODEL_SIZE
from drai.models.family import TRANSFORMS, training_losses
from drai.train.settings import TrainSettings


def augment_indices(
    rng: np.random.Generator, batch: int, stored: int, size: int = MODEL_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a random ``size`` window of each stored patch, each axis flipped with probability 1/2.

    Section III-G: "random flipping and cropping". The window is a shift of
    the same pixels (never resized), so a nodule's size and a lesion's class
    are those of the stored patch. Returns (batch, size) row and column indices.
    """
    offsets = rng.integers(0, stored - size + 1, (batch, 2))
    flips = rng.random((batch, 2)) < 0.5
    ramp = np.arange(size)
    index = offsets[:, :, None] + np.where(flips[:, :, None], ramp[::-1], ramp)
    return index[:, 0], index[:, 1]


def draw_batch(
    rng: np.random.Generator, settings: TrainSettings, n_images: int, stored: int, trains_twice: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, int | None]:
    """One step's draws from the run's ``rng``, in their order: the batch's rows of the training set, with
    ``settings.augment`` their windows' rows and columns (:func:`augment_indices`), and for a variant
    trained twice per batch the index of its transform in ``TRANSFORMS``."""
    index = rng.integers(0, n_images, settings.batch_size)
    rows, cols = augment_indices(rng, len(index), stored) if settings.augment else (None, None)
    transform_index = int(rng.integers(len(TRANSFORMS))) if trains_twice else None
    return index, rows, cols, transform_index


def crop_and_flip(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """x (B, C, S, S) read at rows (B, H) and cols (B, W): (B, C, H, W)."""
    batch = torch.arange(len(x), device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return x[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def train_step(
    model,
    opt_g,
    opt_d,
    x,
    t,
    noise,
    x_transformed,
    autocast,
    kl_reduction="mean",
    losses_fn=training_losses,
    as_tensors: bool = False,
) -> dict:
    """One simultaneous update of both sides; returns every term's value.

    ``as_tensors``: the values as detached tensors where they were computed,
    so that nothing waits for the GPU (:class:`LossReadback` copies them back
    in one transfer); otherwise Python floats. ``losses_fn`` is
    :func:`training_losses` or its compiled form.
    """
    if losses_fn is not training_losses:
        # CUDA graphs (compile modes reduce-overhead, max-autotune) reuse their output memory at each
        # replay: tell torch that a new pass begins, so that a twice-trained step's second pass may.
        torch.compiler.cudagraph_mark_step_begin()
    with autocast:
        d_total, g_total, terms = losses_fn(model, x, t, noise, x_transformed, kl_reduction)
    # Both losses share the discriminators' calls (on generated images attached): each side's loss is
    # back-propagated to that side's weights only, as if the other side's inputs were detached.
    opt_g.zero_grad(set_to_none=True)
    g_total.backward(inputs=_parameters(opt_g), retain_graph=opt_d is not None)
    if opt_d is not None:
        opt_d.zero_grad(set_to_none=True)
        d_total.backward(inputs=_parameters(opt_d))
    opt_g.step()
    if opt_d is not None:
        opt_d.step()
    if as_tensors:
        return {name: value.detach() for name, value in terms.items()}
    return {name: float(value.detach()) for name, value in terms.items()}


def _parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]
