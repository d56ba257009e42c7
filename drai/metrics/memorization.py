"""Memorization audit (not in the paper): are generated images closer to the training images than new real ones?

For each generated image, its nearest training image, and the same for each
real test image, in two spaces: the evaluator's pooled features (what FID
compares) and pixels (Euclidean distance of the 64x64 images in [-1, 1]).
Test images are real images the model never saw, so their distances to the
training set say how close an unseen image of the same distribution comes by
chance. Per space:

* ``median_ratio``: median generated-to-train distance over the median
  test-to-train distance. Well below 1: generated images sit nearer the
  training images than real unseen images do;
* ``share_closer``: the share of generated images closer to a training image
  than the 1st percentile of the test-to-train distances (about 0.01 for a
  model that copies nothing, 1 for one that returns training images).

A run is flagged when ``share_closer`` exceeds ``flag_share`` in either space
(the distance-to-nearest-training-sample test of generative-model
memorization audits, e.g. the "authenticity" of Alaa et al. 2022 and the
copy detection of Carlini et al. 2023, reduced to its simplest form).
"""

from __future__ import annotations

import numpy as np
import torch

PERCENTILE = 1.0


def nearest_references(
    queries: np.ndarray, references: np.ndarray, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query to its nearest reference, and that reference's index (rows flattened)."""
    q = torch.as_tensor(np.asarray(queries, np.float32).reshape(len(queries), -1), dtype=torch.float64)
    r = torch.as_tensor(np.asarray(references, np.float32).reshape(len(references), -1), dtype=torch.float64)
    distances, indices = [], []
    for start in range(0, len(q), batch_size):
        d = torch.cdist(q[start : start + batch_size], r)
        best = d.min(dim=1)
        distances.append(best.values)
        indices.append(best.indices)
    return torch.cat(distances).numpy(), torch.cat(indices).numpy()


def distance_summary(generated_to_train: np.ndarray, test_to_train: np.ndarray) -> dict[str, float]:
    """Medians, their ratio, the 1st percentile of test-to-train and the share of generated images below it."""
    threshold = float(np.percentile(test_to_train, PERCENTILE))
    median_test = float(np.median(test_to_train))
    median_generated = float(np.median(generated_to_train))
    return {
        "median_generated_to_train": median_generated,
        "median_test_to_train": median_test,
        "median_ratio": median_generated / median_test if median_test > 0 else float("inf"),
        "test_p1": threshold,
        "share_closer": float(np.mean(generated_to_train <= threshold)),
    }


def embed(features, images: np.ndarray, batch_size: int = 250) -> np.ndarray:
    """``features`` of ``images``, a batch at a time."""
    return np.concatenate([features(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def memorization_scores(
    generated: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    features,
    flag_share: float = 0.05,
    batch_size: int = 250,
    train_features: np.ndarray | None = None,
    test_features: np.ndarray | None = None,
) -> tuple[dict, dict[str, np.ndarray]]:
    """The memorization audit of one set of generated images (module docstring).

    ``features``: images (N, C, 64, 64) -> (N, D) array (the evaluator's pooled
    features); the training and test images' features may be given, computed
    once for every run of a dataset. Returns the summary (per space, and
    ``flagged``) and, per space, the generated-to-train distances and nearest
    training indices.
    """
    train_features = embed(features, train, batch_size) if train_features is None else train_features
    test_features = embed(features, test, batch_size) if test_features is None else test_features
    spaces = {
        "features": (embed(features, generated, batch_size), test_features, train_features),
        "pixels": (generated, test, train),
    }
    summary, nearest_of = {}, {}
    for name, (gen, real, reference) in spaces.items():
        gen_distance, gen_index = nearest_references(gen, reference)
        test_distance, _ = nearest_references(real, reference)
        summary[name] = distance_summary(gen_distance, test_distance)
        nearest_of[f"{name}_distance"], nearest_of[f"{name}_index"] = gen_distance, gen_index
    summary["flag_share"] = flag_share
    summary["flagged"] = bool(any(summary[s]["share_closer"] > flag_share for s in spaces))
    return summary, nearest_of
