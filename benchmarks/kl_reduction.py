"""KL reduction (eq. 16): CGAcc, FID and CIFC of DRAI and DAI with the KL summed or averaged over code dimensions.

Trains every (variant, reduction, seed) on a patch set with the demo preset's
training settings but ``--steps`` steps, trains the evaluator once with the
demo's evaluator settings, evaluates each run as the workflow does and prints
a table (per seed, and the mean over seeds). One thread per run, ``--jobs``
runs at a time; runs resume from their checkpoints, so a killed benchmark
continues where it stopped.

    python benchmarks/kl_reduction.py --patches results/demo/data/lidc/patches.npz --steps 1500 --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import yaml

from drai.checkpoints import load_model
from drai.config import resolve
from drai.evaluation import evaluate_run, evaluation_data
from drai.io import write_json
from drai.metrics.evaluator import save_evaluator, train_evaluator
from drai.metrics.settings import EvaluationSettings, evaluation_settings, evaluator_settings
from drai.train.run import load_training_set, train
from drai.train.settings import TrainSettings, train_settings

ROOT = Path(__file__).resolve().parent.parent


def demo_config() -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["preset"] = "demo"
    return resolve(config)


def one_run(job: dict) -> dict:
    torch.set_num_threads(1)
    started = time.perf_counter()
    run_dir = Path(job["run_dir"])
    metrics_path = run_dir / "metrics.json"
    if metrics_path.exists():
        return json.loads(metrics_path.read_text())
    images, vectors = load_training_set(job["patches"])
    settings = TrainSettings(**job["settings"])
    model_path = train(images, vectors, job["variant"], run_dir, settings, device="cpu", progress=False)
    data = evaluation_data(job["patches"], "lidc", job["evaluation"]["options"])
    metrics = evaluate_run(
        load_model(model_path), data, job["evaluator"], EvaluationSettings(**job["evaluation"]), job["patches"]
    )
    result = {
        "variant": job["variant"],
        "kl_reduction": settings.kl_reduction,
        "seed": settings.seed,
        "steps": settings.steps,
        "augment": settings.augment,
        "metrics": metrics,
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json(metrics_path, result)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", default="results/demo/data/lidc/patches.npz")
    parser.add_argument("--out", default="results/benchmarks/kl_reduction")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--variants", nargs="+", default=["DRAI", "DAI"])
    parser.add_argument("--reductions", nargs="+", default=["mean", "sum"])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    config = demo_config()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    evaluator_path = out / "evaluator.pt"
    if not evaluator_path.exists():
        torch.set_num_threads(args.jobs)
        data = evaluation_data(args.patches, "lidc", evaluator_settings(config, "lidc").options)
        evaluator, report = train_evaluator(
            data.train.images,
            data.train.labels,
            data.test.images,
            data.test.labels,
            len(data.class_names),
            evaluator_settings(config, "lidc"),
            progress=False,
        )
        print(
            f"evaluator test accuracy {report['test_accuracy']:.3f} (chance {report['chance_accuracy']:.3f})",
            flush=True,
        )
        save_evaluator(evaluator, evaluator_path)

    base = train_settings(config, "lidc", seed=0)
    jobs = [
        {
            "run_dir": str(out / f"{variant}-{reduction}-seed{seed}"),
            "patches": args.patches,
            "variant": variant,
            "settings": asdict(replace(base, steps=args.steps, kl_reduction=reduction, seed=seed)),
            "evaluator": str(evaluator_path),
            "evaluation": asdict(evaluation_settings(config, "lidc")),
        }
        for seed in args.seeds
        for variant in args.variants
        for reduction in args.reductions
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = []
        for result in pool.map(one_run, jobs):
            m = result["metrics"]
            print(
                f"{result['variant']:5s} {result['kl_reduction']:4s} seed {result['seed']}: CGAcc {m['cgacc']:.3f} "
                f"FID {m['fid']:.1f} CIFC {m['cifc']:.3f} ({result['seconds']:.0f} s)",
                flush=True,
            )
            results.append(result)

    print(
        f"\nLIDC, demo settings, {args.steps} steps, augment {base.augment}; mean over seeds {args.seeds} "
        "(per seed in brackets)\n"
    )
    print("| model | KL reduction | CGAcc | FID | CIFC |")
    print("|---|---|---|---|---|")
    for variant in args.variants:
        for reduction in args.reductions:
            rows = [r["metrics"] for r in results if r["variant"] == variant and r["kl_reduction"] == reduction]

            def cell(key, fmt, rows=rows):
                values = [row[key] for row in rows]
                return f"{np.mean(values):{fmt}} ({', '.join(f'{v:{fmt}}' for v in values)})"

            print(
                f"| {variant} | {reduction} | {cell('cgacc', '.3f')} | {cell('fid', '.0f')} | {cell('cifc', '.3f')} |"
            )


if __name__ == "__main__":
    main()
