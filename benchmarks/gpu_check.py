"""GPU check: k training runs share one GPU, each is stopped half-way and resumes on its own.

As ``profiles/local-gpus`` places them (``train.runs_per_gpu`` slots per GPU,
:func:`drai.devices.claim_device`), k processes each claim a slot and train a
run of their own seed on the GPU at the same time (bf16 autocast,
channels_last, the `paper` preset's speed settings); each stops after half
its steps, as a killed job would, and a second round of k processes resumes
every run from its own checkpoint. The check passes when every run resumed
from its half-way step, finished with a complete, finite loss record, and
the k runs' weights differ from one another (k runs, not one).

    python benchmarks/gpu_check.py [--runs 4] [--steps 40]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from drai.checkpoints import load_checkpoint
from drai.devices import claim_device
from drai.train.run import train
from drai.train.settings import train_settings
from train_throughput import fake_patches, paper_config  # beside this file


def one_run(
    run_dir: str, seed: int, steps: int, stop_after: int | None, lock_dir: str, slots: int, requested: str
) -> dict:
    settings = replace(
        train_settings(paper_config(), "lidc", seed=seed),
        steps=steps,
        checkpoint_every=max(1, steps // 4),
        loss_readback_every=max(1, steps // 8),
    )
    images, vectors = fake_patches(1, 17, seed=seed)
    torch.set_num_threads(1)
    with claim_device(requested, lock_dir, slots=slots) as device:
        device = "cuda" if device == "auto" else device
        start = time.perf_counter()
        train(images, vectors, "DRAI", Path(run_dir), settings, device=device, progress=False, stop_after=stop_after)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return {"device": device, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="runs sharing the GPU (its slots)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--device", default="auto", help="auto: the GPUs, through their slots; cpu: a dry run")
    args = parser.parse_args()
    if args.device != "cpu" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this check needs a GPU (--device cpu runs it on the CPU)")
    where = (
        "the CPU" if args.device == "cpu" else f"{torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} GPU(s))"
    )
    print(f"torch {torch.__version__}: {args.runs} DRAI runs of {args.steps} steps share {where}")
    context = mp.get_context("spawn")
    half = args.steps // 2
    with tempfile.TemporaryDirectory() as scratch:
        locks = Path(scratch) / "locks"
        runs = [str(Path(scratch) / f"seed{seed}") for seed in range(args.runs)]
        for label, stop_after in (("first half", half), ("resumed", None)):
            with context.Pool(args.runs) as pool:
                results = pool.starmap(
                    one_run,
                    [
                        (run, seed, args.steps, stop_after, str(locks), args.runs, args.device)
                        for seed, run in enumerate(runs)
                    ],
                )
            print(
                f"{label}: "
                + ", ".join(f"seed {seed} on {r['device']} {r['seconds']:.1f} s" for seed, r in enumerate(results))
            )
            if stop_after is not None:
                steps = [load_checkpoint(Path(run) / "checkpoint.pt")["step"] for run in runs]
                assert steps == [half] * args.runs, f"checkpoints after the first half at steps {steps}, not {half}"
                assert not any((Path(run) / "model.pt").exists() for run in runs)
        finals = []
        for run in runs:
            history = pd.read_csv(Path(run) / "losses.csv")
            assert history["step"].tolist() == list(range(1, args.steps + 1)), f"{run}: steps logged wrongly"
            assert np.isfinite(history.drop(columns="step").to_numpy()).all(), f"{run}: a loss is not finite"
            final = load_checkpoint(Path(run) / "model.pt")
            assert final["step"] == args.steps
            finals.append(final["model"])
        for i in range(1, len(finals)):
            assert not all(torch.equal(finals[0][key], finals[i][key]) for key in finals[0]), "two runs are one"
    print(
        f"passed: {args.runs} runs shared the device, each stopped at step {half}, resumed from its own checkpoint "
        f"and finished {args.steps} steps with finite losses; their weights all differ"
    )


if __name__ == "__main__":
    main()
