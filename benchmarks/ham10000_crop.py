"""HAM10000's crop (ham10000.crop): does a model's content code hold the lesion's size under each crop?

Renders the demo's synthetic HAM10000 once (or reads ``--raw``), makes a patch
set with each crop (``fixed`` and ``per_lesion``, the demo's other settings),
trains the 7-way evaluator with the demo's evaluator settings on each, trains
the models (``--variants``, demo training settings, ``--steps``; one thread per
run, ``--jobs`` runs at a time) and evaluates them as the workflow does. Prints,
per crop: the evaluator's test accuracy, real training images against real
test images in both FIDs (the floor), and per model FID of the logits, FID of
the pooled features, CGAcc and CIFC; then the ground-truth probes (linear,
grouped by lesion, as the audit computes them) of the lesion's size from the
style and the content code, beside the share of its variance that the lesion
class alone explains (a size the code holds only through the class is no more
than that). Runs resume from their checkpoints.

    python benchmarks/ham10000_crop.py --out /tmp/ham10000_crop --jobs 2
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, cross_val_predict

from drai.audit import ground_truth_of_run, probed_items
from drai.checkpoints import load_model
from drai.config import resolve
from drai.data.ham10000.factors import factor_table
from drai.data.ham10000.patches import CROPS
from drai.data.ham10000.pipeline import make_patch_set
from drai.data.ham10000.settings import ham_patch_set_settings, raw_settings
from drai.data.ham10000.synthetic import write_dataset
from drai.data.patchset import PatchSet
from drai.evaluation import evaluate_run, evaluation_data
from drai.io import write_json
from drai.metrics.evaluator import save_evaluator, train_evaluator
from drai.metrics.fidelity import fidelity_metrics
from drai.metrics.settings import EvaluationSettings, audit_settings, evaluation_settings, evaluator_settings
from drai.train.run import load_training_set, train
from drai.train.settings import TrainSettings, train_settings

ROOT = Path(__file__).resolve().parent.parent
DATASET = "ham10000"


def demo_config() -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["preset"] = "demo"
    return resolve(config)


def patch_set(raw: Path, folder: Path, crop: str, config: dict) -> Path:
    """The demo's patch set of ``raw`` with ``crop``, under ``folder`` (kept: made once)."""
    patches = folder / "patches.npz"
    if not patches.exists():
        settings = ham_patch_set_settings(config)
        settings = replace(settings, lesion=replace(settings.lesion, crop=crop))
        outputs = {
            name: folder / f"{name}.{ext}"
            for name, ext in (
                ("patches", "npz"),
                ("table", "csv"),
                ("counts_csv", "csv"),
                ("counts_md", "md"),
                ("skipped", "csv"),
                ("qc", "png"),
            )
        }
        make_patch_set({"source": "synthetic", "root": str(raw)}, settings, outputs, processes=2)
    return patches


def evaluator_of(patches: Path, folder: Path, config: dict, steps: int | None) -> dict:
    path, report_path = folder / "evaluator.pt", folder / "evaluator.json"
    if not report_path.exists():
        torch.set_num_threads(2)
        data = evaluation_data(patches, DATASET)
        settings = evaluator_settings(config, DATASET)
        model, report = train_evaluator(
            data.evaluator_train.images,
            data.evaluator_train.labels,
            data.evaluator_test.images,
            data.evaluator_test.labels,
            len(data.class_names),
            replace(settings, steps=steps or settings.steps),
            progress=False,
        )
        save_evaluator(model, path)
        # the floor: real training images (the models' rows, no flipped copies) against the real test images
        patch_rows = PatchSet.load(patches, DATASET)
        train_rows = patch_rows.is_train & patch_rows["modelled"] & ~patch_rows["augmented"]
        floor = fidelity_metrics(data.test.images, patch_rows.crops(train_rows), path, batch_size=250)
        write_json(report_path, {**report, "real_train_vs_test": floor})
    return {"path": str(path), **json.loads(report_path.read_text())}


def size_from_class(factors: pd.DataFrame, rows: np.ndarray, groups: np.ndarray, folds: int) -> float:
    """Cross-validated R^2 of the lesion size from the one-hot lesion class alone (the same rows and folds)."""
    table = factors.set_index("row").loc[rows]
    onehot = pd.get_dummies(table["lesion_class"]).to_numpy(float)
    folds = min(folds, len(np.unique(groups)))
    predicted = cross_val_predict(
        RidgeCV(alphas=np.logspace(-3, 3, 13)), onehot, table["lesion_size"], groups=groups, cv=GroupKFold(folds)
    )
    return float(max(r2_score(table["lesion_size"], predicted), 0.0))


def one_run(job: dict) -> dict:
    torch.set_num_threads(1)
    run_dir = Path(job["run_dir"])
    result_path = run_dir / "result.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    started = time.perf_counter()
    images, vectors = load_training_set(job["patches"])
    settings = TrainSettings(**job["settings"])
    model_path = train(images, vectors, job["variant"], run_dir, settings, device="cpu", progress=False)
    model = load_model(model_path)
    data = evaluation_data(job["patches"], DATASET)
    metrics = evaluate_run(model, data, job["evaluator"], EvaluationSettings(**job["evaluation"]), job["patches"])
    factors = pd.read_csv(job["factors"])
    audit = audit_settings(job["config"])
    truth = ground_truth_of_run(model, DATASET, job["patches"], factors, audit, job["evaluation"]["seed"])
    size = next(row for row in truth["scores"] if row["factor"] == "lesion_size")
    result = {
        "crop": job["crop"],
        "variant": job["variant"],
        "seed": settings.seed,
        "steps": settings.steps,
        "metrics": metrics,
        "size_from_content": size["content"],
        "size_from_style": size["style"],
        "separation": truth["separation"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json(result_path, result)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/ham10000_crop")
    parser.add_argument("--raw", default=None, help="a synthetic HAM10000 folder (default: render the demo's)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the demo's)")
    parser.add_argument("--evaluator-steps", type=int, default=None, help="(default: the demo's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--variants", nargs="+", default=["DRAI", "DAI"])
    parser.add_argument("--crops", nargs="+", default=list(CROPS))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    config = demo_config()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    raw = Path(args.raw) if args.raw else out / "raw"
    if not raw.exists():
        write_dataset(raw, raw_settings(config).synthetic)
    base = train_settings(config, DATASET, seed=0)
    steps = args.steps or base.steps
    jobs, evaluators, class_share = [], {}, {}
    for crop in args.crops:
        folder = out / crop
        folder.mkdir(exist_ok=True)
        patches = patch_set(raw, folder, crop, config)
        evaluators[crop] = evaluator_of(patches, folder, config, args.evaluator_steps)
        factors = folder / "factors.csv"
        if not factors.exists():
            factor_table(patches, root=raw).to_csv(factors, index=False)
        audit = audit_settings(config)
        rows, groups = probed_items(PatchSet.load(patches, DATASET), audit.max_items, config["evaluate"]["seed"])
        class_share[crop] = size_from_class(pd.read_csv(factors), rows, groups, audit.folds)
        jobs += [
            {
                "run_dir": str(folder / f"{variant}-seed{seed}"),
                "crop": crop,
                "patches": str(patches),
                "factors": str(factors),
                "variant": variant,
                "settings": asdict(replace(base, steps=steps, seed=seed)),
                "evaluator": evaluators[crop]["path"],
                "evaluation": asdict(evaluation_settings(config, DATASET)),
                "config": config,
            }
            for seed in args.seeds
            for variant in args.variants
        ]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one_run, jobs))

    print(f"\nHAM10000, demo data and settings, {steps} steps, seeds {args.seeds}\n")
    print("| crop | evaluator test accuracy (majority) | real train vs test: FID logits / pooled |")
    print("|---|---|---|")
    for crop in args.crops:
        e = evaluators[crop]
        floor = e["real_train_vs_test"]
        print(
            f"| {crop} | {e['test_accuracy']:.3f} ({e['chance_accuracy']:.3f}) | "
            f"{floor['fid_logits']:.2f} / {floor['fid']:.1f} |"
        )
    print(
        "\n| crop | model | seed | FID logits | FID pooled | CGAcc (chance) | CIFC | size R² from content | "
        "from style | from the class alone | separation |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        m = r["metrics"]
        print(
            f"| {r['crop']} | {r['variant']} | {r['seed']} | {m['fid_logits']:.2f} | {m['fid']:.1f} | "
            f"{m['cgacc']:.3f} ({m['cgacc_chance']:.3f}) | {m['cifc']:.3f} | {r['size_from_content']:.3f} | "
            f"{r['size_from_style']:.3f} | {class_share[r['crop']]:.3f} | {r['separation']:.3f} |"
        )


if __name__ == "__main__":
    main()
