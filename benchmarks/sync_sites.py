"""Where a training step makes the host wait for the GPU: every synchronizing call, counted by its line.

Trains a variant for a few steps on random data with torch's sync debug mode
on, and attributes each synchronization to the innermost line of the
project's code that caused it (the frames of ``drai/``), with the call chain.
A step that never synchronizes lets the host queue the next steps' kernels
while the GPU runs; each synchronization drains that queue.

    python benchmarks/sync_sites.py [--variant DRAI] [--steps 6]
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import traceback
import warnings
from dataclasses import replace
from pathlib import Path

import torch

from drai.train.run import train
from drai.train.settings import train_settings
from train_throughput import IMAGE_TYPES, fake_patches, paper_config  # beside this file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="DRAI")
    parser.add_argument("--dataset", default="lidc", choices=sorted(IMAGE_TYPES))
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: synchronizations exist only on a GPU")
    settings = replace(
        train_settings(paper_config(), args.dataset, seed=0), steps=args.steps + 3, checkpoint_every=10**9
    )
    images, vectors = fake_patches(*IMAGE_TYPES[args.dataset])
    sites: collections.Counter = collections.Counter()
    counting = {"on": False}

    def record(message, category, filename, lineno, file=None, line=None):
        if not counting["on"] or "synchroniz" not in str(message):
            return
        ours = [f for f in traceback.extract_stack()[:-1] if "/drai/" in f.filename or "benchmarks/" in f.filename]
        chain = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.line}" for f in reversed(ours[-3:]))
        sites[chain or f"{filename}:{lineno}"] += 1

    def after_step(step):
        # Steps 1-2 warm up (first allocations); the last step (a read-back, the final files) is not counted.
        counting["on"] = 2 <= step < args.steps + 2

    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode("warn")
        try:
            train(
                images,
                vectors,
                args.variant,
                Path(scratch) / "run",
                settings,
                device="cuda",
                progress=False,
                after_step=after_step,
            )
        finally:
            torch.cuda.set_sync_debug_mode(0)
    total = sum(sites.values())
    print(
        f"{args.variant} on {args.dataset}-shaped data, paper preset settings: {total / args.steps:.1f} "
        f"synchronizations per step over {args.steps} steps"
    )
    for chain, count in sites.most_common():
        print(f"{count / args.steps:6.1f}/step  {chain}")


if __name__ == "__main__":
    main()
