"""The training step captured once as a CUDA graph and replayed every step (``train.cuda_graph``).

An eager step launches each of its kernels from Python, some 1400 for DRAI
(``benchmarks/op_count.py``), and at the `paper` preset's size the GPU waits
for the host to launch them (docs/gpu.md). A replayed graph
launches them all at once. The graph holds the whole step:

* the batch: gathered from the patch set on the device, cropped and flipped,
  and (for a variant trained twice per batch) transformed, all read from one
  static buffer of indices that each step's host draws are copied into (the
  draws of the eager loop, from the run's ``rng``: the same batches);
* the losses, whose noise and mismatched partners come from the run's device
  generator ``noise``, registered with the graph: each replay draws the next
  numbers, and the generator's state, checkpointed as in the eager loop, is
  restored on resume before the capture;
* both backward passes and both Adam updates (``capturable=True``).

The run's first step runs eagerly on a side stream (the warm-up: Adam's
state, the losses' constant tensors and the allocator's blocks come into
being) and is a real step of the run; the capture follows it, and every later
step is one copy of the draws and one replay. The eager step stays the CPU's
path and the fallback: with ``capture=False`` this class runs the same step
without a graph, on any device (the tests compare it with the eager loop).
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from drai.data.crops import MODEL_SIZE
from drai.models.family import TRANSFORMS, transform
from drai.train.step import crop_and_flip, train_step


class GraphedStep:
    """One training step of ``model`` on the batch whose draws ``__call__`` is given; every pass's terms."""

    def __init__(self, model, opt_g, opt_d, x_all, t_all, settings, trains_twice: bool, noise, capture: bool = True):
        self.model, self.opt_g, self.opt_d = model, opt_g, opt_d
        self.x_all, self.t_all, self.noise = x_all, t_all, noise
        self.kl_reduction, self.augment, self.trains_twice = settings.kl_reduction, settings.augment, trains_twice
        self.capture, self.cuda = capture, x_all.device.type == "cuda"
        if capture and not self.cuda:
            raise ValueError(f"a CUDA graph needs a CUDA device, not {x_all.device} (train.cuda_graph)")
        device, batch = x_all.device, settings.batch_size
        # The static inputs, views of one buffer (one host-to-device copy a step): batch rows, and with
        # augmentation the crop windows' rows and columns, and the transform of the second pass.
        sizes = {"index": batch, "rows": batch * MODEL_SIZE, "cols": batch * MODEL_SIZE, "transform": 1}
        self.inputs = torch.zeros(sum(sizes.values()), dtype=torch.long, device=device)
        views, start = {}, 0
        for name, size in sizes.items():
            views[name], start = self.inputs[start : start + size], start + size
        self.index, self.transform = views["index"], views["transform"]
        self.rows, self.cols = views["rows"].view(batch, MODEL_SIZE), views["cols"].view(batch, MODEL_SIZE)
        # T(x) of each transform as a gather of the flattened image: chosen by a device index, not a branch.
        grid = torch.arange(MODEL_SIZE * MODEL_SIZE).view(1, 1, MODEL_SIZE, MODEL_SIZE)
        self.permutations = torch.stack([transform(grid, name).flatten() for name in TRANSFORMS]).to(device)
        # Autocast's cache of cast weights cannot live across replays.
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False) if self.cuda else nullcontext()
        )
        self.graph = None
        self.outputs: list[dict[str, torch.Tensor]] | None = None

    def __call__(
        self, index: np.ndarray, rows: np.ndarray | None, cols: np.ndarray | None, transform_index: int | None
    ) -> list[dict[str, torch.Tensor]]:
        """The step on the batch of these draws (:func:`drai.train.step.draw_batch`); the terms of each pass,
        as tensors on the device (a replay's are overwritten by the next: copy them before it)."""
        self._feed(index, rows, cols, transform_index)
        if not self.capture:
            return self._step()
        if self.graph is None:
            return self._warm_up_and_capture()
        self.graph.replay()
        return self.outputs

    def _feed(self, index, rows, cols, transform_index) -> None:
        parts = [index, rows, cols] if self.augment else [index, np.zeros(2 * len(self.rows) * MODEL_SIZE, int)]
        host = np.concatenate([np.ravel(p) for p in parts] + [[transform_index or 0]]).astype(np.int64)
        tensor = torch.from_numpy(host)
        if self.cuda:  # through pinned memory, without waiting for the GPU
            self.inputs.copy_(tensor.pin_memory(), non_blocking=True)
        else:
            self.inputs.copy_(tensor)

    def _step(self) -> list[dict[str, torch.Tensor]]:
        """The eager loop's step, its batch and transform read from the static inputs."""
        x, t = self.x_all[self.index], self.t_all[self.index]
        if self.augment:
            x = crop_and_flip(x, self.rows, self.cols)
        if self.cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        step = (self.model, self.opt_g, self.opt_d)
        if not self.trains_twice:
            return [train_step(*step, x, t, self.noise, None, self.autocast, self.kl_reduction, as_tensors=True)]
        permutation = torch.index_select(self.permutations, 0, self.transform).squeeze(0)
        x_t = torch.index_select(x.flatten(2), 2, permutation).view_as(x)
        if self.cuda:
            x_t = x_t.contiguous(memory_format=torch.channels_last)
        return [
            train_step(*step, x, t, self.noise, x_t, self.autocast, self.kl_reduction, as_tensors=True),
            train_step(*step, x_t, t, self.noise, x, self.autocast, self.kl_reduction, as_tensors=True),
        ]

    def _warm_up_and_capture(self) -> list[dict[str, torch.Tensor]]:
        """The first step, eagerly on a side stream; then the capture of the step (which runs nothing)."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            first = self._step()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        self.graph.register_generator_state(self.noise)  # replays advance the run's generator
        with torch.cuda.graph(self.graph):
            self.outputs = self._step()
        return first
