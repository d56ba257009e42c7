"""Beyond the paper: the downstream table of each dataset and the figure of CAS against FID.

Per run (rule ``downstream_run``) and per dataset and seed for the real-only
reference (rule ``downstream_real``), :mod:`drai.metrics.downstream` trains the
classifiers; here their records become one table per dataset and one figure,
all marked "not in the paper". The records:

* ``downstream/{dataset}/real_seed{seed}.json``: ``dataset``, ``seed``,
  ``data_source``, ``settings``, the task's context (``class_names``,
  ``test_images``, ``majority_accuracy``, ``chance_balanced_accuracy`` ...),
  ``real_only`` and ``all_types`` (HAM10000's seven types, else None);
* ``runs/{dataset}/{variant}/seed{seed}/downstream.json``: the same context,
  ``variant``, and per mix (``real_mix``, ``balanced``) ``generated_only`` and
  ``real_plus_generated``, each with ``accuracy`` and ``balanced_accuracy``.

CAS, where one number is asked for (the ranking, the figure), is the accuracy
of the classifier trained on the generated images alone, conditioned in the
real class mix: Ravuri and Vinyals' top-1 accuracy on the real test images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from drai.audit import NOT_IN_PAPER, _cell, spearman
from drai.data.registry import get_dataset
from drai.metrics.downstream import MIXES

MIX_LABELS = {"real_mix": "real class mix", "balanced": "balanced classes"}
SCORE_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy"}
TRAINING_SET_LABELS = {"generated_only": "generated only (CAS)", "real_plus_generated": "real + generated"}


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else None


def cas_of(record: dict) -> float:
    """CAS of one run's record: accuracy trained on generated images alone, real class mix."""
    return record["real_mix"]["generated_only"]["accuracy"]


def rank_agreement(runs: list[dict], metrics: list[dict], variants: list[str], key: str = "fid_logits") -> dict:
    """Spearman's rho between CAS and -FID (``key``) over the models (each the mean over its seeds).

    FID is a distance (lower: better), CAS an accuracy (higher: better), so rho
    > 0 means that CAS ranks the models as FID does.
    """
    points = []
    for variant in variants:
        cas = _mean([cas_of(r) for r in runs if r["variant"] == variant])
        fid = _mean([m["metrics"].get(key) for m in metrics if m["variant"] == variant])
        if cas is not None and fid is not None:
            points.append((cas, fid))
    cas, fid = np.array(points, float).reshape(-1, 2).T
    return spearman(cas, -fid) | {"models": len(points)}


def downstream_table(
    dataset: str, real: list[dict], runs: list[dict], metrics: list[dict], variants: list[str]
) -> tuple[pd.DataFrame, str]:
    """One dataset's table: real only, then per model generated only and real + generated; the caption."""
    columns = [f"{SCORE_LABELS[s]}, {MIX_LABELS[m]}" for m in MIXES for s in SCORE_LABELS]
    rows = []

    def row(label, cells, fid="—"):
        rows.append({"training set": label, **dict(zip(columns, cells, strict=True)), "FID (logits)": fid})

    real_cells = [_cell([r["real_only"][s] for r in real]) for _ in MIXES for s in SCORE_LABELS]
    row("real only (the reference)", real_cells)
    every = [r["all_types"] for r in real if r.get("all_types")]
    if every:
        names = every[0]["class_names"]
        row(
            f"real only, all {len(names)} types (another task, apart)",
            [_cell([e[s] for e in every]) for _ in MIXES for s in SCORE_LABELS],
        )
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        if not mine:
            continue
        fid = _cell([m["metrics"].get("fid_logits") for m in metrics if m["variant"] == variant])
        for training_set, label in TRAINING_SET_LABELS.items():
            cells = [_cell([r[m][training_set][s] for r in mine]) for m in MIXES for s in SCORE_LABELS]
            row(f"{variant}: {label}", cells, fid)
    frame = pd.DataFrame(rows)
    return frame, downstream_caption(dataset, real, runs, metrics, variants)


def downstream_caption(dataset: str, real: list[dict], runs: list[dict], metrics: list[dict], variants) -> str:
    name = get_dataset(dataset).name
    first = real[0] if real else (runs[0] if runs else {})
    settings = first.get("settings", {})
    parts = [
        f"{NOT_IN_PAPER} Downstream use of the generated images, {name}: one classifier "
        f"({settings.get('classifier', '?')}, {settings.get('steps', '?')} steps of {settings.get('batch_size', '?')}, "
        "random initialization, no weights shared with the evaluator) trained on the real training images "
        "(real only), on as many generated images as there are real training images (generated only: the "
        "Classification Accuracy Score, CAS), or on both (real + generated); tested on the "
        f"{first.get('test_images', '?')} real test images of the models' classes "
        f"({', '.join(first.get('class_names', []))}). Conditions of the generated images: each real training "
        "item's vector once (real class mix), or as many vectors per class, drawn among its training items "
        "(balanced classes). Real only does not depend on the conditions: the same values under both. "
        "Mean ± std over seeds, the model's seed for its classifiers.",
    ]
    if first:
        parts.append(
            f"Guessing scores an accuracy of {first['majority_accuracy']:.3f} (the majority class) and a balanced "
            f"accuracy of {first['chance_balanced_accuracy']:.3f}."
        )
    every = [r["all_types"] for r in real if r.get("all_types")]
    if every:
        parts.append(
            f"No model generates {', '.join(n for n in every[0]['class_names'] if n not in first['class_names'])}: "
            f"the row of all {len(every[0]['class_names'])} types is the real-only classifier on the evaluator's "
            f"own sets ({every[0]['test_images']} test images), another task, reported apart."
        )
    for key, label in (("fid_logits", "FID (logits)"), ("fid", "FID (pooled features)")):
        agreement = rank_agreement(runs, metrics, variants, key)
        if agreement["rho"] is None:
            parts.append(f"Spearman's rho of CAS against -{label}: not defined ({agreement['models']} models).")
        else:
            parts.append(
                f"Spearman's rho of CAS (accuracy, real class mix) against -{label} over {agreement['models']} "
                f"models = {agreement['rho']:.2f} (p = {agreement['p']:.2g}); > 0: CAS ranks the models as FID does."
            )
    return " ".join(parts)


def cas_fid_figure(panels: dict[str, dict], output: str | Path) -> None:
    """Per dataset, each model's CAS (accuracy, real class mix) against its logit FID, means over seeds.

    ``panels``: dataset -> {"runs": downstream records, "metrics": metrics.json records, "real": real-only
    records, "variants": the models in order}.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from drai.io import save_figure

    datasets = list(panels) or ["none"]
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 4.4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        panel = panels.get(dataset)
        if not panel:
            ax.axis("off")
            ax.text(0.5, 0.5, "no dataset trained", ha="center")
            continue
        for variant in panel["variants"]:
            cas = _mean([cas_of(r) for r in panel["runs"] if r["variant"] == variant])
            fid = _mean([m["metrics"].get("fid_logits") for m in panel["metrics"] if m["variant"] == variant])
            if cas is None or fid is None:
                continue
            ax.scatter(fid, cas, s=28)
            ax.annotate(variant, (fid, cas), fontsize=7, xytext=(3, 3), textcoords="offset points")
        real = _mean([r["real_only"]["accuracy"] for r in panel["real"]])
        if real is not None:
            ax.axhline(real, color="black", linestyle="--", linewidth=1, label=f"real only ({real:.2f})")
        if panel["real"]:
            majority = panel["real"][0]["majority_accuracy"]
            ax.axhline(majority, color="grey", linestyle=":", linewidth=1, label=f"majority class ({majority:.2f})")
        agreement = rank_agreement(panel["runs"], panel["metrics"], panel["variants"])
        rho = "—" if agreement["rho"] is None else f"{agreement['rho']:.2f}"
        ax.set_title(f"{get_dataset(dataset).name}: Spearman's rho(CAS, -FID) = {rho}", fontsize=9)
        ax.set_xlabel("FID of the evaluator's logits (lower: closer to the real test images)", fontsize=8)
        ax.set_ylabel("CAS: accuracy on real test images,\ntrained on generated images alone", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{NOT_IN_PAPER} CAS against FID per model (means over seeds)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, output, dpi=110)
    plt.close(fig)
