"""Evaluation of one run: FID (of the evaluator's logits and of its pooled features), IS, KID,
precision/recall, density/coverage, intra-class FID, CGAcc, CIFC and retrieval.

Section III-C of the paper. Everything is computed on the test split:

* real images: the test patches, centre 64x64 crops (LIDC: the curated test
  nodules, every slice; HAM10000: the modelled lesion types of the official
  or fallback test split, no augmented copies);
* generated images: ``samples`` images from conditioning vectors drawn with
  replacement from the test items, styles z ~ N(0, I); both fixed by ``seed``;
* intra-class FID (not in the paper): the logit FID per class of the
  evaluator, each generated image counted in its condition's class
  (:func:`drai.metrics.fidelity.intra_class_fid`);
* CGAcc: the evaluator's accuracy on those generated images against the class
  of the test item whose vector made each one (Section III-C4); beside it,
  ``cgacc_chance`` (not in the paper): the accuracy the same predictions would
  have against classes drawn independently of them, which a model that
  ignores its condition scores in expectation (:func:`drai.metrics.cgacc.chance_accuracy`);
* CIFC (eq. 19): see :mod:`drai.metrics.disentanglement`; two-code models only;
* retrieval (LIDC, Table IV): queries are the central slices of the query set
  (test nodules of median malignancy 3), the search set the central slices of
  the curated test set (one image per nodule, so the top 3 are three nodules).

Every random draw is made once for all images before batching, so no metric
depends on ``batch_size``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from drai.data.crops import centre_crop
from drai.data.patchset import PatchSet
from drai.data.registry import get_dataset
from drai.metrics.cgacc import cgacc
from drai.metrics.disentanglement import cifc, random_pairs
from drai.metrics.evaluator import load_evaluator, predict
from drai.metrics.fidelity import fidelity_metrics
from drai.metrics.retrieval import retrieval_scores
from drai.metrics.settings import EvaluationSettings
from drai.models.family import ModelFamily

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledSplit:
    images: np.ndarray  # (N, C, 64, 64) float32 in [-1, 1]: the centre crops of the stored patches
    vectors: np.ndarray  # (N, t_dim) conditioning vectors (zeros for HAM10000's unmodelled types)
    labels: np.ndarray  # (N,) evaluator classes (indices into class_names)


@dataclass(frozen=True)
class EvaluationData:
    """The model's items and the evaluator's own sets of one patch set.

    ``train``/``test`` are what the generative models are trained and judged on
    (HAM10000: the modelled lesion types; test without the flipped copies);
    ``evaluator_train``/``evaluator_test`` are the evaluator's sets (HAM10000:
    all seven lesion types, Section III-C). On LIDC both are the curated nodules.
    """

    dataset: str
    class_names: tuple[str, ...]
    train: LabelledSplit
    test: LabelledSplit
    source: str
    evaluator_train: LabelledSplit
    evaluator_test: LabelledSplit
    evaluator_labels: str  # what the evaluator classifies, in words


def evaluation_data(patches_path: str | Path, dataset: str, options: dict | None = None) -> EvaluationData:
    """The model's and the evaluator's train and test sets of a patch set, with the evaluator's labels.

    The rows and labels are the dataset's :meth:`~drai.data.registry.Dataset.evaluation` with its
    evaluator ``options`` (the settings' ``options``): LIDC's curated nodules (median malignancy other
    than 3), labelled by size bin or by benign (median < 3) / malignant (> 3), the evaluator's on every
    slice or the central ones; HAM10000's lesion type, seven-way for the evaluator ("a 7 way
    classification on lesion type", Section III-C), the models' items being the modelled rows. Images
    are the centre 64x64 crops of the stored patches.
    """
    patches = PatchSet.load(patches_path, dataset)
    spec = get_dataset(dataset)
    options = options or {}
    chosen = spec.evaluation(patches, options)

    def part(rows):
        return LabelledSplit(patches.crops(rows), patches.vectors[rows].astype(np.float32), chosen.labels[rows])

    train, test = part(chosen.model_train), part(chosen.model_test)
    evaluator_train, evaluator_test = part(chosen.evaluator_train), part(chosen.evaluator_test)
    for name, s in (("training", evaluator_train), ("test", evaluator_test), ("model test", test)):
        if len(s.labels) < 2:
            raise ValueError(f"{patches_path}: only {len(s.labels)} {name} images for the evaluator")
    return EvaluationData(
        dataset,
        chosen.class_names,
        train,
        test,
        patches.source,
        evaluator_train,
        evaluator_test,
        spec.evaluator_labels(patches, options),
    )


@torch.no_grad()
def generate_from_vectors(
    model: ModelFamily, vectors: np.ndarray, seed: int, batch_size: int = 250, device="cpu"
) -> np.ndarray:
    """One image per conditioning vector, style z ~ N(0, I) drawn once for all (seeded)."""
    noise = torch.Generator().manual_seed(seed)
    z_all = torch.randn(len(vectors), model.shape.z_dim, generator=noise)
    t_all = torch.as_tensor(vectors, dtype=torch.float32)
    out = []
    for start in range(0, len(vectors), batch_size):
        z = z_all[start : start + batch_size].to(device)
        c = model.content_of(t_all[start : start + batch_size].to(device))
        out.append(model.generate(z, c).float().cpu())
    return torch.cat(out).numpy()


@torch.no_grad()
def codes(
    model: ModelFamily, images: np.ndarray, batch_size: int = 250, device="cpu"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Style and content codes (posterior means) of images; content is None for one-code models."""
    if len(images) == 0:
        return np.zeros((0, model.shape.z_dim), np.float32), (
            np.zeros((0, model.shape.c_dim), np.float32) if model.variant.two_codes else None
        )
    styles, contents = [], []
    for start in range(0, len(images), batch_size):
        z, c = model.infer(torch.as_tensor(images[start : start + batch_size], dtype=torch.float32, device=device))
        styles.append(z.float().cpu())
        if c is not None:
            contents.append(c.float().cpu())
    return torch.cat(styles).numpy(), (torch.cat(contents).numpy() if contents else None)


def retrieval_sets(patches_path: str | Path) -> dict[str, np.ndarray]:
    """Images, vectors and attributes of Table IV's query and search sets (the dataset's
    :meth:`~drai.data.registry.Dataset.retrieval_rows`; LIDC: central slices of the test split)."""
    patches = PatchSet.load(patches_path)
    spec = get_dataset(patches.dataset)
    out = {}
    for name, rows in zip(("query", "search"), spec.retrieval_rows(patches), strict=True):
        out[f"{name}_images"] = patches.crops(rows)
        out[f"{name}_vectors"] = patches.vectors[rows].astype(np.float32)
        out[f"{name}_attributes"] = spec.retrieval_attributes(patches, rows)
    if len(out["query_images"]) == 0 or len(out["search_images"]) == 0:
        log.warning(
            "%s: %d query and %d search items in the test split: no retrieval scores",
            patches_path,
            len(out["query_images"]),
            len(out["search_images"]),
        )
    return out


def retrieval(sets: dict[str, np.ndarray], query_codes: np.ndarray, search_codes: np.ndarray, top_n: int) -> dict:
    """Table IV's scores; None when the query or the search set is empty (tiny data sets)."""
    if len(query_codes) == 0 or len(search_codes) == 0:
        return {"disagreement_divergence": None, "label_overlap_pct": None}
    scores = retrieval_scores(
        query_codes,
        search_codes,
        sets["query_attributes"],
        sets["search_attributes"],
        sets["query_vectors"],
        sets["search_vectors"],
        n=top_n,
    )
    return {
        "disagreement_divergence": scores["disagreement_divergence"],
        "label_overlap_pct": scores["label_overlap_percent"],
    }


def pixel_matched_retrieval(patches_path: str | Path, top_n: int = 3) -> dict:
    """Table IV's "Pixel Matched" row: neighbours by mean absolute error between pixels."""
    sets = retrieval_sets(patches_path)
    query, search = sets["query_images"], sets["search_images"]
    flat = lambda x: x.reshape(len(x), int(np.prod(x.shape[1:])))  # noqa: E731  (also for empty sets)
    return retrieval(sets, flat(query), flat(search), top_n)


def evaluate_run(
    model: ModelFamily,
    data: EvaluationData,
    evaluator_path: str | Path,
    settings: EvaluationSettings,
    patches_path: str | Path | None = None,
    device: str = "cpu",
) -> dict[str, float | None]:
    """Every metric of one trained model (Section III-C); CIFC is None for one-code models.

    ``patches_path`` is needed for the LIDC retrieval scores.
    """
    model = model.to(device).eval()
    test = data.test
    test_images = np.ascontiguousarray(centre_crop(test.images))  # what the models see (a no-op at 64x64)
    rng = np.random.default_rng(settings.seed)
    picks = rng.integers(0, len(test.labels), settings.samples)
    generated = generate_from_vectors(model, test.vectors[picks], settings.seed, settings.batch_size, device)
    metrics: dict[str, float | None] = fidelity_metrics(
        test_images,
        generated,
        evaluator_path,
        batch_size=settings.batch_size,
        cuda=torch.device(device).type == "cuda",
        real_labels=test.labels,
        generated_labels=test.labels[picks],
        class_names=data.class_names,
    )
    evaluator = load_evaluator(evaluator_path, device)
    predicted = predict(evaluator, generated, settings.batch_size, device).argmax(1)
    metrics.update(cgacc(predicted, test.labels[picks]))
    if model.variant.two_codes:
        pairs = random_pairs(len(test.labels), settings.cifc_pairs, settings.seed)
        images = torch.as_tensor(test_images, device=device)
        metrics["cifc"] = cifc(model.infer, model.generate, images, pairs, settings.batch_size)
    else:
        metrics["cifc"] = None
    if get_dataset(data.dataset).retrieval:
        if patches_path is None:
            raise ValueError(f"the {data.dataset} retrieval scores need patches_path")
        sets = retrieval_sets(patches_path)

        def content(images):  # one-code models retrieve by their single code
            z, c = codes(model, images, settings.batch_size, device)
            return z if c is None else c

        query, search = content(sets["query_images"]), content(sets["search_images"])
        metrics.update(retrieval(sets, query, search, settings.retrieval_top_n))
    return {k: (None if v is None else float(v)) for k, v in metrics.items()}
