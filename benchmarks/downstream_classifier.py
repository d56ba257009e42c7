"""The downstream classifier's cost and its real-only accuracy on a patch set, for a budget per preset.

Trains the classifier of ``downstream.classifier`` on a patch set's real training
items for each number of ``--steps`` (and ``--seeds``), as the rule
``downstream_real`` does, and prints per budget the seconds one training takes
and the accuracy and balanced accuracy on the real test items, beside the
majority class's accuracy; with ``--model``, also one run's ``downstream_run``
(its two mixes, generated only and real + generated) and its seconds.

    python benchmarks/downstream_classifier.py --patches results/demo/data/lidc/patches.npz --steps 100 300 600
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch
import yaml

from drai.checkpoints import load_model
from drai.config import resolve
from drai.evaluation import evaluation_data, generate_from_vectors
from drai.metrics.downstream import downstream_of_run, fit_and_score, model_task
from drai.metrics.settings import downstream_settings

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", required=True, help="a patches.npz of the workflow")
    parser.add_argument("--preset", default="demo", help="the preset whose downstream settings are the base")
    parser.add_argument("--steps", type=int, nargs="+", default=[300], help="training steps to compare")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="classifier seeds")
    parser.add_argument("--batch-size", type=int, help="instead of the preset's downstream.batch_size")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the rule's: 1)")
    parser.add_argument("--model", help="a trained model.pt of this patch set: time its downstream_run too")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = resolve({**yaml.safe_load((ROOT / "config.yaml").read_text()), "preset": args.preset})
    patches = Path(args.patches)
    dataset = patches.parent.name
    base = downstream_settings(config, dataset)
    base = replace(base, batch_size=args.batch_size or base.batch_size)
    data = evaluation_data(patches, dataset, base.options)
    task = model_task(data)
    counts = task.test_labels.tolist()
    majority = max(counts.count(k) for k in set(counts)) / len(counts)
    print(
        f"{dataset}: {len(task.train_labels)} training and {len(task.test_labels)} test items, classes "
        f"{', '.join(task.class_names)}; majority class {majority:.3f}; {base.classifier}, batch {base.batch_size}, "
        f"{args.threads} thread(s)"
    )
    print("| steps | seed | seconds | accuracy | balanced accuracy |\n|---|---|---|---|---|")
    for steps in args.steps:
        settings = replace(base, steps=steps)
        for seed in args.seeds:
            start = time.perf_counter()
            scored = fit_and_score(task, task.train_images, task.train_labels, settings, seed)
            print(
                f"| {steps} | {seed} | {time.perf_counter() - start:.1f} | {scored['accuracy']:.3f} | "
                f"{scored['balanced_accuracy']:.3f} |"
            )
    if args.model:
        model = load_model(args.model).eval()
        start = time.perf_counter()
        result = downstream_of_run(lambda v, s: generate_from_vectors(model, v, s), data, base, args.seeds[0])
        print(f"downstream_run of {args.model} ({base.steps} steps): {time.perf_counter() - start:.1f} s")
        for mix in ("real_mix", "balanced"):
            for key in ("generated_only", "real_plus_generated"):
                scored = result[mix][key]
                print(f"  {mix} {key}: accuracy {scored['accuracy']:.3f}, balanced {scored['balanced_accuracy']:.3f}")


if __name__ == "__main__":
    main()
