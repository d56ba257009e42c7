"""Benchmark: one training step per variant and image type on this machine's CPU.

Prints, for batch 64 (``--batch``) and width 64 (``--width``): the step time
(best of ``--repeat``), images per second, the step's FLOPs counted by
torch.utils.flop_counter (forward and backward; a selfReg step trains its
batch twice and counts both), and the fraction of this machine's measured
float32 matmul peak that the step reaches.

    python benchmarks/train_step.py [--batch 64] [--width 64] [--repeat 2] [--variants DRAI,DAI] [--threads N]

The demo's size on its two cores, one thread and two (best of 20: the least disturbed by other load):

    python benchmarks/train_step.py --batch 16 --width 8 --repeat 20 --variants DRAI,cVAE --threads 1
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext
from dataclasses import replace

import torch
from torch.utils.flop_counter import FlopCounterMode

from drai.checkpoints import EAGER_SPEED_SETTINGS
from drai.models.family import TRANSFORMS, transform
from drai.models.variants import VARIANTS, get_variant
from drai.train.run import build
from drai.train.settings import train_settings
from drai.train.step import train_step
from train_throughput import paper_config  # beside this file

IMAGE_TYPES = {"lidc (1x64x64, t=17)": (1, 17), "ham10000 (3x64x64, t=3)": (3, 3)}


def matmul_peak(size: int = 2048, repeat: int = 5) -> float:
    """Best float32 matmul rate of this machine, FLOP/s."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def one_step(model, opt_g, opt_d, x, t, noise, self_reg: bool):
    if self_reg:
        x_t = transform(x, TRANSFORMS[0])
        train_step(model, opt_g, opt_d, x, t, noise, x_t, nullcontext())
        train_step(model, opt_g, opt_d, x_t, t, noise, x, nullcontext())
    else:
        train_step(model, opt_g, opt_d, x, t, noise, None, nullcontext())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", type=int, default=None, help="torch threads; default: torch's")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # The paper preset's model and optimizer settings at this batch and width, eager, as docs/gpu.md's table.
    settings = replace(
        train_settings(paper_config(), "lidc", seed=0), batch_size=args.batch, width=args.width, **EAGER_SPEED_SETTINGS
    )
    peak = matmul_peak()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32 matmul peak {peak / 1e9:.1f} GFLOP/s")
    print(f"batch {args.batch}, width {args.width}")
    print(f"{'variant':20s} {'images':24s} {'step s':>8s} {'img/s':>8s} {'GFLOP':>8s} {'% peak':>7s}")
    for name in args.variants.split(","):
        variant = get_variant(name)
        for label, (channels, t_dim) in IMAGE_TYPES.items():
            torch.manual_seed(0)
            model, opt_g, opt_d = build(
                name,
                channels,
                t_dim,
                settings,
            )
            x = torch.randn(args.batch, channels, 64, 64).tanh()
            t = torch.eye(t_dim)[torch.randint(0, t_dim, (args.batch,))]
            noise = torch.Generator().manual_seed(0)
            self_reg = variant.has("self_reg")
            with FlopCounterMode(display=False) as counter:
                one_step(model, opt_g, opt_d, x, t, noise, self_reg)
            flops = counter.get_total_flops()
            best = float("inf")
            for _ in range(args.repeat):
                start = time.perf_counter()
                one_step(model, opt_g, opt_d, x, t, noise, self_reg)
                best = min(best, time.perf_counter() - start)
            images = args.batch * (2 if self_reg else 1)
            print(
                f"{name:20s} {label:24s} {best:8.2f} {images / best:8.1f} {flops / 1e9:8.1f} "
                f"{100 * flops / best / peak:6.1f}%",
                flush=True,
            )


if __name__ == "__main__":
    main()
