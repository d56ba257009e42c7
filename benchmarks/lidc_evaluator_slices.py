"""The LIDC evaluator trained and tested on central slices only or on every slice (lidc.evaluator_slices).

With ``lidc.patch_slices: all`` every slice a nodule crosses carries the whole
nodule's size bin, so an edge slice of a large nodule is labelled large. This
trains the evaluator both ways on one patch set (made with ``patch_slices:
all``), with the demo's evaluator settings (``--steps`` and ``--seeds`` aside),
and scores each on the central test slices and on every test slice: test
accuracy, the majority class's share and the recall of each size bin. Results
are kept per run under ``--out``, so a stopped benchmark continues.

    python benchmarks/lidc_evaluator_slices.py --patches results/data/lidc/patches.npz --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import yaml

from drai.config import resolve
from drai.data.lidc.dataset import EVALUATOR_SLICES
from drai.data.lidc.labels import SIZE_BIN_LABELS
from drai.evaluation import evaluation_data
from drai.io import write_json
from drai.metrics.evaluator import predict, train_evaluator
from drai.metrics.settings import evaluator_settings

ROOT = Path(__file__).resolve().parent.parent


def demo_config() -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["preset"] = "demo"
    return resolve(config)


def scores(predicted: np.ndarray, labels: np.ndarray, classes: int) -> dict:
    return {
        "images": int(len(labels)),
        "accuracy": float((predicted == labels).mean()),
        "majority": float(np.bincount(labels, minlength=classes).max() / len(labels)),
        "recall": [
            float((predicted[labels == k] == k).mean()) if (labels == k).any() else None for k in range(classes)
        ],
        "count": np.bincount(labels, minlength=classes).tolist(),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", default="results/data/lidc/patches.npz")
    parser.add_argument("--out", default="results/benchmarks/lidc_evaluator_slices")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=None, help="evaluator steps (default: the demo's)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    config = demo_config()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = {
        slices: evaluation_data(args.patches, "lidc", {"evaluator_labels": "size", "evaluator_slices": slices})
        for slices in EVALUATOR_SLICES
    }
    classes = len(SIZE_BIN_LABELS)
    print("Training / test images per size bin", *SIZE_BIN_LABELS, sep=" | ")
    for slices, d in data.items():
        train_count = np.bincount(d.evaluator_train.labels, minlength=classes).tolist()
        test_count = np.bincount(d.evaluator_test.labels, minlength=classes).tolist()
        print(f"{slices}: training {train_count} (n={sum(train_count)}), test {test_count} (n={sum(test_count)})")

    results = []
    for seed in args.seeds:
        for slices in EVALUATOR_SLICES:
            path = out / f"{slices}-seed{seed}.json"
            if not path.exists():
                settings = replace(
                    evaluator_settings(config, "lidc"),
                    seed=seed,
                    options={"evaluator_labels": "size", "evaluator_slices": slices},
                )
                if args.steps:
                    settings = replace(settings, steps=args.steps)
                d = data[slices]
                started = time.perf_counter()
                model, report = train_evaluator(
                    d.evaluator_train.images,
                    d.evaluator_train.labels,
                    d.evaluator_test.images,
                    d.evaluator_test.labels,
                    classes,
                    settings,
                    progress=False,
                )
                tested = {
                    f"on {name}": scores(
                        predict(model, data[name].evaluator_test.images).argmax(1),
                        data[name].evaluator_test.labels,
                        classes,
                    )
                    for name in EVALUATOR_SLICES
                }
                write_json(
                    path,
                    {
                        "trained_on": slices,
                        "seed": seed,
                        "steps": settings.steps,
                        "seconds": round(time.perf_counter() - started, 1),
                        **tested,
                    },
                )
            results.append(json.loads(path.read_text()))
            r = results[-1]
            print(
                f"trained on {r['trained_on']}, seed {seed}: central {r['on central']['accuracy']:.3f}, "
                f"every slice {r['on all']['accuracy']:.3f} ({r['seconds']:.0f} s)",
                flush=True,
            )

    print(
        "\n| trained on | seed | tested on | accuracy (majority class) | recall " + " / ".join(SIZE_BIN_LABELS) + " |"
    )
    print("|---|---|---|---|---|")
    for r in results:
        for name in EVALUATOR_SLICES:
            s = r[f"on {name}"]
            recall = " / ".join("—" if v is None else f"{v:.2f}" for v in s["recall"])
            print(
                f"| {r['trained_on']} | {r['seed']} | {name} ({s['images']}) | "
                f"{s['accuracy']:.3f} ({s['majority']:.3f}) | {recall} |"
            )


if __name__ == "__main__":
    main()
