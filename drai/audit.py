"""Beyond the paper: ground-truth disentanglement and the memorization audit, per run and as tables and figures.

Per run (rule ``audit_run``): :func:`ground_truth_of_run` probes the run's
style and content codes for the synthetic data's known factors
(:mod:`drai.metrics.ground_truth`), :func:`memorization_of_run` compares its
generated images' nearest training images with the test images'
(:mod:`drai.metrics.memorization`). Then one table and one figure each, all
marked "not in the paper". Also here, from every run's ``metrics.json``: the
fidelity table of each dataset (precision, recall, density, coverage and the
intra-class FID, :mod:`drai.metrics.fidelity`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from drai.data.crops import centre_crop
from drai.data.patchset import PatchSet
from drai.data.registry import datasets, get_dataset
from drai.evaluation import EvaluationData, codes, generate_from_vectors
from drai.metrics import ground_truth, memorization
from drai.metrics.evaluator import load_evaluator
from drai.metrics.settings import AuditSettings, EvaluationSettings
from drai.models.family import ModelFamily

log = logging.getLogger(__name__)

NOT_IN_PAPER = "Not in the paper."
PAIRS_SHOWN = 8
#: Naeem et al.'s four neighbourhood measures, in the evaluator's pooled features.
PRDC = ("precision", "recall", "density", "coverage")


def probed_items(patches: PatchSet, max_items: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the patch set whose codes are probed, and their CV groups (the dataset's
    :meth:`~drai.data.registry.Dataset.probed_rows`); at most ``max_items``, drawn with ``seed``."""
    rows, groups = get_dataset(patches.dataset).probed_rows(patches)
    if len(rows) > max_items:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), max_items, replace=False))
        rows, groups = rows[keep], groups[keep]
    return rows, groups


def ground_truth_of_run(
    model: ModelFamily,
    dataset: str,
    patches_path: str | Path,
    factors: pd.DataFrame,
    settings: AuditSettings,
    seed: int = 0,
    batch_size: int = 250,
    device="cpu",
) -> dict:
    """Probe scores (factor x code) and their separation for one run; None scores for one-code models."""
    if not model.variant.two_codes:
        return {
            "two_codes": False,
            "items": 0,
            "scores": [],
            "separation": None,
            "informativeness": None,
            "leakage": None,
        }
    patches = PatchSet.load(patches_path, dataset)
    rows, groups = probed_items(patches, settings.max_items, seed)
    images = patches.crops(rows)
    z, c = codes(model.to(device).eval(), images, batch_size, device)
    table = factors.set_index("row").loc[rows]
    matrix = ground_truth.probe_matrix(
        {"style": z, "content": c}, table, get_dataset(dataset).factors, groups, settings.probe, settings.folds, seed
    )
    return {
        "two_codes": True,
        "items": int(len(rows)),
        "groups": int(len(np.unique(groups))),
        "probe": settings.probe,
        "folds": settings.folds,
        "scores": matrix.to_dict(orient="records"),
        **ground_truth.separation(matrix),
    }


def generated_for_evaluation(
    model: ModelFamily, data: EvaluationData, settings: EvaluationSettings, device="cpu"
) -> np.ndarray:
    """The generated images of :func:`drai.evaluation.evaluate_run`: the same draws, the same images."""
    rng = np.random.default_rng(settings.seed)
    picks = rng.integers(0, len(data.test.labels), settings.samples)
    return generate_from_vectors(model, data.test.vectors[picks], settings.seed, settings.batch_size, device)


def evaluator_features(evaluator_path: str | Path, device="cpu"):
    """images (N, C, 64, 64) in [-1, 1] -> the evaluator's pooled features (N, 768), what FID compares."""
    evaluator = load_evaluator(evaluator_path, device).eval()

    @torch.no_grad()
    def features(images: np.ndarray) -> np.ndarray:
        return evaluator.features(torch.as_tensor(np.asarray(images, np.float32), device=device)).float().cpu().numpy()

    return features


def reference_images(data: EvaluationData) -> tuple[np.ndarray, np.ndarray]:
    """The model's training images (HAM10000: with their flipped copies, which it trained on too) and test images."""
    return (
        np.ascontiguousarray(centre_crop(data.train.images), dtype=np.float32),
        np.ascontiguousarray(centre_crop(data.test.images), dtype=np.float32),
    )


def reference_features(data: EvaluationData, features, batch_size: int = 250) -> dict[str, np.ndarray]:
    """The evaluator's features of the training and test images: the same for every run of a dataset."""
    train, test = reference_images(data)
    return {
        "train": memorization.embed(features, train, batch_size),
        "test": memorization.embed(features, test, batch_size),
    }


def memorization_of_run(
    generated: np.ndarray,
    data: EvaluationData,
    features,
    settings: AuditSettings,
    batch_size: int = 250,
    reference: dict[str, np.ndarray] | None = None,
) -> tuple[dict, dict[str, np.ndarray]]:
    """The memorization audit of one run's generated images against the model's own training images.

    ``reference``: :func:`reference_features`, when computed already. Returns
    the summary and the :data:`PAIRS_SHOWN` closest generated/training pairs
    per space (for the figure).
    """
    train, test = reference_images(data)
    reference = reference or {}
    summary, nearest = memorization.memorization_scores(
        generated, train, test, features, settings.flag_share, batch_size, reference.get("train"), reference.get("test")
    )
    summary.update(generated=int(len(generated)), train=int(len(train)), test=int(len(test)))
    pairs = {}
    for space in ("features", "pixels"):
        order = np.argsort(nearest[f"{space}_distance"], kind="stable")[:PAIRS_SHOWN]
        pairs[f"{space}_generated"] = generated[order].astype(np.float32)
        pairs[f"{space}_train"] = train[nearest[f"{space}_index"][order]]
        pairs[f"{space}_distance"] = nearest[f"{space}_distance"][order]
    return summary, pairs


# --- tables ---------------------------------------------------------------------------------------------


def _cell(values) -> str:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def prdc_cell(runs: list[dict]) -> str:
    """Precision / recall / density / coverage, each the mean over ``runs`` (dicts holding them), in one cell."""
    means = []
    for key in PRDC:
        values = [r.get(key) for r in runs if r.get(key) is not None]
        means.append(f"{np.mean(values):.2f}" if values else "—")
    return " / ".join(means)


def spearman(x, y) -> dict:
    """Spearman's rho of ``y`` against ``x`` and its p-value; both None under 3 points or with a constant side."""
    from scipy.stats import spearmanr

    if len(x) < 3:
        return {"rho": None, "p": None}
    result = spearmanr(x, y)
    rho = None if np.isnan(result.statistic) else float(result.statistic)
    return {"rho": rho, "p": None if rho is None else float(result.pvalue)}


def rank_agreement(records: list[dict]) -> dict[str, dict]:
    """Per dataset, Spearman's rho between -CIFC and the separation score over (model, seed) runs.

    CIFC is an error (lower: more consistent), the separation a score (higher:
    better separated), so rho > 0 means CIFC ranks the runs as the ground truth does.
    """
    out = {}
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        pairs = [
            (r["cifc"], r["separation"])
            for r in records
            if r["dataset"] == dataset and r.get("cifc") is not None and r.get("separation") is not None
        ]
        cifc, sep = np.array(pairs, float).reshape(-1, 2).T
        out[dataset] = spearman(-cifc, sep) | {"runs": len(pairs)}
    return out


def ground_truth_table(records: list[dict], variants: list[str], skipped: dict[str, str]) -> tuple[pd.DataFrame, str]:
    """Separation (and informativeness, leakage, CIFC) per model and dataset, mean ± std over seeds, and the caption.

    ``records``: per run {dataset, variant, seed, separation, informativeness, leakage, cifc, and
    :data:`PRDC` from its metrics}; ``skipped``: dataset -> why it is not measured (real data).
    """
    rows = []
    for variant in variants:
        row = {"model": variant}
        for dataset in datasets():
            runs = [r for r in records if r["dataset"] == dataset and r["variant"] == variant]
            if dataset in skipped or not any(r["dataset"] == dataset for r in records):
                continue
            name = get_dataset(dataset).name
            for key, label in (
                ("separation", "separation"),
                ("informativeness", "informativeness"),
                ("leakage", "leakage"),
                ("cifc", "CIFC"),
            ):
                row[f"{name} {label}"] = _cell([r.get(key) for r in runs])
            row[f"{name} precision / recall / density / coverage"] = prdc_cell(runs)
        rows.append(row)
    frame = pd.DataFrame(rows)
    agreement = rank_agreement(records)
    parts = [
        f"{NOT_IN_PAPER} Disentanglement against the known factors of the embedded synthetic data: per "
        "factor a cross-validated probe from the style and from the content code (R² or chance-adjusted "
        "balanced accuracy); separation = score from the code that should hold the factor minus the "
        "score from the other (after MIG), averaged over style and content factors; informativeness and "
        "leakage = the two scores alone (after DCI). Mean ± std over seeds; one-code models: —. "
        "Precision / recall / density / coverage: Naeem et al. (2020) in the evaluator's pooled features, "
        "means over seeds (the fidelity table has them with their spread)."
    ]
    for dataset, result in agreement.items():
        name = get_dataset(dataset).name
        if result["rho"] is None:
            parts.append(f"{name}: Spearman's rho of -CIFC against the separation not defined ({result['runs']} runs).")
        else:
            parts.append(
                f"{name}: Spearman's rho of -CIFC against the separation over {result['runs']} runs "
                f"(models x seeds) = {result['rho']:.2f} (p = {result['p']:.2g}); > 0: CIFC ranks as the "
                "ground truth does."
            )
    parts += [f"{get_dataset(d).name}: {why}" for d, why in skipped.items()]
    return frame, " ".join(parts)


def memorization_table(records: list[dict], variants: list[str]) -> tuple[pd.DataFrame, str]:
    """Median ratios and shares below the 1st percentile per model and dataset, mean ± std over seeds."""
    rows = []
    for variant in variants:
        row = {"model": variant}
        for dataset in datasets():
            runs = [r for r in records if r["dataset"] == dataset and r["variant"] == variant]
            if not any(r["dataset"] == dataset for r in records):
                continue
            name = get_dataset(dataset).name
            for space in ("features", "pixels"):
                row[f"{name} {space} median ratio"] = _cell([r[space]["median_ratio"] for r in runs])
                row[f"{name} {space} share < p1"] = _cell([r[space]["share_closer"] for r in runs])
            row[f"{name} flagged"] = f"{sum(r['flagged'] for r in runs)}/{len(runs)}" if runs else "—"
        rows.append(row)
    flag = records[0]["flag_share"] if records else None
    caption = (
        f"{NOT_IN_PAPER} Memorization audit: for each generated image its nearest training image, and "
        "for each real test image its nearest training image, in the evaluator's features and in pixels. "
        "median ratio = median generated-to-train over median test-to-train distance (well below 1: "
        "generated images are nearer the training images than unseen real ones); share < p1 = share of "
        "generated images at most as far from a training image as the 1st percentile of test-to-train "
        "distances (about 0.01 without copying). Flagged: runs whose share exceeds "
        f"{flag} in either space. Mean ± std over seeds."
    )
    return frame_or_empty(rows), caption


def fidelity_table(dataset: str, metrics: list[dict], variants: list[str]) -> tuple[pd.DataFrame, str]:
    """One dataset's precision, recall, density, coverage and intra-class FID per model (mean ± std over seeds),
    beside the logit FID; ``metrics``: the dataset's ``metrics.json`` records."""
    from drai.metrics.fidelity import INTRA_CLASS_KEY, PRC_NEIGHBOURS

    prefix = INTRA_CLASS_KEY.format("")
    classes = list(dict.fromkeys(k for m in metrics for k in m["metrics"] if k.startswith(prefix)))
    rows = []
    for variant in variants:
        runs = [m["metrics"] for m in metrics if m["variant"] == variant]
        if not runs:
            continue
        row = {
            "model": variant,
            "FID (logits)": _cell([r.get("fid_logits") for r in runs]),
            "intra-class FID (logits), mean": _cell([r.get("fid_logits_intra") for r in runs]),
        }
        row.update({f"intra-class FID, {k[len(prefix) :]}": _cell([r.get(k) for r in runs]) for k in classes})
        row.update({key: _cell([r.get(key) for r in runs]) for key in PRDC})
        rows.append(row)
    samples = {m["config"]["evaluate"].get("samples") for m in metrics if "config" in m}
    caption = (
        f"{NOT_IN_PAPER} Fidelity and diversity of the generated images, {get_dataset(dataset).name}, beyond the "
        "paper's FID: the generated images of FID (evaluate.samples: "
        f"{', '.join(str(s) for s in sorted(samples)) or '?'}) against the real test images. Intra-class FID: the "
        "FID of the evaluator's logits (the paper's scale) between the real test images of one class and the "
        "images generated for it, per class and its unweighted mean over the classes: a model good on the "
        "common classes alone has a low FID and a high intra-class mean. Precision (the share of generated "
        "images within the real images' neighbourhoods: fidelity), recall (of real images within the generated "
        "ones': diversity), density (how many real neighbourhoods hold each generated image, divided by k: 1 "
        "for a sample of the real distribution) and coverage (the share of real neighbourhoods holding a "
        f"generated image), Naeem et al. (2020), in the evaluator's 768 pooled features, k = {PRC_NEIGHBOURS}; "
        "— where a set is too small. Mean ± std over seeds."
    )
    return frame_or_empty(rows), caption


def frame_or_empty(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows) if rows else pd.DataFrame({"model": []})


def markdown(frame: pd.DataFrame, caption: str, title: str) -> str:
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    body = "".join("| " + " | ".join(str(v) for v in row) + " |\n" for row in frame.itertuples(index=False))
    return f"# {title}\n\n{header}{body}\n{caption}\n"


def html(frame: pd.DataFrame, caption: str, title: str) -> str:
    return f"<h3>{title}</h3>\n<p>{caption}</p>\n" + frame.to_html(index=False, border=0)


# --- figures --------------------------------------------------------------------------------------------


def _image(ax, image: np.ndarray) -> None:
    image = np.clip((np.asarray(image, np.float32) + 1) / 2, 0, 1)
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(np.transpose(image, (1, 2, 0)))
    ax.set_xticks([])
    ax.set_yticks([])


def ground_truth_figure(panels: dict[str, dict[str, list[dict]]], skipped: dict[str, str], output: str | Path) -> None:
    """Per dataset (row) and model (column), the factor x code-type matrix of probe scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from drai.io import save_figure

    shown = [d for d in datasets() if d in panels or d in skipped]
    columns = max([len(p) for p in panels.values()] + [1])
    fig, axes = plt.subplots(
        len(shown) or 1, columns, figsize=(2.1 * columns + 1, 4.2 * max(len(shown), 1)), squeeze=False
    )
    for i, dataset in enumerate(shown):
        models = panels.get(dataset, {})
        for j in range(columns):
            ax = axes[i, j]
            if j >= len(models):
                ax.axis("off")
                if j == 0 and dataset in skipped:
                    ax.text(0, 0.5, f"{get_dataset(dataset).name}: {skipped[dataset]}", wrap=True, fontsize=9)
                continue
            model, scores = list(models.items())[j]
            frame = pd.DataFrame(scores)
            values = frame[list(ground_truth.CODES)].astype(float).to_numpy()
            ax.imshow(np.nan_to_num(values, nan=0.0), cmap="viridis", vmin=0, vmax=1, aspect="auto")
            for (r, c), v in np.ndenumerate(values):
                ax.text(
                    c,
                    r,
                    "—" if np.isnan(v) else f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if not np.isnan(v) and v < 0.6 else "black",
                )
            ax.set_xticks(range(len(ground_truth.CODES)), ground_truth.CODES, fontsize=7)
            labels = [f"{f} ({g[0]})" for f, g in zip(frame["factor"], frame["group"], strict=True)]
            ax.set_yticks(range(len(labels)), labels if j == 0 else [""] * len(labels), fontsize=6)
            ax.set_title(f"{get_dataset(dataset).name} {model}", fontsize=8)
    fig.suptitle(
        f"{NOT_IN_PAPER} Probe scores of each known factor (s: style, c: content factor) from the style "
        "and content codes (R² or chance-adjusted balanced accuracy)",
        fontsize=9,
    )
    fig.tight_layout()
    save_figure(fig, output, dpi=110)
    plt.close(fig)


def memorization_figure(pairs: dict[str, dict[str, np.ndarray]], model: str, output: str | Path) -> None:
    """Per dataset and space, the closest generated images (top row) over their nearest training images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from drai.io import save_figure

    blocks = [(d, s) for d in pairs for s in ("features", "pixels")]
    columns = max([len(pairs[d][f"{s}_distance"]) for d, s in blocks] + [1])
    fig, axes = plt.subplots(
        2 * max(len(blocks), 1), columns, figsize=(1.3 * columns, 2.8 * max(len(blocks), 1)), squeeze=False
    )
    for b, (dataset, space) in enumerate(blocks):
        data = pairs[dataset]
        for j in range(columns):
            top, bottom = axes[2 * b, j], axes[2 * b + 1, j]
            if j >= len(data[f"{space}_distance"]):
                top.axis("off")
                bottom.axis("off")
                continue
            _image(top, data[f"{space}_generated"][j])
            _image(bottom, data[f"{space}_train"][j])
            top.set_title(f"d={data[f'{space}_distance'][j]:.2f}", fontsize=6)
        axes[2 * b, 0].set_ylabel(f"{get_dataset(dataset).name}\n{space}\ngenerated", fontsize=6)
        axes[2 * b + 1, 0].set_ylabel("nearest\ntraining", fontsize=6)
    if not blocks:
        axes[0, 0].axis("off")
        axes[1, 0].axis("off")
    fig.suptitle(f"{NOT_IN_PAPER} {model}: its generated images closest to a training image", fontsize=8)
    fig.tight_layout()
    save_figure(fig, output, dpi=110)
    plt.close(fig)
