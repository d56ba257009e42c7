"""The demo's spread: its training and evaluation over seeds and thread counts.

One and two threads change the order of floating-point reductions much as
another processor does, and GAN training amplifies such differences; so the
spread over (seed, thread count) is a cheap stand-in for the spread a user
meets on another machine. For each thread count this runs the demo preset's
workflow (every model, both data sets, ``--seeds``) in its own working
folder, with every rule that computes with torch (training, the untrained
networks, the evaluator, the metrics) set to that many threads (``demo``:
the rules' own thread counts, as the demo runs them: one per training run,
two per evaluator), and then
prints, per data set and model, the range of FID, CGAcc and CIFC, the
evaluators' accuracies, which model is best in Tables I and II in each
replicate, and the learning check per thread count (each has its own
evaluator, whose features FID is measured in). The summary is also
written to ``<workdir>/summary.md``.

Snakemake resumes: a killed benchmark continues where it stopped. The data
(synthetic series, patches) do not depend on the thread count; ``--reuse-data``
copies a finished run's ``resources/`` and ``results/demo/data/`` into folders that
have none, so they are made once.

    python benchmarks/demo_spread.py --workdir results/benchmarks/demo_spread --seeds 0 1 2 --threads 1 2 demo
    python benchmarks/demo_spread.py --workdir results/benchmarks/steps600 --variants DRAI --tables 3 --train steps=600
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from drai.config import resolve
from drai.io import write_text
from drai.learning import learning_check, learning_markdown

ROOT = Path(__file__).resolve().parent.parent
TORCH_RULES = ("train", "untrained_model", "train_evaluator", "run_metrics")
TABLE_I_II_MODELS = ("cInfoGAN", "D-cInfoGAN", "cVAE", "D-cVAE", "DAI", "DRAI")
DEMO_THREADS = "demo"  # --threads: no override, each rule keeps the threads rules/*.smk give it


def thread_count(text: str) -> str:
    if text != DEMO_THREADS and not (text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(f"a positive number of threads or '{DEMO_THREADS}', got {text!r}")
    return text


def run_workflow(
    folder: Path,
    seeds: list[int],
    variants: list[str] | None,
    tables: list[int],
    threads: str,
    cores: int,
    reuse_data: Path | None,
    train_settings: list[str],
    lidc_settings: list[str] = (),
) -> float:
    """Runs the demo's tables (and so every run's training and metrics) in ``folder``; returns wall seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "config.yaml", folder / "config.yaml")
    if reuse_data is not None:
        for part in ("resources", "results/demo/data"):
            if (reuse_data / part).exists() and not (folder / part).exists():
                shutil.copytree(reuse_data / part, folder / part, symlinks=True)
    targets = [f"results/demo/tables/table{n}.md" for n in tables] + ["results/demo/tables/learning.md"]
    train = f"seeds: [{', '.join(map(str, seeds))}]"
    if variants:
        train += f", variants: [{', '.join(variants)}]"
    for setting in train_settings:
        key, _, value = setting.partition("=")
        train += f", {key}: {value}"
    lidc = ", ".join(f"{key}: {value}" for key, _, value in (s.partition("=") for s in lidc_settings))
    # The targets first: --config and --set-threads take every argument up to the next option. Copied data and
    # runs carry no record of the code that made them, so only their files' times decide what is made again.
    command = [
        sys.executable,
        "-m",
        "snakemake",
        *targets,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(folder),
        "--cores",
        str(cores),
        "--rerun-triggers",
        "mtime",
        "--config",
        f"train={{{train}}}",
        *([f"lidc={{{lidc}}}"] if lidc else []),
    ]
    if threads != DEMO_THREADS:
        command += ["--set-threads", *(f"{rule}={threads}" for rule in TORCH_RULES)]
    started = time.perf_counter()
    with open(folder / "snakemake.log", "a") as log:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    return time.perf_counter() - started


def thread_label(threads: str) -> str:
    return "demo's threads" if threads == DEMO_THREADS else f"{threads} thread{'s' if int(threads) > 1 else ''}"


def records(folder: Path, stage: str, threads: str) -> list[dict]:
    found = []
    for path in sorted((folder / "results" / "demo" / stage).glob("*/*/seed*/metrics.json")):
        record = json.loads(path.read_text())
        record["threads"] = thread_label(threads)
        record["replicate"] = f"seed {record['seed']}, {record['threads']}"
        found.append(record)
    return found


def value_range(values: list[float], fmt: str) -> str:
    if not values:
        return "—"
    low, high = min(values), max(values)
    return f"{low:{fmt}}" if low == high else f"{low:{fmt}}–{high:{fmt}}"


def summary(trained: list[dict], untrained: list[dict], evaluators: dict, margin: float, seconds: dict) -> str:
    lines = [
        f"Demo preset; replicates: {len({r['replicate'] for r in trained})} (seed × thread count). "
        "Ranges are min–max over replicates.",
        "",
        "| thread count | wall time |",
        "|---|---|",
    ]
    lines += [f"| {t} | {s / 60:.1f} min |" for t, s in sorted(seconds.items())]
    lines += ["", "| data set | evaluator threads | test accuracy | majority class |", "|---|---|---|---|"]
    for (dataset, threads), report in sorted(evaluators.items()):
        lines.append(f"| {dataset} | {threads} | {report['test_accuracy']:.3f} | {report['chance_accuracy']:.3f} |")
    lines += [
        "",
        "CGAcc − chance: CGAcc minus `cgacc_chance` (the same images against shuffled conditions), what the "
        "conditions add beyond the generated images' mix of classes.",
        "",
        "FID, logits: the Fréchet distance of the evaluator's class logits (the paper's scale); FID, pooled: of "
        "its pooled features.",
        "",
        "| data set | model | n | FID, logits | FID, pooled | CGAcc | CGAcc − chance | CIFC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["dataset"], r["variant"]) for r in trained})
    for dataset, variant in keys:
        rows = [r["metrics"] for r in trained if (r["dataset"], r["variant"]) == (dataset, variant)]

        def present(key: str, rows=rows) -> list[float]:
            return [m[key] for m in rows if m.get(key) is not None]

        above = [m["cgacc"] - m["cgacc_chance"] for m in rows if None not in (m.get("cgacc"), m.get("cgacc_chance"))]
        columns = (
            (present("fid_logits"), ".1f"),
            (present("fid"), ".0f"),
            (present("cgacc"), ".3f"),
            (above, ".3f"),
            (present("cifc"), ".3f"),
        )
        cells = [value_range(values, fmt) for values, fmt in columns]
        lines.append(f"| {dataset} | {variant} | {len(rows)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Best of the six models of Tables I and II, per replicate:",
        "",
        "| data set | replicate | best FID, logits | best CGAcc | most CGAcc above chance |",
        "|---|---|---|---|---|",
    ]
    for dataset in sorted({r["dataset"] for r in trained}):
        for replicate in sorted({r["replicate"] for r in trained}):
            rows = [
                r
                for r in trained
                if r["dataset"] == dataset and r["replicate"] == replicate and r["variant"] in TABLE_I_II_MODELS
            ]
            if rows:
                best_fid = best(rows, lambda m: -m.get("fid_logits", m["fid"]))
                best_cgacc = best(rows, lambda m: m["cgacc"])
                known = all(r["metrics"].get("cgacc_chance") is not None for r in rows)
                best_above = best(rows, lambda m: m["cgacc"] - m["cgacc_chance"]) if known else "—"
                lines.append(f"| {dataset} | {replicate} | {best_fid} | {best_cgacc} | {best_above} |")
    # Each thread count has its own evaluator, and FID is in the units of the evaluator's features: gains from
    # different thread counts are not comparable, so each is judged over its own seeds.
    for threads in sorted({r.get("threads") for r in trained}, key=str):
        drai = [r for r in trained if r["variant"] == "DRAI" and r.get("threads") == threads]
        before = [r for r in untrained if r.get("threads") == threads]
        lines += [
            "",
            f"Learning check over the seeds (DRAI){f', {threads}' if threads else ''}:",
            "",
            learning_markdown(learning_check(drai, before, margin)),
        ]
    return "\n".join(lines) + "\n"


def best(rows: list[dict], score) -> str:
    """The variant with the highest ``score`` of its metrics, or every variant that ties for it."""
    scores = {r["variant"]: score(r["metrics"]) for r in rows}
    top = max(scores.values())
    return ", ".join(sorted(variant for variant, value in scores.items() if value == top))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("results/benchmarks/demo_spread"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--threads",
        type=thread_count,
        nargs="+",
        default=["1", "2"],
        help=f"torch threads per rule: a number, or '{DEMO_THREADS}' for the rules' own (as the demo runs them)",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=None,
        help="train only these (default: the demo's variants); DRAI is needed for the learning check",
    )
    parser.add_argument(
        "--train",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="demo training settings to change, e.g. steps=600 augment=false",
    )
    parser.add_argument(
        "--lidc",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="demo LIDC settings to change, e.g. synthetic_cases=80",
    )
    parser.add_argument("--tables", type=int, nargs="+", default=[1, 2, 3, 5, 6], help="tables to make (numbers)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--reuse-data",
        type=Path,
        default=None,
        help="a finished demo folder whose resources/ and results/demo/data/ to copy",
    )
    parser.add_argument("--summary-only", action="store_true", help="summarise what the folders hold, run nothing")
    args = parser.parse_args(argv)

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["preset"] = "demo"
    margin = resolve(config)["evaluate"]["learning_cgacc_margin"]
    workdir = args.workdir.resolve()
    trained, untrained, evaluators, seconds = [], [], {}, {}
    for threads in args.threads:
        folder = workdir / f"threads{threads}"
        if not args.summary_only:
            seconds[threads] = run_workflow(
                folder,
                args.seeds,
                args.variants,
                args.tables,
                threads,
                args.cores,
                args.reuse_data,
                args.train,
                args.lidc,
            )
            print(f"{threads} thread(s): {seconds[threads] / 60:.1f} min", flush=True)
        trained += [
            r
            for r in records(folder, "runs", threads)
            if r["seed"] in args.seeds and (not args.variants or r["variant"] in args.variants)
        ]
        untrained += [r for r in records(folder, "untrained", threads) if r["seed"] in args.seeds]
        for path in sorted((folder / "results" / "demo" / "evaluators").glob("*/evaluator.json")):
            evaluators[(path.parent.name, threads)] = json.loads(path.read_text())
    if not trained:
        raise SystemExit(f"{workdir}: no finished runs to summarise")
    text = summary(trained, untrained, evaluators, margin, seconds)
    write_text(workdir / "summary.md", text)
    print(text)
    spread = {
        key: np.ptp([r["metrics"]["cgacc"] for r in trained if (r["dataset"], r["variant"]) == key])
        for key in {(r["dataset"], r["variant"]) for r in trained}
    }
    widest = max(spread, key=spread.get)
    print(f"widest CGAcc range: {widest[0]} {widest[1]} {spread[widest]:.3f}")


if __name__ == "__main__":
    main()
