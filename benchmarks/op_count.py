"""Benchmark: the operations one training step dispatches, and those of them that launch a kernel.

Per variant and image type (LIDC: 1 channel, t of 17; HAM10000: 3 channels, t of 3) it runs
:func:`drai.train.step.train_step` on the CPU with the `paper` preset's speed settings (fused Adam, the
loss terms kept as tensors, not read back), once to create Adam's state, then counts the second
step with a :class:`~torch.utils._python_dispatch.TorchDispatchMode`: every ATen operation that
reaches the kernels (forward, backward through autograd, both optimizer updates). A variant that
trains each batch twice (selfReg, ``DAI+twice``) counts both passes and the transform between
them, as the training loop runs them. The count does not depend on the batch or the width.

On a GPU every operation that launches a kernel costs the host its Python, dispatcher, autograd
and launch overhead (tens of microseconds) whatever the size of the tensors: at the `paper`
preset's size the GPU waits for the host (docs/gpu.md), so this CPU count measures
how launch-bound a step is, on any machine. The operations that launch no kernel are those of
:data:`NO_KERNEL` and every view (an operation whose result aliases its input).

    python benchmarks/op_count.py [--variants DRAI,DAI] [--batch 8] [--width 8]
"""

from __future__ import annotations

import argparse
import collections
from dataclasses import replace

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from drai.models.family import TRANSFORMS, transform
from drai.models.variants import VARIANTS, get_variant
from drai.train.run import build
from drai.train.settings import train_settings
from drai.train.step import train_step
from train_throughput import IMAGE_TYPES, paper_config  # beside this file

#: Operations that allocate, alias or describe a tensor without running a kernel on its data (besides
#: every view, which :func:`launches_kernel` recognizes by its schema).
NO_KERNEL = frozenset(
    {
        "aten::detach",
        "aten::alias",
        "aten::t",
        "aten::empty",
        "aten::empty_like",
        "aten::empty_strided",
        "aten::new_empty",
        "aten::new_empty_strided",
        "aten::as_strided",
        "aten::_reshape_alias",
        "aten::resize_",
        "aten::set_",
        "aten::lift_fresh",
        "aten::is_same_size",
        "aten::_has_compatible_shallow_copy_type",
        "profiler::_record_function_enter_new",
        "profiler::_record_function_exit",
    }
)


def launches_kernel(func, args, kwargs) -> bool:
    """Whether an operation runs a kernel on a device (a GPU launch): not a view, not in NO_KERNEL, not
    a ``_to_copy`` that keeps the tensor's device and dtype (a no-op conversion)."""
    name = func._schema.name
    if name in NO_KERNEL or func.is_view:
        return False
    if name == "aten::_to_copy":
        source = args[0]
        same_dtype = kwargs.get("dtype") in (None, source.dtype)
        same_device = kwargs.get("device") in (None, source.device)
        return not (same_dtype and same_device)
    return True


class OpCounter(TorchDispatchMode):
    """Counts the ATen operations dispatched while it is active, and those that launch a kernel."""

    def __init__(self):
        super().__init__()
        self.dispatched: collections.Counter = collections.Counter()
        self.kernels: collections.Counter = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func._schema.name
        self.dispatched[name] += 1
        if launches_kernel(func, args, kwargs):
            self.kernels[name] += 1
        return func(*args, **kwargs)


def one_step(model, opt_g, opt_d, x, t, noise, twice: bool, kl_reduction: str) -> None:
    """The training loop's step on one batch (both passes for a variant that trains twice)."""
    if twice:
        x_t = transform(x, TRANSFORMS[0])
        train_step(
            model, opt_g, opt_d, x, t, noise, x_t, torch.autocast("cpu", enabled=False), kl_reduction, as_tensors=True
        )
        train_step(
            model, opt_g, opt_d, x_t, t, noise, x, torch.autocast("cpu", enabled=False), kl_reduction, as_tensors=True
        )
    else:
        train_step(
            model, opt_g, opt_d, x, t, noise, None, torch.autocast("cpu", enabled=False), kl_reduction, as_tensors=True
        )


def count(name: str, channels: int, t_dim: int, settings) -> OpCounter:
    """The operations of the second training step of ``name`` (the first creates Adam's state)."""
    torch.manual_seed(0)
    model, opt_g, opt_d = build(name, channels, t_dim, settings)
    model.train()
    x = torch.randn(settings.batch_size, channels, 64, 64).tanh()
    t = torch.eye(t_dim)[torch.randint(0, t_dim, (settings.batch_size,))]
    noise = torch.Generator().manual_seed(0)
    twice = get_variant(name).trains_twice
    one_step(model, opt_g, opt_d, x, t, noise, twice, settings.kl_reduction)
    with OpCounter() as counter:
        one_step(model, opt_g, opt_d, x, t, noise, twice, settings.kl_reduction)
    return counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--batch", type=int, default=8, help="the count does not depend on it")
    parser.add_argument("--width", type=int, default=8, help="the count does not depend on it")
    parser.add_argument("--top", type=int, default=0, help="also list the N most frequent kernel operations")
    args = parser.parse_args()
    settings = replace(train_settings(paper_config(), "lidc", seed=0), batch_size=args.batch, width=args.width)
    print(
        f"torch {torch.__version__}; the paper preset's speed settings: fused_adam {settings.fused_adam}, "
        f"loss_readback_every {settings.loss_readback_every}"
    )
    print(f"{'variant':20s} {'images':9s} {'dispatched':>10s} {'kernels':>8s}")
    for name in args.variants.split(","):
        for dataset, (channels, t_dim) in IMAGE_TYPES.items():
            counter = count(name, channels, t_dim, settings)
            print(
                f"{name:20s} {dataset:9s} {sum(counter.dispatched.values()):10d} {sum(counter.kernels.values()):8d}",
                flush=True,
            )
            if args.top:
                for op, n in counter.kernels.most_common(args.top):
                    print(f"    {n:6d} {op}")


if __name__ == "__main__":
    main()
