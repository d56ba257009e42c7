"""Benchmark: training throughput per variant, one run and k runs sharing a device, and the
projected GPU-hours of the `paper` preset's training.

For each variant and image type it times the real training loop (``drai.train.train``:
batches drawn and augmented on the host, losses read back, checkpoints) under two sets of
speed settings:

* ``before``: the eager settings (losses read back every step, torch's default Adam, no
  torch.compile): what training did before the settings existed;
* ``after``: the `paper` preset's speed settings (``train.loss_readback_every``,
  ``train.fused_adam``, ``train.compile_mode``, ``train.cuda_graph``; ``--compile-mode``
  overrides the third, ``--cuda-graph`` sets the last: the step captured once as a CUDA
  graph and replayed, which needs a GPU).

A step's time is the time from step W to step W + N of one run, over N (the device
synchronized at both ends), so that compilation, the first steps, the checkpoints and the
writing of the run's files are left out (the paper preset writes a checkpoint every 1000
steps). With k runs
(``--concurrency``) k processes train at once on the same device, each its own run; the
step time is then each run's own, and the device's throughput k times its images per step
over it. The projection sums over the preset's runs (datasets x variants x seeds, read
from config.yaml): steps x step time / k.

``--curve-steps S`` also trains DRAI (``--curve-variant``) for S steps with both settings
from the same seed and compares each loss term's mean over the second half of the steps:
the `after` run passes when every term's mean lies within ``--curve-tolerance`` (0.2) times
the eager run's 5-95 % range of that term over the same steps.

``benchmarks/sync_sites.py`` says where a step makes the host wait for the GPU.

On a GPU machine, from the checkout:

    python benchmarks/train_throughput.py --concurrency 1,8 --curve-steps 3000
    python benchmarks/train_throughput.py --concurrency 1,8 --curve-steps 3000 --cuda-graph

A tiny run on a CPU (shows that it works; its figures are CPU figures, not GPU ones):

    python benchmarks/train_throughput.py --device cpu --batch 4 --width 4 --warmup 2 --steps 3 \\
        --variants DAI,cInfoGAN --concurrency 1,2
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch._dynamo
import yaml

from drai.checkpoints import EAGER_SPEED_SETTINGS
from drai.config import resolve
from drai.models.variants import VARIANTS, get_variant
from drai.train.run import train
from drai.train.settings import train_settings

IMAGE_TYPES = {"lidc": (1, 17), "ham10000": (3, 3)}
CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def paper_config(path: Path = CONFIG) -> dict:
    config = yaml.safe_load(path.read_text())
    config["preset"] = "paper"
    return resolve(config)


def paper_preset(path: Path = CONFIG) -> dict:
    return paper_config(path)["train"]


def fake_patches(channels: int, t_dim: int, stored: int = 72, n: int = 512, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = np.tanh(rng.normal(size=(n, channels, stored, stored))).astype(np.float32)
    vectors = np.eye(t_dim, dtype=np.float32)[rng.integers(0, t_dim, n)]
    return images, vectors


def step_time(images, vectors, variant, settings, device, warmup, steps, scratch, barrier) -> float:
    """Seconds per step from step ``warmup`` to step ``warmup + steps`` of one run."""
    marks = {}

    def mark(step):
        if step in (warmup, warmup + steps):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            marks[step] = time.perf_counter()

    barrier.wait()  # k runs time their steps side by side
    # One step more: the final checkpoint and files come after the timed steps.
    train(
        images,
        vectors,
        variant,
        Path(tempfile.mkdtemp(dir=scratch)),
        replace(settings, steps=warmup + steps + 1),
        device=device,
        progress=False,
        after_step=mark,
    )
    return (marks[warmup + steps] - marks[warmup]) / steps


def worker(jobs, settings_by_mode, device, warmup, steps, barrier, results, rank, k, threads=None):
    # On a GPU each process needs a core of its own to launch kernels: share the cores out, never oversubscribe.
    torch.set_num_threads(threads or (1 if device == "cpu" else max(1, (os.cpu_count() or 1) // k)))
    # One process times every variant: let torch compile each of them instead of falling back to eager
    # after its default limit of recompilations of the one compiled function.
    for limit in ("recompile_limit", "cache_size_limit"):
        if hasattr(torch._dynamo.config, limit):
            setattr(torch._dynamo.config, limit, 1024)
    with tempfile.TemporaryDirectory() as scratch:
        for mode, variant, dataset in jobs:
            channels, t_dim = IMAGE_TYPES[dataset]
            settings = replace(settings_by_mode[mode], seed=rank)
            images, vectors = fake_patches(channels, t_dim)
            seconds = step_time(images, vectors, variant, settings, device, warmup, steps, Path(scratch), barrier)
            results.put((mode, variant, dataset, rank, seconds))


def measure(jobs, settings_by_mode, device, warmup, steps, k, threads=None) -> pd.DataFrame:
    """Every job's step time with k runs at once (k processes), one row per job and process."""
    context = mp.get_context("spawn")  # CUDA in forked children does not work
    barrier, results = context.Barrier(k), context.Queue()
    processes = [
        context.Process(
            target=worker,
            args=(jobs, settings_by_mode, device, warmup, steps, barrier, results, rank, k, threads),
        )
        for rank in range(k)
    ]
    for process in processes:
        process.start()
    rows = [results.get() for _ in range(len(jobs) * k)]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a benchmark process failed (exit code {process.exitcode})")
    return pd.DataFrame(rows, columns=["mode", "variant", "dataset", "rank", "step_s"])


def curve_run(images, vectors, variant, run_dir, settings, device) -> None:
    torch.set_num_threads(1 if device == "cpu" else max(1, (os.cpu_count() or 2) // 2))
    train(images, vectors, variant, run_dir, settings, device=device, progress=False)


def compare_curves(variant, dataset, settings_by_mode, device, steps, tolerance) -> bool:
    """Both settings from one seed; each term's mean over the second half within tolerance x eager's 5-95 % range."""
    channels, t_dim = IMAGE_TYPES[dataset]
    images, vectors = fake_patches(channels, t_dim)
    curves = {}
    with tempfile.TemporaryDirectory() as scratch:
        runs = {
            mode: (
                images,
                vectors,
                variant,
                Path(scratch) / mode,
                replace(settings_by_mode[mode], steps=steps, seed=0),
                device,
            )
            for mode in ("before", "after")
        }
        # Side by side, one process each: on a GPU neither waits for the other's kernels much.
        with mp.get_context("spawn").Pool(len(runs)) as pool:
            pool.starmap(curve_run, runs.values())
        for mode, run in runs.items():
            curves[mode] = pd.read_csv(run[3] / "losses.csv").set_index("step").iloc[steps // 2 :]
    print(
        f"\nloss curves of {variant} on {dataset}-shaped data, steps {steps // 2 + 1}-{steps}, same seed "
        f"(tolerance: |mean after - mean before| <= {tolerance} x before's 5-95 % range)"
    )
    print(f"{'term':16s} {'before':>9s} {'after':>9s} {'range':>9s} {'ok':>4s}")
    passed = True
    for term in curves["before"].columns:
        before, after = curves["before"][term], curves["after"][term]
        spread = float(before.quantile(0.95) - before.quantile(0.05))
        ok = abs(after.mean() - before.mean()) <= tolerance * spread
        passed &= bool(ok)
        print(f"{term:16s} {before.mean():9.4f} {after.mean():9.4f} {spread:9.4f} {'yes' if ok else 'NO':>4s}")
    print(f"loss curves {'match' if passed else 'DIFFER'} within the tolerance")
    return passed


def projected_step_s(timed: pd.DataFrame, variant: str, dataset: str) -> float:
    """The step time of (variant, dataset) as timed; if not timed, the variant's mean over the data sets
    timed; if the variant was not timed at all, the mean of everything timed."""
    own = timed[(timed["variant"] == variant) & (timed["dataset"] == dataset)]["step_s"]
    if len(own):
        return float(own.mean())
    same_variant = timed[timed["variant"] == variant]["step_s"]
    return float(same_variant.mean() if len(same_variant) else timed["step_s"].mean())


def projection(table: pd.DataFrame, paper: dict, variants: list[str], datasets: list[str], runs: int) -> str:
    """The paper preset's training in device-hours, per timed (mode, k): steps x step time / k, summed."""
    lines = [f"\nprojected training of the paper preset ({runs} runs x {paper['steps']} steps / k), device-hours:"]
    for (mode, k), group in table.groupby(["mode", "k"]):
        seconds = sum(projected_step_s(group, v, d) for v in paper["variants"] for d in paper["datasets"])
        lines.append(f"  {mode:7s} k={k}: {seconds * paper['steps'] * len(paper['seeds']) / k / 3600:10.2f} h")
    missing = sorted(set(paper["variants"]) - set(variants)) + sorted(set(paper["datasets"]) - set(datasets))
    if missing:
        lines.append(
            f"  (not timed: {', '.join(missing)}; a data set not timed counts as the variant's mean over "
            f"those timed, a variant not timed as the mean of all timed)"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--variants", default=None, help="comma-separated; default: the paper preset's")
    parser.add_argument("--datasets", default=None, help="image types, comma-separated; default: the paper preset's")
    parser.add_argument("--batch", type=int, default=None, help="default: the paper preset's")
    parser.add_argument("--width", type=int, default=None, help="default: the paper preset's")
    parser.add_argument("--warmup", type=int, default=10, help="steps before the timed ones (compilation included)")
    parser.add_argument("--steps", type=int, default=50, help="timed steps")
    parser.add_argument("--concurrency", default="1,4", help="runs at once on the device, comma-separated")
    parser.add_argument("--compile-mode", default=None, help="the `after` compile mode; default: the paper preset's")
    parser.add_argument(
        "--cuda-graph", action="store_true", help="the `after` settings with train.cuda_graph: true (a GPU only)"
    )
    parser.add_argument("--curve-steps", type=int, default=0, help="steps of the loss-curve comparison (0: none)")
    parser.add_argument("--curve-variant", default="DRAI")
    parser.add_argument("--curve-tolerance", type=float, default=0.2)
    parser.add_argument("--csv", default=None, help="also write the step-time table here")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads per run; default: 1 on a CPU, the cores / k on a GPU"
    )
    args = parser.parse_args()
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1")
    if args.cuda_graph and not args.device.startswith("cuda"):
        parser.error("--cuda-graph needs a CUDA device (train.cuda_graph)")

    paper = paper_preset()
    variants = args.variants.split(",") if args.variants else paper["variants"]
    datasets = args.datasets.split(",") if args.datasets else paper["datasets"]
    for name in variants:
        get_variant(name)
    base = train_settings(paper_config(), "lidc", seed=0)
    base = replace(
        base, batch_size=args.batch or base.batch_size, width=args.width or base.width, checkpoint_every=10**9
    )  # the final step's checkpoint only, after the timed steps
    after = replace(
        base, compile_mode=args.compile_mode or base.compile_mode, cuda_graph=args.cuda_graph or base.cuda_graph
    )
    settings_by_mode = {"before": replace(base, **EAGER_SPEED_SETTINGS), "after": after}
    levels = [int(k) for k in args.concurrency.split(",")]
    runs = len(paper["seeds"]) * len(paper["datasets"]) * len(paper["variants"])
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU (figures are not GPU figures)"
    print(f"torch {torch.__version__}, device {args.device}: {name}")
    print(
        f"paper preset: {runs} runs ({len(paper['datasets'])} datasets x {len(paper['variants'])} variants x "
        f"{len(paper['seeds'])} seeds) of {paper['steps']} steps; timed at batch {base.batch_size}, width {base.width}"
    )
    speed = {k: getattr(after, k) for k in EAGER_SPEED_SETTINGS}
    print(f"before: {dict(EAGER_SPEED_SETTINGS)}\nafter:  {speed}")
    print(f"step time: {args.steps} steps after {args.warmup}, the real training loop\n")

    tables = []
    for k in levels:  # each level's rows as soon as they are measured: a long benchmark shows its progress
        modes = ["before", "after"] if k == 1 else ["after"]
        jobs = [(mode, variant, dataset) for mode in modes for variant in variants for dataset in datasets]
        table = measure(jobs, settings_by_mode, args.device, args.warmup, args.steps, k, args.threads)
        table = table.groupby(["mode", "variant", "dataset"], as_index=False)["step_s"].mean()
        table["k"] = k
        table["images_per_step"] = [base.batch_size * (2 if VARIANTS[v].trains_twice else 1) for v in table["variant"]]
        table["images_per_s"] = k * table["images_per_step"] / table["step_s"]
        tables.append(table)
        print(f"{'mode':7s} {'k':>2s} {'variant':20s} {'dataset':9s} {'step ms':>9s} {'img/s (k runs)':>15s}")
        for row in table.sort_values(["variant", "dataset", "mode"], ascending=[True, True, False]).itertuples():
            print(
                f"{row.mode:7s} {row.k:2d} {row.variant:20s} {row.dataset:9s} {row.step_s * 1e3:9.1f} "
                f"{row.images_per_s:15.1f}",
                flush=True,
            )
        print(projection(pd.concat(tables, ignore_index=True), paper, variants, datasets, runs), flush=True)
        if args.csv:
            pd.concat(tables, ignore_index=True).to_csv(args.csv, index=False)

    if args.curve_steps:
        compare_curves(
            args.curve_variant, datasets[0], settings_by_mode, args.device, args.curve_steps, args.curve_tolerance
        )


if __name__ == "__main__":
    main()
