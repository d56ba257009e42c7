"""GPU check: training runs on CUDA (bf16 autocast, channels_last) and resumes there.

Trains DRAI on random data of both image types, stops half-way, resumes, and
prints the step time per variant at batch 64, width 64. Needs only torch,
numpy, pandas, yaml, tqdm and matplotlib.

    python benchmarks/gpu_check.py [--steps 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from drai.models.family import TRANSFORMS, transform
from drai.models.variants import VARIANTS
from drai.train import TrainSettings, build, load_model, train, train_step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    assert torch.cuda.is_available(), "no CUDA device"
    print(torch.__version__, torch.cuda.get_device_name(0))
    rng = np.random.default_rng(0)
    settings = TrainSettings(steps=args.steps, batch_size=64, width=64, z_dim=32, c_dim=32, lr=2e-4, beta1=0.5,
                             checkpoint_every=10, augment=False, kl_reduction="mean", loss_readback_every=1, fused_adam=False,
                compile_mode="eager", seed=0)
    for channels, t_dim in ((1, 17), (3, 3)):
        images = np.tanh(rng.normal(size=(512, channels, 64, 64))).astype(np.float32)
        vectors = np.eye(t_dim, dtype=np.float32)[rng.integers(0, t_dim, 512)]
        with tempfile.TemporaryDirectory() as scratch:
            run = Path(scratch)
            start = time.perf_counter()
            train(images, vectors, "DRAI", run, settings, device="cuda", progress=False, stop_after=args.steps // 2 + 3)
            path = train(images, vectors, "DRAI", run, settings, device="cuda", progress=False)
            seconds = time.perf_counter() - start
            history = pd.read_csv(run / "losses.csv")
            finite = np.isfinite(history.drop(columns="step").to_numpy()).all()
            model = load_model(path, "cuda")
            with torch.no_grad():
                out = model.generate(torch.zeros(4, settings.z_dim, device="cuda"),
                                     model.content_of(torch.from_numpy(vectors[:4]).cuda()))
            print(f"DRAI {channels}ch: {len(history)} steps logged after a resume, finite={finite}, "
                  f"generated {tuple(out.shape)}, {seconds:.1f} s")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16)
    print(f"{'variant':20s} {'images':8s} {'step ms':>8s} {'img/s':>8s}")
    for name, variant in VARIANTS.items():
        for channels, t_dim in ((1, 17), (3, 3)):
            model, opt_g, opt_d = build(name, channels, t_dim, settings)
            model.cuda().to(memory_format=torch.channels_last)
            x = torch.randn(64, channels, 64, 64, device="cuda").tanh().contiguous(memory_format=torch.channels_last)
            t = torch.eye(t_dim, device="cuda")[torch.randint(0, t_dim, (64,), device="cuda")]
            noise = torch.Generator(device="cuda").manual_seed(0)
            x_t = transform(x, TRANSFORMS[0]) if variant.has("self_reg") else None

            def step():
                train_step(model, opt_g, opt_d, x, t, noise, x_t, autocast)
                if x_t is not None:
                    train_step(model, opt_g, opt_d, x_t, t, noise, x, autocast)

            for _ in range(3):
                step()
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(10):
                step()
            torch.cuda.synchronize()
            per_step = (time.perf_counter() - start) / 10
            images = 64 * (2 if x_t is not None else 1)
            print(f"{name:20s} {channels}ch      {per_step * 1e3:8.1f} {images / per_step:8.0f}", flush=True)


if __name__ == "__main__":
    main()
