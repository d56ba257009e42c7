"""One model's metrics along its training: how far FID and CGAcc move between nearby steps.

Trains ``--variant`` on one data set of a finished demo run (``--workdir``:
its patches and evaluator) with the demo preset's training settings, one
thread per run as the demo trains, and keeps a copy of the model every
``--every`` steps (the copy is the run's own checkpoint, so with one
thread the steps are those of the workflow's run of the same seed: the last
one is its ``model.pt``, or with weight averaging (``train.average_window``)
the last step before the average). Then evaluates every copy and the untrained
network (step 0) as the rule ``run_metrics`` does and prints, per seed and
step, FID, CGAcc and CGAcc's chance level (``cgacc_chance``: the same
predictions against shuffled conditions), and per step the range over seeds.
``--threads``: torch threads per run, for training and evaluation (one and
two sum in different orders, as another processor does). Everything is
also written to ``<out>/.../curve.json``. Runs resume from their
checkpoints, and each step's metrics are kept per evaluator (by the
evaluator file's hash), so a killed benchmark continues where it stopped
and another ``--workdir``'s evaluator reuses the trained steps. The
summary covers every seed evaluated so far in that folder (threads and
evaluator), and ends with the learning check (:mod:`drai.learning`) of the
models at ``--check-step`` against the untrained networks over those seeds.
``--combine`` prints the learning check over the replicates of several
``curve.json`` files (for example one and two threads, or two evaluators):
a replicate is a seed, a thread count and an evaluator.

    python benchmarks/learning_curve.py --workdir . --dataset lidc --seeds 0 1 2 --every 50
    python benchmarks/learning_curve.py --check-step 300 \
        --combine results/benchmarks/learning_curve/lidc/DRAI/threads*/evaluated-*/curve.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from drai.checkpoints import load_model
from drai.evaluation import evaluate_run, evaluation_data
from drai.io import atomic_path, write_json, write_text
from drai.learning import learning_check, learning_markdown
from drai.metrics.settings import EvaluationSettings, evaluation_settings
from drai.train.run import load_training_set, save_untrained, train
from drai.train.settings import TrainSettings, train_settings
from kl_reduction import demo_config  # beside this file

REPORTED = ("fid", "cgacc", "cgacc_chance", "cifc")


def snapshot_steps(steps: int, every: int) -> list[int]:
    """The steps whose model is evaluated: 0 (untrained), every ``every``-th, and the last."""
    return sorted({0, *range(every, steps + 1, every), steps})


def evaluated(sha256: str) -> str:
    """The folder name of the metrics one evaluator (by its file's hash) gave."""
    return f"evaluated-{sha256[:12]}"


def one_seed(job: dict) -> list[dict]:
    """Train one seed, keeping the model at each snapshot step, then evaluate every kept model."""
    torch.set_num_threads(job["threads"])
    run_dir = Path(job["run_dir"])
    snapshots = run_dir / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    settings = TrainSettings(**job["settings"])
    images, vectors = load_training_set(job["patches"])
    if not (snapshots / "step0.pt").exists():
        save_untrained(job["variant"], images.shape[1], vectors.shape[1], settings, snapshots / "step0.pt")
    wanted = set(job["steps"])

    def keep(step: int) -> None:
        # Checkpoints fall on every snapshot step (checkpoint_every divides them), written just before this call.
        if step in wanted:
            with atomic_path(snapshots / f"step{step}.pt") as tmp:
                shutil.copyfile(run_dir / "checkpoint.pt", tmp)

    if not (run_dir / "model.pt").exists():
        train(images, vectors, job["variant"], run_dir, settings, device="cpu", progress=False, after_step=keep)
    data = evaluation_data(job["patches"], job["dataset"], job["evaluation"]["options"])
    evaluation = EvaluationSettings(**job["evaluation"])
    rows = []
    for step in job["steps"]:
        done = snapshots / evaluated(job["evaluator_sha256"]) / f"step{step}.json"
        if not done.exists():
            model = load_model(snapshots / f"step{step}.pt")
            metrics = evaluate_run(model, data, job["evaluator"], evaluation, job["patches"])
            write_json(done, {"seed": settings.seed, "step": step, **{k: metrics.get(k) for k in REPORTED}})
        rows.append(json.loads(done.read_text()))
    return rows


def cell(row: dict) -> str:
    return f"{row['fid']:.0f} / {row['cgacc']:.3f} ({row['cgacc_chance']:.3f})"


def summary(rows: list[dict], dataset: str, variant: str) -> str:
    seeds = sorted({r["seed"] for r in rows})
    steps = sorted({r["step"] for r in rows})
    at = {(r["seed"], r["step"]): r for r in rows}
    lines = [
        f"{variant} on {dataset}, demo settings; FID / CGAcc (CGAcc's chance level: the same images against "
        "shuffled conditions); step 0 is the untrained network.",
        "",
        "| step | " + " | ".join(f"seed {s}" for s in seeds) + " | CGAcc range | CGAcc − chance range |",
        "|---" * (len(seeds) + 3) + "|",
    ]
    for step in steps:
        here = [at[(s, step)] for s in seeds if (s, step) in at]
        cgacc = [r["cgacc"] for r in here]
        above = [r["cgacc"] - r["cgacc_chance"] for r in here]
        lines.append(
            f"| {step} | "
            + " | ".join(cell(at[(s, step)]) if (s, step) in at else "—" for s in seeds)
            + f" | {min(cgacc):.3f}–{max(cgacc):.3f} | {min(above):.3f}–{max(above):.3f} |"
        )
    swings = []
    for seed in seeds:
        curve = [at[(seed, step)]["cgacc"] for step in steps if step > 0 and (seed, step) in at]
        if len(curve) > 1:
            swings.append(float(np.max(np.abs(np.diff(curve)))))
    if swings:
        listed = ", ".join(f"{swing:.3f}" for swing in swings)
        lines += ["", f"Largest CGAcc change between consecutive trained steps, per seed: {listed}."]
    return "\n".join(lines) + "\n"


def check(curves: list[dict], step: int, margin: float) -> str:
    """The learning check of the models at ``step`` against step 0, over every replicate of ``curves``."""
    trained, untrained = [], []
    for curve in curves:
        source = f"{curve['threads']} thread(s), evaluator {curve['evaluator_sha256'][:12]}"
        for row in curve["rows"]:
            record = {
                "dataset": curve["dataset"],
                "variant": curve["variant"],
                "replicate": f"seed {row['seed']}, {source}",
                "metrics": {"fid": row["fid"], "cgacc": row["cgacc"]},
            }
            if row["step"] == step:
                trained.append(record)
            elif row["step"] == 0:
                untrained.append(record)
    if not trained:
        return f"No model was kept at step {step}.\n"
    return f"Learning check at step {step}:\n\n" + learning_markdown(learning_check(trained, untrained, margin))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("."), help="a finished demo run's folder")
    parser.add_argument("--dataset", default="lidc", choices=("lidc", "ham10000"))
    parser.add_argument("--variant", default="DRAI")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--every", type=int, default=50, help="steps between evaluated models")
    parser.add_argument("--steps", type=int, help="training steps (default: the demo's)")
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/learning_curve"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--check-step", type=int, help="the step the learning check judges (default: the last)")
    parser.add_argument("--combine", type=Path, nargs="+", help="curve.json files: print their learning check")
    args = parser.parse_args(argv)
    config = demo_config()
    margin = config["evaluate"]["learning_cgacc_margin"]
    if args.combine:
        curves = [json.loads(path.read_text()) for path in args.combine]
        step = args.check_step or max(row["step"] for curve in curves for row in curve["rows"])
        print(check(curves, step, margin))
        return
    for option in ("every", "steps", "threads", "jobs"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option}: a positive number, got {value}")

    patches = args.workdir / "results" / "demo" / "data" / args.dataset / "patches.npz"
    evaluator = args.workdir / "results" / "demo" / "evaluators" / args.dataset / "evaluator.pt"
    for needed in (patches, evaluator):
        if not needed.exists():
            parser.error(f"{needed} is missing: --workdir must be a folder where the demo has run")
    out = args.out / args.dataset / args.variant / f"threads{args.threads}"
    evaluator_sha256 = hashlib.sha256(evaluator.read_bytes()).hexdigest()
    jobs = []
    for seed in args.seeds:
        settings = train_settings(config, args.dataset, seed)
        settings = replace(settings, steps=args.steps or settings.steps)
        steps = snapshot_steps(settings.steps, args.every)
        jobs.append(
            {
                "run_dir": str(out / f"seed{seed}"),
                "patches": str(patches),
                "evaluator": str(evaluator),
                "evaluator_sha256": evaluator_sha256,
                "threads": args.threads,
                "dataset": args.dataset,
                "variant": args.variant,
                # Checkpoints on every snapshot step; they change no arithmetic of the run.
                "settings": asdict(replace(settings, checkpoint_every=int(np.gcd.reduce(steps[1:])))),
                "steps": steps,
                "evaluation": asdict(evaluation_settings(config, args.dataset)),
            }
        )
    with ProcessPoolExecutor(args.jobs) as pool:
        list(pool.map(one_seed, jobs))
    # Every seed evaluated so far with this evaluator, so that runs made one seed at a time add up.
    tag = evaluated(evaluator_sha256)
    rows = [json.loads(path.read_text()) for path in sorted(out.glob(f"seed*/snapshots/{tag}/step*.json"))]
    rows.sort(key=lambda row: (row["seed"], row["step"]))
    report = evaluator.with_suffix(".json")
    accuracy = json.loads(report.read_text())["test_accuracy"] if report.exists() else None
    named = out / tag
    curve = {
        "dataset": args.dataset,
        "variant": args.variant,
        "threads": args.threads,
        "evaluator": str(evaluator),
        "evaluator_sha256": evaluator_sha256,
        "evaluator_test_accuracy": accuracy,
        "rows": rows,
    }
    write_json(named / "curve.json", curve)
    text = summary(rows, args.dataset, args.variant)
    text += (
        f"\n{args.threads} thread(s) per run; evaluator {evaluator}"
        + (f" (test accuracy {accuracy:.3f})" if accuracy is not None else "")
        + ".\n\n"
    )
    text += check([curve], args.check_step or max(row["step"] for row in rows), margin)
    write_text(named / "summary.md", text)
    print(text)


if __name__ == "__main__":
    main()
